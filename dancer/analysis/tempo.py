"""Tempo, beats, bars and phrases from the onset envelopes of `features.Features`.

Public API
----------
TempoResult
    bpm (None when beatless), confidence 0..1, beatless flag, beat / downbeat / phrase times
    (seconds) and meter.
estimate_tempo
    The whole analysis from a `Features`.
tempo_from_envelopes
    The same from bare envelopes and a frame rate (keyword-only), for callers and tests that
    build their own.
periodicity
    Mean windowed autocorrelation of an envelope (the tempogram averaged over time).
pulse_evidence, metrical_levels, comb_salience, level_evidence
    The stages, exposed for the benchmark's calibration (`benchmarks/tempo_accuracy.py
    --calibrate`) and for tests.

Method
------
1. Pulse envelope: the onset strength minus its one-second running mean, half-wave
   rectified, so sustained loudness changes do not register as periodicity.
2. Periodicity: autocorrelation in 12-s windows every 3 s, each normalised to its energy and
   unbiased for the shrinking overlap, averaged (a time-averaged tempogram; Grosche & Müller
   2011, "Extracting predominant local pulse information from music recordings", IEEE TASLP).
3. Metrical levels: the strongest comb-salience peaks (periodicity summed at 1–4 times a lag)
   seed octave families; their members in 45–250 BPM are the candidate beat periods.
4. Octave decision: beats are tracked at every candidate, and a linear evidence model over
   tempo-invariant measurements (kick on the beats, hats between them, contrast of the level
   above, salience, the two-beat cycle of kick and snare) plus a broad tempo preference picks
   the dance beat (`_choose_level`).
5. Beats and precise tempo: dynamic-programming tracker (Ellis 2007) at the comb-refined
   period, then a least-squares grid through the beats gives the period to a small fraction
   of a frame (`beats.fit_beat_grid`); beat times are refined between frames.
6. Confidence from pulse salience at one and two beats and how well a steady grid explains
   the beats; beatless when it is low.
7. Beat phase on the kick's grid: when offbeat stabs or shakers pulled the tracker a
   sixteenth off, the beats move to the eighth-note grid where the kick band is clearly
   stronger (`beats.sixteenth_shift`); when an offbeat bass and open hat held it on the
   "and"s, the snare's backbeat moves them half a beat (`beats.backbeat_shift`).
8. Meter from beat-synchronous accent and kick periodicity; downbeats where kick and bass are
   strongest; phrases every 8 beats (4/4) or 12 (3/4) from the downbeat that looks most like a
   phrase start (`beats`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dancer.analysis.beats import (
    BeatGrid,
    backbeat_shift,
    bar_phase,
    beat_contrast,
    beat_strengths,
    fit_beat_grid,
    lag_correlation,
    phrase_phase,
    phrase_starts,
    shift_beats,
    sixteenth_shift,
    track_beats,
)
from dancer.analysis.features import Features

__all__ = [
    "PulseEvidence",
    "TempoResult",
    "comb_salience",
    "competing_levels",
    "estimate_tempo",
    "level_evidence",
    "metrical_levels",
    "periodicity",
    "pulse_evidence",
    "tempo_from_envelopes",
]

MIN_SECONDS = 2.0
#: Frames quieter than this linear RMS (−70 dBFS) count as silence.
SILENCE_RMS = 10 ** (-70 / 20)
MIN_BPM = 45.0
MAX_BPM = 250.0
#: Range searched for the most salient pulse, and how many multiples of a lag its comb sums.
COMB_MIN_BPM = 30.0
COMB_MAX_BPM = 300.0
COMB_HARMONICS = 4
#: A level outside the octave family of the most salient pulse (a dotted or 3:2 figure: a
#: tresillo kick over a binary beat) is chosen only when it out-scores the best level of that
#: family by this much. Any margin from 1.5 to 3 changed nothing on the randomised-groove banks
#: and mended the tresillo groove at 88 and 90 BPM (`dense_groove` in tests/test_tempo.py; the
#: test checks 88).
OFF_GRID_MARGIN = 2.0
#: Tempo-invariant measurements per candidate level (`_level_terms`).
LEVEL_TERMS = 11
#: Weights of the level evidence in `_choose_level`, in `level_evidence`'s column order:
#: log2-tempo and its square, the `LEVEL_TERMS` measurements, then each of them times
#: log2-tempo. Fitted by ``benchmarks/tempo_accuracy.py --calibrate``.
LEVEL_WEIGHTS = np.array([
    5.542, -2.928,
    -1.544, -0.515, -2.856, -1.986, 5.685, -1.513, -0.184, -0.997, 2.250, -1.303, -1.528,
    0.668, -0.656, -0.928, 1.948, 1.332, 1.924, -5.244, -0.320, 0.939, -4.711, -5.787,
])
WINDOW_SECONDS = 12.0
WINDOW_HOP_SECONDS = 3.0
#: Below this confidence a track is flagged beatless.
BEATLESS_BELOW = 0.2
#: Seconds by which the flux peak of an attack precedes the attack: the log spectrum of a
#: centred 93-ms Hann frame rises fastest while the attack is still ahead of the centre.
#: Measured on click tracks (sampled drums render ~10 ms later); added to beat times.
ONSET_LEAD = 0.019


@dataclass(frozen=True, eq=False)
class TempoResult:
    """Tempo and metrical grid of one track. Times in seconds from the start of the signal.

    Attributes
    ----------
    bpm : float or None
        Beats per minute of the tactus (the dance beat), None when beatless.
    confidence : float
        0..1: how steady and salient the pulse is. 0 for silence or too-short input.
    beatless : bool
        True for material without a steady pulse (ambient pads, rubato, silence).
    beats, downbeats, phrases : ndarray, float64
        Beat times; the first beat of each bar; phrase starts (every 8 beats from a downbeat
        in 4/4, every 4 bars in 3/4). Empty when beatless.
    meter : int
        Beats per bar, 4 or 3.
    """

    bpm: float | None
    confidence: float
    beatless: bool
    beats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    downbeats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    phrases: np.ndarray = field(default_factory=lambda: np.zeros(0))
    meter: int = 4

    @classmethod
    def nothing(cls) -> TempoResult:
        """The explicit result for silence and input too short to hold a pulse."""
        return cls(bpm=None, confidence=0.0, beatless=True)


def estimate_tempo(features: Features) -> TempoResult:
    """Tempo, confidence, beats, downbeats, phrases and meter of one analysed signal."""
    return tempo_from_envelopes(
        onset=features.onset,
        onset_low=features.onset_low,
        onset_bands=features.onset_bands if features.onset_bands.shape[0] else None,
        rms=features.rms,
        frame_rate=features.frame_rate,
    )


def tempo_from_envelopes(
    *,
    onset: np.ndarray,
    onset_low: np.ndarray,
    frame_rate: float,
    onset_bands: np.ndarray | None = None,
    rms: np.ndarray | None = None,
    min_bpm: float = MIN_BPM,
    max_bpm: float = MAX_BPM,
) -> TempoResult:
    """Tempo analysis from per-frame envelopes.

    Parameters
    ----------
    onset, onset_low : ndarray, shape (n,)
        Full-band and kick-band onset strength (see `features.Features`).
    frame_rate : float
        Frames per second of the envelopes.
    onset_bands : ndarray, shape (n, 5), optional
        Band onset strengths (``Features.onset_bands``): the hi-hat band is evidence against
        counting offbeat hats as beats, the two lowest bands find the bar's "one". Without
        them ``onset`` stands in for the hats and the kick alone places downbeats.
    rms : ndarray, shape (n,), optional
        Frame RMS, used to recognise silence; without it silence is judged from ``onset``.
    min_bpm, max_bpm : float
        Range of beat rates reported.

    Returns
    -------
    TempoResult
        `TempoResult.nothing()` when the input is shorter than 2 s or silent.
    """
    onset = np.asarray(onset, dtype=np.float64)
    onset_low = np.asarray(onset_low, dtype=np.float64)
    if onset.shape != onset_low.shape or onset.ndim != 1:
        raise ValueError("onset envelopes must be 1-D arrays of equal length")
    bands = None if onset_bands is None else np.asarray(onset_bands, dtype=np.float64)
    if bands is not None and (bands.ndim != 2 or bands.shape[0] != onset.shape[0] or bands.shape[1] < 3):
        raise ValueError("onset_bands must have shape (n_frames, >= 3)")
    if frame_rate <= 0 or not 0 < min_bpm < max_bpm:
        raise ValueError("frame_rate and the BPM range must be positive")
    n = onset.shape[0]
    loud = rms is None or np.max(rms, initial=0.0) > SILENCE_RMS
    if n < MIN_SECONDS * frame_rate or not loud or not np.any(onset > 0):
        return TempoResult.nothing()

    evidence = pulse_evidence(onset=onset, onset_low=onset_low, onset_bands=bands, frame_rate=frame_rate)
    acf, tracking = evidence.acf, evidence.tracking
    seeds = _pulse_seeds(acf, frame_rate=frame_rate)
    levels = _octave_levels(seeds, frame_rate=frame_rate, min_bpm=min_bpm, max_bpm=max_bpm)
    if levels.size == 0:
        return TempoResult(bpm=None, confidence=0.0, beatless=True)
    period, beats = _choose_level(levels, evidence, main_pulse=float(seeds[0]))
    refined = _refine_period(acf, period)
    if abs(refined / period - 1) > 0.005:
        beats = track_beats(tracking, period=refined)
    period = refined
    grid = fit_beat_grid(beats, period=period)
    if grid is not None and abs(grid.period / period - 1) < 0.08:
        period = grid.period
    confidence = _confidence(acf, period=period, grid=grid)
    if confidence < BEATLESS_BELOW or grid is None:
        return TempoResult(bpm=None, confidence=confidence, beatless=True)

    pulse, kick, hat = evidence.pulse, evidence.kick, evidence.hats
    # The tracker can lock a sixteenth off the beat when offbeat stabs or shakers dominate the
    # full band; the kick and bass say which eighth-note grid the beat is on.
    sixteenths = sixteenth_shift(beats, period=period, low=kick, accent=pulse)
    beats = shift_beats(beats, period=period, sixteenths=sixteenths, envelope=evidence.tracking)
    # An offbeat bass and open hat can hold the tracker on the "and"s; the backbeat says so.
    if evidence.snare is not None:
        halves = backbeat_shift(beats, period=period, snare=evidence.snare)
        beats = shift_beats(beats, period=period, sixteenths=halves, envelope=evidence.tracking)
    accent = beat_strengths(pulse, beats)
    kick_at = beat_strengths(kick, beats)
    bass = () if bands is None else tuple(
        beat_strengths(_pulse_envelope(bands[:, b], frame_rate), beats) for b in (0, 1)
    )
    meter, phase, _ = bar_phase(accent=accent, kick=kick_at, bass=bass)
    beat_s = beats / frame_rate + ONSET_LEAD
    per_phrase = 8 if meter == 4 else 12
    first = phrase_phase(
        _unit(accent) + _unit(beat_strengths(hat, beats)),
        first_downbeat=phase,
        meter=meter,
        beats_per_phrase=per_phrase,
    )
    downbeats = beat_s[phase::meter]
    phrases = beat_s[phrase_starts(beat_s.size, first_downbeat=first, beats_per_phrase=per_phrase)]
    return TempoResult(
        bpm=60.0 * frame_rate / period,
        confidence=confidence,
        beatless=False,
        beats=beat_s,
        downbeats=downbeats,
        phrases=phrases,
        meter=meter,
    )


@dataclass(frozen=True)
class PulseEvidence:
    """The envelopes and periodicity every tempo decision reads, computed once per track.

    ``pulse``, ``kick`` and ``hats`` are the full-band, kick-band and hi-hat-band onset
    strengths minus their one-second running mean, half-wave rectified; ``tracking`` is what
    the beat tracker follows (full band plus kick, each at unit deviation); ``acf`` is the
    `periodicity` of ``pulse``; ``bands`` the raw onset bands (None when not given); ``snare``
    the snare-crack band (1.2–3.5 kHz) treated like the others (None without the five bands).
    """

    frame_rate: float
    pulse: np.ndarray
    kick: np.ndarray
    hats: np.ndarray
    tracking: np.ndarray
    acf: np.ndarray
    bands: np.ndarray | None = None
    snare: np.ndarray | None = None


def pulse_evidence(
    *, onset: np.ndarray, onset_low: np.ndarray, onset_bands: np.ndarray | None, frame_rate: float
) -> PulseEvidence:
    """Build the `PulseEvidence` of one track from its onset envelopes."""
    pulse = _pulse_envelope(np.asarray(onset, dtype=np.float64), frame_rate)
    kick = _pulse_envelope(np.asarray(onset_low, dtype=np.float64), frame_rate)
    hats = pulse if onset_bands is None else _pulse_envelope(onset_bands[:, -1], frame_rate)
    max_lag = int(np.ceil(frame_rate * 60.0 / COMB_MIN_BPM * COMB_HARMONICS)) + 2
    return PulseEvidence(
        frame_rate=frame_rate,
        pulse=pulse,
        kick=kick,
        hats=hats,
        # Offbeat hi-hats are often the loudest full-band onsets in dance music, and the kick
        # is where dancers put the beat.
        tracking=_unit(pulse) + _unit(kick),
        acf=periodicity(pulse, frame_rate=frame_rate, max_lag=max_lag),
        bands=onset_bands,
        snare=(None if onset_bands is None or onset_bands.shape[1] < 5
               else _pulse_envelope(onset_bands[:, 3], frame_rate)),
    )


def _pulse_envelope(onset: np.ndarray, frame_rate: float) -> np.ndarray:
    width = max(1, int(round(frame_rate)))
    kernel = np.full(width, 1.0 / width)
    trend = np.convolve(onset, kernel, mode="same")
    return np.maximum(onset - trend, 0.0)


def _unit(x: np.ndarray) -> np.ndarray:
    scale = x.std()
    return x / scale if scale > 0 else x


def periodicity(envelope: np.ndarray, *, frame_rate: float, max_lag: int) -> np.ndarray:
    """Time-averaged, energy-normalised autocorrelation of ``envelope`` for lags 0..max_lag.

    The envelope is cut into ``WINDOW_SECONDS`` windows every ``WINDOW_HOP_SECONDS``; each
    window's mean-removed autocorrelation is divided by the overlap length (unbiased) and by
    its lag-0 value, and windows are averaged weighted by their energy so quiet passages
    count less. A signal shorter than one window is one window.

    Returns
    -------
    ndarray, shape (max_lag + 1,)
        1 at lag 0; near 0 at every lag for noise; near 1 at the period of a steady pulse.
    """
    envelope = np.asarray(envelope, dtype=np.float64)
    n = envelope.shape[0]
    window = min(n, int(round(WINDOW_SECONDS * frame_rate)))
    window = max(window, 2)
    # Lags past half the window rest on less than half of it: too noisy to compare.
    max_lag = min(max_lag, window // 2)
    hop = max(1, int(round(WINDOW_HOP_SECONDS * frame_rate)))
    starts = np.arange(0, max(1, n - window + 1), hop)
    if starts[-1] + window < n:
        starts = np.append(starts, n - window)
    segments = np.stack([envelope[s : s + window] for s in starts])
    segments = segments - segments.mean(axis=1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(2 * window)))
    spectrum = np.fft.rfft(segments, size, axis=1)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, size, axis=1)[:, : max_lag + 1]
    energy = acf[:, 0].copy()
    good = energy > 1e-12 * max(energy.max(), 1e-30)
    if not good.any():
        return np.zeros(max_lag + 1)
    overlap = (window - np.arange(max_lag + 1)) / window
    normalised = acf[good] / energy[good, None] / overlap[None, :]
    weights = np.sqrt(energy[good])
    return (weights[:, None] * normalised).sum(axis=0) / weights.sum()


def _interp(acf: np.ndarray, lag: float | np.ndarray) -> np.ndarray:
    return np.interp(lag, np.arange(acf.shape[0]), acf, right=0.0)


def _peak_lags(acf: np.ndarray, *, frame_rate: float, min_bpm: float, max_bpm: float) -> np.ndarray:
    """Local maxima of the periodicity inside the BPM range, parabola-refined."""
    lo = int(np.floor(frame_rate * 60.0 / max_bpm))
    hi = min(acf.shape[0] - 2, int(np.ceil(frame_rate * 60.0 / min_bpm)))
    if hi <= lo + 1:
        return np.zeros(0)
    k = np.arange(max(lo, 1), hi + 1)
    peak = (acf[k] > acf[k - 1]) & (acf[k] >= acf[k + 1]) & (acf[k] > 0)
    k = k[peak]
    left, mid, right = acf[k - 1], acf[k], acf[k + 1]
    denom = left - 2 * mid + right
    shift = np.where(denom < 0, 0.5 * (left - right) / np.where(denom < 0, denom, -1.0), 0.0)
    return k + np.clip(shift, -0.5, 0.5)


def comb_salience(acf: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Mean periodicity at the first `COMB_HARMONICS` multiples of each lag.

    A metrical level is salient when the pulse recurs at its period and at the longer levels
    above it; scoring the comb rather than one lag keeps the search on the metrical grid of
    the music and away from 3:2 cross-rhythms (a dotted-quarter peak has no support at 2 and
    4 times its lag).
    """
    lags = np.asarray(lags, dtype=np.float64)
    harmonics = np.arange(1, COMB_HARMONICS + 1)
    return _interp(acf, lags[:, None] * harmonics[None, :]).mean(axis=1)


