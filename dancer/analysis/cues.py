"""Mix points: where a track really starts and ends, and how long its intro and outro are.

Public: `find_cues`, `Cues`.

Works on the per-frame RMS of the mono mix (from `features`) and the beat grid (from `tempo`).
Levels are relative to the track's own loud part, so quiet recordings trim like loud ones.

librosa's nearest tool, ``librosa.effects.trim``, needs the whole signal in memory and trims
against its peak; the analysis streams (a 3-hour file stays in bounded memory) and keeps only
the per-frame RMS, and a mix also needs what trim has no notion of: a fade-out to skip, and
intro and outro lengths in beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Below the loud part by this much is silence for cue-in/cue-out.
SILENCE_DB = 40.0
#: Below the loud part by this much, at the end, is a fade-out the mix can skip.
FADE_DB = 12.0
#: A tail quieter than FADE_DB must last this long to count as a fade rather than a last hit.
MIN_FADE_SECONDS = 4.0
#: Intro/outro: the quieter stretch at either end, below the body's level by this much.
INTRO_DB = 6.0


@dataclass(frozen=True)
class Cues:
    cue_in: float
    cue_out: float
    intro_beats: int
    outro_beats: int


def _smooth_db(rms: np.ndarray, frame_rate: float, seconds: float) -> np.ndarray:
    n = max(1, int(round(seconds * frame_rate)))
    power = np.convolve(rms.astype(np.float64) ** 2, np.ones(n) / n, mode="same")
    return 10.0 * np.log10(power + 1e-20)


def find_cues(features, tempo) -> Cues:
    """Cue-in after leading silence, cue-out before trailing silence or a long fade-out.

    Parameters
    ----------
    features : dancer.analysis.features.Features
        Uses ``rms`` (linear, per frame), ``frame_rate`` and ``duration``.
    tempo : dancer.analysis.tempo.TempoResult
        Uses ``beats`` (seconds) to count intro/outro beats; beatless tracks get 0.

    Returns
    -------
    Cues
        ``cue_in`` <= ``cue_out`` in seconds; the whole file when nothing rises above silence.
    """
    rms = np.asarray(features.rms, dtype=np.float64)
    fr = float(features.frame_rate)
    duration = float(features.duration)
    if rms.size == 0 or not np.any(rms > 0):
        return Cues(0.0, duration, 0, 0)
    level = 20.0 * np.log10(rms + 1e-10)
    ref = float(np.percentile(level, 95))
    loud = np.flatnonzero(level > ref - SILENCE_DB)
    if loud.size == 0:  # non-finite levels: nothing to trim against
        return Cues(0.0, duration, 0, 0)
    cue_in = loud[0] / fr
    cue_out = min(duration, (loud[-1] + 1) / fr)

    smooth = _smooth_db(rms, fr, 1.0)
    body = np.flatnonzero(smooth > ref - FADE_DB)
    if body.size:
        body_end = (body[-1] + 1) / fr
        if cue_out - body_end >= MIN_FADE_SECONDS:
            cue_out = body_end

    beats = np.asarray(tempo.beats, dtype=np.float64)
    intro_beats = outro_beats = 0
    if beats.size and not tempo.beatless:
        full = np.flatnonzero(smooth > ref - INTRO_DB)
        if full.size:
            intro_end, outro_start = full[0] / fr, (full[-1] + 1) / fr
            intro_beats = int(np.count_nonzero((beats >= cue_in) & (beats < intro_end)))
            outro_beats = int(np.count_nonzero((beats > outro_start) & (beats <= cue_out)))
    return Cues(float(cue_in), float(max(cue_out, cue_in)), intro_beats, outro_beats)
