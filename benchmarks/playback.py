"""Playback: render speed, memory over session length, real-time underruns, start latency, callback cost.

Prints, with baselines measured in the same run:

- offline render speed of a 30-minute plan with crossfades, pinned to one core (× real time), beside
  decode-only speed of the same audio (the floor any render pays);
- peak memory rendering a 3-hour plan against a 10-minute plan (separate processes);
- underruns playing N minutes (default 5; 0.5 with ``--quick``) into an ALSA `file` device paced at
  real time while another process keeps both cores busy, with how late the device ever got audio;
- time from launching `dancer play PLAYLIST` (an analysed library) to the first sound at the device;
- callback duration p99 against the block period.

    python benchmarks/playback.py [--quick] [--minutes 5] [--skip-realtime]

Targets (issue #5): render >= 100 x real time on one core; 3-hour plan <= 10-minute plan + 20 MB;
0 underruns; first sample <= 1 s; callback p99 <= 10 % of the block period.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from alsa_device import alsa_device  # noqa: E402

from dancer.analysis.loudness import integrated_loudness  # noqa: E402
from dancer.demo import render_pattern  # noqa: E402
from dancer.library.store import Library  # noqa: E402
from dancer.model import Analysis, PhaseSpan, Plan, PlanEntry, Tags, Track  # noqa: E402
from dancer.plan.playlist import write_plan  # noqa: E402

BPM = 124.0
TRACK_SECONDS = 240.0

# -- material --------------------------------------------------------------------------------------


def _groove(seconds: float, sr: int, *, level_db: float, seed: int, root: float) -> np.ndarray:
    lanes = {"kick": "x...x...x...x...", "hat": "..x...x...x...x.", "snare": "....x.......x..."}
    drums = render_pattern(lanes, BPM, seconds, sr, offset=0.2, seed=seed)
    t = np.arange(len(drums)) / sr
    bass = 0.25 * np.sin(2 * np.pi * root * t) * (0.6 + 0.4 * np.sin(2 * np.pi * BPM / 60 / 2 * t) ** 2)
    pad = 0.08 * sum(np.sin(2 * np.pi * root * k * t + k) / k for k in (2, 3, 4, 5))
    y = drums / max(1e-9, np.abs(drums).max()) * 0.6 + bass + pad
    y = y / np.abs(y).max() * 10 ** (level_db / 20)
    return np.stack([y, 0.95 * y + 0.05 * np.roll(y, 11)], axis=1).astype(np.float32)


def _pad(seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    y = sum(0.1 / k * np.sin(2 * np.pi * 110 * k * t * (1 + 0.001 * k)) for k in range(1, 6))
    y *= 0.6 + 0.4 * np.sin(2 * np.pi * 0.05 * t)
    return y.astype(np.float32)[:, None]


def make_tracks(folder: Path) -> list[Track]:
    """Four 4-minute files: two FLAC grooves at 44.1 kHz (one loud, one quiet enough to need the
    limiter after its boost), a 48 kHz FLAC groove (resampled on play) and a mono beatless WAV pad."""
    specs = [("groove-loud.flac", 44100, {"level_db": -1.0, "seed": 1, "root": 55.0}),
             ("groove-quiet.flac", 44100, {"level_db": -14.0, "seed": 2, "root": 61.7}),
             ("groove-48k.flac", 48000, {"level_db": -4.0, "seed": 3, "root": 49.0}),
             ("pad-mono.wav", 44100, None)]
    tracks = []
    for name, sr, spec in specs:
        path = folder / name
        y = _groove(TRACK_SECONDS, sr, **spec) if spec else _pad(TRACK_SECONDS, sr)
        sf.write(str(path), y, sr)
        count = int((TRACK_SECONDS - 1) * BPM / 60)
        beats = () if spec is None else tuple(0.2 + k * 60 / BPM for k in range(count))
        a = Analysis(duration=len(y) / sr, sample_rate=sr, channels=y.shape[1], bpm=BPM if beats else None,
                     bpm_confidence=0.9 if beats else 0.0, beatless=not beats, beats=beats,
                     downbeats=beats[::4], phrases=beats[::8], meter=4,
                     loudness_lufs=float(integrated_loudness(y, sr)),
                     peak_db=float(20 * np.log10(np.abs(y).max())), true_peak_db=0.0, energy=0.5,
                     energy_curve=(), cue_in=0.0, cue_out=len(y) / sr)
        stat = path.stat()
        tracks.append(Track(str(path), stat.st_size, stat.st_mtime, Tags(path.stem), a))
    return tracks


def make_plan(tracks: list[Track], minutes: float) -> Plan:
    """Back-to-back entries cycling through ``tracks``: 16-beat crossfades on phrase boundaries,
    15-second fades into and out of the beatless pad, and a 2-second gap every fifth entry."""
    entries: list[PlanEntry] = []
    t, i = 0.0, 0
    while t < minutes * 60:
        track = tracks[i % len(tracks)]
        a = track.analysis
        prev = entries[-1] if entries else None
        beatless = a.beatless or (prev is not None and prev.track.analysis.beatless)
        if prev is None:
            transition, fade = "start", 0.0
        elif i % 5 == 0:
            transition, fade = "gap", 0.5
            t = prev.end + 2.0
        elif beatless:
            transition, fade = "fade", 15.0
        else:
            transition, fade = "crossfade", 16 * 60 / BPM
        source_in = a.phrases[0] if a.phrases else 1.0
        source_out = a.phrases[-2] if a.phrases else a.duration - 1.0
        overlap = 15.0 if a.beatless or tracks[(i + 1) % len(tracks)].analysis.beatless else 16 * 60 / BPM
        entries.append(PlanEntry(track, "groove", t, source_in, source_out, fade, overlap, transition))
        t = entries[-1].end - overlap
        i += 1
    length = max(e.end for e in entries)
    return Plan("bench", minutes, 0, tuple(entries), (PhaseSpan("groove", "Groove", 0.0, length),))


# -- offline -----------------------------------------------------------------------------------------

RENDER_CHILD = """
import json, os, sys, time
from pathlib import Path
os.sched_setaffinity(0, {0})
sys.path.insert(0, %(root)r)
from dancer.plan.build import load_plan
from dancer.audio.mixer import Mixer
from dancer.audio.render import render_to_file
from dancer.audio.timeline import Timeline
plan = load_plan(Path(sys.argv[1]), Path(sys.argv[2]))
timeline = Timeline.from_plan(plan)
mode = sys.argv[3]
t0, c0 = time.perf_counter(), time.process_time()
if mode == "file":
    render_to_file(timeline, Path(sys.argv[4]))