def metrical_levels(acf: np.ndarray, *, frame_rate: float, min_bpm: float, max_bpm: float) -> np.ndarray:
    """Beat periods (frames) to choose from: octave families of the most salient pulses.

    The strongest comb-salience peaks (30–300 BPM, up to three, each within 10% of the best;
    `_pulse_seeds`) fix the metrical grid; their halvings and doublings inside
    ``[min_bpm, max_bpm]`` are the candidate beat levels. More than one seed matters for music
    whose strongest repetition is a 3-beat figure (a 3-3-2 clave, a hemiola) over a binary
    beat. Empty when the envelope shows no periodicity.
    """
    return _octave_levels(_pulse_seeds(acf, frame_rate=frame_rate), frame_rate=frame_rate,
                          min_bpm=min_bpm, max_bpm=max_bpm)


def _octave_levels(seeds: np.ndarray, *, frame_rate: float, min_bpm: float, max_bpm: float) -> np.ndarray:
    """The halvings and doublings of each seed period inside the BPM range, 2% apart, slowest first."""
    levels: list[float] = []
    for seed in seeds:
        for period in seed * 2.0 ** np.arange(-4, 5):
            bpm = 60.0 * frame_rate / period
            if min_bpm <= bpm <= max_bpm and all(abs(period / p - 1) > 0.02 for p in levels):
                levels.append(float(period))
    return np.array(sorted(levels, reverse=True))


