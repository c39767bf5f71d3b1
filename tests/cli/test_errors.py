"""One error path: a domain error is one line ``dancer: …`` on stderr and exit 1, a usage error
exits 2, Ctrl-C 130; command bodies raise, and only `dancer.cli.main` decides how to exit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from cli_process import run_dancer
from click.testing import CliRunner

from dancer.cli.main import cli

CLI = Path(__file__).resolve().parents[2] / "dancer" / "cli"


@pytest.mark.parametrize("path", sorted(p.name for p in CLI.glob("*.py") if p.name != "main.py"))
def test_no_command_body_exits_or_raises_click_exception(path: str) -> None:
    tree = ast.parse((CLI / path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "exit":
            pytest.fail(f"{path}:{node.lineno} calls exit(); raise a DancerError or Interrupted instead")
        if isinstance(node, ast.Attribute) and node.attr == "ClickException":
            pytest.fail(f"{path}:{node.lineno} uses ClickException; raise a DancerError instead")
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and \
                getattr(node.exc.func, "id", None) == "SystemExit":
            pytest.fail(f"{path}:{node.lineno} raises SystemExit")


def test_domain_errors_are_one_dancer_line_and_exit_1(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    for args in (["scan", str(missing)], ["plan", "show", str(tmp_path)], ["config", "set", "nokey", "1"],
                 ["resume"]):
        res = run_dancer(*args)
        lines = res.stderr.strip().splitlines()
        if args[0] == "plan":  # a folder given as the playlist: a usage error
            assert res.returncode == 2 and "Usage" in res.stderr, res.stderr
            continue
        assert res.returncode == 1, (args, res.stderr)
        assert len(lines) == 1 and lines[0].startswith("dancer: "), (args, res.stderr)


def test_under_click_runner_the_same_line_and_code() -> None:
    result = CliRunner().invoke(cli, ["config", "set", "minutes", "1000"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("dancer: config: key 'minutes' must be")


def test_usage_errors_exit_2() -> None:
    res = run_dancer("build", "--minutes", "zero")
    assert res.returncode == 2 and "Usage" in res.stderr and "Traceback" not in res.stderr
