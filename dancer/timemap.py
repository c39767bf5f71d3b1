"""Time maps for tempo matching: where a track's source time sits on the session timeline.

Public: `RateCurve`, `match_curve`, `crossfade_curve`, `approach_curve`.

A crossfade holds the incoming track at a constant rate (the outgoing beat period over the
incoming one, octave folded, see `dancer.plan.transition.transition_ratio`), phase-aligned at the first
shared beat, then glides the rate back to 1.0 over a few bars. The rate is a piecewise-linear
function of timeline time, so the source time it reaches is piecewise quadratic and its inverse is
closed-form: the timeline times of a matched track's beats are predicted exactly
(`RateCurve.timeline_time`), which is what places the entry's end, the next crossfade and the
voice cues. Pure maths on numbers and arrays, shared by the planner (entry lengths, `plan show`)
and the audio stage (`dancer.audio.stretch` renders through a curve).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["RateCurve", "approach_curve", "crossfade_curve", "match_curve"]


@dataclass(frozen=True)
class RateCurve:
    """Playback rate (source seconds per timeline second) as a piecewise-linear function of timeline time.

    Parameters
    ----------
    times : tuple of float
        Timeline times (s) of the knots, strictly increasing; at least one.
    rates : tuple of float
        Rate at each knot, all > 0. Between knots the rate is linear; before the first and after
        the last knot it stays at the end value.
    source_start : float
        Source time (s) reached at ``times[0]``.
    """

    times: tuple[float, ...]
    rates: tuple[float, ...]
    source_start: float

    def __post_init__(self) -> None:
        t = np.asarray(self.times, dtype=np.float64)
        r = np.asarray(self.rates, dtype=np.float64)
        if t.ndim != 1 or len(t) == 0 or len(t) != len(r):
            raise ValueError("a rate curve needs as many rates as knot times, at least one")
        if np.any(np.diff(t) <= 0) or not np.all(np.isfinite(t)):
            raise ValueError("rate curve knot times must be finite and strictly increasing")
        if not np.all(r > 0) or not np.all(np.isfinite(r)):
            raise ValueError("rates must be finite and positive")
        object.__setattr__(self, "times", tuple(float(x) for x in t))
        object.__setattr__(self, "rates", tuple(float(x) for x in r))
        slope = np.zeros(len(t))
        slope[:-1] = np.diff(r) / np.diff(t)
        src = np.empty(len(t))
        src[0] = self.source_start
        src[1:] = self.source_start + np.cumsum(0.5 * (r[:-1] + r[1:]) * np.diff(t))
        object.__setattr__(self, "_t", t)
        object.__setattr__(self, "_r", r)
        object.__setattr__(self, "_a", slope)
        object.__setattr__(self, "_s", src)

    @classmethod
    def constant(cls, rate: float = 1.0, *, at: float = 0.0, source: float = 0.0) -> RateCurve:
        """A steady ``rate`` with source time ``source`` at timeline time ``at``."""
        return cls((at,), (rate,), source)

    @property
    def end(self) -> float:
        """Timeline time (s) of the last knot: from there on the rate is `final_rate`."""
        return self.times[-1]

    @property
    def final_rate(self) -> float:
        return self.rates[-1]

    def rate_at(self, t: float | np.ndarray) -> np.ndarray:
        """Rate at timeline time(s) ``t``."""
        return np.interp(np.asarray(t, dtype=np.float64), self._t, self._r)

    def source_time(self, t: float | np.ndarray) -> np.ndarray:
        """Source time (s) played at timeline time(s) ``t``: the integral of the rate."""
        t = np.asarray(t, dtype=np.float64)
        i = np.clip(np.searchsorted(self._t, t, side="right") - 1, 0, len(self._t) - 1)
        dt = t - self._t[i]
        a = np.where(dt > 0, self._a[i], 0.0)
        return self._s[i] + dt * (self._r[i] + 0.5 * a * dt)

    def timeline_time(self, s: float | np.ndarray) -> np.ndarray:
        """Timeline time (s) at which source time(s) ``s`` is played: the exact inverse of `source_time`.

        On a segment where the rate moves, ``s - S = r dt + a dt² / 2`` is solved in the form
        ``dt = 2 ds / (r + sqrt(r² + 2 a ds))``, which stays accurate as the slope ``a`` goes to 0.
        """
        s = np.asarray(s, dtype=np.float64)
        i = np.clip(np.searchsorted(self._s, s, side="right") - 1, 0, len(self._s) - 1)
        ds = s - self._s[i]
        r = self._r[i]
        a = np.where(ds > 0, self._a[i], 0.0)
        return self._t[i] + 2.0 * ds / (r + np.sqrt(np.maximum(r * r + 2.0 * a * ds, 0.0)))

    def then_glide(self, rate: float, *, start: float, end: float) -> RateCurve:
        """This curve, then a linear glide from its final rate to ``rate`` over timeline times
        ``[start, end]``, with ``end > start >= self.end``: an entry that glided back to 1.0 after
        arriving and later approaches the next track halfway has one curve built this way."""
        if start < self.end or end <= start:
            raise ValueError("a glide starts at or after the curve's last knot and lasts a while")
        times, rates = self.times, self.rates
        if start > self.end:
            times, rates = times + (start,), rates + (self.final_rate,)
        return RateCurve(times + (end,), rates + (rate,), self.source_start)

    def shifted(self, source_offset: float) -> RateCurve:
        """The same rates with every source time moved by ``source_offset`` seconds."""
        return RateCurve(self.times, self.rates, self.source_start + source_offset)


def match_curve(*, beat_timeline: float, beat_source: float, ratio: float, hold_until: float,
                glide: float, sample_rate: int | None = None) -> RateCurve:
    """The rate curve of an incoming track in a tempo-matched crossfade.

    Parameters
    ----------
    beat_timeline, beat_source : float
        The first shared beat: timeline time (s) of the outgoing track's beat and source time (s)
        of the incoming track's beat that must sound together.
    ratio : float
        Rate held until ``hold_until``: the outgoing beat period over the incoming one (folded).
    hold_until : float
        Timeline time (s) where the glide back to 1.0 starts, usually the last beat of the overlap.
    glide : float
        Length (s) of the linear glide from ``ratio`` to 1.0, e.g. four bars.
    sample_rate : int, optional
        When given, the source times are moved by less than half a sample so that after the glide
        the source runs a whole number of samples from the timeline; the renderer then copies
        instead of interpolating. The first beat moves by at most ``0.5 / sample_rate`` s.

    Returns
    -------
    RateCurve
        Constant ``ratio`` before ``hold_until`` (extrapolated back to the entry's start), 1.0 from
        ``hold_until + glide`` on.
    """
    if ratio <= 0 or glide < 0:
        raise ValueError("ratio must be positive and glide not negative")
    start_source = beat_source + ratio * (hold_until - beat_timeline)
    if glide == 0 or ratio == 1.0:
        curve = RateCurve((hold_until,), (ratio,), start_source)
    else:
        curve = RateCurve((hold_until, hold_until + glide), (ratio, 1.0), start_source)
    if sample_rate and curve.final_rate == 1.0:
        lag = (float(curve.source_time(curve.end)) - curve.end) * sample_rate
        curve = curve.shifted((round(lag) - lag) / sample_rate)
    return curve




def _line(times: np.ndarray) -> tuple[float, float]:
    """Least-squares ``(first, period)`` of beat times against their index."""
    k = np.arange(len(times), dtype=np.float64)
    period, first = np.polyfit(k, times, 1)
    return float(first), float(period)


def crossfade_curve(out_beats: Sequence[float] | np.ndarray, in_beats: Sequence[float] | np.ndarray, *,
                    fold: float = 1.0, glide_beats: float = 16.0,
                    sample_rate: int | None = None) -> RateCurve:
    """The incoming track's curve for a crossfade, fitted to both beat grids.

    Parameters
    ----------
    out_beats : array_like
        Timeline times (s) of the outgoing track's beats through the overlap, the first shared
        beat first and the last one last (at least two). Where the outgoing track is itself on a
        curve, these are its `RateCurve.timeline_time` of its source beats.
    in_beats : array_like
        Source times (s) of the incoming track's beats from the one that meets ``out_beats[0]`` on
        (at least two; those past the overlap are ignored).
    fold : float, keyword-only
        Incoming beats per outgoing beat: `dancer.plan.transition.TransitionRatio.fold`.
    glide_beats : float, keyword-only
        Length of the glide back to rate 1.0, in outgoing beats (16 = four bars of 4/4).
    sample_rate : int, optional
        Snap the curve to a whole-sample lag after the glide; see `match_curve`.

    Returns
    -------
    RateCurve
        ``ratio = fold * incoming period / outgoing period`` from straight lines fitted to both
        grids (a tracker's jitter averages out instead of setting the ratio), aligned at the fitted
        first shared beat and held to the fitted last one.
    """
    out = np.asarray(out_beats, dtype=np.float64)
    inc = np.asarray(in_beats, dtype=np.float64)
    if len(out) < 2 or len(inc) < 2 or fold <= 0:
        raise ValueError("a crossfade curve needs two beats of each track and a positive fold")
    inc = inc[:max(2, round((len(out) - 1) * fold) + 1)]
    first_out, period_out = _line(out)
    first_in, period_in = _line(inc)
    if period_out <= 0 or period_in <= 0:
        raise ValueError("beat times must increase")
    return match_curve(beat_timeline=first_out, beat_source=first_in, ratio=fold * period_in / period_out,
                       hold_until=first_out + (len(out) - 1) * period_out, glide=glide_beats * period_out,
                       sample_rate=sample_rate)


def approach_curve(*, start: float, source_in: float, rate: float, reach_at: float,
                   glide: float) -> RateCurve:
    """The outgoing track's curve when both tracks meet halfway.

    The track plays at 1.0 from timeline ``start`` (source ``source_in``), glides linearly to
    ``rate`` over ``glide`` seconds ending at ``reach_at`` (the first shared beat) and holds it.
    With ``rate = 1 / sqrt(R)`` here and the incoming track matched to the outgoing beats as they
    now fall (`crossfade_curve`, which then finds ``sqrt(R)``), each track moves by half the
    semitones of ``R``: ±8 % becomes about ±3.9 % each.
    """
    if rate <= 0 or glide < 0:
        raise ValueError("rate must be positive and glide not negative")
    if glide == 0:
        return RateCurve((reach_at,), (rate,), source_in + (reach_at - start))
    t0 = reach_at - glide
    return RateCurve((t0, reach_at), (1.0, rate), source_in + (t0 - start))
