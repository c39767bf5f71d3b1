"""Beat-matching a placed plan: each crossfade's rate curves, and the timeline moved to fit them.

Public: `beat_match`, `GLIDE_BEATS`, `HALFWAY`.

The search places entries as if every track played at its own tempo. `beat_match` then walks the
plan in order and, for each crossfade whose pair `dancer.plan.transition.transition_ratio` can
match, gives the incoming entry a `dancer.timemap.RateCurve`: on the outgoing beat grid from the
first shared beat to the last (ratio fitted to both grids), then a glide back to its own tempo
over `GLIDE_BEATS`. Each track returns to 1.0 rather than the session following a master tempo:
the arc asks for tempo changes between phases, a track is heard at its own pitch for all but a few
bars, and every entry's curve depends only on the entries before it, so a re-plan keeps what plays.

When the rate change is above `HALFWAY` (6 %, a semitone of varispeed), the outgoing track glides
to ``1 / sqrt(R)`` over the bars before the overlap and the incoming track meets it at
``sqrt(R)``, so neither moves by more than about 4 %.

A matched entry's timeline length is no longer its source length, so the entries after it move:
a crossfade starts where the outgoing track's cut is now heard, fades and gaps keep the offset the
search gave them, and the last entry is lengthened or shortened to end where it was planned.
Pure maths on plan data; nothing here renders audio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from dancer.model import PlanEntry
from dancer.plan.transition import LIMIT, transition_ratio
from dancer.timemap import RateCurve, crossfade_curve

__all__ = ["GLIDE_BEATS", "HALFWAY", "beat_match"]

#: Outgoing beats over which a matched track glides back to its own tempo (four bars of 4/4).
GLIDE_BEATS = 16.0
#: Rate change above which both tracks move, each by about half.
HALFWAY = 0.06
#: Beats of the outgoing track the outgoing glide towards the meeting rate takes.
APPROACH_BEATS = 16.0
_EPS = 1e-3


def _micro(x: float) -> float:
    return round(float(x), 6)


def _curve_of(entry: PlanEntry) -> RateCurve:
    return entry.curve or RateCurve.constant(1.0, at=entry.start, source=entry.source_in)


def _grid(beats: np.ndarray, period: float) -> np.ndarray:
    """An exact grid at the track's own ``period`` through its tracked ``beats``.

    The tempo measured over the whole track is far more precise than the slope of 8-16 tracked
    beats, which jitter by 5-15 ms on real music: a ratio fitted to them alone drifted real
    crossfades by 10-130 ms (`benchmarks/transitions.py`). The phase is the beats' mean offset from
    the grid; beats the tracker missed or doubled keep their place by rounding to it."""
    k = np.round((beats - beats[0]) / period)
    first = float(np.mean(beats - k * period))
    return first + np.arange(int(k[-1]) + 1) * period


def _match(prev: PlanEntry, entry: PlanEntry, limit: float, *,
           halfway: bool = True) -> tuple[PlanEntry, PlanEntry] | None:
    """The outgoing entry (maybe gliding to meet) and the incoming one on its curve; None when the
    pair cannot be matched (a beatless or unknown tempo, too few beats, past the limit)."""
    a, b = prev.track.analysis, entry.track.analysis
    if a is None or b is None or a.beatless or b.beatless or not a.bpm or not b.bpm:
        return None
    tr = transition_ratio(a.bpm, b.bpm, limit=limit)
    if not tr.matched:
        return None
    cut = prev.source_out - prev.fade_out
    out_src = np.asarray(a.beats, dtype=np.float64)
    out_src = out_src[(out_src >= cut - _EPS) & (out_src <= prev.source_out + _EPS)]
    in_src = np.asarray(b.beats, dtype=np.float64)
    in_src = in_src[in_src >= entry.source_in - _EPS]
    if len(out_src) < 2 or len(in_src) < 2:
        return None
    curve = _curve_of(prev)
    if halfway and abs(tr.ratio - 1.0) > HALFWAY:
        meet = 1.0 / math.sqrt(tr.ratio)
        glide = APPROACH_BEATS * 60.0 / a.bpm
        reach = float(curve.timeline_time(out_src[0])) + glide * (1.0 - meet) / 2.0
        # The outgoing glide needs the track steady at 1.0 before it, inside its own span.
        if curve.final_rate == 1.0 and reach - glide >= max(curve.end, prev.start + prev.fade_in):
            curve = curve.then_glide(meet, start=reach - glide, end=reach)
            prev = replace(prev, curve=curve)
    in_src = in_src[:max(2, round((len(out_src) - 1) * tr.fold) + 1)]
    out_grid = _grid(out_src, 60.0 / a.bpm)
    in_grid = _grid(in_src, 60.0 / b.bpm)
    incoming = crossfade_curve(curve.timeline_time(out_grid), in_grid, fold=tr.fold, glide_beats=GLIDE_BEATS)
    start = _micro(curve.timeline_time(cut))
    # Fades are timeline seconds: an outgoing track slowed to meet spans its overlap for longer.
    overlap = _micro(prev.end - start)
    prev = replace(prev, fade_out=overlap)
    return prev, replace(entry, start=start, curve=incoming, fade_in=overlap)


def beat_match(entries: Sequence[PlanEntry], *, keep: int = 0, limit: float = LIMIT,
               end: float | None = None) -> tuple[PlanEntry, ...]:
    """``entries`` (placed at rate 1.0 by the search) with their rate curves and moved starts.

    Parameters
    ----------
    entries : sequence of PlanEntry
        In timeline order. Entries from ``keep`` on must have no curve yet.
    keep : int, keyword-only
        Leading entries taken as they are (already matched and playing, in a re-plan); the entry
        after them is matched to the last of them without changing it.
    limit : float, keyword-only
        Largest rate change a crossfade may use (see `transition_ratio`).
    end : float, optional
        Timeline time where the last entry should end (default: where the search placed it); its
        ``source_out`` moves to get there, within the track.

    Returns
    -------
    tuple of PlanEntry
    """
    placed = list(entries[:keep])
    for k in range(keep, len(entries)):
        entry = entries[k]
        if not placed:
            placed.append(entry)
            continue
        before = entries[k - 1]
        # The search placed every entry at rate 1.0 from the previous one's start, kept ones too.
        offset = entry.start - (before.start + before.length)
        # A kept entry is already playing: its curve stays as it is, so it does not glide to meet.
        matched = _match(placed[-1], entry, limit, halfway=k - 1 >= keep) \
            if entry.transition == "crossfade" else None
        if matched is not None:
            placed[-1], entry = matched
        else:
            entry = replace(entry, start=_micro(placed[-1].end + offset))
        placed.append(entry)
    if len(placed) > keep and entries:
        placed[-1] = _ending_at(placed[-1], entries[-1].end if end is None else end)
    return tuple(placed)


def _ending_at(entry: PlanEntry, end: float) -> PlanEntry:
    """``entry`` with ``source_out`` moved so it ends at ``end`` (kept inside the track, and long
    enough for its fades)."""
    curve = _curve_of(entry)
    out = float(curve.source_time(end))
    a = entry.track.analysis
    last = a.cue_out if a is not None else entry.source_out
    out = min(out, max(last, entry.source_out))
    out = max(out, entry.source_in + entry.fade_in + entry.fade_out)
    if abs(out - entry.source_out) < 1e-6:
        return entry
    return replace(entry, source_out=_micro(out))
