"""The preview (table, terminal chart, plot) and the `dancer build` / `dancer plan show` commands."""

from __future__ import annotations

import datetime
import importlib.util
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from plan_factory import library_on_disk, make_track
from rich.console import Console
from synth import write_wav

from dancer.cli.main import cli
from dancer.errors import DancerError
from dancer.library.store import Library
from dancer.model import Plan
from dancer.plan.arcs import load_arc
from dancer.plan.build import default_output
from dancer.plan.planner import make_plan
from dancer.plan.playlist import read_plan
from dancer.plan.preview import (
    energy_chart,
    energy_series,
    plan_table,
    plot_plan,
    print_preview,
    target_series,
)

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(scope="module")
def hip() -> Plan:
    from plan_factory import make_library

    return make_plan(make_library(60, seed=8), load_arc("hip-release"), minutes=45, seed=1)


def test_table_has_a_row_per_entry_with_phase_start_bpm_energy_and_fade(hip: Plan) -> None:
    table = plan_table(hip)
    assert table.row_count == len(hip.entries)
    console = Console(record=True, width=160)
    console.print(table)
    text = console.export_text()
    for header in ("phase", "start", "track", "BPM", "energy", "arrives"):
        assert header in text
    assert "arrive " in text and "floor" in text and "crossfade 16 beats" in text and "0:00" in text
    assert hip.entries[3].track.display in text


def test_chart_shows_target_and_planned_energy(hip: Plan) -> None:
    text = energy_chart(hip, load_arc("hip-release"), width=60, height=8).plain
    rows = text.splitlines()
    assert len(rows) == 8 + 4
    assert all(len(r) == 6 + 60 for r in rows[:8])
    assert "█" in text or "◆" in text
    assert "·" in text and "|arrive" in text and "45:00" in text
    top, bottom = rows[0], rows[7]
    assert top.startswith(" 1.0") and bottom.startswith(" 0.0")
    bare = energy_chart(hip, None, width=60, height=8).plain
    assert "·" not in bare and "no target" in bare


def test_planned_energy_mixes_during_fades(hip: Plan) -> None:
    a, b = hip.entries[4], hip.entries[5]
    mid = b.start + b.fade_in / 2
    (value,) = energy_series(hip, [mid])
    lo, hi = sorted((a.track.energy, b.track.energy))
    assert lo - 1e-9 <= value <= hi + 1e-9
    assert energy_series(hip, [hip.length + 10]) == [None]
    arc = load_arc("hip-release")
    spans = arc.spans(45)
    assert target_series(arc, 45, [0.0, spans[-1][2] - 1e-6]) == pytest.approx([0.10, 0.05], abs=1e-6)


def test_print_preview_includes_warnings(hip: Plan) -> None:
    console = Console(record=True, width=120)
    warned = Plan(
        hip.arc, hip.minutes, hip.seed, hip.entries, hip.phases, hip.objective, ("phase 'x': none",)
    )
    print_preview(warned, load_arc("hip-release"), console)
    text = console.export_text()
    assert "Hip release · 45:00" in text and "warning: phase 'x': none" in text
    assert f"objective {hip.objective:.4f} = " in text and "energy 0.0" in text


