"""Energy: how much a track asks the body to move, 0 (still) to 1 (all out).

Public: `energy_profile`, `energy_of_window`, `WEIGHTS`.

The score must not follow mastering level: a loudly mastered calm song is still calm and a
quiet recording of a wild track is still wild. Every ingredient is therefore level-free:

- ``drive``   — mean log-spectral flux (onset strength). Flux is a difference of log
                magnitudes, so a gain change cancels out. Scaled by `FLUX_FULL`.
- ``density`` — onsets per second (peaks of the onset envelope above a local threshold,
                `_onset_peaks`), scaled so 8/s (sixteenths at 120 BPM) is full.
- ``punch``   — share of the window's onset strength in the low band (kicks and bass hits)
                combined with spectral flatness (noisy, percussive spectra).
- ``bright``  — median spectral centroid on a log scale from 300 Hz (0) to 4 kHz (1).
- ``pace``    — tempo, 60 BPM (0) to 140 BPM (1), weighted by tempo confidence; 0 if beatless.
- ``pulse``   — how steady and salient the beat is (the tempo's pulse confidence, octave
                aside); 0 if beatless. ``pace`` takes the whole confidence: an octave in
                doubt is a pace in doubt.

The flux in ``drive`` is log-compressed, and quiet recordings are raised to a reference level
before the compression (`features.FeatureExtractor._quiet_gain`), so a quiet master reads as
driven as a loud one (``test_energy_does_not_follow_mastering_level`` holds the whole score to
0.03 at -30 dB). Its weight stays small all the same, and every other ingredient is a ratio or
a rate.

librosa provides the ingredients (onset strength, spectral centroid and flatness, peak picking:
`features`, `pulse`); it has no score of how much music asks the body to move, which is what
this module adds: the level-free scaling of each ingredient and their sum.

``energy = sum(WEIGHTS[k] * feature[k])``, clipped to 0..1. Frames more than 35 dB below the
track's loud part are ignored (silence and fade tails do not dilute the score). The curve applies
the same formula to every `ENERGY_STEP`-second window, with the track's pace.
"""

from __future__ import annotations

import numpy as np

from dancer.analysis.numba_lock import import_librosa
from dancer.model import ENERGY_STEP

WEIGHTS = {"drive": 0.15, "density": 0.20, "punch": 0.15, "bright": 0.10, "pace": 0.25, "pulse": 0.15}
#: Mean onset strength (as `features` computes it) that counts as full drive.
FLUX_FULL = 0.12
#: Onsets per second that count as full density.
DENSITY_FULL = 8.0
ACTIVE_DB = 35.0
#: `_onset_peaks`: an onset stands `PEAK_FLOOR` of the strongest one above the mean of
#: ±`PEAK_AVG_FRAMES` frames.
PEAK_FLOOR = 0.1
PEAK_AVG_FRAMES = 4


def _pace(tempo) -> float:
    if tempo.beatless or tempo.bpm is None:
        return 0.0
    return float(np.clip((tempo.bpm - 60.0) / 80.0, 0.0, 1.0) * np.clip(tempo.confidence, 0.0, 1.0))


def _onset_peaks(onset: np.ndarray) -> np.ndarray:
    """Boolean mask of the onsets: ``librosa.util.peak_pick``, a frame at least as high as its
    neighbours that stands a tenth of the track's strongest onset above the mean of the nine
    frames around it (``PEAK_AVG_FRAMES`` each side), away from the signal's first and last frame.

    The floor is relative to the loudest onset, not to a percentile as `pulse.onset_rate`'s is:
    density counts the clear onsets, and a pad's flux, all ripple, has none (its 95th percentile
    would make every ripple one)."""
    peaks = np.zeros(onset.shape, dtype=bool)
    top = float(np.max(onset, initial=0.0))
    if onset.size < 3 or top <= 0:
        return peaks
    librosa = import_librosa()
    at = librosa.util.peak_pick(np.asarray(onset, dtype=np.float64), pre_max=1, post_max=2,
                                pre_avg=PEAK_AVG_FRAMES, post_avg=PEAK_AVG_FRAMES + 1, delta=PEAK_FLOOR * top,
                                wait=1)
    peaks[at] = True
    peaks[[0, -1]] = False  # the signal's edges (a chord starting from silence, the last part-frame)
    return peaks