elif mode == "decode":
    from dancer.decode import open_stream
    for e in plan.entries:
        _, blocks = open_stream(Path(e.track.path), start=e.source_in)
        need = e.length * e.track.analysis.sample_rate
        for b in blocks:
            need -= len(b)
            if need <= 0:
                blocks.close()
                break
else:
    with Mixer(timeline) as m:
        while not m.finished:
            m.render_block(65536)
# VmHWM, not ru_maxrss: the latter can carry the parent's size over from before exec.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": timeline.length, "wall": time.perf_counter() - t0,
                  "cpu": time.process_time() - c0, "rss_mb": hwm / 1024}))
"""


def run_child(code: str, *args: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code % {"root": str(ROOT)}, *args], capture_output=True,
                         text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def playlist_for(work: Path, tracks: list[Track], minutes: float) -> Path:
    path = work / f"plan-{minutes:g}.m3u8"
    write_plan(make_plan(tracks, minutes), path)
    return path


# -- real time ---------------------------------------------------------------------------------------

PLAY_CHILD = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, %(root)r)
import numpy as np
from dancer.plan.build import load_plan
from dancer.audio.timeline import Timeline
from dancer.audio.player import Player
plan = load_plan(Path(sys.argv[1]), Path(sys.argv[2]))
seconds = float(sys.argv[3])
with Player(Timeline.from_plan(plan)) as p:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds and not p.wait(0.2):
        p.check()
    durations, frames = p.callback_timings()
    sr = p.timeline.sample_rate
    ratio = durations / (frames / sr)
    print(json.dumps({"underruns": p.underruns, "xruns": p.device_xruns, "calls": len(durations),
                      "frames": int(np.median(frames)), "p50_us": float(np.percentile(durations, 50) * 1e6),
                      "p99_us": float(np.percentile(durations, 99) * 1e6),
                      "max_us": float(durations.max() * 1e6), "p99_ratio": float(np.percentile(ratio, 99))}))
"""

LOAD = """
import numpy as np, time
a = np.random.default_rng(0).random((1200, 1200))
while True:
    a = a @ a
    a /= np.abs(a).max()
"""


def alsa_env(work: Path, *, late_after: float = 0.03) -> tuple[dict, Path]:
    """A 44.1 kHz 16-bit device paced at real time that keeps delivery statistics, not the audio
    (`alsa_device`): the capture path's ``.first`` and ``.json`` side files."""
    return alsa_device(work / "alsa-home", rate=44100, fmt="S16_LE", late_after=late_after, keep_audio=False)


