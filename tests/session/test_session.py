"""The whole session: prompts on the beat over ducked music, the live view and keys in a real
pseudo-terminal playing into an ALSA file device, resume, the journal, and the no-device demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from alsa_device import alsa_home, needs_portaudio
from synth import SR, synth_track

from dancer.audio.mixer import Mixer
from dancer.audio.timeline import Timeline
from dancer.library.store import Library
from dancer.plan.arcs import load_arc
from dancer.plan.planner import make_plan
from dancer.plan.playlist import read_plan
from dancer.session.journal import Journal
from dancer.session.prepare import SessionOptions, schedule, voice_clips

TEMPI = (72.0, 84.0, 96.0, 104.0, 112.0, 120.0, 126.0, 132.0,
         76.0, 90.0, 100.0, 108.0, 116.0, 124.0, 128.0, 136.0)


def music_folder(folder: Path) -> list:
    """Sixteen 40-second tracks with tones and beat clicks at known tempi, analysed into the library."""
    folder.mkdir(parents=True, exist_ok=True)
    tracks = []
    for i, bpm in enumerate(TEMPI):
        t = synth_track(folder / f"t{i}-{int(bpm)}.wav", bpm=bpm, tone_hz=110.0 * (1 + i / 16), click=0.25,
                        tone=0.08, offset=0.2 + 0.05 * i)
        energy = (bpm - 60) / 80
        a = t.analysis.__class__(**{**t.analysis.__dict__, "energy": energy,
                                    "energy_curve": (energy,) * 8})
        tracks.append(t.__class__(**{**t.__dict__, "analysis": a,
                                     "tags": t.tags.__class__(f"Track {i}", f"Artist {i}")}))
    with Library.open(Path(os.environ["DANCER_LIBRARY"])) as lib:
        for t in tracks:
            lib.put(t)
    return tracks


def render(timeline: Timeline) -> np.ndarray:
    with Mixer(timeline) as m:
        return m.render_block(int(timeline.length * timeline.sample_rate) + SR)


def timeline_beats(plan) -> np.ndarray:
    out = []
    for e in plan.entries:
        out += [e.start + b - e.source_in for b in e.track.analysis.beats if e.source_in <= b <= e.source_out]
    return np.array(sorted(out))


def rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-20)


def test_rendered_prompts_start_on_beats_and_duck_the_music(tmp_path):
    """#6: every prompt starts within 30 ms of a beat of the music then playing; ducking is 10-12 dB."""
    from dancer.guide.voice import EspeakVoice

    tracks = music_folder(tmp_path / "music")
    arc = load_arc("quick")
    plan = make_plan(tracks, arc, minutes=4, seed=2)
    options = SessionOptions(arc="quick", minutes=4, seed=2)
    voice = EspeakVoice()
    cues = schedule(plan, arc, options, voice)
    assert len(cues) >= 8
    clips = voice_clips(cues, voice, SR)
    assert len(clips) == len(cues)
    music = render(Timeline.from_plan(plan))
    spoken = render(Timeline((), clips, SR))
    both = render(Timeline.from_plan(plan, voice=clips))
    n = min(len(music), len(spoken), len(both))
    music, spoken, both = music[:n], spoken[:n], both[:n]
    ducked = both - spoken

    beats = timeline_beats(plan)
    voice_env = np.abs(spoken).max(axis=1)
    for clip in clips:
        i0 = int(clip.start * SR)
        onset = (i0 + int(np.flatnonzero(voice_env[i0:i0 + SR] > 1e-3)[0])) / SR
        assert np.min(np.abs(beats - onset)) <= 0.030, (clip.text, onset)
        length = len(clip.samples) / SR
        if length < 1.0:
            continue  # count-in words are too short for a steady ducked stretch
        lo, hi = int((clip.start + 0.3) * SR), int((clip.start + length - 0.1) * SR)
        depth = rms_db(music[lo:hi]) - rms_db(ducked[lo:hi])
        assert 10.0 <= depth <= 12.0, (clip.text, depth)


def test_render_with_cues_writes_the_cue_list(tmp_path, dancer_cli):
    tracks = music_folder(tmp_path / "music")
    out, cues = tmp_path / "s.wav", tmp_path / "cues.json"
    res = dancer_cli("session", str(tmp_path / "music"), "--minutes", "3", "--arc", "quick", "--seed", "5",
                     "--voice", "none", "--render", str(out), "--cues", str(cues), "--no-preview")
    assert res.returncode == 0, res.stderr
    rows = json.loads(cues.read_text())
    assert rows and {"time", "kind", "text", "phase"} <= set(rows[0])
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
    import soundfile as sf

    assert sf.info(str(out)).duration == pytest.approx(180, abs=6)
    # the same for a saved playlist through `dancer render --cues`
    playlist = tmp_path / "p.m3u8"
    res = dancer_cli("build", str(tmp_path / "music"), "--minutes", "3", "--arc", "quick",
                     "-o", str(playlist))
    assert res.returncode == 0, res.stderr
    res = dancer_cli(
        "render",
        str(playlist),
        "-o",
        str(tmp_path / "r.wav"),
        "--cues",
        str(tmp_path / "c2.json"),
        "--voice",
        "none",
    )
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "c2.json").read_text())
    assert len(tracks) == len(TEMPI)


