"""Partial plans as the search holds them, and how they become plan entries.

Public: `Open`, `State`, `Closed`, `entries_of`, `cut_at`, `micro`, and the placement kinds
`FULL`, `TRIM`, `LAST`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from dancer.model import PlanEntry
from dancer.plan.arcs import Phase
from dancer.plan.tracks import Profile

FULL, TRIM, LAST = 0, 1, 2  # how a track is placed: whole, trimmed to a phase's end, last


@dataclass(slots=True)
class Open:
    """The last placed entry, whose end waits for the next track's transition."""

    prof: Profile
    phase: int
    start: float
    source_in: float
    fade_in: float
    transition: str
    out_max: float
    min_cut: float = 0.0
    frozen: tuple[float, float] | None = None

    @property
    def nominal_end(self) -> float:
        return self.start + (self.out_max - self.source_in)


# (track, phase, start, source_in, source_out, fade_in, fade_out, transition)
Closed = tuple


@dataclass(slots=True)
class State:
    """A partial plan: exact ``cost`` of its closed entries, ``rank`` (cost plus estimates) for the
    beam, the open entry, tracks used, the choices that led here and where the timeline stands."""

    cost: float
    rank: float
    open: Open | None
    used: frozenset[int]
    closed: tuple[Closed, ...]
    choices: tuple[tuple[int, int], ...]
    time: float = 0.0
    done: bool = False


def cut_at(grid: tuple[float, ...], latest: float, earliest: float) -> float | None:
    """The last phrase boundary in ``[earliest, latest]``; any time when there is no grid."""
    if not grid:
        return latest if latest >= earliest else None
    k = bisect.bisect_right(grid, latest + 1e-9) - 1
    if k < 0 or grid[k] < earliest - 1e-9:
        return None
    return grid[k]


def micro(x: float) -> float:
    return round(x, 6)


def entries_of(state: State, phases: Sequence[Phase]) -> tuple[PlanEntry, ...]:
    """The closed entries of ``state`` as `PlanEntry` values, times rounded to the microsecond."""
    return tuple(
        PlanEntry(
            track=prof.track,
            phase=phases[phase].name,
            start=start,
            source_in=micro(source_in),
            source_out=micro(out),
            fade_in=micro(fade_in),
            fade_out=micro(fade_out),
            transition=transition,
        )
        for prof, phase, start, source_in, out, fade_in, fade_out, transition in state.closed
    )
