"""Command-line responsiveness, against baselines measured in the same run.

    python benchmarks/cli.py [--runs N]

Prints:
- start-up of `dancer --help` and `dancer session --help` (target ≤ 0.3 s), beside a bare
  `python -c pass` and `python -c "import click"` as baselines;
- key-to-audio response for pause (target ≤ 150 ms): a session plays into an ALSA `file` device
  in a pseudo-terminal, a space is sent, and the time until the captured audio falls silent is
  measured on the device's own clock (the capture is written in real time by a pacing reader);
- time from `dancer session --demo` to the first sound at the device, with a warm cache (demo
  library scanned, voice cached), beside the time `dancer --help` takes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
SR = 44100

from alsa_device import alsa_device  # noqa: E402


def median_seconds(cmd: list[str], runs: int, env: dict | None = None) -> float:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def alsa_env(home: Path) -> tuple[dict, Path]:
    """A 44.1 kHz float device paced at real time that stamps when each chunk arrived (`alsa_device`)."""
    return alsa_device(home, rate=SR, stamp=True)


def arrival_times(capture: Path) -> tuple[np.ndarray, np.ndarray]:
    """(first frame index, wall time) of each chunk the device received."""
    rows = [line.split() for line in Path(str(capture) + ".times").read_text().splitlines()
            if len(line.split()) == 2]
    return np.array([int(n) // 8 for n, _ in rows]), np.array([float(t) for _, t in rows])


def first_sound_time(capture: Path) -> float | None:
    y = np.fromfile(capture, dtype="<f4").reshape(-1, 2)
    loud = np.flatnonzero(np.abs(y).max(axis=1) > 1e-4)
    if not len(loud):
        return None
    frames, walls = arrival_times(capture)
    k = np.searchsorted(frames, loud[0], side="right") - 1
    if k < 0:
        return None
    return float(walls[k] + (loud[0] - frames[k]) / SR)


def pause_response(work: Path, folder: Path, env: dict, capture: Path, latency: str = "high") -> float:
    import pexpect

    child = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "dancer",
            "session",
            str(folder),
            "--minutes",
            "3",
            "--arc",
            "quick",
            "--voice",
            "none",
            "--no-checkin",
            "--seed",
            "1",
            "--no-preview",
            "--latency",
            latency,
        ],
        env={**env, "TERM": "xterm"},
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 110),
    )
    child.delaybeforesend = None  # pexpect otherwise sleeps 50 ms before every send
    child.expect("keys")
    time.sleep(4.0)
    pressed = time.time()
    child.send(" ")
    child.expect(r"\(paused\)")
    time.sleep(1.5)
    child.send("q")
    child.expect(pexpect.EOF)
    y = np.fromfile(capture, dtype="<f4").reshape(-1, 2)
    frames, walls = arrival_times(capture)
    k = np.searchsorted(walls, pressed)
    start = frames[min(k, len(frames) - 1)]
    level = np.abs(y[start:]).max(axis=1)
    silent = np.flatnonzero(level < 1e-5)
    # the first frame of a run of 10 ms of silence after the press
    run = int(0.01 * SR)
    for i in silent:
        if i + run < len(level) and level[i:i + run].max() < 1e-5:
            j = np.searchsorted(frames, start + i, side="right") - 1
            return float(walls[j] + (start + i - frames[j]) / SR - pressed)
    return float("nan")


#: In the playing process: key press → the callback's output reaches silence (fade included), and the
#: device latency PortAudio reports for the stream; their sum is what a listener waits.
IN_PROCESS_PAUSE = r"""
import sys, time
from pathlib import Path
from dancer.library.store import Library
from dancer.audio.timeline import Timeline
from dancer.audio.player import Player
from dancer.session.live import LiveSession
from dancer.session.prepare import SessionOptions, prepare
lib = Library.open(None)
prep = prepare(lib, folder=Path(sys.argv[1]), playlist=None,
               options=SessionOptions(arc="quick", minutes=3, seed=1, voice="none"))
