"""Scan speed and memory, as ratios against baselines measured the same way in the same run.

Two views of speed, each against its own baselines:

- **end to end**, what a user waits for: ``dancer scan`` run as a command (a fresh process:
  interpreter start-up, imports, worker start, tags, decode, analysis, library writes), against
  a fresh process running the librosa default pipeline (``librosa.load(sr=22050)`` +
  ``beat_track`` + ``rms``, imports and numba's first calls included) and one only decoding the
  same files; wall time, median of ``--repeat`` interleaved rounds, in the environment the
  benchmark was started in.
- **steady state**, the cost of the work itself: per file in this process after a warm-up,
  `analyse_file` (tags, decode, analysis: what a scan worker does per file), the librosa
  pipeline and decode only; CPU time, median of ``--repeat`` runs, with BLAS held to one thread
  for all three (one core each, like a one-job scan).

Decode only is dancer's own `open_stream` (soundfile, float32 blocks), the decode inside a scan.
Its ratio is given for PCM files (wav/flac/aiff, whose decoding is nearly a copy) and compressed
ones (ogg/mp3/...) apart.

Targets: single-job scan end to end >= 1.0 x librosa default (issue #12: the analysis is built
on librosa now, imports and all) and >= 0.6 x decode only (issue #2), each printed on the line
it is checked against; unchanged rescan of 1,000 files <= 1 s; <= 200 MB peak resident memory
analysing a 60-minute file (VmHWM of a fresh process, issue #12), printed beside the peak of a
process that only imports librosa, what that floor is made of (`IMPORT_PARTS_SCRIPT`), and the
peak of the librosa default pipeline on the same file.

    python benchmarks/scan.py [FOLDER] [--repeat 3] [--skip-memory] [--skip-e2e]
"""

from __future__ import annotations

import os

#: The environment as the user started us: end-to-end runs get this, not the pinning below.
USER_ENV = dict(os.environ)
# Steady state compares CPU time on one core; OpenBLAS's threads would add CPU without speed.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dancer.decode import open_stream  # noqa: E402
from dancer.library.scan import analyse_file, default_jobs, find_audio, scan_folder  # noqa: E402
from dancer.library.store import Library  # noqa: E402

PCM_SUFFIXES = (".wav", ".wave", ".flac", ".aif", ".aiff")

LIBROSA_SCRIPT = """
import sys
import librosa
for p in sys.argv[1:]:
    y, sr = librosa.load(p, sr=22050)
    librosa.beat.beat_track(y=y, sr=sr)
    librosa.feature.rms(y=y)
"""

DECODE_SCRIPT = """
import sys
from pathlib import Path
from dancer.decode import open_stream
for p in sys.argv[1:]:
    for _ in open_stream(Path(p))[1]:
        pass
"""


def audio_seconds(paths: list[str]) -> dict[str, float]:
    return {p: sf.info(p).duration for p in paths}


def subprocess_env() -> dict[str, str]:
    env = dict(USER_ENV)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# -- end to end ------------------------------------------------------------------------------


