"""The stereo image of the tempo benchmark's sources: how far left and right agree.

dancer analyses the sum of a file's channels (`dancer.analysis.features`), so whatever is in
opposite phase on the two cancels before any tempo decision sees it. Real mixes keep that small
(a mix whose channels disagree vanishes on a mono speaker), but fluidsynth's chorus, on in
fluidsynth unless turned off (the benchmark turns it off since stop 34), puts most GM programs
in a wide effect whose two outputs are nearly opposite. This
prints, per source, the left-right correlation of each recording (the whole signal, and below
150 Hz where kick and bass sit), so a validation set that stands far from real recordings in
this respect shows.

The last three columns are the low-end correlation dancer itself reads a file's wiring from
(`dancer.analysis.features.LowCorrelation`): below `features.INVERTED_CORRELATION` it takes
one channel as inverted. ``--sets clean,inverted`` reads the tempo benchmark's 30-second cuts
of its real recordings as cut and with one channel inverted.

Usage: ``python benchmarks/stereo_image.py [--sets fof,lmms,synthetic,mma,openmsx,clean,inverted,...]
[--chorus] [--cache DIR] [-v]``. The sets are `tempo_accuracy`'s, built (and rendered, if
their renders are not cached yet) the same way; ``--chorus`` builds the fluidsynth ones with
fluidsynth's chorus on, as the benchmark did before stop 34 (`tempo_set.FLUIDSYNTH_CHORUS`).
Mono recordings are counted apart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tempo_set  # noqa: E402
from tempo_accuracy import load_group  # noqa: E402

from dancer.analysis.features import LowCorrelation  # noqa: E402

SETS = ("fof", "lmms", "lmms-more", "hydrogen", "kits", "percussion", "synthetic", "mma", "openmsx")
LOW_HZ = 150.0


def correlation(left: np.ndarray, right: np.ndarray) -> float:
    """Pearson correlation of two channels (about their zero, as audio is); 0 when one is silent."""
    energy = float(left @ left) * float(right @ right)
    return float(left @ right) / np.sqrt(energy) if energy > 0 else 0.0


def image(path: Path) -> tuple[float, float, float] | None:
    """(correlation of the whole signal, correlation below `LOW_HZ`, the low-end correlation
    dancer reads the file's wiring from, `LowCorrelation`); None for a mono file."""
    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    if x.shape[1] < 2:
        return None
    low = butter(4, LOW_HZ, "low", fs=sr, output="sos")
    wiring = LowCorrelation()
    for start in range(0, x.shape[0], 65536):
        wiring.add(x[start : start + 65536])
    return (correlation(x[:, 0], x[:, 1]),
            correlation(sosfilt(low, x[:, 0]), sosfilt(low, x[:, 1])), wiring.value)


def load(name: str, cache: Path) -> list:
    """`tempo_accuracy.load_group`'s sets, and ``clean`` and ``inverted``: the tempo benchmark's
    degraded copies of its real recordings, as cut and with one channel in inverted polarity."""
    if name not in ("clean", "inverted"):
        return load_group(name, cache)
    real = [*load_group("fof", cache), *load_group("lmms", cache)]
    return [i for i in tempo_set.degraded_copies(real, cache_dir=cache) if i.source == f"degraded/{name}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--chorus", action="store_true")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.chorus:
        tempo_set.FLUIDSYNTH_CHORUS = True
    cache = args.cache or tempo_set.default_cache_dir()
    print(f"== left-right correlation per source (fluidsynth chorus {'on' if args.chorus else 'off'}) ==")
    print(f"{'source':12s} {'stereo':>6s} {'mono':>5s} | {'median':>7s} {'min':>7s} {'below 0':>8s} | "
          f"{'< 150 Hz':>8s} {'min':>7s} {'below 0':>8s} | {'wiring':>7s} {'min':>7s} {'max':>7s}")
    for name in args.sets.split(","):
        items = load(name, cache)
        if not items:
            print(f"{name:12s} (not available here)")
            continue
        rows = [(item, image(item.path)) for item in items]
        stereo = [(item, r) for item, r in rows if r is not None]
        if args.verbose:
            for item, (whole, low, wired) in stereo:
                print(f"    {(item.name or item.path.stem)[:40]:40s} {whole:7.3f} {low:7.3f} {wired:7.3f}")
        if not stereo:
            print(f"{name:12s} {0:6d} {len(rows):5d} |")
            continue
        whole = np.array([r[0] for _, r in stereo])
        low = np.array([r[1] for _, r in stereo])
        wiring = np.array([r[2] for _, r in stereo])
        print(f"{name:12s} {len(stereo):6d} {len(rows) - len(stereo):5d} | {np.median(whole):7.3f} "
              f"{whole.min():7.3f} {int(np.sum(whole < 0)):8d} | {np.median(low):8.3f} {low.min():7.3f} "
              f"{int(np.sum(low < 0)):8d} | {np.median(wiring):7.3f} {wiring.min():7.3f} {wiring.max():7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
