"""The level contour of an arc: how loud the music sits in each phase, with slow ramps between.

Public: `LevelContour`, `level_contour`, `DEFAULT_OFFSETS`.

A facilitator turns the room down for stillness and floor work and back up for the peak. Each
phase gets an offset in dB from the loudness target; across a phase boundary the gain follows a
raised-cosine ramp (no step, no corner) centred on the boundary. Inside a phase, away from the
ramps, the gain is exactly the phase's offset, so loudness matching between tracks of one phase
is untouched. The mixer multiplies the music (entries summed, before ducking, voice and the
limiter) by `LevelContour.gain_block`; the voice keeps its own level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dancer.model import PhaseSpan

__all__ = ["DEFAULT_OFFSETS", "LevelContour", "level_contour"]

#: Suggested offsets (dB) by phase name, for arcs that do not set ``level_db`` themselves.
DEFAULT_OFFSETS: Mapping[str, float] = {"stillness": -4.0, "floor": -3.0, "arrive": -2.0, "peak": 0.0}
#: Ramp length (s) across a phase boundary: about four bars at 120 BPM.
RAMP_SECONDS = 8.0


@dataclass(frozen=True)
class LevelContour:
    """Gain (dB) against timeline time: flat levels joined by raised-cosine ramps.

    Attributes
    ----------
    levels : tuple of float
        Level (dB) of each phase in order; before the first ramp the first level holds, after the
        last ramp the last one.
    ramps : tuple of (float, float)
        ``(start, end)`` timeline seconds of the ramp from ``levels[i]`` to ``levels[i + 1]``.
    """

    levels: tuple[float, ...]
    ramps: tuple[tuple[float, float], ...]

    def gain_db(self, t: float | np.ndarray) -> np.ndarray:
        """Level (dB) at timeline time(s) ``t``."""
        t = np.asarray(t, dtype=np.float64)
        out = np.full(t.shape, self.levels[0] if self.levels else 0.0)
        for (a, b), lo, hi in zip(self.ramps, self.levels[:-1], self.levels[1:]):
            x = np.clip((t - a) / (b - a), 0.0, 1.0) if b > a else (t >= a).astype(np.float64)
            out += (hi - lo) * 0.5 * (1.0 - np.cos(np.pi * x))
        return out

    def gain_block(self, n0: int, n: int, sample_rate: int) -> float | np.ndarray:
        """Linear gain for timeline samples ``[n0, n0 + n)``: a float where the level is flat (the
        usual case, no allocation), else a float32 ``(n,)`` array."""
        t0, t1 = n0 / sample_rate, (n0 + n) / sample_rate
        if not any(a < t1 and b > t0 for a, b in self.ramps):
            return 10.0 ** (float(self.gain_db(t0)) / 20.0)
        g = self.gain_db((n0 + np.arange(n)) / sample_rate)
        return (10.0 ** (g / 20.0)).astype(np.float32)


def level_contour(phases: Sequence[PhaseSpan], offsets: Mapping[str, float] | None = None, *,
                  ramp: float = RAMP_SECONDS) -> LevelContour:
    """The contour for an arc laid on the timeline.

    Parameters
    ----------
    phases : sequence of PhaseSpan
        The plan's phases in timeline order (``Plan.phases``).
    offsets : mapping of str to float, optional
        Level offset (dB) by phase name; a phase not named gets 0 dB. Default: each phase's own
        ``level_db`` (set from its arc). Phases of no length (squeezed out by the plan) are skipped.
    ramp : float, keyword-only
        Ramp length (s) across each boundary where the level changes, centred on it and shortened
        to at most half of either neighbouring phase, so a ramp never reaches another boundary.

    Returns
    -------
    LevelContour
    """
    if ramp < 0 or not math.isfinite(ramp):
        raise ValueError("ramp must be a finite number of seconds >= 0")
    spans = sorted((p for p in phases if p.end > p.start), key=lambda p: p.start)
    levels = [float(p.level_db if offsets is None else offsets.get(p.name, 0.0)) for p in spans]
    kept_levels: list[float] = levels[:1]
    ramps: list[tuple[float, float]] = []
    for prev, nxt, level in zip(spans[:-1], spans[1:], levels[1:]):
        if level == kept_levels[-1]:
            continue
        boundary = nxt.start
        half = min(ramp / 2, (prev.end - prev.start) / 2, (nxt.end - nxt.start) / 2)
        ramps.append((boundary - half, boundary + half))
        kept_levels.append(level)
    return LevelContour(tuple(kept_levels), tuple(ramps))
