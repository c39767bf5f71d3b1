"""Choose and order tracks so a session fits an arc and a length, and place them on the timeline.

Public: `make_plan`, `replan_remaining`, `plan_objective`, `Objective`, `filter_tracks`,
`place_sequence`, `exact_plan`.

The objective (`plan_objective`, lower is better, every term >= 0; weights in `dancer.plan_search`)
of a plan of length ``T``:

- energy: for each entry, ``(w) * (energy - mean target energy over its span)**2`` where ``w`` is the
  entry's share of the session (its timeline span / T) and the target is each phase's start -> end
  energy laid on the arc's nominal phase spans;
- tempo: ``w * W_TEMPO * c`` with ``c = (octave-aware distance outside the phase's BPM range, in
  octaves / 0.15)**2`` (capped at 4), blended towards 0.5 for low tempo confidence;
- beatless: ``w * W_BEATLESS`` for a beatless track in a ``beatless = "no"`` phase, ``0.4 *`` that for
  a beat track in a ``"preferred"`` phase;
- variety: ``w * W_VARIETY * u`` where ``u`` in [0, 1) is a hash of (seed, path): the seed's taste,
  which is how different seeds give different (near-optimal) plans;
- trim: ``W_TRIM * fraction of the track cut away`` (beyond a phrase or so);
- recent: ``W_RECENT`` per track played in a recent session;
- steps: per transition ``W_STEP_TEMPO * (octave-folded tempo step / 0.08 octave)**2`` (capped at 4;
  70 -> 140 costs nothing; a third as much for fades and gaps) plus ``W_STEP_ENERGY * (energy step)**2``;
- artist: ``W_ARTIST`` when the same artist plays twice in a row (soft, so a one-artist library still
  plans);
- alignment: ``W_ALIGN * ((actual - nominal start of a phase) / T)**2``; ``W_MISSING`` per phase that
  gets no track;
- length: ``W_LENGTH * |end - T| / T``.

Hard constraints: no track twice, a trimmed track keeps at least `dancer.plan_search.min_play` of it (40%,
within 90 s..3 min), cuts fall on phrase boundaries, the last entry ends within ``LENGTH_TOLERANCE`` of T.

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
from dataclasses import dataclass, fields
from itertools import pairwise
from pathlib import Path

import numpy as np

from dancer.arcs import Arc
from dancer.model import PhaseSpan, Plan, PlanEntry, Track
from dancer.plan_search import (
    FULL,
    LAST,
    LENGTH_TOLERANCE,
    W_MISSING,
    Planner,
    Profile,
    State,
    Target,
    TrackTable,
    alignment,
    entries_of,
    length_cost,
    pair_terms,
    replan_roots,
    unary_terms,
    usable,
)  # fmt: skip


@dataclass(frozen=True)
class Objective:
    """`plan_objective` term by term; ``total`` is what the planner minimises."""

    energy: float = 0.0
    tempo: float = 0.0
    beatless: float = 0.0
    variety: float = 0.0
    trim: float = 0.0
    recent: float = 0.0
    steps: float = 0.0
    artist: float = 0.0
    alignment: float = 0.0
    missing: float = 0.0
    length: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))


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


def plan_objective(plan: Plan, arc: Arc, *, avoid: Collection[str] = ()) -> Objective:
    """The objective of ``plan`` (see the module docstring), term by term, recomputed from its entries."""
    target = Target(arc, plan.minutes)
    tracks = list({e.track.path: e.track for e in plan.entries if e.track.ok}.values())
    lib = TrackTable(tracks, arc.phases, plan.seed, avoid)
    index = {t.path: i for i, t in enumerate(tracks)}
    names = [p.name for p in arc.phases]
    terms = dict.fromkeys((f.name for f in fields(Objective)), 0.0)
    previous: Profile | None = None
    last_phase = -1
    for entry in plan.entries:
        if entry.track.path not in index:
            continue
        prof = lib.profile(index[entry.track.path])
        phase = names.index(entry.phase) if entry.phase in names else max(last_phase, 0)
        parts = unary_terms(target, prof, phase, entry.start, entry.source_in, entry.source_out)
        for name, value in zip(
            ("energy", "tempo", "beatless", "variety", "trim", "recent"), parts, strict=True
        ):
            terms[name] += value
        if previous is not None:
            step, artist = pair_terms(previous, prof, entry.transition)
            terms["steps"] += step
            terms["artist"] += artist
        if phase > last_phase:
            terms["missing"] += W_MISSING * (phase - last_phase - 1)
            if last_phase >= 0:
                terms["alignment"] += alignment(target, phase, entry.start)
            last_phase = phase
        previous = prof
    if plan.entries:
        terms["missing"] += W_MISSING * (len(names) - 1 - last_phase)
        terms["length"] = length_cost(target, plan.length)
    return Objective(**terms)


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
                    tuple(plan.warnings) + tuple(warnings))  # fmt: skip
    roots = replan_roots(planner, kept, index, from_time)
    return _plan(_search(planner, roots), planner, arc, plan.minutes, seed, warnings)