def test_plot_without_matplotlib_says_how_to_get_it(
    hip: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(DancerError, match=r"--plot needs matplotlib.*pip install 'dancer\[plot\]'"):
        plot_plan(hip, load_arc("hip-release"), tmp_path / "x.png")


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib (the plot extra) is not installed")
def test_plot_writes_a_png(hip: Plan, tmp_path: Path, music: Path) -> None:
    plot_plan(hip, load_arc("hip-release"), tmp_path / "x.png")
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = CliRunner().invoke(cli, ["build", str(music), "--arc", "quick", "--plot", "q.svg"])
    assert result.exit_code == 0, result.output
    assert "<svg" in Path("q.svg").read_text(encoding="utf-8")


# -- commands ---------------------------------------------------------------------------------------


SCANS: list[Path] = []


@pytest.fixture
def music(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of tiny files whose (synthetic) analyses are already in the library; scanning is a no-op."""
    folder = tmp_path / "music"
    with Library.open(None) as library:
        for track in library_on_disk(folder, 45, seed=2):
            library.put(track)
    SCANS.clear()
    monkeypatch.setattr(
        "dancer.cli.scan.run_scan", lambda folder, library_path, **kw: SCANS.append(folder)
    )
    monkeypatch.chdir(tmp_path)
    return folder


def test_build_scans_plans_and_writes_the_default_playlist(music: Path) -> None:
    result = CliRunner().invoke(
        cli, ["build", str(music), "--arc", "quick", "--minutes", "16", "--seed", "3", "--preview"]
    )
    assert result.exit_code == 0, result.output
    assert SCANS == [music]
    out = Path("playlists") / f"quick-16min-{datetime.date.today():%Y-%m-%d}.m3u8"
    assert out == default_output("quick", 16)
    assert out.is_file()
    with Library.open(None) as library:
        back = read_plan(out, resolve=library.track)
    assert abs(back.length - 16 * 60) <= 5 and back.arc == "quick" and back.seed == 3
    assert f"wrote {out}" in result.output
    assert "Quick · 16:00" in result.output and "█ planned" in result.output


def test_build_filters_and_names_the_output(music: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine" / "set.m3u8"
    args = [str(music), "--arc", "gentle", "--minutes", "25", "-o", str(out), "--exclude", "Artist 00*"]
    result = CliRunner().invoke(cli, ["build", *args])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "#DANCER-ARC:gentle minutes=25 seed=0" in text and "Artist 00" not in text


def test_build_errors_are_one_dancer_line_and_exit_1(music: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[[phase]]\nname = "a"\nshare = 1\nenergy = [2, 0]\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", str(music), "--arc", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"dancer: {bad}: phase 'a' field 'energy': expected two numbers in 0..1, got [2, 0]"
    )
    result = CliRunner().invoke(cli, ["build", str(music), "--include", "nobody"])
    assert result.exit_code == 1 and "no analysed tracks" in result.output and "--include" in result.output
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "matplotlib", None)
        result = CliRunner().invoke(cli, ["build", str(music), "--plot", "x.png"])
    assert result.exit_code == 1 and "matplotlib" in result.output and not Path("playlists").exists()


def test_plan_show_reads_ours_and_theirs(music: Path, tmp_path: Path) -> None:
    CliRunner().invoke(cli, ["build", str(music), "--arc", "hip-release", "--minutes", "30", "-o", "s.m3u8"])
    result = CliRunner().invoke(cli, ["plan", "show", "s.m3u8"])
    assert result.exit_code == 0, result.output
    assert "Hip release · 30:00" in result.output and "Shake" not in result.output.split("\n")[0]
    assert "shake" in result.output and "· target" in result.output

    write_wav(tmp_path / "unknown.wav", seconds=0.5)
    foreign = tmp_path / "theirs.m3u"
    first = sorted(music.rglob("*.flac"))[0]
    foreign.write_text(f"{first}\nunknown.wav\nmissing.mp3\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", "show", str(foreign)])
    assert result.exit_code == 0, result.output
    assert "line 3: 'missing.mp3' not found; skipped" in result.output
    assert "no target" in result.output

    foreign.write_text("http://radio.example/live\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", "show", str(foreign)])
    assert result.exit_code == 1
    assert "line 1: 'http://radio.example/live' is a URL; dancer plays local files only" in result.output


def test_plan_show_json_is_the_plan_as_data(music: Path, tmp_path: Path) -> None:
    import json

    from dancer.plan.transition import transition_ratio

    CliRunner().invoke(cli, ["build", str(music), "--arc", "hip-release", "--minutes", "30", "-o", "s.m3u8"])
    result = CliRunner().invoke(cli, ["plan", "show", "s.m3u8", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    plan = read_plan(Path("s.m3u8"))
    assert data["format"] == 1 and data["arc"] == "hip-release" and data["minutes"] == 30
    assert [p["name"] for p in data["phases"]] == [p.name for p in plan.phases]
    assert len(data["entries"]) == len(plan.entries)
    keys = {"index", "path", "title", "phase", "bpm", "start", "end", "source_in", "source_out", "fade_in",
            "fade_out", "transition", "rate_start", "rate_end"}
    for row, entry in zip(data["entries"], plan.entries, strict=True):
        assert set(row) == keys
        assert row["start"] == pytest.approx(entry.start, abs=1e-6)
        assert row["end"] == pytest.approx(entry.end, abs=1e-6)
        assert row["rate_start"] == pytest.approx(entry.rate_at(entry.start), abs=1e-6)
        assert abs(row["rate_start"] - 1) <= 0.08 and abs(row["rate_end"] - 1) <= 0.08
        assert (row["rate_start"] != 1.0) <= (row["transition"] == "crossfade")
    for before, row in zip(data["entries"], data["entries"][1:]):
        if row["transition"] == "crossfade":
            matched = transition_ratio(before["bpm"], row["bpm"])
            assert matched.matched, "a pair past the limit fades"
            assert row["rate_start"] / before["rate_end"] == pytest.approx(matched.ratio, rel=1e-4), \
                "the incoming track plays on the outgoing grid"


def test_command_module_keeps_help_fast() -> None:
    code = "import sys, dancer.cli.plan; assert 'numpy' not in sys.modules, 'numpy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_analysis_still_shows(tmp_path: Path) -> None:
    track = make_track(str(tmp_path / "a.wav"), artist="A")
    bare = Plan("", 1.0, 0, (), ())
    assert plan_table(bare).row_count == 0
    assert "0:00" in energy_chart(bare, None).plain
    write_wav(Path(track.path))


def test_build_takes_folder_arc_and_minutes_from_the_config(music: Path) -> None:
    from dancer.config import Config, config_path, save_config

    save_config(Config(music=str(music), arc="gentle", minutes=25.0))
    assert str(config_path()).startswith(str(Path.home()))
    result = CliRunner().invoke(cli, ["build"])
    assert result.exit_code == 0, result.output
    assert SCANS == [music]
    assert default_output("gentle", 25).is_file()
    result = CliRunner().invoke(cli, ["build", "--arc", "quick"])
    assert result.exit_code == 0 and default_output("quick", 18).is_file(), (
        "an explicit arc brings its length"
    )


@pytest.mark.parametrize("width", [80, 100, 132, 200])
def test_preview_keeps_one_line_per_track_with_long_names(hip: Plan, width: int) -> None:
    """#14: "Artist - Title" used to wrap over five lines in 80 columns."""
    long = [
        replace(
            e,
            track=replace(
                e.track,
                tags=replace(
                    e.track.tags,
                    artist="The Extraordinarily Long Named Orchestra of Somewhere",
                    title="An Even Longer Title (Extended Mix) " * 3,
                ),
            ),
        )
        for e in hip.entries
    ]
    plan_ = replace(hip, entries=tuple(long))
    console = Console(record=True, width=width)
    print_preview(plan_, load_arc("hip-release"), console)
    lines = console.export_text().splitlines()
    rows = [line for line in lines if "The Extra" in line]
    assert len(rows) == len(hip.entries)
    assert all(len(line) <= width for line in lines)
    assert all("…" in row for row in rows)
