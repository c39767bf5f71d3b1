"""Choose and order tracks so a session fits an arc and a length, and place them on the timeline.

Public: `make_plan`, `replan_remaining`, `filter_tracks`, `place_sequence`, `exact_plan`,
`planned_energy`.

The objective is `dancer.plan.objective`'s (lower is better, every term >= 0).

The method: beam search along the timeline (each state: cost so far, the entry still open, tracks
used), children ranked by exact cost so far plus an estimate of the open entry plus a lower-bound-like
cost-to-go; candidate tracks come from per-phase pools chosen with numpy over the whole library. The
best complete plan is then improved by local search (replace, swap, trim toggle, insert, delete)
evaluated exactly. `exact_plan` is a branch-and-bound over the same moves, exponential, for checking
the planner on small libraries.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Collection, Iterable, Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np

from dancer.model import PhaseSpan, Plan, PlanEntry, Track
from dancer.plan.arcs import Arc
from dancer.plan.objective import Target
from dancer.plan.search import LENGTH_TOLERANCE, Planner, replan_roots
from dancer.plan.states import FULL, LAST, State, entries_of
from dancer.plan.tracks import TrackTable, usable


def _phase_spans(entries: Sequence[PlanEntry], target: Target) -> tuple[PhaseSpan, ...]:
    """Each phase from its first entry's start to the next phase's; an empty phase keeps its nominal
    start, squeezed between its neighbours."""
    names = [p.name for p in target.phases]
    end = max((e.end for e in entries), default=target.total)
    first: dict[int, float] = {}
    for entry in entries:
        if entry.phase in names:
            first.setdefault(names.index(entry.phase), entry.start)
    bounds = [0.0] * (len(names) + 1)
    bounds[-1] = end
    for p in range(1, len(names)):
        if p in first:
            bounds[p] = max(first[p], bounds[p - 1])
        else:
            later = [first[q] for q in range(p + 1, len(names)) if q in first]
            upper = min(later[0] if later else end, end)
            bounds[p] = min(max(target.starts[p], bounds[p - 1]), upper)
    return tuple(
        PhaseSpan(name=p.name, title=p.title, start=bounds[k], end=max(bounds[k + 1], bounds[k]))
        for k, p in enumerate(target.phases)
    )


def _fmt_minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _warnings(entries: Sequence[PlanEntry], lib: TrackTable, target: Target) -> list[str]:
    """Specific warnings for each phase the library could not serve, naming what was missing."""
    warnings = []
    total = target.total
    end = max((e.end for e in entries), default=0.0)
    names = [p.name for p in target.phases]
    if end < total - LENGTH_TOLERANCE:
        missing = [n for n in names if not any(e.phase == n for e in entries)]
        music = sum(lib.profile(i).length for i in range(len(lib)))
        if music < total:
            text = (
                f"the library is too short for {_fmt_minutes(total)}: its {len(lib)} usable tracks last "
                f"{_fmt_minutes(music)}; the plan lasts {_fmt_minutes(end)}"
            )
        else:
            text = (
                f"could not fit the tracks to {_fmt_minutes(total)} (too few that can be cut to fit); "
                f"the plan lasts {_fmt_minutes(end)}"
            )
        if missing:
            text += "; no music for phase " + ", ".join(f"'{n}'" for n in missing)
        warnings.append(text)
    artists = [e.track.tags.artist for e in entries]
    repeats = sum(1 for a, b in pairwise(artists) if a and a == b)
    if repeats:
        warnings.append(
            f"the same artist plays twice in a row {repeats} time(s): "
            f"the library has too few artists to alternate"
        )
    beatless_n = int(lib.beatless.sum()) if len(lib) else 0
    for p, phase in enumerate(target.phases):
        mine = [e for e in entries if e.phase == phase.name]
        if not mine:
            if end >= total - LENGTH_TOLERANCE:
                span = target.ends[p] - target.starts[p]
                warnings.append(
                    f"phase '{phase.name}': no track of its own (its {_fmt_minutes(span)} fell inside "
                    f"longer neighbouring tracks; add shorter tracks or lengthen the session)"
                )
            continue
        if len(lib) == 0:
            continue
        in_range = ~lib.beatless & (lib.tempo_distance[p] < 0.02)
        if phase.beatless == "preferred":
            slow = ~lib.beatless & (lib.bpm <= (phase.tempo[1] if phase.tempo else 90.0) * 1.05)
            if beatless_n == 0 and not slow.any():
                tempo = f" or slow ({phase.tempo[0]:g}-{phase.tempo[1]:g} BPM)" if phase.tempo else ""
                warnings.append(
                    f"phase '{phase.name}': prefers beatless{tempo} music and the library has none; "
                    f"used the calmest tracks available"
                )
        elif phase.beatless == "no" and all(e.track.bpm is None or e.track.analysis.beatless for e in mine):
            warnings.append(f"phase '{phase.name}': wants music with a beat and the library has none")
        if phase.tempo is not None and phase.beatless != "preferred":
            beat = ~lib.beatless
            if beat.any() and not in_range.any():
                lo, hi = phase.tempo
                closest = lib.bpm[beat][np.argmin(lib.tempo_distance[p][beat])]
                warnings.append(
                    f"phase '{phase.name}': wants {lo:g}-{hi:g} BPM (or half/double) and no track in the "
                    f"library is in that range; closest: {closest:.0f} BPM"
                )
        weight = sum(e.length for e in mine)
        mean_energy = sum(e.track.energy * e.length for e in mine) / weight
        want = sum(target.mean(e.start, e.end) * e.length for e in mine) / weight
        if abs(mean_energy - want) > 0.2:
            if want > mean_energy:
                extreme = f"the most energetic track in the library is {float(lib.energy.max()):.2f}"
            else:
                extreme = f"the calmest track in the library is {float(lib.energy.min()):.2f}"
            warnings.append(
                f"phase '{phase.name}': wants energy around {want:.2f} and its tracks average "
                f"{mean_energy:.2f} ({extreme})"
            )
    return warnings


def _plan(
    state: State | None,
    planner: Planner,
    arc: Arc,
    minutes: float,
    seed: int,
    warnings: Sequence[str] = (),
) -> Plan:
    entries = entries_of(state, planner.phases) if state is not None else ()
    found = list(warnings) + _warnings(entries, planner.lib, planner.target)
    return Plan(
        arc=arc.name,
        minutes=minutes,
        seed=seed,
        entries=entries,
        phases=_phase_spans(entries, planner.target),
        objective=state.cost if state is not None else 0.0,
        warnings=tuple(found),
        arc_file=os.path.abspath(arc.source) if arc.source else "",
    )


# ---------------------------------------------------------------------------------------------
# Public API


def filter_tracks(
    tracks: Iterable[Track],
    *,
    folder: Path | str | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    min_confidence: float = 0.0,
) -> list[Track]:
    """The tracks under ``folder`` whose artist, genre, path or file name match an ``include`` glob
    (when any is given) and no ``exclude`` glob, case-insensitively; beat tracks with a tempo
    confidence below ``min_confidence`` are dropped (beatless ones have no tempo to doubt)."""
    prefix = None
    if folder is not None:
        prefix = os.path.join(os.path.abspath(os.path.expanduser(str(folder))), "")
    inc = [g.casefold() for g in include]
    exc = [g.casefold() for g in exclude]

    def matches(track: Track, globs: list[str]) -> bool:
        fields_ = (track.tags.artist, track.tags.genre, track.path, track.name)
        return any(fnmatch.fnmatchcase(f.casefold(), g) for g in globs for f in fields_ if f)

    out = []
    for track in tracks:
        if prefix is not None and not os.path.abspath(track.path).startswith(prefix):
            continue
        if inc and not matches(track, inc):
            continue
        if exc and matches(track, exc):
            continue
        a = track.analysis
        if a is not None and a.bpm is not None and not a.beatless and a.bpm_confidence < min_confidence:
            continue
        out.append(track)
    return out


def _prepare(
    tracks: Sequence[Track],
    arc: Arc,
    minutes: float,
    seed: int,
    avoid: Collection[str],
    min_confidence: float,
    target: Target | None = None,
) -> tuple[Planner, list[str]]:
    if minutes <= 0:
        raise ValueError(f"minutes must be > 0, got {minutes}")
    seen: set[str] = set()
    playable = []
    for t in tracks:
        if t.path not in seen and usable(t, min_confidence):
            seen.add(t.path)
            playable.append(t)
    warnings = []
    skipped = len(tracks) - len(playable)
    if not playable:
        warnings.append(
            f"no usable tracks to plan from ({len(tracks)} given: not analysed, too short or filtered)"
        )
    elif skipped and min_confidence > 0:
        low = sum(
            1
            for t in tracks
            if t.ok and t.analysis.bpm is not None and t.analysis.bpm_confidence < min_confidence
        )
        if low:
            warnings.append(f"{low} tracks skipped: tempo confidence below {min_confidence:g}")
    if arc.minutes_range and not arc.minutes_range[0] <= minutes <= arc.minutes_range[1]:
        lo, hi = arc.minutes_range
        warnings.append(f"arc '{arc.name}' is written for {lo:g}-{hi:g} minutes; planned for {minutes:g}")
    lib = TrackTable(playable, arc.phases, seed, avoid)
    planner = Planner(lib, target or Target(arc, minutes))
    return planner, warnings


def planned_energy(plan: Plan) -> np.ndarray:
    """The energy of the music ``plan`` plays, second by second (a later entry wins an overlap);
    NaN where nothing plays."""
    out = np.full(int(np.ceil(plan.length)) + 1, np.nan)
    for e in plan.entries:
        a, b = int(e.start), int(np.ceil(e.end))
        out[a:b] = e.track.energy
    return out


def make_plan(
    tracks: Sequence[Track],
    arc: Arc,
    *,
    minutes: float,
    seed: int = 0,
    avoid: Collection[str] = (),
    min_confidence: float = 0.0,
) -> Plan:
    """Choose, order and place tracks for ``minutes`` of ``arc``: the plan of least `plan_objective`
    the search finds. Deterministic for a given ``seed``; ``avoid`` holds paths played recently.

    A library that cannot serve the arc still gets a plan, with `Plan.warnings` naming each phase
    and what was missing (and a shorter plan when there is not enough music).
    """
    planner, warnings = _prepare(tracks, arc, minutes, seed, avoid, min_confidence)
    return _plan(_search(planner, [planner.root()]), planner, arc, minutes, seed, warnings)


def _search(planner: Planner, roots: Sequence[State]) -> State | None:
    """Beam search, then local search from its best few plans; for a library too short to finish,
    the longest partial plan closed early; for a session shorter than any track, one cut track."""
    complete, longest = planner.beam(roots)
    if complete:
        return min((planner.improve(root, complete) for root in roots), key=lambda s: s.cost)
    if longest is not None:
        return planner.finish_open(longest, allow_short=True)
    return planner.only_track(roots[0]) if roots[0].open is None else None


def place_sequence(
    tracks: Sequence[Track], arc: Arc, *, minutes: float, seed: int = 0, avoid: Collection[str] = ()
) -> Plan | None:
    """Place ``tracks`` in this order (each at full length, the last trimmed to the end), by the
    planner's own rules and objective; None when they cannot make ``minutes``. For baselines."""
    planner, warnings = _prepare(tracks, arc, minutes, seed, avoid, 0.0)
    index = {t.path: i for i, t in enumerate(planner.lib.tracks)}
    choices = [(index[t.path], FULL) for t in tracks[:-1]] + [(index[tracks[-1].path], LAST)]
    state = planner.replay(planner.root(), choices)
    if state is None:
        return None
    return _plan(state, planner, arc, minutes, seed, warnings)