def _pulse_seeds(acf: np.ndarray, *, frame_rate: float) -> np.ndarray:
    """The periods (frames) of up to three comb-salience peaks within 10% of the best, the
    most salient first; empty when the envelope shows no periodicity."""
    # Widen the peaks by a frame first: a very sharp pulse (clicks, a drum machine) has
    # one-frame autocorrelation peaks, and at a period that is not a whole number of frames
    # the interpolated comb would favour slow levels whose multiples happen to fall on whole
    # frames (5 beats at 170 BPM are 152.0 frames).
    acf = np.convolve(acf, [0.25, 0.5, 0.25], mode="same")
    lags = _peak_lags(acf, frame_rate=frame_rate, min_bpm=COMB_MIN_BPM, max_bpm=COMB_MAX_BPM)
    if lags.size == 0:
        return np.zeros(0)
    salience = comb_salience(acf, lags)
    order = np.argsort(-salience)[:3]
    return lags[order][salience[order] >= salience[order[0]] - 0.1 * abs(salience[order[0]])]


def level_evidence(periods: np.ndarray, evidence: PulseEvidence) -> tuple[np.ndarray, list[np.ndarray]]:
    """Measurements of how the music sits on each candidate beat grid (see `_choose_level`).

    Returns
    -------
    table : ndarray, shape (n_levels, 2 + 2 * LEVEL_TERMS)
        Per level, with ``x = log2(bpm / 120)``: ``x``, ``x²``, the `LEVEL_TERMS` tempo-invariant
        measurements ``e`` of `_level_terms`, then ``x · e``, so what a piece of evidence says
        can depend on the tempo (a kick on every beat means one thing at 90 BPM, another at 180).
    beats : list of ndarray
        The beats tracked at each level (frames).
    """
    cache: dict[float, np.ndarray] = {}

    def tracked(period: float) -> np.ndarray:
        key = round(period, 3)
        if key not in cache:
            cache[key] = track_beats(evidence.tracking, period=period)
        return cache[key]

    rows, beats_at = [], []
    for period in np.asarray(periods, dtype=np.float64):
        beats = tracked(float(period))
        x = np.log2(60.0 * evidence.frame_rate / period / 120.0)
        terms = _level_terms(evidence, float(period), beats, tracked(2.0 * period))
        rows.append([x, x * x, *terms, *(x * terms)])
        beats_at.append(beats)
    return np.array(rows).reshape(-1, 2 + 2 * LEVEL_TERMS), beats_at