@pytest.mark.slow
@needs_portaudio
def test_plain_session_then_journal_and_history_agree(tmp_path, dancer_cli):
    music_folder(tmp_path / "music")
    env, capture = alsa_home(tmp_path)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "dancer",
            "session",
            str(tmp_path / "music"),
            "--minutes",
            "2",
            "--arc",
            "quick",
            "--voice",
            "none",
            "--no-checkin",
            "--seed",
            "4",
            "--no-preview",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert any(line.startswith("[0:00] phase") for line in lines)
    assert sum(" track " in line for line in lines) >= 2
    assert sum(" prompt " in line for line in lines) >= 3
    assert "Session complete" in res.stdout
    assert capture.stat().st_size > SR * 8 * 60  # a minute and more of float stereo reached the device
    hist = [json.loads(line) for line in dancer_cli("history", "--json").stdout.splitlines()]
    assert len(hist) == 1 and hist[0]["status"] == "finished"
    plan = read_plan(Path(hist[0]["playlist"]))
    assert hist[0]["minutes_danced"] == pytest.approx(plan.length / 60, abs=0.1)
    assert hist[0]["tracks_played"] >= 2 and hist[0]["tracks_skipped"] == 0


@pytest.mark.slow
def test_no_device_demo_renders_and_prints_the_prompts(tmp_path):
    config = tmp_path / "alsa.conf"
    config.write_text("pcm.!default { type hw; card 42 }\n")
    env = {**os.environ, "ALSA_CONFIG_PATH": str(config)}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "dancer",
            "session",
            "--demo",
            "--voice",
            "none",
            "--seed",
            "1",
            "--no-preview",
        ],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "no audio output device" in res.stderr
    assert (tmp_path / "demo-session.wav").stat().st_size > 44100 * 2 * 2 * 200
    assert "Prompts, at their times in demo-session.wav:" in res.stdout
    assert sum(line.startswith("  [") for line in res.stdout.splitlines()) >= 10
    # without --demo, no device is the one-line error that suggests rendering
    music = tmp_path / "m"
    music_folder(music)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "dancer",
            "session",
            str(music),
            "--minutes",
            "2",
            "--voice",
            "none",
            "--no-preview",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1 and res.stderr.strip().splitlines()[-1].startswith("dancer: no audio output "
        "device")
    assert "--render" in res.stderr


def test_no_music_folder_never_blocks_without_a_terminal(dancer_cli):
    res = dancer_cli("session", "--voice", "none", input="")
    assert res.returncode == 1 and "no music folder yet" in res.stderr


@pytest.mark.slow
@needs_portaudio
def test_live_session_keys_in_a_pseudo_terminal_then_resume(tmp_path, dancer_cli):
    """#7: pause, skip, volume, an energy nudge that re-plans and still fits, quit; resume finishes."""
    pexpect = pytest.importorskip("pexpect")
    music_folder(tmp_path / "music")
    env, capture = alsa_home(tmp_path)
    env = {**env, "COLUMNS": "110", "LINES": "40", "TERM": "xterm"}
    child = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "dancer",
            "session",
            str(tmp_path / "music"),
            "--minutes",
            "3",
            "--arc",
            "quick",
            "--voice",
            "none",
            "--no-checkin",
            "--seed",
            "7",
            "--no-preview",
        ],
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(40, 110),
    )
    child.logfile_read = open(tmp_path / "pty.log", "w")  # noqa: SIM115 - kept for failure reports
    child.expect("keys")
    # Nudge first: early in the session a step of energy always has music left to change.
    child.send("\x1b[A")
    child.expect(r"re-planned from (\d+):(\d\d)")
    child.send(" ")
    child.expect(r"\(paused\)")
    child.send(" ")
    child.send("+")
    child.send("-")
    child.send("n")
    child.expect("Lagos|Track")  # the view keeps drawing after the skip
    child.send("q")
    child.expect("Stopped after")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    with Library.open(Path(os.environ["DANCER_LIBRARY"])) as lib:
        (rec,) = Journal(lib).sessions()
        assert rec.status == "quit" and rec.nudges == 1 and rec.skipped >= 1
        plan = read_plan(Path(rec.playlist))
        assert abs(plan.length - 180) <= 5, plan.length
        stopped = rec.position
    out = dancer_cli("resume", "--voice", "none", env={k: v for k, v in env.items() if k != "TERM"},
                     timeout=240)
    assert out.returncode == 0, out.stderr
    assert "resuming session" in out.stdout and "Session complete" in out.stdout
    hist = [json.loads(line) for line in dancer_cli("history", "--json").stdout.splitlines()]
    assert len(hist) == 1 and hist[0]["status"] == "finished" and hist[0]["nudges"] == 1
    assert hist[0]["position"] > stopped
    assert capture.exists()


@pytest.mark.slow
@needs_portaudio
def test_device_lost_mid_session_pauses_and_resume_finishes(tmp_path, dancer_cli):
    """#8: the output stream dies mid-session → a one-line message, the session saved as paused."""
    music_folder(tmp_path / "music")
    env, _ = alsa_home(tmp_path, limit_frames=SR * 20)  # the "device" vanishes after 20 s of audio
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "dancer",
            "session",
            str(tmp_path / "music"),
            "--minutes",
            "2",
            "--arc",
            "quick",
            "--voice",
            "none",
            "--no-checkin",
            "--seed",
            "3",
            "--no-preview",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert res.returncode == 1, res.stdout
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("dancer: ") and "dancer resume" in last and "Traceback" not in res.stderr
    with Library.open(Path(os.environ["DANCER_LIBRARY"])) as lib:
        (rec,) = Journal(lib).sessions()
    assert rec.status == "paused" and 10 < rec.position < 60
    (tmp_path / "again").mkdir()
    good_env, _ = alsa_home(tmp_path / "again")
    out = dancer_cli("resume", "--voice", "none", env=good_env, timeout=240)
    assert out.returncode == 0, out.stderr
    assert "Session complete" in out.stdout
