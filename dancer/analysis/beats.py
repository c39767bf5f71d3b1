"""Beat tracking and bar structure on an onset envelope, given a beat period.

Public API
----------
track_beats
    librosa's dynamic-programming beat tracker at a given period, refined to sub-frame times.
fit_beat_grid
    Least-squares line through the tracked beats: the average beat period to a small fraction
    of a frame, and how well a steady grid explains the beats.
sixteenth_shift, shift_beats
    Beat phase among the four sixteenth-note offsets of the tracked grid: the eighth-note grid
    the kick and bass play on, then the stronger accent of its two beats.
backbeat_shift
    Whether the beats sit on the offbeat eighth: the snare's two-beat backbeat swings between
    the tracked beats' midpoints rather than the beats.
bar_phase
    Meter (3 or 4) and which beats are downbeats, from beat-synchronous kick and accent strength
    and, where the harmony changes with the bar, the chord changes (`chord_changes`).
phrase_starts, phrase_phase
    Phrase boundaries: every ``beats_per_phrase`` beats from the downbeat that best looks like
    the start of a phrase.

All times here are in frames (floats) unless a name ends in ``_s``; the caller converts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dancer.analysis.numba_lock import import_librosa

__all__ = [
    "BeatGrid",
    "backbeat_shift",
    "bar_phase",
    "beat_strengths",
    "chord_changes",
    "fit_beat_grid",
    "keep_inside",
    "on_and_between",
    "phrase_phase",
    "phrase_starts",
    "shift_beats",
    "sixteenth_shift",
    "track_beats",
]

#: How strictly the beat tracker holds the period (librosa's ``tightness``; its default is 100).
#: Chosen on Frets on Fire's band recordings alone, the real recordings with hand-timed beats
#: (``benchmarks/tempo_accuracy.py --sets fof --no-librosa --tightness T``, column ``on-beat``):
#: 4, 5, 6, 5 and 2 of 8 on the beat at 50, 100, 200, 400 and 800 (a live band drifts; a strict
#: tracker falls behind). At 200 (analyser version 26) no tempo moves and no other source loses
#: an item on the beat; lmms-more gains one on the beat and two downbeats, and one LMMS song
#: whose beats were already off the grid (Alf42red-Mauiwowi) is read in 3/4.
TIGHTNESS = 200.0
#: `sixteenth_shift` moves the beats to the other sixteenth-note grid only when the kick band's
#: onset strength there exceeds that on the tracked grid by this factor.
GRID_MARGIN = 1.25
#: `backbeat_shift` moves the beats half a period only when the backbeat's swing between the
#: midpoints exceeds that on the beats by this factor (e^1: chosen on randomised grooves, see
#: the function).
BACKBEAT_MARGIN = float(np.e)
#: Beats per window in which `backbeat_shift` measures the two-beat swing: two bars of 4/4,
#: so a beat the tracker drops or adds (which swaps odd and even) spoils one window only.
BACKBEAT_WINDOW = 8
#: `bar_phase` counts the chord changes only where they differ between the bar's positions at
#: this significance (an F-test: one-way analysis of variance across the positions).
CHANGE_SIGNIFICANCE = 0.01


def track_beats(
    envelope: np.ndarray, *, period: float | np.ndarray, tightness: float | None = None
) -> np.ndarray:
    """Beat positions (fractional frames) that best fit ``envelope`` at ``period`` frames a beat.

    The dynamic-programming tracker is ``librosa.beat.beat_track`` (Ellis 2007, "Beat tracking
    by dynamic programming", JNMR 36(1)) with the tempo given, so it follows this module's
    choice of metrical level rather than librosa's own tempo estimate. librosa returns whole
    frames; dancer adds a parabola through each beat's peak of the tracker's smoothed envelope
    (`_refine`), so beats are placed to a fraction of a 23 ms frame.

    Parameters
    ----------
    envelope : ndarray, shape (n,)
        Non-negative onset strength.
    period : float or ndarray of shape (n,)
        Beat period in frames, global or per frame (for tempo that drifts).
    tightness : float
        Weight of the interval penalty; higher follows the period more strictly. None:
        `TIGHTNESS`, read at each call (``benchmarks/tempo_accuracy.py --tightness`` sets it).

    Returns
    -------
    ndarray, float64
        Increasing beat positions in frames; empty if the envelope is all zeros or shorter
        than one period.
    """
    librosa = import_librosa()

    envelope = np.asarray(envelope, dtype=np.float64)
    n = envelope.shape[0]
    periods = np.broadcast_to(np.asarray(period, dtype=np.float64), (n,))
    if n == 0 or not np.any(envelope > 0) or n < periods.min():
        return np.zeros(0)
    # With sr = 60 and hop 1, librosa's frames per beat (60 · sr / hop / bpm) is the period.
    bpm = 3600.0 / (periods if np.ndim(period) else float(period))
    _, frames = librosa.beat.beat_track(
        onset_envelope=envelope, sr=60.0, hop_length=1, bpm=bpm,
        tightness=TIGHTNESS if tightness is None else tightness, trim=False
    )
    period_frames = float(np.median(periods))
    local = _local_score(envelope, period_frames)
    reach = max(1, int(round(period_frames / 16)))
    return _steady_ends(_refine(_trim(np.asarray(frames, dtype=np.int64), local), local, reach))


def _local_score(envelope: np.ndarray, period: float) -> np.ndarray:
    # The tracker's own smoothing (a Gaussian of σ = period / 32, as Ellis): a parabola through
    # its peak finds the centre of a smeared onset.
    half = max(1, int(round(period)))
    x = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (x * 32.0 / period) ** 2)
    return np.convolve(envelope, kernel, mode="same")


def _trim(frames: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Drop leading and trailing beats on next to nothing (silence, a reverb tail, the beats the
    tracker extrapolates past the music): below a fifth of the RMS of the beat-synchronous
    envelope. librosa's own trim cuts at half, which also drops the beats of a quiet intro,
    and those are where a DJ mixes in."""
    if frames.size == 0:
        return frames
    strength = np.convolve(local[frames], np.hanning(5)[1:-1] / 2, mode="same")
    threshold = 0.2 * np.sqrt(np.mean(strength**2))
    keep = np.flatnonzero(strength > threshold)
    if keep.size == 0:
        return frames[:0]
    return frames[keep[0] : keep[-1] + 1]


def _steady_ends(beats: np.ndarray) -> np.ndarray:
    """Drop first and last beats more than 6% of a beat off the steady gap.

    The tracker places its end beats with one neighbour only, and past the last onset it
    extrapolates; such a beat is a guess, and a crossfade must not start on one.
    """
    if beats.size > 4:
        typical = float(np.median(np.diff(beats)))
        while beats.size > 4 and abs((beats[-1] - beats[-2]) / typical - 1) > 0.06:
            beats = beats[:-1]
        while beats.size > 4 and abs((beats[1] - beats[0]) / typical - 1) > 0.06:
            beats = beats[1:]
    return beats


def _refine(frames: np.ndarray, local: np.ndarray, reach: int = 0) -> np.ndarray:
    # Each beat first moves to the highest frame within ``reach`` frames (librosa's tracker
    # works with a whole-frame period, so a beat can sit a frame beside its onset), then a
    # parabola through that peak and its neighbours gives the sub-frame time; beats that are
    # not at a local maximum keep their frame.
    if reach > 0 and frames.size:
        offsets = np.arange(-reach, reach + 1)
        window = np.clip(frames[:, None] + offsets[None, :], 0, local.shape[0] - 1)
        frames = window[np.arange(frames.size), np.argmax(local[window], axis=1)]
        frames = np.unique(frames)
    out = frames.astype(np.float64)
    inner = (frames > 0) & (frames < local.shape[0] - 1)
    f = frames[inner]
    left, mid, right = local[f - 1], local[f], local[f + 1]
    denom = left - 2 * mid + right
    peak = (mid >= left) & (mid >= right) & (denom < 0)
    shift = np.where(peak, 0.5 * (left - right) / np.where(denom < 0, denom, -1.0), 0.0)
    out[inner] += np.clip(shift, -0.5, 0.5)
    return out


@dataclass(frozen=True)
class BeatGrid:
    """A steady grid fitted to beats: ``beat k`` at ``origin + k · period`` (frames).

    ``index`` is each tracked beat's grid index (missing beats leave gaps), ``residual`` the
    RMS distance of the inlier beats from the grid in periods, ``inliers`` the fraction of
    beats within 10% of a period of the grid.
    """

    period: float
    origin: float
    index: np.ndarray
    residual: float
    inliers: float


def fit_beat_grid(beats: np.ndarray, *, period: float) -> BeatGrid | None:
    """Least-squares beat grid through tracked beats, robust to missed and extra beats.

    Each beat's grid index counts whole periods from the previous beat, so a skipped beat
    does not bend the line; the line is fitted twice, the second time without beats more than
    10% of a period off the first fit. The slope's error falls as N^-1.5 with the number of
    beats, so a few dozen beats fix the tempo to well under 0.1% even on a 23 ms frame grid.

    Returns None with fewer than 4 beats.
    """
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size < 4 or period <= 0:
        return None
    steps = np.maximum(1, np.round(np.diff(beats) / period)).astype(np.int64)
    index = np.concatenate([[0], np.cumsum(steps)])
    keep = np.ones(beats.size, dtype=bool)
    slope, origin = period, beats[0]
    for _ in range(3):
        if keep.sum() < 4:
            break
        slope, origin = np.polyfit(index[keep], beats[keep], 1)
        residual = (beats - (origin + slope * index)) / slope
        keep = np.abs(residual) < 0.1
    residual = (beats - (origin + slope * index)) / slope
    inlier = np.abs(residual) < 0.1
    rms = float(np.sqrt(np.mean(residual[inlier] ** 2))) if inlier.any() else 1.0
    return BeatGrid(
        period=float(slope), origin=float(origin), index=index, residual=rms, inliers=float(inlier.mean())
    )


def sixteenth_shift(
    beats: np.ndarray, *, period: float, low: np.ndarray, accent: np.ndarray, margin: float = GRID_MARGIN
) -> int:
    """Sixteenth notes (0–3) to move tracked beats by so they sit where the kick and bass play.

    The tracker follows the drums' bands, and a layer of sixteenth-note offbeats (guitar or
    keyboard stabs on the "e" and "a", a shaker) can pull it onto a grid a sixteenth away from
    the beat. Kick and bass onsets, even syncopated ones, fall on the eighth-note grid of the
    beat, so the decision is hierarchical:

    1. eighth-note grid: the low-band onset strength at the tracked beats and halfway between
       them (offsets 0 and 2 sixteenths) against offsets 1 and 3; the beats move to the other
       grid only when its kick and bass are ``margin`` times stronger;
    2. on that grid, of its two positions (1 or 3 sixteenths from the tracked beats) the beat
       is the one with the stronger full-band ``accent``.

    A grid already on the kick and bass is left alone (0): which of its two eighth-note
    positions is the beat is the tracker's call.

    Parameters
    ----------
    beats : ndarray
        Tracked beat positions in frames, at least 8 of them.
    period : float
        Beat period in frames.
    low, accent : ndarray
        Kick-band and full-band onset strength per frame.
    """
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size < 8 or period < 4:
        return 0
    radius = max(1, int(round(period / 12)))  # sixteenths are period / 4 apart: windows stay apart

    def at(envelope: np.ndarray, k: int) -> float:
        moved = beats + k * period / 4
        moved = moved[moved <= envelope.shape[0] - 1]
        return float(beat_strengths(envelope, moved, radius=radius).mean()) if moved.size else 0.0

    lows = [at(low, k) for k in range(4)]
    here, other = lows[0] + lows[2], lows[1] + lows[3]
    if not other > margin * here:
        return 0
    return 1 if at(accent, 1) >= at(accent, 3) else 3


def backbeat_shift(
    beats: np.ndarray, *, period: float, snare: np.ndarray, margin: float = BACKBEAT_MARGIN
) -> int:
    """2 when the beats sit on the offbeat eighth notes, else 0 (sixteenths, for `shift_beats`).

    House and its relatives put the bass and an open hi-hat on the offbeat, and both can
    outweigh the kick in the envelopes the tracker follows, so it keeps the tempo but counts
    the "and"s. The snare or clap on two and four says where the beat is: its strength swings
    from beat to beat with a two-beat period on the beat grid and not between. The swing is
    ``|Σ (−1)^i s_i|`` per window of `BACKBEAT_WINDOW` beats, summed, where ``s_i`` is the
    snare band's onset strength at each beat (or midpoint); the beats move when the midpoints
    swing ``margin`` times more.

    The margin was chosen on six banks of randomised grooves (`benchmarks/tempo_set.py`,
    ``bank="random"``, seeds 100–105): it moved 8 of 42 grids that sat on the offbeat and 1
    of 121 that sat on the beat; grooves without a backbeat (dancehall's dembow) give no
    reason to move.

    Parameters
    ----------
    beats : ndarray
        Beat positions in frames.
    period : float
        Beat period in frames.
    snare : ndarray
        Onset strength per frame of the snare-crack band (1.2–3.5 kHz).
    """
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size < BACKBEAT_WINDOW + 1 or period < 4:
        return 0

    def swing(s: np.ndarray) -> float:
        n = (s.size // BACKBEAT_WINDOW) * BACKBEAT_WINDOW
        windows = s[:n].reshape(-1, BACKBEAT_WINDOW)
        return float(np.abs(windows @ (-1.0) ** np.arange(BACKBEAT_WINDOW)).sum())

    here, there = (swing(s) for s in on_and_between(snare, beats, period=period))
    return 2 if there + 1e-3 > margin * (here + 1e-3) else 0


def on_and_between(
    envelope: np.ndarray, beats: np.ndarray, *, period: float
) -> tuple[np.ndarray, np.ndarray]:
    """`beat_strengths` of ``envelope`` within a twelfth of a period of each beat but the last
    and of the midpoint after it; a midpoint past the envelope's end is dropped with its beat.
    The two grids `backbeat_shift` and `phase.kick_grid` weigh against each other."""
    on = np.asarray(beats, dtype=np.float64)[:-1]
    middles = on + period / 2
    keep = middles <= len(envelope) - 1
    radius = max(1, int(round(period / 12)))
    return (beat_strengths(envelope, on[keep], radius=radius),
            beat_strengths(envelope, middles[keep], radius=radius))


def shift_beats(beats: np.ndarray, *, period: float, sixteenths: int, envelope: np.ndarray) -> np.ndarray:
    """``beats`` moved later by ``sixteenths`` quarter periods, each then snapped to the peak of
    ``envelope`` (the tracker's onset envelope) within a sixteenth of a period, if there is one.

    The tracked beats sit on the onsets of the grid they followed, which may be swung or pushed;
    the snap puts the moved beats on the onsets of their own grid. A beat pushed past the end
    comes back one period earlier, if that is not before the start, so the count is unchanged.
    """
    beats = np.asarray(beats, dtype=np.float64)
    envelope = np.asarray(envelope, dtype=np.float64)
    n = envelope.shape[0]
    if sixteenths % 4 == 0 or beats.size == 0 or n < 3:
        return beats
    moved = keep_inside(beats + (sixteenths % 4) * period / 4, period=period, n_frames=n)
    local = _local_score(envelope, period)
    reach = max(1, int(round(period / 16)))
    centre = np.round(moved).astype(np.int64)
    offsets = np.arange(-reach, reach + 1)
    window = np.clip(centre[:, None] + offsets[None, :], 0, n - 1)
    values = local[window]
    best = values.argmax(axis=1)
    inside = (best > 0) & (best < offsets.size - 1) & (values.max(axis=1) > 0)  # a peak, not a slope
    frames = window[np.arange(centre.size), best]
    snapped = _refine(frames, local)
    return np.where(inside, snapped, moved)


def keep_inside(moved: np.ndarray, *, period: float, n_frames: int) -> np.ndarray:
    """Beats moved later, kept inside ``n_frames``: a beat pushed past the end comes back one
    period before the first, if that is not before the start, so the count is unchanged; any
    still past the end are dropped. Shared by `shift_beats` and `phase.swing_shift`."""
    if moved.size and moved[-1] > n_frames - 1 and moved[0] - period >= 0:
        moved = np.concatenate([[moved[0] - period], moved[:-1]])
    return moved[moved <= n_frames - 1]


def beat_strengths(envelope: np.ndarray, beats: np.ndarray, *, radius: int = 3) -> np.ndarray:
    """Sum of ``envelope`` within ±``radius`` frames of each beat (beats in frames).

    A sum rather than a peak: spectral flux spreads one attack over several frames in
    proportions that depend on where the attack falls between frames, while the sum (the
    total rise in log energy) does not.
    """
    envelope = np.asarray(envelope, dtype=np.float64)
    if beats.size == 0:
        return np.zeros(0)
    centre = np.clip(np.round(beats).astype(np.int64), 0, envelope.shape[0] - 1)
    offsets = np.arange(-radius, radius + 1)
    idx = np.clip(centre[:, None] + offsets[None, :], 0, envelope.shape[0] - 1)
    return envelope[idx].sum(axis=1)


def bar_phase(
    *,
    accent: np.ndarray,
    kick: np.ndarray,
    bass: tuple[np.ndarray, ...] = (),
    allow_triple: bool = True,
    changes: np.ndarray | None = None,
) -> tuple[int, int, float]:
    """Meter and downbeat phase from beat-synchronous strengths.

    Parameters
    ----------
    accent : ndarray, shape (n_beats,)
        Overall onset strength at each beat.
    kick : ndarray, shape (n_beats,)
        Low-frequency onset strength at each beat.
    bass : tuple of ndarray, shape (n_beats,) each
        Further low-band onset strengths at each beat (kick body, bass notes), the bar's "one"
        carrying the kick and the new chord's root.
    allow_triple : bool
        Whether 3/4 may be chosen at all.
    changes : ndarray, shape (n_beats,), optional
        How much the harmony changes at each beat (`chord_changes`).

    Returns
    -------
    meter : int
        3 or 4. Four unless the beat-synchronous pattern repeats clearly better every 3 beats
        than every 4 (and 6 than 8): the accents of a waltz recur every bar, so their
        autocorrelation peaks at lag 3 (Gouyon & Herrera 2003, "Determination of the meter of
        musical audio signals").
    phase : int
        Index (0 ≤ phase < meter) of the first downbeat among the beats: the bar position with
        the strongest low end — kick and bass, each standardised across the bar positions and
        summed — and, given ``changes``, where the chords change most, standardised alike and
        added if the positions differ beyond chance (`CHANGE_SIGNIFICANCE`). The overall accent
        is left out: in backbeat music it is loudest on two and four.
    strength : float
        0..1, how clearly the chosen phase stands out.
    """
    accent = np.asarray(accent, dtype=np.float64)
    kick = np.asarray(kick, dtype=np.float64)
    n = accent.shape[0]
    if n < 8:
        return 4, 0, 0.0
    def periodicity(x: np.ndarray, lag: int) -> float:
        x = x - x.mean()
        d = float(np.dot(x, x))
        return float(np.dot(x[:-lag], x[lag:]) / d * n / (n - lag)) if d > 0 else 0.0

    # Uniform beats (a click track, four-on-the-floor with nothing else) carry no bar
    # information; their tiny fluctuations must not decide the meter.
    varied = [x for x in (accent, kick) if x.std() > 0.1 * abs(x.mean())]
    meter = 4
    if allow_triple and n >= 24 and varied:
        triple = sum(periodicity(x, 3) + periodicity(x, 6) for x in varied)
        quad = sum(periodicity(x, 4) + periodicity(x, 8) for x in varied)
        duple = sum(periodicity(x, 2) for x in varied)
        if triple > quad + 0.3 * len(varied) and triple > 2 * duple:
            meter = 3
    scores = np.zeros(meter)
    cues = [np.asarray(x, dtype=np.float64) for x in (kick, *bass)]
    if changes is not None:
        changes = np.asarray(changes, dtype=np.float64)
        if _differs_by_position(changes, meter):
            cues.append(changes)
    for x in cues:
        profile = np.array([x[phase::meter].mean() for phase in range(meter)])
        spread = profile.std()
        if spread > 0:
            scores += (profile - profile.mean()) / spread
    phase = int(np.argmax(scores))
    ordered = np.sort(scores)
    strength = float(np.clip((ordered[-1] - ordered[-2]) / 2.0, 0.0, 1.0))
    return meter, phase, strength


def _differs_by_position(x: np.ndarray, meter: int) -> bool:
    """Whether ``x`` (one value a beat) differs between the ``meter`` positions of the bar more
    than chance would make it: a one-way analysis of variance, F-test at `CHANGE_SIGNIFICANCE`.

    A drum loop's chroma is noise, and its "chord changes" favour some bar position by chance;
    standardised like the kick's profile, that noise would outvote it one time in four."""
    from scipy.stats import f as f_distribution  # imported by librosa already

    bars = x[: (x.size // meter) * meter].reshape(-1, meter)
    if bars.shape[0] < 2:
        return False
    means = bars.mean(axis=0)
    within = float(((bars - means) ** 2).sum()) / (bars.size - meter)
    between = bars.shape[0] * float(((means - means.mean()) ** 2).sum()) / (meter - 1)
    if within <= 0:
        return between > 0
    critical = float(f_distribution.ppf(1.0 - CHANGE_SIGNIFICANCE, meter - 1, bars.size - meter))
    return between / within > critical


def chord_changes(chroma: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """How much the harmony changes at each beat: 1 minus the cosine between the pitch classes
    from that beat on and from the beat before on (each the median over a typical beat's length
    of frames, close to what ``librosa.util.sync(..., aggregate=np.median)`` gives per beat);
    0 at the first and last beat.

    Chords change at the bar line more than anywhere else (Goto 2001, "An audio-based real-time
    beat tracking system for music with or without drum-sounds", JNMR 30(2)), so it says where
    a bar starts when the kick plays every beat alike (four on the floor) or does not mark the
    one. librosa aggregates per beat; it has no downbeat estimate.

    Parameters
    ----------
    chroma : ndarray, shape (n_frames, 12)
        Pitch-class energies per frame (``Features.chroma``).
    beats : ndarray
        Beat positions in frames.
    """
    beats = np.asarray(beats, dtype=np.float64)
    out = np.zeros(beats.size)
    frames = np.clip(np.round(beats).astype(np.int64), 0, chroma.shape[0] - 1)
    if beats.size < 3 or np.any(np.diff(frames) <= 0):
        return out
    # The median over a typical beat's length of frames from each beat on, a block of spans at
    # a time: ``librosa.util.sync`` calls its aggregate once per span, which took a third of
    # the whole tempo analysis's time on a song. The median, not the mean: a beat's attack
    # smears its first frames across the pitch classes (with the mean, MMA's downbeats fell
    # from 41 to 38 of 49).
    chroma = np.asarray(chroma)
    width = max(1, int(np.median(np.diff(frames))))
    starts = frames[:-1]
    spans = np.empty((starts.size, chroma.shape[1]))
    for first in range(0, starts.size, 2048):
        block = starts[first : first + 2048, None] + np.arange(width)[None, :]
        block = np.minimum(block, chroma.shape[0] - 1)
        spans[first : first + block.shape[0]] = np.median(chroma[block], axis=1)
    norm = np.linalg.norm(spans, axis=1)
    unit = spans / np.where(norm > 0, norm, 1.0)[:, None]
    out[1 : spans.shape[0]] = 1.0 - np.sum(unit[1:] * unit[:-1], axis=1)
    return out


def phrase_starts(n_beats: int, *, first_downbeat: int, beats_per_phrase: int = 8) -> np.ndarray:
    """Indices of phrase-starting beats: every ``beats_per_phrase`` beats from ``first_downbeat``."""
    if n_beats <= first_downbeat:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first_downbeat, n_beats, beats_per_phrase, dtype=np.int64)


def phrase_phase(
    accent: np.ndarray, *, first_downbeat: int, meter: int, beats_per_phrase: int
) -> int:
    """The downbeat (beat index) that starts the first whole phrase.

    Arrangements mark phrase starts with a crash, a new layer or the end of a fill, so of the
    bar positions within a phrase the one whose downbeats carry the most accent (beat-
    synchronous onset plus cymbal strength, standardised) is taken; without a clear winner
    (less than a quarter of a standard deviation) the first downbeat stays.
    """
    accent = np.asarray(accent, dtype=np.float64)
    bars = max(1, beats_per_phrase // meter)
    if bars == 1 or accent.size < first_downbeat + 2 * beats_per_phrase or accent.std() == 0:
        return first_downbeat
    z = (accent - accent.mean()) / accent.std()
    starts = [first_downbeat + bar * meter for bar in range(bars)]
    scores = np.array([z[start::beats_per_phrase].mean() for start in starts])
    order = np.argsort(scores)
    if scores[order[-1]] - scores[order[-2]] < 0.25:
        return first_downbeat
    return starts[int(order[-1])]
