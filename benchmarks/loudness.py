"""Loudness meter speed and agreement, against pyloudnorm measured in the same run.

Prints × real time of `LoudnessMeter` (integrated + short-term loudness, sample and true peak)
on 10 minutes of 44.1 kHz stereo white noise fed in 65536-frame blocks, and of pyloudnorm's
``Meter.integrated_loudness`` (integrated loudness only) on the same signal, with the ratio;
then × real time on signals that cost the true-peak search more (pink noise, a steady tone,
hard-clipped noise); then the largest |difference| in LU from pyloudnorm over the test signals
of ``tests/test_loudness.py`` at 8 to 192 kHz.

    python benchmarks/loudness.py [--minutes 10]

Times are CPU seconds of this process (best of ``--repeat``) with BLAS held to one thread:
the target (≥ 1000 × real time on one core) is about one scan worker per core.
"""

from __future__ import annotations

import os

# One core: a scan runs one worker per core, and OpenBLAS's threads would only contend.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyloudnorm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dancer.analysis.loudness import LoudnessMeter, integrated_loudness  # noqa: E402

RATE = 44100
BLOCK = 65536


def meter_seconds(y: np.ndarray, repeat: int) -> tuple[float, float]:
    """Best CPU time of a full `LoudnessMeter` pass over ``y`` in `BLOCK`-frame blocks, and its LUFS."""
    best, lufs = float("inf"), float("nan")
    for _ in range(repeat):
        start = time.process_time()
        meter = LoudnessMeter(RATE, y.shape[1])
        for i in range(0, len(y), BLOCK):
            meter.add(y[i:i + BLOCK])
        lufs = meter.result().integrated_lufs
        best = min(best, time.process_time() - start)
    return best, lufs


def pyloudnorm_seconds(y: np.ndarray) -> tuple[float, float]:
    start = time.process_time()
    lufs = pyloudnorm.Meter(RATE).integrated_loudness(y)
    return time.process_time() - start, lufs


def tone(freq: float, dbfs: float, seconds: float, sr: int, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return 10.0 ** (dbfs / 20.0) * np.sin(2.0 * np.pi * freq * t + phase)


def pink(rng: np.random.Generator, n: int, rms_db: float = -20.0) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
    spectrum[0] = 0.0
    y = np.fft.irfft(spectrum, n)
    return y * 10.0 ** (rms_db / 20.0) / np.sqrt(np.mean(y**2))


def test_signals(sr: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The signals `tests/test_loudness.py` compares with pyloudnorm, at rate ``sr``."""
    n = 6 * sr
    loud, gap = tone(1000.0, -12.0, 1.0, sr), np.zeros(sr)
    return {
        "sine -20 dBFS": tone(1000.0, -20.0, 6.0, sr),
        "sine -3 dBFS": tone(1000.0, -3.0, 6.0, sr),
        "pink noise": pink(rng, n),
        "white noise": rng.standard_normal(n) * 0.1,
        "gated": np.concatenate([loud, gap, loud, gap, tone(440.0, -40.0, 4.0, sr), loud, gap]),
        "stereo, uneven": np.stack([tone(1000.0, -14.0, 6.0, sr), pink(rng, n, -30.0)], axis=1),
        "5.0": np.stack([pink(rng, n, db) for db in (-20.0, -24.0, -26.0, -30.0, -33.0)], axis=1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    seconds = args.minutes * 60.0
    frames = int(seconds * RATE)

    noise = rng.standard_normal((frames, 2), dtype=np.float32)
    noise *= np.float32(0.1)
    ours, ours_lufs = meter_seconds(noise, args.repeat)
    theirs, their_lufs = pyloudnorm_seconds(noise)
    print(f"{args.minutes:g} min of 44.1 kHz stereo white noise, {BLOCK}-frame blocks, one core (CPU time):")
    print(f"  LoudnessMeter  {seconds / ours:8.0f} x real time  ({ours:.3f} s, {ours_lufs:.3f} LUFS;"
          " integrated, short-term, sample and true peak)")
    print(f"  pyloudnorm     {seconds / theirs:8.0f} x real time  ({theirs:.3f} s, {their_lufs:.3f} LUFS;"
          " integrated only)")
    print(f"  ratio          {theirs / ours:8.1f} x faster")
    del noise

    short = min(seconds, 120.0)
    n = int(short * RATE)
    harder = {
        "pink noise": np.repeat(pink(rng, n, -14.0)[:, None], 2, axis=1),
        "1 kHz tone, -1 dBFS": np.repeat(tone(1000.0, -1.0, short, RATE)[:, None], 2, axis=1),
        "clipped noise": np.clip(rng.standard_normal((n, 2)) * 0.5, -0.9, 0.9),
    }
    print(f"Harder cases for the true-peak search ({short:g} s each):")
    for name, y in harder.items():
        spent, _ = meter_seconds(y.astype(np.float32), args.repeat)
        print(f"  {name:20s} {short / spent:8.0f} x real time")

    worst, where = 0.0, ""
    for sr in (8000, 11025, 22050, 44100, 48000, 96000, 192000):
        for name, y in test_signals(sr, rng).items():
            diff = abs(integrated_loudness(y, sr) - pyloudnorm.Meter(sr).integrated_loudness(y))
            if diff > worst:
                worst, where = diff, f"{name} at {sr} Hz"
    print(f"Max |LoudnessMeter - pyloudnorm| over the test signals, 8-192 kHz: {worst:.4f} LU ({where})")


if __name__ == "__main__":
    main()