def exact_plan(
    tracks: Sequence[Track], arc: Arc, *, minutes: float, seed: int = 0, avoid: Collection[str] = ()
) -> Plan | None:
    """The plan of least `plan_objective` over every order, track choice and trim option, by branch
    and bound. Exponential: for checking `make_plan` on libraries of a dozen tracks."""
    planner, warnings = _prepare(tracks, arc, minutes, seed, avoid, 0.0)
    best = planner.exact(planner.root())
    return None if best is None else _plan(best, planner, arc, minutes, seed, warnings)


def replan_remaining(
    plan: Plan,
    tracks: Sequence[Track],
    arc: Arc,
    *,
    from_time: float,
    energy_shift: float = 0.0,
    seed: int | None = None,
    avoid: Collection[str] = (),
    min_confidence: float = 0.0,
    push: float = 0.0,
) -> Plan:
    """Re-plan what has not started by ``from_time`` (timeline seconds), with the energy target moved
    by ``energy_shift`` from then on; entries already playing stay, and the total still fits.

    ``push`` (a live nudge's step) also asks for music at least that much more (or, negative, less)
    energetic than ``plan`` has from ``from_time``: without it a nudge that moves the arc's target
    towards the music already planned would change nothing.

    The entry playing at ``from_time`` may be cut at a later phrase boundary (or keep its fade-out if
    that has begun); the rest is searched like `make_plan`.
    """
    seed = plan.seed if seed is None else seed
    target = Target(arc, plan.minutes, shift=energy_shift, shift_from=from_time,
                    planned=planned_energy(plan) if push else None, push=push)
    kept = [e for e in plan.entries if e.start < from_time]
    if not kept:
        planner, warnings = _prepare(tracks, arc, plan.minutes, seed, avoid, min_confidence, target)
        return _plan(_search(planner, [planner.root()]), planner, arc, plan.minutes, seed, warnings)
    if from_time >= plan.length:
        return plan
    kept_paths = {e.track.path for e in kept}
    pool = [t for t in tracks if t.path not in kept_paths] + [e.track for e in kept]
    planner, warnings = _prepare(pool, arc, plan.minutes, seed, avoid, min_confidence, target)
    index = {t.path: i for i, t in enumerate(planner.lib.tracks)}
    if any(e.track.path not in index for e in kept):
        warnings.append("some playing tracks are not analysed; kept as they were")
        return Plan(plan.arc, plan.minutes, seed, plan.entries, plan.phases, plan.objective,
                    tuple(plan.warnings) + tuple(warnings), plan.arc_file)  # fmt: skip
    roots = replan_roots(planner, kept, index, from_time)
    return _plan(_search(planner, roots), planner, arc, plan.minutes, seed, warnings)
