"""What a good plan is: the objective the search minimises and `plan_objective` reports.

Public: `plan_objective`, `Objective`, `Target`, the cost terms (`unary_terms`, `pair_terms`,
`alignment`, `length_cost`, `unit_cost`) and their weights (``W_*``).

The objective (`plan_objective`, lower is better, every term >= 0; the weights are this module's ``W_*``)
of a plan of length ``T``:

- energy: for each entry, ``(w) * (energy - mean target energy over its span)**2`` where ``w`` is the
  entry's share of the session (its timeline span / T) and the target is each phase's start -> end
  energy laid on the arc's nominal phase spans;
- tempo: ``w * W_TEMPO * c`` with ``c = (octave-aware distance outside the phase's BPM range, in
  octaves / 0.15)**2`` (capped at 4), blended towards 0.5 for a weak pulse (its confidence octave
  aside: ``Analysis.pulse_confidence``, as in the tempo steps);
- beatless: ``w * W_BEATLESS`` for a beatless track in a ``beatless = "no"`` phase, ``0.4 *`` that for
  a beat track in a ``"preferred"`` phase;
- variety: ``w * W_VARIETY * u`` where ``u`` in [0, 1) is a hash of (seed, path): the seed's taste,
  which is how different seeds give different (near-optimal) plans;
- trim: ``W_TRIM * fraction of the track cut away`` (beyond a phrase or so);
- recent: ``W_RECENT`` per track played in a recent session;
- steps: per transition ``W_STEP_TEMPO * (octave-folded tempo step / 0.08 octave)**2`` (capped at 4;
  70 -> 140 costs nothing; a third as much for fades and gaps) plus ``W_STEP_ENERGY * (energy step)**2``;
- stretch: per tempo-matched crossfade ``W_STRETCH * transition_ratio(...).cost`` (the rate change the
  incoming track plays at, 1 at the ±8 % limit, plus a fold cost for half/double time); a pair past the
  limit is never crossfaded (the search gives it a fade), so it pays the tempo step only;
- artist: ``W_ARTIST`` when the same artist plays twice in a row (soft, so a one-artist library still
  plans);
- alignment: ``W_ALIGN * ((actual - nominal start of a phase) / T)**2``; ``W_MISSING`` per phase that
  gets no track;
- length: ``W_LENGTH * |end - T| / T``.

Hard constraints: no track twice, a trimmed track keeps at least `dancer.plan.tracks.min_play` of it (40%,
within 90 s..3 min), cuts fall on phrase boundaries, the last entry ends within ``LENGTH_TOLERANCE`` of T.

The search (`dancer.plan.search`) and `plan_objective` compute the same terms with the same functions,
so the objective a plan reports is the one it was chosen by.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Collection
from dataclasses import dataclass, fields

import numpy as np

from dancer.model import Plan
from dancer.plan.arcs import Arc
from dancer.plan.tracks import Profile, TrackTable
from dancer.plan.transition import transition_ratio

W_TEMPO = 0.05
W_BEATLESS = 0.1
W_VARIETY = 0.02
W_TRIM = 0.01
W_RECENT = 0.02
W_STEP_TEMPO = 0.004
W_STEP_ENERGY = 0.02
W_STRETCH = 0.004
W_ARTIST = 1.0
W_ALIGN = 2.0
W_MISSING = 0.2
W_LENGTH = 10.0
STEP_SCALE = 0.08  # octaves of tempo step (~5.7%) between neighbours that cost one W_STEP_TEMPO
TRIM_ALLOWANCE = 20.0  # seconds lost at a natural end to phrase alignment; not counted as trimming


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
    stretch: float = 0.0
    artist: float = 0.0
    alignment: float = 0.0
    missing: float = 0.0
    length: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))


# # The target: nominal phase spans and the energy curve


class Target:
    """The arc laid on ``minutes``: phase spans, and the energy target with a running integral."""

    def __init__(
        self,
        arc: Arc,
        minutes: float,
        *,
        shift: float = 0.0,
        shift_from: float = math.inf,
        planned: np.ndarray | None = None,
        push: float = 0.0,
    ):
        """``shift`` moves the target from ``shift_from`` on. With ``planned`` (the energy of the music
        already planned, per second) and ``push``, the target from ``shift_from`` is also at least
        ``push`` beyond what is planned, in ``push``'s direction: a nudge always asks for a change."""
        self.total = 60.0 * minutes
        spans = arc.spans(minutes)
        self.phases = [p for p, _, _ in spans]
        self.starts = [s for _, s, _ in spans]
        self.ends = [e for _, _, e in spans]
        n = int(math.ceil(self.total)) + 1200
        t = np.arange(n) + 0.5
        idx = np.clip(np.searchsorted(self.starts, t, side="right") - 1, 0, len(self.phases) - 1)
        starts, ends = np.array(self.starts)[idx], np.array(self.ends)[idx]
        frac = np.clip((t - starts) / np.maximum(ends - starts, 1e-9), 0.0, 1.0)
        e0 = np.array([p.energy[0] for p in self.phases])[idx]
        e1 = np.array([p.energy[1] for p in self.phases])[idx]
        energy = e0 + (e1 - e0) * frac
        if shift:
            energy = np.where(t >= shift_from, np.clip(energy + shift, 0.0, 1.0), energy)
        if push and planned is not None:
            wanted = np.full(n, np.nan)
            m = min(n, len(planned))
            wanted[:m] = np.clip(planned[:m] + push, 0.0, 1.0)
            bound = np.fmax if push > 0 else np.fmin  # NaN (nothing planned) leaves the target alone
            energy = np.where(t >= shift_from, bound(energy, wanted), energy)
        self.energy = energy
        self._cum = np.concatenate([[0.0], np.cumsum(energy)]).tolist()
        self._last = len(self._cum) - 2

    def integral(self, x: float) -> float:
        x = min(max(x, 0.0), self._last)
        i = int(x)
        return self._cum[i] + (self._cum[i + 1] - self._cum[i]) * (x - i)

    def mean(self, a: float, b: float) -> float:
        if b - a < 1e-9:
            return self.energy_at(a)
        return (self.integral(b) - self.integral(a)) / (b - a)

    def energy_at(self, t: float) -> float:
        return float(self.energy[min(max(int(t), 0), len(self.energy) - 1)])

    def phase_at(self, t: float) -> int:
        return max(0, bisect.bisect_right(self.starts, t) - 1)


