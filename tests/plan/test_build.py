"""A playlist from `dancer build` plays anywhere dancer does: built from an arc file, it renders
(with its prompts), shows its target and guides a session, as a built-in arc's playlist does."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cli_process import run_dancer
from synth import synth_track

from dancer.library.store import Library
from dancer.plan.playlist import read_plan

ARC = """
name = "my-arc"
title = "My arc"
description = "Two phases of my own."
minutes = 4

[[phase]]
name = "warm"
title = "Warm up"
share = 0.5
energy = [0.3, 0.5]
tempo = [90, 130]
beatless = "allowed"
transition = "crossfade"
prompt_tags = ["arrive"]

[[phase]]
name = "move"
title = "Move"
share = 0.5
energy = [0.5, 0.7]
tempo = [90, 130]
beatless = "allowed"
transition = "crossfade"
prompt_tags = ["groove"]
"""


def analysed_music(folder: Path) -> None:
    """Ten 40-second tracks with beat clicks, their analyses already in the library (a scan keeps them)."""
    folder.mkdir(parents=True)
    with Library.open(Path(os.environ["DANCER_LIBRARY"])) as lib:
        for i in range(10):
            lib.put(
                synth_track(
                    folder / f"t{i}.wav",
                    bpm=100.0 + 3 * i,
                    tone_hz=110.0 * (1 + i / 10),
                    click=0.2,
                    tone=0.08,
                    offset=0.2 + 0.03 * i,
                )
            )


def test_a_playlist_built_from_an_arc_file_renders_and_shows(tmp_path: Path) -> None:
    analysed_music(tmp_path / "music")
    arc = tmp_path / "arcs" / "my-arc.toml"
    arc.parent.mkdir()
    arc.write_text(ARC, encoding="utf-8")
    playlist = tmp_path / "out" / "x.m3u8"
    built = run_dancer("build", str(tmp_path / "music"), "--arc", str(arc), "-o", str(playlist))
    assert built.returncode == 0, built.stderr
    assert read_plan(playlist).arc_file == str(arc)

    # From another folder, as a user who keeps playlists apart from arcs would.
    rendered = run_dancer("render", str(playlist), "-o", "x.wav", cwd=tmp_path / "out")
    assert rendered.returncode == 0, rendered.stderr
    assert (tmp_path / "out" / "x.wav").stat().st_size > 44100 * 4 * 60

    cued = run_dancer("render", str(playlist), "-o", str(tmp_path / "y.wav"), "--voice", "none",
                      "--cues", str(tmp_path / "cues.json"))
    assert cued.returncode == 0, cued.stderr
    cues = json.loads((tmp_path / "cues.json").read_text(encoding="utf-8"))
    assert cues and {c["phase"] for c in cues} >= {"warm", "move"}

    shown = run_dancer("plan", "show", str(playlist))
    assert shown.returncode == 0 and "note:" not in shown.stderr and "· target" in shown.stdout, shown.stderr

    # A session given the playlist guides it with the playlist's own arc.
    danced = run_dancer("session", str(playlist), "--voice", "none", "--no-preview", "--seed", "1",
                        "--render", str(tmp_path / "s.wav"), "--cues", str(tmp_path / "session.json"))
    assert danced.returncode == 0, danced.stderr
    cues = json.loads((tmp_path / "session.json").read_text(encoding="utf-8"))
    assert {c["phase"] for c in cues} >= {"warm", "move"}