def energy_of_window(onset: np.ndarray, onset_low: np.ndarray, centroid: np.ndarray, flatness: np.ndarray,
                     peaks: np.ndarray, frame_rate: float, pace: float, pulse: float = 0.0) -> float:
    """The energy formula (module docstring) on one window of active frames."""
    if onset.size == 0:
        return 0.0
    seconds = onset.size / frame_rate
    drive = float(np.clip(np.mean(onset) / FLUX_FULL, 0.0, 1.0))
    density = float(np.clip(np.count_nonzero(peaks) / seconds / DENSITY_FULL, 0.0, 1.0))
    low_share = float(np.sum(onset_low) / (np.sum(onset) + np.sum(onset_low) + 1e-9))
    punch = float(np.clip(0.5 * (2.0 * low_share) + 0.5 * (np.mean(flatness) * 4.0), 0.0, 1.0))
    c = np.median(centroid)
    bright = float(np.clip(np.log(max(c, 1.0) / 300.0) / np.log(4000.0 / 300.0), 0.0, 1.0))
    parts = {"drive": drive, "density": density, "punch": punch, "bright": bright, "pace": pace,
             "pulse": pulse}
    return float(np.clip(sum(WEIGHTS[k] * v for k, v in parts.items()), 0.0, 1.0))


def energy_profile(features, loudness, tempo) -> tuple[float, np.ndarray]:
    """Energy score and curve (one value per `ENERGY_STEP` seconds) for one track.

    Parameters
    ----------
    features : Features
        Per-frame ``onset``, ``onset_low``, ``centroid``, ``flatness``, ``rms`` at ``frame_rate``.
    loudness : Loudness
        Not used for the score (which must be level-free); kept so callers pass one bundle.
    tempo : TempoResult
        ``bpm``, ``confidence`` and ``beatless`` give the pace term.

    Returns
    -------
    energy : float in 0..1
    curve : np.ndarray, shape (ceil(duration / ENERGY_STEP),), float32 in 0..1
    """
    fr = float(features.frame_rate)
    onset = np.asarray(features.onset, dtype=np.float64)
    n = onset.size
    curve_len = int(np.ceil(features.duration / ENERGY_STEP)) if features.duration > 0 else 0
    if n == 0:
        return 0.0, np.zeros(curve_len, dtype=np.float32)
    low = np.asarray(features.onset_low, dtype=np.float64)[:n]
    cen = np.asarray(features.centroid, dtype=np.float64)[:n]
    flat = np.asarray(features.flatness, dtype=np.float64)[:n]
    level = 20.0 * np.log10(np.asarray(features.rms, dtype=np.float64)[:n] + 1e-10)
    # Digital silence (below -100 dBFS) is never active, whatever the track's own level.
    active = (level > np.percentile(level, 95) - ACTIVE_DB) & (level > -100.0)
    peaks = _onset_peaks(onset)
    pace = _pace(tempo)
    pulse = 0.0 if tempo.beatless or tempo.bpm is None else float(np.clip(tempo.pulse_confidence, 0.0, 1.0))

    def score(sl: slice) -> float:
        m = active[sl]
        return energy_of_window(onset[sl][m], low[sl][m], cen[sl][m], flat[sl][m], peaks[sl][m], fr, pace,
                                pulse)

    energy = score(slice(0, n))
    step = ENERGY_STEP * fr
    curve = np.array([score(slice(int(i * step), int((i + 1) * step))) for i in range(curve_len)],
                     dtype=np.float32)
    return energy, curve
