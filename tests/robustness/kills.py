"""SIGKILL at random moments: of `dancer scan`, and of a process rewriting a file atomically.

Public: `make_music`, `kill_cycles`, `KillCycle`, `kill_atomic_writes`, `descendants`, `alive`.
"""

from __future__ import annotations

import hashlib
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from synth import click_signal, write_audio

ROOT = Path(__file__).resolve().parents[2]
RATE = 22050


def make_music(folder: Path, count: int = 32, seconds: float = 20.0, last_seconds: float = 300.0,
               ) -> list[Path]:
    """Good files in four formats, enough that a scan takes a few seconds on 2 cores.

    The last file in scan order is long, so that near the end of a scan one worker is busy with
    it while the other sits idle with nothing left to do: the moment a kill used to orphan it.
    """
    out = []
    for i in range(count):
        ext = ("wav", "flac", "ogg", "mp3")[i % 4]
        out.append(write_audio(folder / f"t{i:02d}.{ext}", click_signal(90 + 3 * i, seconds, RATE), RATE))
    if last_seconds:
        out.append(write_audio(folder / "zz-long.flac", click_signal(100, last_seconds, RATE), RATE))
    return out


def descendants(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@dataclass
class KillCycle:
    moment: str  # "start-up" or "after N files"
    running: bool  # the scan was still working when the kill landed
    rows: int
    integrity: str
    orphans: list[int]
    opened: bool


def _scan_command(folder: Path, library: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "dancer", "scan", str(folder), "--library", str(library),
            "--jobs", str(jobs)]


def _lines(stream, sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line)


def seconds_to_first_file(folder: Path, jobs: int = 2) -> float:
    """How long ``dancer scan`` takes to start up and commit its first file (scratch library)."""
    with tempfile.TemporaryDirectory() as d:
        t0 = time.monotonic()
        proc = subprocess.Popen(_scan_command(folder, Path(d) / "lib.sqlite3", jobs),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        first = None
        for line in proc.stderr:
            if first is None and line.startswith("["):
                first = time.monotonic() - t0
        proc.wait(timeout=600)
        return first if first is not None else time.monotonic() - t0


def kill_cycles(folder: Path, library: Path, *, cycles: int = 10, seed: int = 8, jobs: int = 2,
                ) -> list[KillCycle]:
    """SIGKILL ``dancer scan`` at random points; after each, check the library and the workers.

    Before every cycle each file's mtime moves on, so every scan has the whole folder to
    re-analyse. A third of the kills land at a random time in start-up (imports, migration,
    spawning workers); most others just after a random number of files were committed, plus a
    few milliseconds, which is mid-analysis or mid-commit; some while only the last (long, see
    `make_music`) file is left and a worker sits idle. Only the scan process is killed, as
    ``kill -9`` or the OOM killer would: its workers must exit by themselves.
    """
    from dancer.errors import LibraryError
    from dancer.library.store import Library

    rng = np.random.default_rng(seed)
    startup = seconds_to_first_file(folder, jobs)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    out = []
    for cycle in range(cycles):
        for p in files:
            os.utime(p, (time.time(), 1_700_000_000 + cycle))
        moment = rng.random()
        if moment < 1 / 3:
            after = 0
        elif moment < 0.8:
            after = int(rng.integers(1, len(files) - 1))
        else:
            after = len(files) - 1  # only the long last file left: one worker idle
        delay = float(rng.uniform(0.05, startup)) if after == 0 else float(rng.uniform(0.0, 0.03))
        proc = subprocess.Popen(_scan_command(folder, library, jobs), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        progress: queue.Queue = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stderr, progress), daemon=True).start()
        workers: set[int] = set()
        committed, give_up = 0, time.monotonic() + 120
        while committed < after and proc.poll() is None and time.monotonic() < give_up:
            try:
                committed += progress.get(timeout=0.02).startswith("[")
            except queue.Empty:
                pass
            workers.update(descendants(proc.pid))
        t_end = time.monotonic() + delay
        while time.monotonic() < t_end and proc.poll() is None:
            workers.update(descendants(proc.pid))
            time.sleep(0.005)
        workers.update(descendants(proc.pid))
        running = proc.poll() is None
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(p) for p in workers):
            time.sleep(0.1)
        orphans = [p for p in workers if alive(p)]
        for p in orphans:  # do not leave them behind for the next cycle, but report them
            os.kill(p, signal.SIGKILL)
        opened, rows, check = True, 0, "not checked"
        try:
            with Library.open(library) as lib:
                rows = len(lib.tracks(ok_only=False))
                check = "; ".join(r[0] for r in lib.connection.execute("PRAGMA integrity_check"))
        except LibraryError as exc:
            opened, check = False, str(exc)
        moment = (f"start-up +{delay:.2f} s" if after == 0
                  else f"after {committed} files +{delay * 1000:.0f} ms")
        out.append(KillCycle(moment, running, rows, check, orphans, opened))
    return out


_ATOMIC_WRITER = """
import hashlib, sys
from dancer.paths import atomic_write_bytes
target, size = sys.argv[1], int(sys.argv[2])
generation = 0
while True:
    generation += 1
    body = bytes([generation % 251]) * size
    atomic_write_bytes(target, hashlib.sha256(body).hexdigest().encode() + b"\\n" + body)
    print(generation, flush=True)
"""


def kill_atomic_writes(target: Path, *, cycles: int = 10, size: int = 32 * 2**20, seed: int = 8,
                       ) -> list[str]:
    """SIGKILL a process rewriting ``target`` with `atomic_write_bytes`; return every broken outcome.

    Each payload carries its own SHA-256, so a torn, empty or mixed file is caught.
    """
    rng = np.random.default_rng(seed)
    problems = []
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for i in range(cycles):
        proc = subprocess.Popen([sys.executable, "-c", _ATOMIC_WRITER, str(target), str(size)],
                                stdout=subprocess.PIPE, env=env)
        proc.stdout.readline()  # one whole generation is on disk before the kill
        time.sleep(float(rng.uniform(0.0, 0.4)))
        proc.kill()
        proc.wait()
        proc.stdout.close()
        data = target.read_bytes()
        digest, _, body = data.partition(b"\n")
        if len(body) != size or hashlib.sha256(body).hexdigest().encode() != digest:
            problems.append(f"cycle {i}: {len(data)} bytes, checksum mismatch")
    return problems
