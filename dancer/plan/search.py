"""The search behind `dancer.plan.planner`: the problem as numbers, the placement rules, and the optimiser.

Internal to `dancer.plan.planner` (which states the objective and holds the public API).

The tracks are a `dancer.plan.tracks.TrackTable`; the target and the cost terms are
`dancer.plan.objective`'s, so the search and the reported objective are the same numbers.
- `Planner.advance`: one step along the timeline, placing a track after the open entry (full,
  trimmed to its phase's end, or last) by the placement rules: crossfades start on the outgoing
  track's phrase boundary and land the incoming phrase on it; fades and gaps as the phase says.
- `Planner.beam`, `Planner.improve`, `Planner.exact`: beam search, local search, branch and bound.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

import numpy as np

from dancer.model import PlanEntry
from dancer.plan.arcs import Phase
from dancer.plan.objective import (
    STEP_SCALE,
    W_BEATLESS,
    W_MISSING,
    W_STEP_TEMPO,
    W_TEMPO,
    Target,
    alignment,
    length_cost,
    pair,
    unary,
    unit_cost,
)
from dancer.plan.states import FULL, LAST, TRIM, Closed, Open, State, cut_at, micro
from dancer.plan.tracks import MIN_PLAY_SECONDS, Profile, TrackTable

LENGTH_TOLERANCE = 5.0
FIRST_FADE = 4.0
FINAL_FADE = 10.0
FINAL_FADE_RANGE = (8.0, 14.0)
TRIM_FADE = 3.0
NATURAL_END_FADE = 1.0
GAP_FADE_IN = 0.5
TRIM_SLACK = 45.0  # a trim must take at least this much off a track
TRIM_OVERLAP = 8.0
BEAM_WIDTH = 48
BEAM_WORK = 40000  # advances the beam may spend; narrow libraries get a wider beam for it
CANDIDATES = 16
POOL_PER_POINT = 16
LOCAL_SEARCH_EVALUATIONS = 1500
KEEP_COMPLETE = 3

class Planner:
    """One planning problem: a library, an arc laid on a length, and the search over it."""

    def __init__(self, library: TrackTable, target: Target):
        self.lib = library
        self.target = target
        self.total = target.total
        self.phases = target.phases
        self.n_phases = len(self.phases)
        index = np.arange(len(library))
        self.index = index
        self._unit = [unit_cost(library, p) for p in range(self.n_phases)]
        self.pools = [self._pool(p) for p in range(self.n_phases)]
        pooled = sorted(set(np.concatenate(self.pools).tolist())) if len(index) else []
        lengths = [self.lib.profile(i).min_length for i in pooled]
        self.min_tail = min(lengths) if lengths else MIN_PLAY_SECONDS
        self.rest = self._cost_to_go(pooled)
        self._pool_cache: dict[tuple[int, ...], np.ndarray] = {}

    # -- candidates ------------------------------------------------------------------------

    def _pool(self, p: int) -> np.ndarray:
        """Tracks worth trying in phase ``p``: the best few for its start, middle and end energy."""
        index = self.index
        if len(index) <= 3 * POOL_PER_POINT:
            return index
        base = self._unit[p][index]
        energy = self.lib.energy[index]
        phase = self.phases[p]
        chosen = set()
        for frac in (0.0, 0.5, 1.0):
            score = (energy - phase.energy_at(frac)) ** 2 + base
            chosen.update(index[np.argpartition(score, POOL_PER_POINT)[:POOL_PER_POINT]].tolist())
        return np.array(sorted(chosen), int)

    def _cost_to_go(self, pooled: list[int]) -> list[float]:
        """Per 10 s of timeline, the cheapest any pooled track could be there; summed to the end."""
        step = 10.0
        n = int(math.ceil(self.total / step)) + 1
        if not pooled:
            return [0.0] * (n + 1)
        idx = np.array(pooled)
        energy = self.lib.energy[idx]
        best = np.zeros(n)
        for k in range(n):
            t = k * step + step / 2
            p = self.target.phase_at(t)
            unit = W_TEMPO * self.lib.tempo_cost[p, idx] + W_BEATLESS * self.lib.beat_cost[p, idx]
            best[k] = np.min((energy - self.target.energy_at(t)) ** 2 + unit) * step / self.total
        return np.concatenate([np.cumsum(best[::-1])[::-1], [0.0]]).tolist()

    def _rest_from(self, t: float) -> float:
        k = int(min(max(t, 0.0), self.total) / 10.0)
        return self.rest[min(k, len(self.rest) - 1)]

    def candidates(self, state: State, limit: int = CANDIDATES, after: Profile | None = None) -> list[int]:
        """The tracks most worth placing next, by a quick score: energy against the target a couple of
        minutes ahead, the phase's tempo and beat preferences, the tempo step from the open entry
        (and into ``after``, when filling a slot before it)."""
        op = state.open
        tau = self._tau(state)
        key = tuple(sorted({self.target.phase_at(tau + d) for d in (60.0, 180.0)}))
        if self.total - tau < 600.0:
            key = tuple(sorted(set(key) | {self.n_phases - 1}))
        pool = self._pool_cache.get(key)
        if pool is None:
            pool = np.array(sorted(set(np.concatenate([self.pools[p] for p in key]).tolist())), int)
            self._pool_cache[key] = pool
        if len(pool) == 0:
            return []
        mid = min(tau + 120.0, self.total - 1.0)
        score = (self.lib.energy[pool] - self.target.energy_at(mid)) ** 2 + self._unit[key[0]][pool]
        for neighbour in (op.prof if op is not None else None, after):
            if neighbour is not None and neighbour.bpm is not None:
                with np.errstate(invalid="ignore", divide="ignore"):
                    d = np.abs(np.log2(self.lib.bpm[pool] / neighbour.bpm))
                d = np.nan_to_num(np.abs(d - np.round(d)), nan=0.0)
                score = score + W_STEP_TEMPO * np.minimum((d / STEP_SCALE) ** 2, 4.0)
        used = state.used
        artists = {
            p.artist for p in (op.prof if op is not None else None, after) if p is not None and p.artist
        }
        out, same_artist = [], []
        for k in np.argsort(score, kind="stable"):
            i = int(pool[k])
            if i in used:
                continue
            if artists and self.lib.artist(i) in artists:
                if len(same_artist) < limit:
                    same_artist.append(i)
                continue
            out.append(i)
            if len(out) >= limit:
                break
        return (out + same_artist)[:limit]

    # -- one step --------------------------------------------------------------------------

    def root(self, time: float = 0.0) -> State:
        return State(cost=0.0, rank=self._rest_from(time), open=None, used=frozenset(),
                      closed=(), choices=(), time=time)  # fmt: skip

    @staticmethod
    def _tau(state: State) -> float:
        """Where the next entry would start if the open one played to its planned end."""
        op = state.open
        if op is None:
            return state.time
        if op.frozen is not None:
            return op.start + (op.frozen[0] - op.source_in)
        return op.nominal_end

    def options(self, state: State, prof: Profile) -> list[int]:
        """The options `advance` might accept for ``prof`` (a quick, loose filter; it decides)."""
        tau = self._tau(state)
        remaining = self.total - tau
        margin = 60.0
        options = []
        if remaining - prof.length > self.min_tail - 30.0 - margin:
            options.append(FULL)
        trim_end = self._trim_end(tau, prof)
        if trim_end is not None and trim_end - tau + TRIM_OVERLAP <= prof.length - TRIM_SLACK + margin:
            options.append(TRIM)
        if prof.min_length - margin <= remaining <= prof.length + LENGTH_TOLERANCE + margin:
            options.append(LAST)
        return options

    def _trim_end(self, tau: float, prof: Profile) -> float | None:
        """The first phase end a track starting at ``tau`` can be trimmed to, keeping its minimum."""
        for end in self.target.ends:
            if end - tau + TRIM_OVERLAP >= prof.min_length:
                return end
        return None

    def advance(self, state: State, prof: Profile, option: int) -> State | None:
        """Place ``prof`` after ``state`` (full, trimmed to its phase's end, or last); None if it cannot."""
        target = self.target
        op = state.open
        tau = self._tau(state)
        if option == FULL:
            phase = target.phase_at(tau + prof.length / 2)
        elif option == TRIM:
            trim_end = self._trim_end(tau, prof)
            if trim_end is None:
                return None
            phase = target.phase_at((tau + trim_end) / 2)
        else:
            phase = target.phase_at(tau + (self.total - tau) / 2)
        if op is not None:
            phase = max(phase, op.phase)
        ph = self.phases[phase]
        cost = state.cost
        closed = state.closed
        if op is None:
            transition, start, fade_in = "start", micro(state.time), FIRST_FADE
            cost += W_MISSING * phase
        else:
            transition = ph.transition
            if transition == "crossfade" and not (op.prof.matched and prof.matched):
                transition = "fade"
            tail = self._tail(op, transition, ph)
            if tail is None:
                return None
            out, fade_out, start, fade_in = tail
            cost += unary(target, op.prof, op.phase, op.start, op.source_in, out)
            cost += pair(op.prof, prof, transition)
            if phase > op.phase:
                cost += W_MISSING * (phase - op.phase - 1) + alignment(target, phase, start)
            closed = closed + (
                (op.prof, op.phase, op.start, op.source_in, out, op.fade_in, fade_out, op.transition),
            )
        source_in = prof.cue_in
        used = state.used | {prof.index}
        choices = state.choices + ((prof.index, option),)
        if option == LAST:
            play = self.total - start
            if play < prof.min_length - 1e-6 or play > prof.length + LENGTH_TOLERANCE:
                return None
            out = min(prof.cue_out, source_in + play)
            fade_out = self._final_fade(prof, source_in, out)
            if fade_in + fade_out > out - source_in:
                return None
            cost += unary(target, prof, phase, start, source_in, out)
            cost += W_MISSING * (self.n_phases - 1 - phase)
            cost += length_cost(target, start + (out - source_in))
            closed = closed + ((prof, phase, start, source_in, out, fade_in, fade_out, transition),)
            return State(cost, cost, None, used, closed, choices, self.total, True)
        if option == FULL:
            out_max = prof.cue_out
        else:
            trimmed = trim_end - start + TRIM_OVERLAP
            if not prof.min_length <= trimmed <= prof.length - TRIM_SLACK:
                return None
            out_max = source_in + trimmed
        nxt = Open(prof, phase, start, source_in, fade_in, transition, out_max, min_cut=source_in + fade_in)
        end = nxt.nominal_end
        if self.total - end < self.min_tail - 30.0:
            return None
        rank = cost + unary(target, prof, phase, start, source_in, out_max) + self._rest_from(end)
        rank += self._tempo_debt(prof, phase, end)
        return State(cost, rank, nxt, used, closed, choices, end, False)

    def _tempo_debt(self, prof: Profile, phase: int, end: float) -> float:
        """Least tempo-step cost still owed to reach the next phase's tempo range from ``prof``,
        spread evenly over the transitions left before it (a track every four minutes or so)."""
        if prof.bpm is None or phase + 1 >= self.n_phases:
            return 0.0
        tempo = self.phases[phase + 1].tempo
        if tempo is None:
            return 0.0
        x = math.log2(prof.bpm)
        lo, hi = math.log2(tempo[0]), math.log2(tempo[1])
        d = min(max(lo - (x + k), (x + k) - hi, 0.0) for k in (-1.0, 0.0, 1.0))
        if d == 0.0:
            return 0.0
        steps = max(1.0, (self.target.starts[phase + 1] - end) / 240.0 + 1.0)
        return W_STEP_TEMPO * min((d / steps / STEP_SCALE) ** 2, 4.0) * steps

    def _tail(self, op: Open, transition: str, ph: Phase) -> tuple[float, float, float, float] | None:
        """How the open entry ends for the next one: (source_out, fade_out, next start, next fade_in)."""
        if op.frozen is not None:
            out, fade_out = op.frozen
            if transition == "gap":
                return out, fade_out, micro(op.start + (out - op.source_in) + ph.gap_seconds), GAP_FADE_IN
            return out, fade_out, micro(op.start + (out - op.source_in) - fade_out), fade_out
        prof = op.prof
        if transition == "gap":
            if op.out_max >= prof.cue_out - 1e-9:
                out, fade_out = prof.cue_out, NATURAL_END_FADE
            else:
                cut = cut_at(prof.grid, op.out_max - TRIM_FADE, op.min_cut)
                if cut is None:
                    return None
                out, fade_out = cut + TRIM_FADE, TRIM_FADE
            if out - fade_out < op.min_cut:
                return None
            return out, fade_out, micro(op.start + (out - op.source_in) + ph.gap_seconds), GAP_FADE_IN
        if transition == "crossfade":
            overlap = micro(ph.transition_beats * prof.period)
        else:
            overlap = ph.fade_seconds
        cut = cut_at(prof.grid, op.out_max - overlap, max(op.min_cut, op.source_in + op.fade_in))
        if cut is None:
            return None
        return cut + overlap, overlap, micro(op.start + (cut - op.source_in)), overlap

    def _final_fade(self, prof: Profile, source_in: float, out: float) -> float:
        """The session's last fade-out: about 10 s, starting on a phrase boundary when one is near."""
        lo, hi = FINAL_FADE_RANGE
        fade = FINAL_FADE
        if prof.grid:
            k = bisect.bisect_left(prof.grid, out - FINAL_FADE)
            best = None
            for g in prof.grid[max(k - 2, 0) : k + 2]:
                if lo <= out - g <= hi and (
                    best is None or abs(out - g - FINAL_FADE) < abs(out - best - FINAL_FADE)
                ):
                    best = g
            if best is not None:
                fade = out - best
        return micro(min(fade, (out - source_in) / 2))

    def finish_open(self, state: State, *, allow_short: bool = False) -> State | None:
        """End the session with the open entry: stretched or trimmed to the end, with the final fade."""
        op = state.open
        if op is None:
            return None
        prof = op.prof
        if op.frozen is not None:
            out = op.frozen[0]
        else:
            out = min(prof.cue_out, op.source_in + (self.total - op.start))
        end = op.start + (out - op.source_in)
        if not allow_short and abs(end - self.total) > LENGTH_TOLERANCE:
            return None
        if out < op.min_cut:
            return None
        fade_out = op.frozen[1] if op.frozen is not None else self._final_fade(prof, op.source_in, out)
        cost = state.cost + unary(self.target, prof, op.phase, op.start, op.source_in, out)
        cost += W_MISSING * (self.n_phases - 1 - op.phase)
        cost += length_cost(self.target, end)
        closed = state.closed + (
            (prof, op.phase, op.start, op.source_in, out, op.fade_in, fade_out, op.transition),
        )
        return State(cost, cost, None, state.used, closed, state.choices, self.total, True)

    def only_track(self, root: State) -> State | None:
        """A session too short for any track's sensible minimum: the best track, cut to fit."""
        for i in self.candidates(root, limit=1):
            prof = self.lib.profile(i)
            play = min(prof.length, self.total - root.time)
            fade_in = min(FIRST_FADE, play / 4)
            op = Open(prof, 0, micro(root.time), prof.cue_in, fade_in, "start", prof.cue_in + play,
                      prof.cue_in)
            return self.finish_open(
                State(0.0, 0.0, op, frozenset({i}), (), ((i, LAST),), root.time), allow_short=True
            )
        return None

    # -- search ----------------------------------------------------------------------------

    def beam(self, roots: Sequence[State], width: int | None = None) -> tuple[list[State], State | None]:
        """Beam search from ``roots``: the best few complete states (best first), and the longest
        incomplete one (for libraries too short to finish)."""
        if width is None:
            depth = self.total / 240.0 + 1.0
            branching = 2.0 * max(1, min(CANDIDATES, len(self.index)))
            width = int(min(max(BEAM_WORK / (depth * branching), BEAM_WIDTH), 1024))
        beam = list(roots)
        best: State | None = None
        longest: State | None = None
        complete: dict[tuple[int, ...], State] = {}
        for root in roots:
            if root.open is not None:
                done = self.finish_open(root)
                if done is not None:
                    complete[tuple(done.choices)] = done
                    if best is None or done.cost < best.cost:
                        best = done
        while beam:
            children: dict[tuple[frozenset[int], int, float], State] = {}
            for state in beam:
                if state.open is not None and (longest is None or state.time > longest.time):
                    longest = state
                for i in self.candidates(state):
                    prof = self.lib.profile(i)
                    for option in self.options(state, prof):
                        child = self.advance(state, prof, option)
                        if child is None:
                            continue
                        if child.done:
                            complete[child.choices] = child
                            if best is None or child.cost < best.cost:
                                best = child
                            continue
                        key = (child.used, i, round(child.time, 3))
                        other = children.get(key)
                        if other is None or child.rank < other.rank:
                            children[key] = child
            ranked = sorted(children.values(), key=lambda s: s.rank)
            if best is not None:
                ranked = [s for s in ranked if s.cost < best.cost]
            beam = ranked[:width]
        return sorted(complete.values(), key=lambda s: s.cost)[:KEEP_COMPLETE], longest

    def replay(self, root: State, choices: Sequence[tuple[int, int]]) -> State | None:
        """The complete state ``choices`` lead to from ``root``, or None if they do not make a plan."""
        state = root
        for i, option in choices:
            if i in state.used:
                return None
            state = self.advance(state, self.lib.profile(i), option)
            if state is None:
                return None
        return state if state.done else None

    def improve(self, root: State, starts: Sequence[State], budget: int | None = None) -> State:
        """Local search from each of ``starts`` (complete states), sharing ``budget`` evaluations."""
        budget = LOCAL_SEARCH_EVALUATIONS if budget is None else budget
        best = min(starts, key=lambda s: s.cost)
        for start in starts:
            found = self._descend(root, start, budget // len(starts)) if budget else start
            if found.cost < best.cost:
                best = found
        return best

    def _descend(self, root: State, best: State, budget: int) -> State:
        """First-improvement descent over the choice sequence. Moves are grouped by the first
        position they change and replayed exactly from there; after an improvement the next pass
        resumes at that position, so every position gets its turn within the budget."""
        prefix = len(root.choices)
        evaluations = 0
        resume = 0
        while evaluations < budget:
            seq = best.choices[prefix:]
            n = len(seq)
            states = [root]
            for i, option in seq[:-1]:
                states.append(self.advance(states[-1], self.lib.profile(i), option))
                if states[-1] is None:
                    return best
            better = None
            for step in range(n):
                k = (resume + step) % n
                for suffix in self._moves(seq, states, k):
                    evaluations += 1
                    state = self.replay(states[k], suffix)
                    if state is not None and state.cost < best.cost - 1e-12:
                        better = state
                        break
                    if evaluations >= budget:
                        break
                if better is not None or evaluations >= budget:
                    resume = k
                    break
            if better is None:
                break
            best = better
        return best

    def _moves(
        self, seq: tuple[tuple[int, int], ...], states: list[State], k: int
    ) -> Iterable[list[tuple[int, int]]]:
        """Neighbours of ``seq`` that first differ at position ``k``, as their suffixes from ``k``."""
        n = len(seq)
        last = k == n - 1

        def placed(i: int, at: int) -> tuple[int, int]:
            return (i, LAST) if at == n - 1 else (i, seq[at][1] if seq[at][1] != LAST else FULL)

        if not last:
            option = seq[k][1]
            yield [(seq[k][0], TRIM if option == FULL else FULL), *seq[k + 1 :]]
        for other in range(k + 1, n):
            swapped = list(seq[k:])
            swapped[0], swapped[other - k] = placed(seq[other][0], k), placed(seq[k][0], other)
            yield swapped
        after = self.lib.profile(seq[k + 1][0]) if not last else None
        for i in self.candidates(states[k], limit=8, after=after):
            for option in (LAST,) if last else (FULL, TRIM):
                yield [(i, option), *seq[k + 1 :]]
        if not last:
            shorter = list(seq[k + 1 :])
            shorter[-1] = (shorter[-1][0], LAST)
            yield shorter
        if k == n - 2:
            yield [(seq[k][0], LAST)]
        if k >= 1:
            for i in self.candidates(states[k], limit=4, after=self.lib.profile(seq[k][0])):
                for option in (FULL, TRIM):
                    yield [(i, option), *seq[k:]]

    def exact(self, root: State) -> State | None:
        """Branch and bound over every track and option: the true optimum (exponential)."""
        best: list[State | None] = [None]
        profiles = [self.lib.profile(int(i)) for i in self.index]

        def visit(state: State) -> None:
            children = []
            for prof in profiles:
                if prof.index in state.used:
                    continue
                for option in self.options(state, prof):
                    child = self.advance(state, prof, option)
                    if child is not None:
                        children.append(child)
            children.sort(key=lambda s: s.rank)
            for child in children:
                if best[0] is not None and child.cost >= best[0].cost:
                    continue
                if child.done:
                    best[0] = child
                else:
                    visit(child)

        visit(root)
        return best[0]


def replan_roots(
    planner: Planner, kept: Sequence[PlanEntry], index: dict[str, int], from_time: float
) -> list[State]:
    """Search roots for a re-plan: the kept entries closed as they were, the last one open (to its
    natural end, or cut at the next phrase boundary after ``from_time``) or frozen when fading out."""
    names = [p.name for p in planner.phases]
    target = planner.target
    cost = 0.0
    closed: list[Closed] = []
    profiles = [planner.lib.profile(index[e.track.path]) for e in kept]
    phases = []
    for e in kept:
        phase = names.index(e.phase) if e.phase in names else (phases[-1] if phases else 0)
        phases.append(max(phase, phases[-1]) if phases else phase)
    for k, e in enumerate(kept[:-1]):
        prof = profiles[k]
        cost += unary(target, prof, phases[k], e.start, e.source_in, e.source_out)
        cost += pair(prof, profiles[k + 1], kept[k + 1].transition)
        if phases[k + 1] > phases[k]:
            cost += alignment(target, phases[k + 1], kept[k + 1].start)
        closed.append(
            (prof, phases[k], e.start, e.source_in, e.source_out, e.fade_in, e.fade_out, e.transition)
        )
    last, prof = kept[-1], profiles[-1]
    used = frozenset(index[e.track.path] for e in kept)
    choices = tuple((index[e.track.path], FULL) for e in kept)
    min_cut = last.source_in + (from_time - last.start)
    opens = []
    if last.end - last.fade_out <= from_time:
        opens.append(Open(prof, phases[-1], last.start, last.source_in, last.fade_in, last.transition,
                           last.source_out, min_cut, (last.source_out, last.fade_out)))  # fmt: skip
    else:
        opens.append(Open(prof, phases[-1], last.start, last.source_in, last.fade_in, last.transition,
                           prof.cue_out, min_cut))  # fmt: skip
        soon = cut_at(prof.grid, min_cut + 60.0, min_cut) if prof.grid else min_cut + 30.0
        if soon is not None and soon + 16.0 < prof.cue_out:
            opens.append(Open(prof, phases[-1], last.start, last.source_in, last.fade_in, last.transition,
                               soon + 16.0, min_cut))  # fmt: skip
    roots = []
    for op in opens:
        end = op.start + ((op.frozen[0] if op.frozen else op.out_max) - op.source_in)
        rank = (
            cost + unary(target, prof, op.phase, op.start, op.source_in, op.out_max) + planner._rest_from(end)
        )
        roots.append(State(cost, rank, op, used, tuple(closed), choices, end, False))
    return roots