def run_timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (the process and every child it waited for) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=subprocess_env(), cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd[:6])} ...\n{res.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def end_to_end(folder: Path, paths: list[str], jobs: int, repeat: int, work: Path) -> dict[str, list]:
    """Interleaved rounds of each command; returns name -> [(wall, cpu), ...]."""
    def scan(n: int):
        return lambda db: [sys.executable, "-m", "dancer", "scan", "--jobs", str(n), "--library", str(db),
                           str(folder)]

    commands = {f"scan{n}": scan(n) for n in sorted({1, jobs})}
    commands["librosa"] = lambda db: [sys.executable, "-c", LIBROSA_SCRIPT, *paths]
    commands["decode"] = lambda db: [sys.executable, "-c", DECODE_SCRIPT, *paths]
    runs: dict[str, list] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, make in commands.items():
            db = work / f"e2e-{name}.sqlite3"
            db.unlink(missing_ok=True)
            runs[name].append(run_timed(make(db)))
            if name.startswith("scan"):
                with Library.open(db) as lib:
                    stored = len(lib.known())
                if stored != len(paths):
                    sys.exit(f"dancer scan stored {stored} of {len(paths)} files")
    return runs


# -- steady state ----------------------------------------------------------------------------


def decode_only(path: str) -> None:
    for _ in open_stream(Path(path))[1]:
        pass


def steady_state(paths: list[str], repeat: int) -> dict[str, dict[str, float]]:
    """Median CPU seconds per file of each pipeline, in this process after a warm-up."""
    import librosa

    from dancer.analysis import warm_up

    def dancer(path: str) -> None:
        track = analyse_file(path)
        assert track.error is None, (path, track.error)

    def librosa_default(path: str) -> None:
        y, sr = librosa.load(path, sr=22050)
        librosa.beat.beat_track(y=y, sr=sr)
        librosa.feature.rms(y=y)

    pipelines = {"dancer": dancer, "librosa": librosa_default, "decode": decode_only}
    warm_up()
    for run in pipelines.values():  # imports, numba's compilation, first-call caches
        run(paths[0])
    times: dict[str, dict[str, list[float]]] = {name: {p: [] for p in paths} for name in pipelines}
    for _ in range(repeat):
        for p in paths:
            for name, run in pipelines.items():
                t0 = time.process_time()
                run(p)
                times[name][p].append(time.process_time() - t0)
    return {name: {p: statistics.median(ts) for p, ts in per.items()} for name, per in times.items()}


# -- rescan and memory -----------------------------------------------------------------------


def time_unchanged_rescan(work: Path, sample: str, n: int = 1000) -> float:
    """Rescan of a library that already holds ``n`` unchanged files."""
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


def peak_memory_60min(work: Path) -> dict[str, float]:
    """Peak RSS (MB) of fresh processes on a 60-minute stereo FLAC, with two baselines from the same run.

    - ``dancer``: `analyse_file` on it, as a one-job scan worker does;
    - ``dancer 3 h``: the same on a 3-hour file (issue #12: memory stays bounded on one);
    - ``warm``: a process that only runs dancer's warm-up (imports and numba's first calls);
    - ``import``: a process that only imports the librosa modules the analysis uses, the floor
      any librosa-based analysis starts from;
    - ``librosa``: the librosa default pipeline (the ``LIBROSA_SCRIPT`` above) on the 60-minute
      file (not on the 3-hour one: it holds the whole signal, ~9 GB there).
    """
    from dancer.demo import click_track

    hour, three = work / "hour.flac", work / "three-hours.flac"
    if not hour.exists() or not three.exists():
        one = click_track(122.0, 60.0, 44100)
        one = (np.repeat(one[:, None], 2, axis=1) if one.ndim == 1 else one).astype(np.float32)
        for path, minutes in ((hour, 60), (three, 180)):
            with sf.SoundFile(str(path), "w", samplerate=44100, channels=2) as f:
                for _ in range(minutes):
                    f.write(one)
    # VmHWM, not ru_maxrss: ru_maxrss survives exec, so a child of a big parent reports the parent's size.
    rss = "print([int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0] / 1024)"

    def dancer(path: Path, seconds: float) -> str:
        return (f"from dancer.library.scan import analyse_file; t = analyse_file({str(path)!r}); "
                f"assert t.error is None, t.error; assert t.duration > {seconds}, t.duration; {rss}")

    codes = {
        "dancer": (dancer(hour, 3590), hour),
        "dancer 3 h": (dancer(three, 3 * 3600 - 10), three),
        "warm": (f"from dancer.analysis import warm_up; warm_up(); {rss}", hour),
        "import": (f"import librosa.onset, librosa.beat, librosa.feature; {rss}", hour),
        "librosa": (f"{LIBROSA_SCRIPT}\n{rss}", hour),
    }
    out = {}
    for name, (code, path) in codes.items():
        res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                             check=True, env=subprocess_env())
        out[name] = float(res.stdout.strip())
    return out


#: Resident memory (MB) of a process that only imports the librosa modules the analysis uses,
#: by what holds it (``/proc/self/smaps``): the floor below which no librosa-based analysis goes.
IMPORT_PARTS_SCRIPT = """
import json, librosa.onset, librosa.beat, librosa.feature
parts, where = {}, None
for line in open('/proc/self/smaps'):
    field = line.split()
    if field and not field[0].endswith(':') and '-' in field[0]:
        name = field[5] if len(field) > 5 else ''
        where = ("numba's LLVM (libllvmlite.so)" if 'llvmlite' in name else
                 'Python objects and arrays (heap, anonymous)' if name in ('', '[heap]') else
                 'other shared libraries' if '.so' in name else 'other')
    elif field and field[0] == 'Rss:':
        parts[where] = parts.get(where, 0) + int(field[1]) / 1024
print(json.dumps(parts))
"""


def import_floor_parts() -> dict[str, float]:
    """`IMPORT_PARTS_SCRIPT` in a fresh process: what the import floor is made of, largest first."""
    res = subprocess.run([sys.executable, "-c", IMPORT_PARTS_SCRIPT], capture_output=True, text=True,
                         check=True, env=subprocess_env())
    parts = json.loads(res.stdout)
    return dict(sorted(parts.items(), key=lambda kv: -kv[1]))


# -- report ----------------------------------------------------------------------------------


