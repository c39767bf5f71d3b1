"""Scan speed and memory, as ratios against baselines measured in the same run.

Prints × real time of `dancer scan` (1 job and all jobs), of decode-only (soundfile reading the
same files) and of the librosa default pipeline (``librosa.load(sr=22050)`` + ``beat_track`` +
``rms``); the ratios scan/decode and scan/librosa; the rescan time of an unchanged library of
1,000 files; and peak memory analysing a 60-minute file.

    python benchmarks/scan.py [FOLDER] [--skip-memory]

Targets (issue #2): single-job scan ≥ 1.5 × librosa default and ≥ 0.6 × decode-only; unchanged
rescan of 1,000 files ≤ 1 s; ≤ 300 MB on the 60-minute file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dancer.decode import open_stream  # noqa: E402
from dancer.library import Library  # noqa: E402
from dancer.scan import default_jobs, find_audio, scan_folder  # noqa: E402


def audio_seconds(paths: list[str]) -> float:
    return sum(sf.info(p).duration for p in paths)


def time_scan(folder: Path, jobs: int, work: Path) -> tuple[float, float]:
    db = work / f"scan-{jobs}.sqlite3"
    db.unlink(missing_ok=True)
    with Library.open(db) as lib:
        t0 = time.perf_counter()
        report = scan_folder(folder, lib, jobs=jobs)
        seconds = time.perf_counter() - t0
    assert not report.failed, report.failed
    return seconds, report.audio_seconds


def time_decode(paths: list[str]) -> float:
    t0 = time.perf_counter()
    for p in paths:
        _, blocks = open_stream(Path(p))
        for _ in blocks:
            pass
    return time.perf_counter() - t0


def time_librosa(paths: list[str]) -> float:
    import librosa

    warm = np.random.default_rng(0).standard_normal(22050 * 4).astype(np.float32)
    librosa.beat.beat_track(y=warm, sr=22050)
    t0 = time.perf_counter()
    for p in paths:
        y, sr = librosa.load(p, sr=22050)
        librosa.beat.beat_track(y=y, sr=sr)
        librosa.feature.rms(y=y)
    return time.perf_counter() - t0


def time_unchanged_rescan(work: Path, sample: str, n: int = 1000) -> float:
    """Rescan of a library that already holds ``n`` unchanged files."""
    from dancer.scan import analyse_file

    folder = work / "thousand"
    folder.mkdir(exist_ok=True)
    template = analyse_file(sample)
    db = work / "thousand.sqlite3"
    with Library.open(db) as lib:
        for i in range(n):
            p = folder / f"{i // 100:02d}" / f"track{i:04d}.wav"
            p.parent.mkdir(exist_ok=True)
            shutil.copyfile(sample, p)
            st = os.stat(p)
            lib.put(template.__class__(**{**template.__dict__, "path": str(p), "size": st.st_size,
                                          "mtime": st.st_mtime}))
        t0 = time.perf_counter()
        report = scan_folder(folder, lib, jobs=1)
        seconds = time.perf_counter() - t0
    assert report.unchanged == n and report.added == 0, report
    return seconds


def peak_memory_60min(work: Path) -> tuple[float, float]:
    """Peak RSS (MB) of analysing a 60-minute stereo FLAC, and of the same process doing nothing."""
    from dancer.demo import click_track

    path = work / "hour.flac"
    if not path.exists():
        one = click_track(122.0, 60.0, 44100)
        one = np.repeat(one[:, None], 2, axis=1) if one.ndim == 1 else one
        with sf.SoundFile(str(path), "w", samplerate=44100, channels=2) as f:
            for _ in range(60):
                f.write(one.astype(np.float32))
    # VmHWM, not ru_maxrss: ru_maxrss survives exec, so a child of a big parent reports the parent's size.
    rss = ("print([int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0] / 1024)")
    idle = f"from dancer.analysis import warm_up; warm_up(); {rss}"
    busy = (f"from dancer.scan import analyse_file; t = analyse_file({str(path)!r}); "
            f"assert t.error is None, t.error; {rss}")
    out = []
    for code in (busy, idle):
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out.append(float(res.stdout.strip()))
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path, help="music folder (default: a generated demo library)")
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dancer-bench-"))
    folder = args.folder
    if folder is None:
        from dancer.demo import generate_demo

        folder = work / "demo"
        generate_demo(folder, scale=3.0)
    paths, _ = find_audio(folder)
    total = audio_seconds(paths)
    formats = sorted({Path(p).suffix for p in paths})
    print(f"folder: {folder} — {len(paths)} files, {total / 60:.1f} min of audio, formats {' '.join(formats)}")
    jobs = default_jobs()

    s1, _ = time_scan(folder, 1, work)
    sn, _ = time_scan(folder, jobs, work)
    dec = time_decode(paths)
    lib = time_librosa(paths)
    x1, xn, xd, xl = total / s1, total / sn, total / dec, total / lib
    print(f"scan, 1 job          {x1:8.1f} x real time   ({s1:.2f} s)")
    print(f"scan, {jobs} jobs         {xn:8.1f} x real time   ({sn:.2f} s)")
    print(f"decode only          {xd:8.1f} x real time   ({dec:.2f} s)")
    print(f"librosa default      {xl:8.1f} x real time   ({lib:.2f} s)")
    print(f"ratio scan(1)/librosa  {x1 / xl:6.2f}   (target >= 1.5)")
    print(f"ratio scan(1)/decode   {x1 / xd:6.2f}   (target >= 0.6)")
    rescan = time_unchanged_rescan(work, paths[0])
    print(f"unchanged rescan of 1000 files  {rescan:.3f} s   (target <= 1 s)")
    if not args.skip_memory:
        busy, idle = peak_memory_60min(work)
        print(f"peak memory, 60-minute file     {busy:.0f} MB (the same process after a 4 s warm-up: {idle:.0f} MB; "
              f"target <= 300 MB)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