def _level_terms(
    evidence: PulseEvidence, period: float, beats: np.ndarray, parent_beats: np.ndarray
) -> np.ndarray:
    """The `LEVEL_TERMS` measurements of one candidate level, in `LEVEL_WEIGHTS` order.

    Contrasts are `beat_contrast` (log on-beat / mid-beat onset strength), at the level's beats
    and at ``parent_beats``, those of the level twice as slow:

    1. full-band contrast;
    2. kick contrast, capped at 1.5;
    3. hi-hat contrast beyond the full-band one;
    4. hi-hat contrast one level slower;
    5. pulse salience ``acf(period)``;
    6. full-band contrast one level slower;
    7. kick contrast one level slower, capped at 1.5;
    8–11. for the kick and then the snare, from their strengths at the beats: the
       `lag_correlation` at two beats minus that at one, and at four beats minus that at two.
       A backbeat repeats every two beats at the dance beat, every four at its eighth notes.
    """
    parent = 2.0 * period
    c_all = beat_contrast(evidence.pulse, beats, period=period)
    radius = max(1, int(round(period / 10)))
    cycles = []
    for envelope in (evidence.kick, evidence.pulse if evidence.snare is None else evidence.snare):
        at = beat_strengths(envelope, beats, radius=radius)
        one, two, four = (lag_correlation(at, lag) for lag in (1, 2, 4))
        cycles += [two - one, four - two]
    return np.array(
        [
            c_all,
            min(beat_contrast(evidence.kick, beats, period=period), 1.5),
            beat_contrast(evidence.hats, beats, period=period) - c_all,
            beat_contrast(evidence.hats, parent_beats, period=parent),
            float(_interp(evidence.acf, period)),
            beat_contrast(evidence.pulse, parent_beats, period=parent),
            min(beat_contrast(evidence.kick, parent_beats, period=parent), 1.5),
            *cycles,
        ]
    )


