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

Method
------
1. Pulse envelope: the onset strength minus its one-second running mean, half-wave
   rectified, so sustained loudness changes do not register as periodicity.
2. Periodicity: autocorrelation in 12-s windows every 3 s, each normalised to its energy and
   unbiased for the shrinking overlap, averaged (a time-averaged tempogram; Grosche & Müller
   2011, "Extracting predominant local pulse information from music recordings", IEEE TASLP).
3. Metrical level: candidate beat periods are the autocorrelation peaks in 40–240 BPM; each is
   scored by its own salience and by the evidence for it being the dance beat (see
   `_choose_level`).
4. Beats: dynamic-programming tracker at that period (Ellis 2007), then a least-squares grid
   through the beats gives the period to a small fraction of a frame (`beats.fit_beat_grid`).
5. Confidence from pulse salience and how well a steady grid explains the beats; beatless
   when it is low.
6. Meter, downbeats and phrases from beat-synchronous kick and accent strength (`beats`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dancer.analysis.beats import (
    bar_phase,
    beat_strengths,
    fit_beat_grid,
    phrase_starts,
    track_beats,
)
from dancer.analysis.features import Features

__all__ = ["TempoResult", "estimate_tempo", "periodicity", "tempo_from_envelopes"]

MIN_SECONDS = 2.0
#: Frames quieter than this linear RMS (−70 dBFS) count as silence.
SILENCE_RMS = 10 ** (-70 / 20)
MIN_BPM = 40.0
MAX_BPM = 240.0
WINDOW_SECONDS = 12.0
WINDOW_HOP_SECONDS = 3.0
#: Below this confidence a track is flagged beatless.
BEATLESS_BELOW = 0.25
#: Seconds by which the flux peak of an attack precedes the attack: the log spectrum of a
#: centred 93-ms Hann frame rises fastest while the attack is still ahead of the centre.
#: Measured on click tracks; added to beat times so beats sit on the attack.
ONSET_LEAD = 0.027


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
        rms=features.rms,
        frame_rate=features.frame_rate,
    )


def tempo_from_envelopes(
    *,
    onset: np.ndarray,
    onset_low: np.ndarray,
    frame_rate: float,
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
    rms : ndarray, shape (n,), optional
        Frame RMS, used to recognise silence; without it silence is judged from ``onset``.
    min_bpm, max_bpm : float
        Range of beat rates considered.

    Returns
    -------
    TempoResult
        `TempoResult.nothing()` when the input is shorter than 2 s or silent.
    """
    onset = np.asarray(onset, dtype=np.float64)
    onset_low = np.asarray(onset_low, dtype=np.float64)
    if onset.shape != onset_low.shape or onset.ndim != 1:
        raise ValueError("onset and onset_low must be 1-D arrays of equal length")
    if frame_rate <= 0 or not 0 < min_bpm < max_bpm:
        raise ValueError("frame_rate and the BPM range must be positive")
    n = onset.shape[0]
    loud = rms is None or np.max(rms, initial=0.0) > SILENCE_RMS
    if n < MIN_SECONDS * frame_rate or not loud or not np.any(onset > 0):
        return TempoResult.nothing()

    pulse = _pulse_envelope(onset, frame_rate)
    kick = _pulse_envelope(onset_low, frame_rate)
    max_lag = int(np.ceil(frame_rate * 60.0 / min_bpm * 4)) + 2
    acf = periodicity(pulse, frame_rate=frame_rate, max_lag=max_lag)
    acf_kick = periodicity(kick, frame_rate=frame_rate, max_lag=max_lag)
    lags = _candidate_lags(acf, frame_rate=frame_rate, min_bpm=min_bpm, max_bpm=max_bpm)
    if lags.size == 0:
        return TempoResult(bpm=None, confidence=0.0, beatless=True)
    period = _choose_level(lags, acf=acf, acf_kick=acf_kick, frame_rate=frame_rate)
    period = _refine_period(acf, period)

    # Track on kick plus full band: offbeat hi-hats are often the loudest full-band onsets in
    # dance music, and the kick is where dancers put the beat.
    beats = track_beats(_unit(pulse) + _unit(kick), period=period)
    grid = fit_beat_grid(beats, period=period)
    if grid is not None and abs(grid.period / period - 1) < 0.08:
        period = grid.period
    confidence = _confidence(acf, period=period, grid=grid)
    if confidence < BEATLESS_BELOW or grid is None:
        return TempoResult(bpm=None, confidence=confidence, beatless=True)

    accent = beat_strengths(pulse, beats)
    kick_at = beat_strengths(kick, beats)
    meter, phase, _ = bar_phase(accent=accent, kick=kick_at)
    beat_s = beats / frame_rate + ONSET_LEAD
    per_phrase = 8 if meter == 4 else 12
    downbeats = beat_s[phase::meter]
    phrases = beat_s[phrase_starts(beat_s.size, first_downbeat=phase, beats_per_phrase=per_phrase)]
    return TempoResult(
        bpm=60.0 * frame_rate / period,
        confidence=confidence,
        beatless=False,
        beats=beat_s,
        downbeats=downbeats,
        phrases=phrases,
        meter=meter,
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
    max_lag = min(max_lag, window - 1)
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


def _candidate_lags(acf: np.ndarray, *, frame_rate: float, min_bpm: float, max_bpm: float) -> np.ndarray:
    """Local maxima of the periodicity inside the BPM range, parabola-refined, best first."""
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
    lags = k + np.clip(shift, -0.5, 0.5)
    return lags[np.argsort(-_interp(acf, lags))]


def _choose_level(lags: np.ndarray, *, acf: np.ndarray, acf_kick: np.ndarray, frame_rate: float) -> float:
    """Pick the beat period among candidate lags (phase-1 rule: salience × kick × tempo prior)."""
    bpm = 60.0 * frame_rate / lags
    prior = np.exp(-0.5 * (np.log2(bpm / 115.0) / 0.9) ** 2)
    score = np.maximum(_interp(acf, lags), 0) * (1.0 + np.maximum(_interp(acf_kick, lags), 0)) * prior
    return float(lags[np.argmax(score)])


def _refine_period(acf: np.ndarray, period: float) -> float:
    """Sub-frame period: maximise the comb Σ_k acf(k·period) over ±3% around ``period``.

    Later harmonics pin the period k times more finely than the first peak alone.
    """
    harmonics = np.arange(1, 1 + max(1, int((acf.shape[0] - 2) // period)))
    harmonics = harmonics[:8]
    trial = period * np.linspace(0.97, 1.03, 241)
    comb = _interp(acf, trial[:, None] * harmonics[None, :]).sum(axis=1)
    return float(trial[np.argmax(comb)])


def _confidence(acf: np.ndarray, *, period: float, grid) -> float:
    """0..1 from the pulse salience at the beat period and the fit of a steady grid."""
    salience = float(np.max(_interp(acf, np.array([period, 2 * period]))))
    steady = 0.0 if grid is None else grid.inliers * max(0.0, 1.0 - grid.residual / 0.1)
    return float(np.clip(salience / 0.4, 0.0, 1.0) * np.clip(steady, 0.0, 1.0) ** 0.5)
