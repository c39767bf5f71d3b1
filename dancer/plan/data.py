"""A plan as plain data: what `dancer plan show --json` prints (documented in the README).

Public: `plan_data`, `FORMAT`.

The shape is a contract other tools rely on: fields are only ever added, and `FORMAT` changes when
one changes meaning. Times are seconds (timeline seconds unless named ``source_*``), rates are
source seconds per timeline second (1.0: the track's own tempo).
"""

from __future__ import annotations

from typing import Any

from dancer.model import Plan, PlanEntry

__all__ = ["FORMAT", "plan_data"]

#: Version of the JSON shape.
FORMAT = 1


def _seconds(x: float) -> float:
    return round(float(x), 6)


def _entry(index: int, entry: PlanEntry) -> dict[str, Any]:
    track = entry.track
    return {
        "index": index,
        "path": track.path,
        "title": track.display,
        "phase": entry.phase,
        "start": _seconds(entry.start),
        "end": _seconds(entry.end),
        "source_in": _seconds(entry.source_in),
        "source_out": _seconds(entry.source_out),
        "fade_in": _seconds(entry.fade_in),
        "fade_out": _seconds(entry.fade_out),
        "transition": entry.transition,
        "rate_start": round(entry.rate_at(entry.start), 6),
        "rate_end": round(entry.rate_at(entry.end), 6),
        "bpm": track.bpm,
    }


def plan_data(plan: Plan) -> dict[str, Any]:
    """``plan`` as JSON-ready data: the session, its phases and one object per entry."""
    return {
        "format": FORMAT,
        "arc": plan.arc,
        "minutes": plan.minutes,
        "seed": plan.seed,
        "objective": plan.objective,
        "length": _seconds(plan.length),
        "phases": [{"name": p.name, "title": p.title, "start": _seconds(p.start), "end": _seconds(p.end)}
                   for p in plan.phases],
        "entries": [_entry(i, e) for i, e in enumerate(plan.entries)],
        "warnings": list(plan.warnings),
    }
