"""Beat-matched crossfades on a real folder: the residual drift of every crossfade, measured on the render.

Scans FOLDER into a library of its own (kept in ~/.cache/dancer-bench so a rerun is quick), plans a
45-minute session (hip-release by default) and renders each crossfade's overlap through the mixer,
one track at a time and without its fades (the mixer is linear below its limiter, so the mix is
their sum, and a fade changes a track's gain, not its timing). In windows of 4 outgoing beats, a
beat apart, the two renders' onset envelopes are cross-correlated (±60 ms): the lag is where the
incoming kicks sit against the outgoing ones. Printed per crossfade: the tempi, the rates, the
windows that correlate, the phase (the first window's lag: a tracker's phase error, constant
through the overlap) and the drift: how far the lag moves through the overlap (the median lag of
the later half of the windows against the earlier half). The baseline is
the same crossfade as dancer placed it before #13 (first beat aligned, each track at its own tempo),
measured the same way in the same run.

    python benchmarks/transitions.py FOLDER [--minutes 45] [--arc hip-release] [--seed 0]

Target (#13): 0 crossfades drifting more than 15 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.signal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dancer.audio.mixer import Mixer  # noqa: E402
from dancer.audio.timeline import MixSettings, Timeline  # noqa: E402
from dancer.model import PlanEntry  # noqa: E402

SR = 44100
HOP = 32
MAX_LAG = 0.060
WINDOW_BEATS = 4
#: Two songs' onset envelopes correlate weakly even in step (0.05-0.3 here); below this a window's
#: peak is noise.
MIN_CORRELATION = 0.1
TARGET_MS = 15.0
#: Below the limiter, so each track's render is exactly its share of the mix.
QUIET = MixSettings(target_lufs=-30.0, end_fade=0.0)


def solo(entry: PlanEntry, t0: float, t1: float) -> np.ndarray:
    """``entry`` alone on the timeline, rendered from ``t0`` to ``t1`` without its fades: they change
    its gain, not its timing, and at full level the kicks under the start of a fade-in count too."""
    entry = replace(entry, fade_in=0.0, fade_out=0.0)
    timeline = Timeline([entry], sample_rate=SR, settings=QUIET)
    with Mixer(timeline, start=t0) as m:
        return m.render_block(round((t1 - t0) * SR))


def onsets(y: np.ndarray) -> np.ndarray:
    """Onset strength every `HOP` samples (librosa's spectral flux on a mel spectrogram): kicks,
    snares and hats alike, so a track whose kick pattern is sparse still has a pulse to match."""
    import librosa

    return librosa.onset.onset_strength(y=y.mean(axis=1), sr=SR, hop_length=HOP, n_fft=1024, center=True)


def lag_in(out: np.ndarray, inc: np.ndarray, a: int, b: int, k: int) -> tuple[float, float]:
    """(lag in frames, incoming late > 0; normalised correlation) of ``inc`` against ``out`` over
    frames ``[a, b)``, within ±``k`` frames, refined by a parabola through the peak."""
    o, i = out[a:b] - out[a:b].mean(), inc[a - k:b + k] - inc[a - k:b + k].mean()
    c = scipy.signal.correlate(i, o, mode="valid")
    energy = np.convolve(i * i, np.ones(len(o)), mode="valid")
    c = c / np.sqrt(np.maximum(np.sum(o * o) * energy, 1e-30))
    j = int(np.argmax(c))
    shift = 0.0
    if 0 < j < len(c) - 1:
        den = c[j - 1] - 2 * c[j] + c[j + 1]
        shift = 0.5 * (c[j - 1] - c[j + 1]) / den if den else 0.0
    return j + shift - k, float(c[j])


def measure(out: PlanEntry, inc: PlanEntry) -> tuple[float, float, int] | None:
    """(phase, drift, windows) of one crossfade; None when fewer than two windows correlate.

    The overlap is cut into windows of `WINDOW_BEATS` outgoing beats, a beat apart; in each the two
    onset envelopes are cross-correlated (±`MAX_LAG`). The phase is the first window's lag, the drift
    how far the lag moves through the overlap: the median lag of the later half of the windows
    against the earlier half. Windows that span less than a third of the overlap do not count.
    """
    frame = HOP / SR
    beats = out.timeline_time(np.asarray(out.track.analysis.beats))
    beats = beats[(beats >= inc.start - 1e-3) & (beats <= out.end)]
    if len(beats) < WINDOW_BEATS + 2:
        return None
    period = float(np.median(np.diff(beats)))
    t0, t1 = inc.start - period / 2 - MAX_LAG - 0.1, out.end + MAX_LAG + 0.1
    env_out, env_in = onsets(solo(out, t0, t1)), onsets(solo(inc, t0, t1))
    k = round(MAX_LAG / frame)
    found = []
    for s in beats[:-WINDOW_BEATS]:
        a, b = round((s - period / 2 - t0) / frame), round((s + (WINDOW_BEATS - 0.5) * period - t0) / frame)
        if a - k < 0 or b + k > min(len(env_out), len(env_in)):
            continue
        lag, corr = lag_in(env_out, env_in, a, b, k)
        if corr >= MIN_CORRELATION:
            found.append((s, lag * frame))
    if len(found) < 2 or found[-1][0] - found[0][0] < (out.end - inc.start) / 3:
        return None
    lags = np.array([lag for _, lag in found])
    half = len(lags) // 2
    return float(lags[0]), abs(float(np.median(lags[-half:]) - np.median(lags[:half]))), len(found)


def unmatched(out: PlanEntry, inc: PlanEntry) -> tuple[PlanEntry, PlanEntry]:
    """The same crossfade as placed before tempo matching: the first shared beat aligned, both
    tracks at rate 1.0 from there."""
    cut = float(out.source_time(inc.start))
    plain_out = replace(out, curve=None, start=inc.start - (cut - out.source_in),
                        fade_out=out.source_out - cut)
    return plain_out, replace(inc, curve=None)


def library_tracks(folder: Path, library_path: Path):
    from dancer.library.scan import scan_folder
    from dancer.library.store import Library

    library_path.parent.mkdir(parents=True, exist_ok=True)
    with Library.open(library_path) as library:
        t = time.perf_counter()
        report = scan_folder(folder, library)
        print(f"scanned {folder}: {report} ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
        return [t for t in library.tracks(under=folder) if t.ok]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--minutes", type=float, default=45.0)
    parser.add_argument("--arc", default="hip-release")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--library", type=Path,
                        default=Path.home() / ".cache" / "dancer-bench" / "transitions.sqlite3")
    args = parser.parse_args()

    from dancer.plan.arcs import load_arc
    from dancer.plan.planner import make_plan

    tracks = library_tracks(args.folder.resolve(), args.library)
    plan = make_plan(tracks, load_arc(args.arc), minutes=args.minutes, seed=args.seed)
    kinds = [e.transition for e in plan.entries[1:]]
    print(f"{args.arc}, {plan.length / 60:.1f} min from {len(tracks)} tracks: {len(plan.entries)} entries, "
          f"{kinds.count('crossfade')} crossfades, {kinds.count('fade')} fades, {kinds.count('gap')} gaps")
    print(f"{'#':>3} {'out BPM':>8} {'in BPM':>8} {'rate out':>9} {'rate in':>8} {'windows':>8} "
          f"{'phase ms':>9} {'drift ms':>9} {'unmatched drift ms':>19}")
    drifts, baseline, unmeasured = [], [], 0
    for k, (out, inc) in enumerate(zip(plan.entries, plan.entries[1:]), 1):
        if inc.transition != "crossfade":
            continue
        got = measure(out, inc)
        before = measure(*unmatched(out, inc))
        if got is None:
            unmeasured += 1
            print(f"{k:>3} {out.track.bpm:>8.2f} {inc.track.bpm:>8.2f}   no kick in the overlap to measure")
            continue
        lag, drift, n = got
        drifts.append(drift)
        if before is not None:
            baseline.append(before[1])
        print(f"{k:>3} {out.track.bpm:>8.2f} {inc.track.bpm:>8.2f} {out.rate_at(out.end):>9.4f} "
              f"{inc.rate_at(inc.start):>8.4f} {n:>8} {lag * 1e3:>+9.1f} {drift * 1e3:>9.1f} "
              f"{before[1] * 1e3 if before else float('nan'):>19.1f}")
    over = sum(d * 1e3 > TARGET_MS for d in drifts)
    over_before = sum(d * 1e3 > TARGET_MS for d in baseline)
    if drifts:
        print(f"drift: median {np.median(drifts) * 1e3:.1f} ms, max {max(drifts) * 1e3:.1f} ms; "
              f"{over} of {len(drifts)} crossfades over {TARGET_MS:g} ms (unmatched: {over_before} of "
              f"{len(baseline)}, median {np.median(baseline) * 1e3 if baseline else float('nan'):.1f} ms); "
              f"{unmeasured} without kicks to measure")
    print("target: 0 crossfades drifting over 15 ms:", "met" if drifts and over == 0 else "MISSED")
    return 0 if drifts and over == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
