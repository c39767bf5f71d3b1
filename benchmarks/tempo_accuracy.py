"""Tempo accuracy and speed: dancer's analysis against librosa's default pipeline, in one run.

Sets (from `benchmarks/tempo_set.py`):

- ``synthetic``: GM arrangements of eight genres rendered by fluidsynth, known tempo and meter;
  includes beatless pads.
- ``real``: Debian's ``fretsonfire-songs-muldjord`` band recordings, labelled by their chart's
  tempo map.
- ``equivariance``: each real recording sped up and slowed down exactly (0.90, 1.12); the
  estimate must scale by the factor within 2% — this catches imprecision and metrical-level flips.

Figures per system: Acc1 (within 4% of the label), Acc2 (also at ×2, ×3, ×½, ×⅓), median
absolute error (%) over the Acc1 hits, beatless detection (labelled-beatless items flagged, and
beat-driven items wrongly flagged), and seconds spent (decode + analysis; librosa's numba JIT is
warmed up before timing so it is not charged).

dancer: soundfile block decode → `FeatureExtractor` → `estimate_tempo`.
librosa: ``librosa.load(path, sr=22050)`` → ``librosa.beat.beat_track(y=y, sr=sr)``.

Usage: ``python benchmarks/tempo_accuracy.py [--sets synthetic,real,equivariance] [--no-librosa]
[--cache DIR] [-v]``
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tempo_set import (  # noqa: E402
    LabelledItem,
    build_synthetic_set,
    default_cache_dir,
    load_fretsonfire_set,
    tempo_equivariance_pairs,
)

from dancer.analysis.features import FeatureExtractor  # noqa: E402
from dancer.analysis.tempo import estimate_tempo  # noqa: E402

ACC1_TOLERANCE = 0.04
EQUIVARIANCE_TOLERANCE = 0.02
FACTORS = (0.90, 1.12)


@dataclass(frozen=True)
class Estimate:
    bpm: float | None
    beatless: bool
    confidence: float
    seconds: float
    meter: int = 4


def run_dancer(path: Path) -> Estimate:
    start = time.perf_counter()
    with sf.SoundFile(str(path)) as f:
        extractor = FeatureExtractor(f.samplerate, f.channels)
        for block in f.blocks(65536, dtype="float32", always_2d=True):
            extractor.add(block)
    result = estimate_tempo(extractor.finish())
    return Estimate(result.bpm, result.beatless, result.confidence, time.perf_counter() - start, result.meter)


def run_librosa(path: Path) -> Estimate:
    import librosa

    start = time.perf_counter()
    y, sr = librosa.load(str(path), sr=22050)
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    bpm = float(np.atleast_1d(tempo)[0])
    return Estimate(bpm if bpm > 0 else None, bpm <= 0, 1.0, time.perf_counter() - start)


def warm_up_librosa() -> None:
    import librosa

    sr = 22050
    t = np.arange(5 * sr) / sr
    y = (np.sin(2 * np.pi * 220 * t) * (np.mod(t, 0.5) < 0.05)).astype(np.float32)
    librosa.beat.beat_track(y=y, sr=sr)


def relative_error(estimate: float | None, truth: float) -> float:
    return np.inf if estimate is None else abs(estimate / truth - 1.0)


def acc2_hit(estimate: float | None, truth: float) -> bool:
    return any(relative_error(estimate, truth * k) <= ACC1_TOLERANCE for k in (1.0, 2.0, 3.0, 0.5, 1 / 3))


@dataclass
class Summary:
    acc1: float
    acc2: float
    median_error: float
    beatless_found: str
    false_beatless: str
    seconds: float


def summarise(items: list[LabelledItem], estimates: list[Estimate]) -> Summary:
    beat = [(i, e) for i, e in zip(items, estimates) if i.bpm is not None]
    still = [(i, e) for i, e in zip(items, estimates) if i.bpm is None]
    hits = [relative_error(e.bpm, i.bpm) for i, e in beat if relative_error(e.bpm, i.bpm) <= ACC1_TOLERANCE]
    return Summary(
        acc1=len(hits) / len(beat) if beat else float("nan"),
        acc2=sum(acc2_hit(e.bpm, i.bpm) for i, e in beat) / len(beat) if beat else float("nan"),
        median_error=100 * float(np.median(hits)) if hits else float("nan"),
        beatless_found=f"{sum(e.beatless for _, e in still)}/{len(still)}" if still else "-",
        false_beatless=f"{sum(e.beatless for _, e in beat)}/{len(beat)}",
        seconds=sum(e.seconds for e in estimates),
    )


def _fmt(bpm: float | None) -> str:
    return "   -    " if bpm is None else f"{bpm:8.2f}"


def _mark(estimate: Estimate, truth: float | None) -> str:
    if truth is None:
        return "ok " if estimate.beatless else "MISS"
    if estimate.beatless:
        return "flat"
    if relative_error(estimate.bpm, truth) <= ACC1_TOLERANCE:
        return "ok "
    return "x" + _ratio(estimate.bpm, truth) if acc2_hit(estimate.bpm, truth) else "BAD"


def _ratio(estimate: float | None, truth: float) -> str:
    if estimate is None:
        return "?"
    r = estimate / truth
    for text, k in (("2", 2.0), ("3", 3.0), ("1/2", 0.5), ("1/3", 1 / 3), ("3/2", 1.5), ("2/3", 2 / 3)):
        if abs(r / k - 1) <= ACC1_TOLERANCE:
            return text
    return f"{r:.2f}"


def evaluate(name: str, items: list[LabelledItem], *, with_librosa: bool, verbose: bool) -> dict:
    print(f"\n== {name}: {len(items)} items ==")
    header = f"{'item':<24} {'genre':<10} {'truth':>8} | {'dancer':>8} {'conf':>5} {'m':>2} {'':4}"
    if with_librosa:
        header += f" | {'librosa':>8} {'':4}"
    print(header)
    ours, theirs = [], []
    for item in items:
        d = run_dancer(item.path)
        ours.append(d)
        line = (
            f"{item.name:<24.24} {item.genre:<10.10} {_fmt(item.bpm)} | {_fmt(d.bpm)} "
            f"{d.confidence:5.2f} {d.meter:2d} {_mark(d, item.bpm):4}"
        )
        if with_librosa:
            lib = run_librosa(item.path)
            theirs.append(lib)
            line += f" | {_fmt(lib.bpm)} {_mark(lib, item.bpm):4}"
        print(line, flush=True)
    result = {"dancer": summarise(items, ours)}
    if with_librosa:
        result["librosa"] = summarise(items, theirs)
    audio = sum(i.seconds for i in items)
    print(f"-- {name} summary ({audio:.0f} s of audio) --")
    print(f"{'system':<8} {'Acc1':>6} {'Acc2':>6} {'med|err|%':>9} {'beatless':>9} {'false-bl':>8} {'seconds':>8} {'x rt':>7}")
    for system, s in result.items():
        print(
            f"{system:<8} {s.acc1:6.3f} {s.acc2:6.3f} {s.median_error:9.3f} {s.beatless_found:>9} "
            f"{s.false_beatless:>8} {s.seconds:8.2f} {audio / s.seconds:7.0f}"
        )
    if with_librosa:
        print(f"speed: dancer is {result['librosa'].seconds / result['dancer'].seconds:.2f}x librosa's default")
    return result


def equivariance(items: list[LabelledItem], *, cache: Path, with_librosa: bool) -> dict:
    print(f"\n== equivariance: {len(items)} recordings x {FACTORS} ==")
    print(f"{'item':<24} {'k':>5} | {'dancer x1':>9} {'x k':>8} {'ratio/k':>7}" + (
        f" | {'librosa x1':>10} {'x k':>8} {'ratio/k':>7}" if with_librosa else ""))
    passed = {"dancer": [], "librosa": []}
    for item in items:
        base = run_dancer(item.path)
        base_lib = run_librosa(item.path) if with_librosa else None
        for path, k in tempo_equivariance_pairs(item, FACTORS, cache_dir=cache):
            moved = run_dancer(path)
            ok, ratio = _scaled(base.bpm, moved.bpm, k)
            passed["dancer"].append(ok)
            line = f"{item.name:<24.24} {k:5.2f} | {_fmt(base.bpm):>9} {_fmt(moved.bpm)} {ratio:7.3f}{'' if ok else ' !'}"
            if with_librosa:
                lib = run_librosa(path)
                ok_l, ratio_l = _scaled(base_lib.bpm, lib.bpm, k)
                passed["librosa"].append(ok_l)
                line += f" | {_fmt(base_lib.bpm):>10} {_fmt(lib.bpm)} {ratio_l:7.3f}{'' if ok_l else ' !'}"
            print(line, flush=True)
    scores = {system: float(np.mean(v)) for system, v in passed.items() if v}
    print("-- equivariance summary: " + ", ".join(f"{s} {v:.3f}" for s, v in scores.items()))
    return scores


def _scaled(base: float | None, moved: float | None, k: float) -> tuple[bool, float]:
    if base is None or moved is None:
        return False, float("nan")
    ratio = moved / base / k
    return abs(ratio - 1.0) <= EQUIVARIANCE_TOLERANCE, ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="synthetic,real,equivariance")
    parser.add_argument("--no-librosa", action="store_true")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    cache = args.cache or default_cache_dir()
    sets = set(args.sets.split(","))
    with_librosa = not args.no_librosa
    if with_librosa:
        warm_up_librosa()
    results = {}
    if "synthetic" in sets:
        results["synthetic"] = evaluate(
            "synthetic", build_synthetic_set(cache / "synthetic"), with_librosa=with_librosa, verbose=args.verbose
        )
    real = load_fretsonfire_set(cache_dir=cache) if sets & {"real", "equivariance"} else []
    if sets & {"real", "equivariance"} and not real:
        print("\n(no Frets on Fire songs: apt-get install fretsonfire-songs-muldjord)")
    if "real" in sets and real:
        results["real"] = evaluate("real", real, with_librosa=with_librosa, verbose=args.verbose)
    if "equivariance" in sets and real:
        results["equivariance"] = equivariance(real, cache=cache, with_librosa=with_librosa)

    print("\n== targets ==")
    checks = []
    if "synthetic" in results:
        s = results["synthetic"]["dancer"]
        found, total = (int(x) for x in s.beatless_found.split("/"))
        checks += [
            ("synthetic Acc1 >= 0.95", s.acc1 >= 0.95, f"{s.acc1:.3f}"),
            ("synthetic median error <= 0.3%", s.median_error <= 0.3, f"{s.median_error:.3f}%"),
            ("beatless flagged >= 90%", found >= 0.9 * total, s.beatless_found),
            ("no beat-driven track flagged", s.false_beatless.startswith("0/"), s.false_beatless),
        ]
    if "real" in results:
        s = results["real"]["dancer"]
        checks += [
            ("real Acc2 = 1.0", s.acc2 >= 1.0, f"{s.acc2:.3f}"),
            ("real Acc1 >= 0.85", s.acc1 >= 0.85, f"{s.acc1:.3f}"),
        ]
    if "equivariance" in results:
        v = results["equivariance"]["dancer"]
        checks.append(("equivariance >= 0.90", v >= 0.90, f"{v:.3f}"))
    if with_librosa:
        ours = sum(r["dancer"].seconds for k, r in results.items() if k != "equivariance")
        theirs = sum(r["librosa"].seconds for k, r in results.items() if k != "equivariance")
        if theirs:
            checks.append(("speed >= 1.5x librosa default", theirs / ours >= 1.5, f"{theirs / ours:.2f}x"))
    for label, ok, value in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label:<34} {value}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