def competing_levels(levels: np.ndarray, acf: np.ndarray) -> np.ndarray:
    """The `metrical_levels` that compete in `_choose_level`: those at which the pulse actually
    recurs (a level seeded by an accidental long-lag peak, five beats that span a whole number
    of frames, can sit between beats); the most salient one when none does."""
    levels = np.asarray(levels, dtype=np.float64)
    salience = _interp(acf, levels)
    eligible = salience >= max(0.1, 0.25 * float(salience.max()))
    return levels[eligible] if eligible.any() else levels[[int(np.argmax(salience))]]


def _choose_level(
    levels: np.ndarray, evidence: PulseEvidence, *, main_pulse: float
) -> tuple[float, np.ndarray]:
    """The dance beat among the candidate metrical levels, and the beats tracked at it.

    Beats are tracked at every level; each level is then scored by a linear evidence model
    (`LEVEL_WEIGHTS`) over `level_evidence`: a broad tempo preference (``x = log2(bpm / 120)``
    and ``x²``) and tempo-invariant measurements of how the music sits on that grid, each also
    times ``x``. What the measurements say (`_level_terms`):

    - full-band contrast ``c_all`` (log on-beat / mid-beat onset strength): a level whose
      midpoints are nearly empty is often a slow, subdivision-free reading of a faster pulse,
      or the eighth notes counted as beats;
    - kick contrast: the kick lands on the beats rather than between them;
    - hi-hat contrast beyond the full-band one: hats that sit on the "beats" more than
      everything else mean the level is counting the hats' eighth notes; and the hi-hat
      contrast one level slower: at the right level the hats fall between beats of the level
      above;
    - pulse salience ``acf(period)``;
    - full-band and kick contrast one level slower: at the eighth-note level every other
      "beat" is a kick or snare and the rest hats, so the level above has strong contrast; on
      the beat level of a plain pulse (a click track) it has none;
    - the cycle of the kick and of the snare from beat to beat: a backbeat (kick on one and
      three, snare on two and four) repeats every two beats at the dance beat, every four when
      eighth notes are counted as beats. Dense sixteenth-note percussion makes the contrasts
      alike at both levels, and this is what still tells them apart.

    A level outside the octave family of ``main_pulse`` (the period of the most salient pulse,
    the first of `_pulse_seeds`) wins only by `OFF_GRID_MARGIN`:
    a 3:2 reading is worse than an octave one (a crossfade beat-matched at 2/3 tempo drifts at
    once), and the comb salience already judged the metrical grid.

    The weights are fitted by ``benchmarks/tempo_accuracy.py --calibrate`` as a pairwise
    logistic ranking (the true level above every other candidate, L2, C = 30) on labelled
    material: the synthetic arrangements of eight dance genres, four banks of randomised
    grooves in the same styles (each counted a quarter), four band recordings at nine speeds and
    the demo library (each counted three times), click tracks and drum patterns. The benchmark
    prints figures on what the fit never saw: two more random banks, hand-written held-out
    songs, another band's recordings and the 0.90/1.12 speed changes of all of them. The
    weights encode the conventions of the genres they saw (drum & bass counted at 170+, a
    ballad at 60–75): music unlike all of them may be counted at half or double its label,
    and changes to the features or the tracker need a refit.
    """
    levels = competing_levels(levels, evidence.acf)
    if levels.size == 1:
        return float(levels[0]), track_beats(evidence.tracking, period=float(levels[0]))
    table, beats = level_evidence(levels, evidence)
    scores = table @ LEVEL_WEIGHTS
    best = int(np.argmax(scores))
    octaves = np.log2(levels / main_pulse)
    family = np.abs(octaves - np.round(octaves)) < 0.03
    if not family[best] and family.any():
        rival = int(np.flatnonzero(family)[np.argmax(scores[family])])
        if scores[best] - scores[rival] < OFF_GRID_MARGIN:
            best = rival
    return float(levels[best]), beats[best]