def time_to_first_sample(work: Path, playlist: Path, library: Path, runs: int = 3) -> list[float]:
    results = []
    for k in range(runs):
        env, capture = alsa_env(work / f"first-{k}")
        env["DANCER_LIBRARY"] = str(library)
        first = Path(str(capture) + ".first")
        first.unlink(missing_ok=True)
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "dancer", "play", str(playlist)], env=env, cwd=ROOT,
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not first.exists() and time.monotonic() - t0 < 20:
            time.sleep(0.002)
        try:
            results.append(float(first.read_text()) - t0)
        except (OSError, ValueError):
            results.append(float("nan"))
        proc.communicate(b"q", timeout=20)
    return results


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def realtime(work: Path, playlist: Path, library: Path, seconds: float) -> tuple[dict, dict]:
    env, capture = alsa_env(work / "realtime")
    stats = Path(str(capture) + ".json")
    load = subprocess.Popen([sys.executable, "-c", LOAD], env={**os.environ, "OPENBLAS_NUM_THREADS": "2",
                                                                 "OMP_NUM_THREADS": "2"})
    try:
        time.sleep(1.0)
        t0, busy0 = time.monotonic(), _cpu_seconds(load.pid)
        player = run_child(PLAY_CHILD, str(playlist), str(library), str(seconds), env=env)
        player["load_cores"] = (_cpu_seconds(load.pid) - busy0) / (time.monotonic() - t0)
    finally:
        load.kill()
        load.wait()
    for _ in range(50):
        if stats.exists():
            break
        time.sleep(0.1)
    return player, json.loads(stats.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 s of real-time play and a 1-hour memory plan")
    ap.add_argument("--minutes", type=float, default=None,
                    help="real-time play length (default 5, quick 0.5)")
    ap.add_argument("--skip-realtime", action="store_true")
    args = ap.parse_args()
    minutes_rt = args.minutes if args.minutes is not None else (0.5 if args.quick else 5.0)
    long_minutes = 60 if args.quick else 180

    with tempfile.TemporaryDirectory(prefix="dancer-bench-") as tmp:
        work = Path(tmp)
        music = work / "music"
        music.mkdir()
        tracks = make_tracks(music)
        library = work / "library.sqlite3"
        with Library.open(library) as lib:
            for t in tracks:
                lib.put(t)
        print(f"material: {len(tracks)} four-minute files (FLAC 44.1/48 kHz grooves, mono WAV pad); "
              f"loudness {', '.join(f'{t.analysis.loudness_lufs:.1f}' for t in tracks)} LUFS")

        p30 = playlist_for(work, tracks, 30)
        render = run_child(RENDER_CHILD, str(p30), str(library), "file", str(work / "out.wav"))
        decode = run_child(RENDER_CHILD, str(p30), str(library), "decode")
        x_render = render["seconds"] / render["wall"]
        x_decode = render["seconds"] / decode["wall"]
        print(f"render 30-min plan to WAV, 1 core   {x_render:7.1f} x real time  "
              f"({render['wall']:.2f} s wall, {render['cpu']:.2f} s CPU)   (target >= 100)")
        print(f"decode-only of the same audio       {x_decode:7.1f} x real time  (render/decode "
              f"{x_render / x_decode:.2f})")

        short = run_child(RENDER_CHILD, str(playlist_for(work, tracks, 10)), str(library), "mixer")
        long = run_child(RENDER_CHILD, str(playlist_for(work, tracks, long_minutes)), str(library), "mixer")
        print(f"peak memory rendering 10-min plan   {short['rss_mb']:7.1f} MB")
        print(f"peak memory rendering {long_minutes // 60}-hour plan   {long['rss_mb']:7.1f} MB  "
              f"(+{long['rss_mb'] - short['rss_mb']:.1f} MB; target <= +20; rendered at "
              f"{long['seconds'] / long['wall']:.0f} x real time)")

        if args.skip_realtime:
            return
        import ctypes.util

        if ctypes.util.find_library("portaudio") is None:
            print("real-time figures skipped: libportaudio2 is not installed")
            return
        firsts = time_to_first_sample(work, p30, library)
        print(f"`dancer play` to first sample       {np.nanmedian(firsts):7.3f} s median of "
              f"{', '.join(f'{f:.3f}' for f in firsts)}   (target <= 1 s)")
        player, device = realtime(work, p30, library, minutes_rt * 60)
        period = player["frames"] / 44100
        print(f"play {minutes_rt:g} min, both cores loaded      {player['underruns']} underruns "
              f"(the load process used {player['load_cores']:.2f} cores meanwhile); the device "
              f"waited > 30 ms for audio {device['late']} times "
              f"(longest {device['max_wait'] * 1e3:.1f} ms)   "
              f"(target 0 underruns)")
        print(f"callback duration                   p50 {player['p50_us']:.0f} us, "
              f"p99 {player['p99_us']:.0f} us, "
              f"max {player['max_us']:.0f} us over {player['calls']} calls of ~{player['frames']} frames "
              f"({period * 1e3:.1f} ms); p99 = {100 * player['p99_ratio']:.1f} % of the block period "
              f"(target <= 10 %)")


if __name__ == "__main__":
    main()