live = LiveSession(prep, lib)
live.player = player = Player(Timeline.from_plan(prep.plan), latency=sys.argv[2])
player.start()
time.sleep(2.0)
for _ in range(7):
    t0 = time.perf_counter()
    live.key("toggle")
    while player._gain > 0.0:
        time.sleep(0.0002)
    print(time.perf_counter() - t0, float(player._stream.latency))
    time.sleep(0.3)
    live.key("toggle")
    time.sleep(1.0)
player.close()
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    bare = median_seconds([py, "-c", "pass"], args.runs)
    click_only = median_seconds([py, "-c", "import click"], args.runs)
    helps = median_seconds([py, "-m", "dancer", "--help"], args.runs)
    session_help = median_seconds([py, "-m", "dancer", "session", "--help"], args.runs)
    print(f"python -c pass              {bare * 1000:6.0f} ms")
    print(f"python -c 'import click'    {click_only * 1000:6.0f} ms")
    print(f"dancer --help               {helps * 1000:6.0f} ms   ({helps / bare:.1f}x bare python; target "
          f"<= 300 ms)")
    print(f"dancer session --help       {session_help * 1000:6.0f} ms   (target <= 300 ms)")

    with tempfile.TemporaryDirectory(prefix="dancer-cli-") as tmp:
        work = Path(tmp)
        base = {**os.environ, "XDG_DATA_HOME": str(work / "data"), "XDG_CACHE_HOME": str(work / "cache"),
                "XDG_CONFIG_HOME": str(work / "config"), "DANCER_LIBRARY": str(work / "lib.sqlite3")}
        os.environ.update(base)
        env, capture = alsa_env(work / "home")
        keep = ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "DANCER_LIBRARY")
        env.update({k: base[k] for k in keep})

        # Warm the cache: demo library synthesised and scanned, voice prompts synthesised.
        warm = subprocess.run([py, "-m", "dancer", "session", "--demo", "--seed", "1", "--no-preview",
                               "--render", str(work / "warm.wav")], env=env, capture_output=True, text=True)
        if warm.returncode != 0:
            sys.exit(f"warm-up failed: {warm.stderr}")
        times = []
        for _ in range(3):
            capture.unlink(missing_ok=True)
            t0 = time.time()
            proc = subprocess.Popen(
                [py, "-m", "dancer", "session", "--demo", "--seed", "1", "--no-preview", "--no-checkin"],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            first = None
            deadline = time.time() + 60
            while first is None and time.time() < deadline:
                time.sleep(0.2)
                if capture.exists() and Path(str(capture) + ".times").exists():
                    try:
                        first = first_sound_time(capture)
                    except ValueError:
                        first = None
            proc.kill()
            proc.wait()
            if first is not None:
                times.append(first - t0)
        if times:
            print(f"session --demo to first sound (warm cache)  {statistics.median(times):5.2f} s "
                  f"(median of {len(times)}; dancer --help alone {helps:.2f} s)")

        from dancer.demo import generate_demo

        folder = work / "music"
        generate_demo(folder, scale=2.0)
        subprocess.run([py, "-m", "dancer", "scan", str(folder)], env=env, capture_output=True, check=True)
        for latency in ("high", "low"):
            res = subprocess.run(
                [py, "-c", IN_PROCESS_PAUSE, str(folder), latency],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            rows = [tuple(map(float, line.split())) for line in res.stdout.splitlines() if line.strip()]
            if rows:
                app = statistics.median(r[0] for r in rows)
                dev = statistics.median(r[1] for r in rows)
                print(
                    f"key-to-audio, pause, --latency {latency:<4} {(app + dev) * 1000:5.0f} ms "
                    "= key to silent "
                    f"output {app * 1000:.0f} ms (30 ms fade included) + device latency {dev * 1000:.0f} ms "
                    f"(target <= 150 ms)"
                )
            else:
                print(f"in-process pause measurement failed: {res.stderr.strip()[-300:]}")
            responses = []
            for _ in range(3):
                capture.unlink(missing_ok=True)
                responses.append(pause_response(work, folder, env, capture, latency))
            ok = [r for r in responses if r == r]
            if ok:
                print(f"  end to end through the ALSA file-plugin pipe, --latency {latency:<4} "
                      f"{statistics.median(ok) * 1000:5.0f} ms (the capture chain's own buffering included)")


if __name__ == "__main__":
    main()
