"""Command-line manners: fast help, clean errors, exit codes."""

from __future__ import annotations

import subprocess
import sys

from cli_process import run_dancer


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys; from click.testing import CliRunner; from dancer.cli.main import cli; "
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output; "
        "heavy = sorted(m for m in ('librosa', 'numba', 'numpy', 'scipy', 'sounddevice', 'soundfile') "
        "if m in sys.modules); print(','.join(heavy))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""


def test_every_command_has_help():
    from click.testing import CliRunner

    from dancer.cli.main import cli

    runner = CliRunner()
    for name, cmd in cli.commands.items():
        r = runner.invoke(cli, [name, "--help"])
        assert r.exit_code == 0, (name, r.output)
        assert cmd.help or cmd.short_help, name


def test_usage_errors_exit_2_and_python_m_works():
    res = run_dancer("scan")
    assert res.returncode == 2 and "Usage" in res.stderr
    res = run_dancer("--version")
    assert res.returncode == 0 and "dancer" in res.stdout