def verdict(value: float, target: float) -> str:
    return f"target >= {target:g}: {'met' if value >= target else 'NOT met'}"


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path, help="music folder (default: a generated demo library)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of each measurement (median reported)")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-e2e", action="store_true", help="leave out the end-to-end runs")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dancer-bench-"))
    folder = args.folder
    if folder is None:
        from dancer.demo import generate_demo

        folder = work / "demo"
        generate_demo(folder, scale=3.0)
    paths, _ = find_audio(folder)
    durations = audio_seconds(paths)
    total = sum(durations.values())
    pcm = [p for p in paths if p.lower().endswith(PCM_SUFFIXES)]
    packed = [p for p in paths if p not in pcm]
    jobs = default_jobs()
    load0 = os.getloadavg()
    print(f"folder: {folder} - {len(paths)} files, {total / 60:.1f} min of audio "
          f"(PCM {sum(durations[p] for p in pcm) / 60:.1f} min, compressed "
          f"{sum(durations[p] for p in packed) / 60:.1f} min), formats "
          f"{' '.join(sorted({Path(p).suffix for p in paths}))}")

    if not args.skip_e2e:
        runs = end_to_end(folder, paths, jobs, args.repeat, work)
        wall = {name: statistics.median(w for w, _ in r) for name, r in runs.items()}
        cpu = {name: statistics.median(c for _, c in r) for name, r in runs.items()}
        print(f"\nend to end: fresh processes, wall time, median of {args.repeat} (spread in brackets), "
              f"environment as started")
        labels = {f"scan{n}": f"dancer scan --jobs {n}" for n in sorted({1, jobs})}
        labels.update(librosa="librosa default script", decode="decode-only script")
        for name, label in labels.items():
            walls = [w for w, _ in runs[name]]
            print(f"  {label:24s} {total / wall[name]:7.0f} x real time   {wall[name]:6.2f} s "
                  f"[{spread(walls)}], cpu {cpu[name]:5.2f} s")
        r_lib, r_dec = wall["librosa"] / wall["scan1"], wall["decode"] / wall["scan1"]
        print(f"  ratio scan(1)/librosa    {r_lib:7.2f}   {verdict(r_lib, 1.0)}")
        print(f"  ratio scan(1)/decode     {r_dec:7.2f}   {verdict(r_dec, 0.6)}")

    steady = steady_state(paths, args.repeat)
    print(f"\nsteady state: in this process after warm-up, CPU time per file, median of {args.repeat}, "
          f"BLAS on one thread")
    groups = {"all": paths, "PCM": pcm, "compressed": packed}
    print(f"  {'':24s} " + "".join(f"{g + f' ({len(ps)})':>22s}" for g, ps in groups.items()))

    def speed(name: str, ps: list[str]) -> str:
        if not ps:
            return f"{'-':>22s}"
        seconds = sum(steady[name][p] for p in ps)
        return f"{sum(durations[p] for p in ps) / seconds:10.0f} x {seconds:6.2f} s "

    for name, label in (("dancer", "dancer analyse_file"), ("librosa", "librosa default"),
                        ("decode", "decode only")):
        print(f"  {label:24s} " + "".join(speed(name, ps) for ps in groups.values()))

    def ratio(baseline: str, ps: list[str]) -> float:
        if not ps:
            return float("nan")
        return sum(steady[baseline][p] for p in ps) / sum(steady["dancer"][p] for p in ps)

    for baseline, target in (("librosa", 1.0), ("decode", 0.6)):
        values = {g: ratio(baseline, ps) for g, ps in groups.items()}
        cells = "".join(f"{v:22.2f}" for v in values.values())
        print(f"  ratio dancer/{baseline:11s}{cells}   {verdict(values['all'], target)} (all)")
    per_second = {name: sum(steady[name].values()) / total * 1000 for name in steady}
    print(f"  cost per second of audio: dancer {per_second['dancer']:.2f} ms, of which decode "
          f"{per_second['decode']:.2f} ms; librosa {per_second['librosa']:.2f} ms")

    rescan = time_unchanged_rescan(work, paths[0])
    met = "met" if rescan <= 1 else "NOT met"
    print(f"\nunchanged rescan of 1000 files  {rescan:.3f} s   target <= 1 s: {met}")
    if not args.skip_memory:
        mem = peak_memory_60min(work)
        print(f"peak memory, 60-minute file     {mem['dancer']:.0f} MB   target <= 200 MB: "
              f"{'met' if mem['dancer'] <= 200 else 'NOT met'}")
        print(f"  a process that only warms up   {mem['warm']:.0f} MB; one that only imports librosa "
              f"{mem['import']:.0f} MB (the floor of any librosa-based analysis)")
        print("    resident after the imports: " + ", ".join(
            f"{where} {mb:.0f} MB" for where, mb in import_floor_parts().items() if mb >= 1))
        print(f"  librosa default, same file     {mem['librosa']:.0f} MB   ratio librosa/dancer "
              f"{mem['librosa'] / mem['dancer']:.2f}")
        print(f"  a 3-hour file                  {mem['dancer 3 h']:.0f} MB "
              f"({(mem['dancer 3 h'] - mem['dancer']) / 2:.0f} MB more for each hour past the first)")
    load1 = os.getloadavg()
    print(f"\nmachine: {jobs} cores; load average (1 min) {load0[0]:.2f} at start, {load1[0]:.2f} at end")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