# # Cost terms, shared by the search and `plan_objective` so both compute the same numbers


def unary_terms(
    target: Target, prof: Profile, phase: int, start: float, source_in: float, source_out: float
) -> tuple[float, float, float, float, float, float]:
    end = start + (source_out - source_in)
    w = (end - start) / target.total
    error = prof.energy - target.mean(start, end)
    trim = max(0.0, prof.cue_out - source_out - TRIM_ALLOWANCE) / prof.length
    return (
        w * error * error,
        w * W_TEMPO * prof.tempo_cost[phase],
        w * W_BEATLESS * prof.beat_cost[phase],
        w * W_VARIETY * prof.variety,
        W_TRIM * trim,
        W_RECENT if prof.recent else 0.0,
    )


def unary(target: Target, prof: Profile, phase: int, start: float, source_in: float, out: float) -> float:
    return sum(unary_terms(target, prof, phase, start, source_in, out))


def pair_terms(a: Profile, b: Profile, transition: str) -> tuple[float, float, float]:
    """(tempo and energy step, stretch, same artist) for ``a`` followed by ``b``."""
    step = W_STEP_ENERGY * (a.energy - b.energy) ** 2
    stretch = 0.0
    if transition == "crossfade":
        stretch = W_STRETCH * transition_ratio(a.bpm, b.bpm).cost
    if a.bpm is not None and b.bpm is not None:
        d = abs(math.log2(b.bpm / a.bpm))
        d = abs(d - round(d))
        conf = min(a.confidence, b.confidence)
        c = conf * min((d / STEP_SCALE) ** 2, 4.0) + (1.0 - conf) * 0.5
        step += W_STEP_TEMPO * c * (1.0 if transition == "crossfade" else 0.3)
    artist = W_ARTIST if a.artist and a.artist == b.artist else 0.0
    return step, stretch, artist


def pair(a: Profile, b: Profile, transition: str) -> float:
    return sum(pair_terms(a, b, transition))


def alignment(target: Target, phase: int, start: float) -> float:
    d = (start - target.starts[phase]) / target.total
    return W_ALIGN * d * d


def length_cost(target: Target, end: float) -> float:
    return W_LENGTH * abs(end - target.total) / target.total


def unit_cost(table: TrackTable, p: int) -> np.ndarray:
    """Per-second cost of every track in phase ``p``, energy aside."""
    return (
        W_TEMPO * table.tempo_cost[p]
        + W_BEATLESS * table.beat_cost[p]
        + W_VARIETY * table.variety
        + 0.1 * W_RECENT * table.recent
    )


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
            step, stretch, artist = pair_terms(previous, prof, entry.transition)
            terms["steps"] += step
            terms["stretch"] += stretch
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