def _refine_period(acf: np.ndarray, period: float) -> float:
    """Sub-frame period: maximise the comb Σ_k acf(k·period) over ±3% around ``period``.

    Later harmonics pin the period k times more finely than the first peak alone.
    """
    harmonics = np.arange(1, 1 + max(1, int((acf.shape[0] - 2) // period)))
    harmonics = harmonics[:8]
    trial = period * np.linspace(0.97, 1.03, 241)
    comb = _interp(acf, trial[:, None] * harmonics[None, :]).sum(axis=1)
    return float(trial[np.argmax(comb)])


def _confidence(acf: np.ndarray, *, period: float, grid: BeatGrid | None) -> float:
    """0..1 from the pulse salience at the beat and bar-half periods and the grid's steadiness.

    Salience is the mean periodicity at one and two beat periods: sustained pads and rubato
    reach about 0.1 (chance alignments of slow swells), steady music 0.25 and more (distorted
    band recordings are the lowest). Steadiness is the share of tracked beats within 10% of
    a period of the fitted grid, discounted by their RMS deviation.
    """
    salience = float(np.mean(_interp(acf, np.array([period, 2 * period]))))
    salient = np.clip((salience - 0.08) / 0.3, 0.0, 1.0)
    steady = 0.0 if grid is None else grid.inliers * np.clip(1.0 - grid.residual / 0.12, 0.0, 1.0)
    return float(salient * np.sqrt(steady))
