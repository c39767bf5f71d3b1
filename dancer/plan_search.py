"""The search behind `dancer.plan`: the problem as numbers, the placement rules, and the optimiser.

Internal to `dancer.plan` (which states the objective and holds the public API).

- `TrackTable`: numeric columns of the usable tracks (energy, tempo, per-phase tempo and beat costs,
  the seed's variety hash), with a `Profile` per track built on demand (natural in point, cut grid,
  minimum play length).
- `Target`: the arc laid on the session length, with the energy target's running integral.
- the cost terms (`unary_terms`, `pair_terms`, `alignment`, `length_cost`), shared with
  `dancer.plan.plan_objective` so the search and the reported objective are the same numbers.
- `Planner.advance`: one step along the timeline, placing a track after the open entry (full,
  trimmed to its phase's end, or last) by the placement rules: crossfades start on the outgoing
  track's phrase boundary and land the incoming phrase on it; fades and gaps as the phase says.
- `Planner.beam`, `Planner.improve`, `Planner.exact`: beam search, local search, branch and bound.
"""

from __future__ import annotations

import bisect
import math
import os
import zlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dancer.arcs import Arc, Phase
from dancer.model import PlanEntry, Track

W_TEMPO = 0.05
W_BEATLESS = 0.1
W_VARIETY = 0.02
W_TRIM = 0.01
W_RECENT = 0.02
W_STEP_TEMPO = 0.004
W_STEP_ENERGY = 0.02
W_ARTIST = 1.0
W_ALIGN = 2.0
W_MISSING = 0.2
W_LENGTH = 10.0

TEMPO_SCALE = 0.15  # octaves outside a phase's range that cost as much as its whole tempo weight
STEP_SCALE = 0.08  # octaves of tempo step (~5.7%) between neighbours that cost one W_STEP_TEMPO
MIN_TRACK_SECONDS = 30.0
MIN_PLAY_SECONDS = 90.0
MIN_PLAY_FRACTION = 0.4
MAX_MIN_PLAY_SECONDS = 180.0
LENGTH_TOLERANCE = 5.0
FIRST_FADE = 4.0
FINAL_FADE = 10.0
FINAL_FADE_RANGE = (8.0, 14.0)
TRIM_FADE = 3.0
NATURAL_END_FADE = 1.0
GAP_FADE_IN = 0.5
TRIM_ALLOWANCE = 20.0  # seconds lost at a natural end to phrase alignment; not counted as trimming
TRIM_SLACK = 45.0  # a trim must take at least this much off a track
TRIM_OVERLAP = 8.0

BEAM_WIDTH = 48
BEAM_WORK = 40000  # advances the beam may spend; narrow libraries get a wider beam for it
CANDIDATES = 16
POOL_PER_POINT = 16
LOCAL_SEARCH_EVALUATIONS = 1500
KEEP_COMPLETE = 3

FULL, TRIM, LAST = 0, 1, 2  # how a track is placed: whole, trimmed to a phase's end, last


# ---------------------------------------------------------------------------------------------
# Tracks as the planner sees them


@dataclass(slots=True)
class Profile:
    """One track as the planner uses it: where it may start (``cue_in``, its first phrase boundary)
    and be cut (``grid``), how long it plays whole and at least, and its per-phase costs."""

    index: int
    track: Track
    energy: float
    bpm: float | None
    confidence: float
    period: float
    cue_in: float
    cue_out: float
    length: float
    min_length: float
    grid: tuple[float, ...]
    matched: bool
    beatless: bool
    artist: str
    variety: float
    recent: bool
    tempo_cost: tuple[float, ...]
    beat_cost: tuple[float, ...]


def natural_in(analysis) -> tuple[float, tuple[float, ...]]:
    """First phrase boundary (else downbeat, else beat) at or after cue-in, and the cut grid after it."""
    for grid in (analysis.phrases, analysis.downbeats, analysis.beats):
        if grid:
            k = bisect.bisect_left(grid, analysis.cue_in - 1e-6)
            if k < len(grid) and grid[k] < analysis.cue_out - MIN_TRACK_SECONDS:
                first = grid[k]
                end = bisect.bisect_right(grid, analysis.cue_out)
                return first, tuple(grid[k + 1 : end])
    return analysis.cue_in, ()


def min_play(length: float) -> float:
    """The shortest a track of ``length`` seconds is ever cut to: 40% of it, within 90 s..3 min."""
    return min(length, max(MIN_PLAY_SECONDS, min(MIN_PLAY_FRACTION * length, MAX_MIN_PLAY_SECONDS)))


def usable(track: Track, min_confidence: float) -> bool:
    if not track.ok:
        return False
    a = track.analysis
    if a.cue_out - a.cue_in < MIN_TRACK_SECONDS:
        return False
    if a.bpm is not None and not a.beatless and a.bpm_confidence < min_confidence:
        return False
    return True


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _variety(ids: np.ndarray, seed: int) -> np.ndarray:
    """A seed's taste for each track: uniform in [0, 1), independent across seeds (splitmix64)."""
    salt = _splitmix(np.array([seed & 0xFFFFFFFFFFFFFFFF], np.uint64))[0]
    with np.errstate(over="ignore"):
        return (_splitmix(ids ^ salt) >> np.uint64(11)).astype(float) / 2.0**53


class TrackTable:
    """Numeric columns of the usable tracks, and their profiles built on demand."""

    def __init__(self, tracks: Sequence[Track], phases: Sequence[Phase], seed: int, avoid: Collection[str]):
        self.tracks = list(tracks)
        self.phases = list(phases)
        n = len(self.tracks)
        avoid = set(avoid)
        energy = np.fromiter((t.analysis.energy for t in self.tracks), float, n)
        self.energy = np.clip(np.nan_to_num(energy, nan=0.5), 0.0, 1.0)
        bpm = np.fromiter(
            (t.analysis.bpm if t.analysis.bpm and not t.analysis.beatless else np.nan for t in self.tracks),
            float,
            n,
        )
        self.bpm = bpm
        self.beatless = np.isnan(bpm)
        self.confidence = np.clip(
            np.fromiter((t.analysis.bpm_confidence for t in self.tracks), float, n), 0, 1
        )
        ids = np.fromiter((zlib.crc32(os.fsencode(t.path)) for t in self.tracks), np.uint64, n)
        self.variety = _variety(ids, seed)
        self.recent = np.fromiter((t.path in avoid for t in self.tracks), bool, n)
        self.tempo_cost = np.zeros((len(self.phases), n))
        self.tempo_distance = np.zeros((len(self.phases), n))
        self.beat_cost = np.zeros((len(self.phases), n))
        with np.errstate(invalid="ignore", divide="ignore"):
            octave = np.log2(bpm)
        for p, phase in enumerate(self.phases):
            if phase.tempo is not None:
                lo, hi = math.log2(phase.tempo[0]), math.log2(phase.tempo[1])
                dist = np.full(n, np.inf)
                for shift in (-1.0, 0.0, 1.0):
                    x = octave + shift
                    dist = np.minimum(dist, np.maximum(np.maximum(lo - x, x - hi), 0.0))
                self.tempo_distance[p] = dist
                cost = np.minimum((dist / TEMPO_SCALE) ** 2, 4.0)
                cost = self.confidence * cost + (1.0 - self.confidence) * 0.5
                self.tempo_cost[p] = np.where(self.beatless, 0.0, cost)
            if phase.beatless == "no":
                self.beat_cost[p] = self.beatless * 1.0
            elif phase.beatless == "preferred":
                self.beat_cost[p] = (~self.beatless) * 0.4
        self._profiles: dict[int, Profile] = {}

    def __len__(self) -> int:
        return len(self.tracks)

    def profile(self, i: int) -> Profile:
        prof = self._profiles.get(i)
        if prof is None:
            track = self.tracks[i]
            a = track.analysis
            beatless = bool(self.beatless[i])
            if beatless:
                cue_in, grid = a.cue_in, ()
            else:
                cue_in, grid = natural_in(a)
            length = a.cue_out - cue_in
            prof = Profile(
                index=i,
                track=track,
                energy=float(self.energy[i]),
                bpm=None if beatless else float(self.bpm[i]),
                confidence=float(self.confidence[i]),
                period=0.0 if beatless else 60.0 / float(self.bpm[i]),
                cue_in=cue_in,
                cue_out=a.cue_out,
                length=length,
                min_length=min_play(length),
                grid=grid,
                matched=not beatless and bool(grid),
                beatless=beatless,
                artist=track.tags.artist.strip().casefold(),
                variety=float(self.variety[i]),
                recent=bool(self.recent[i]),
                tempo_cost=tuple(float(c) for c in self.tempo_cost[:, i]),
                beat_cost=tuple(float(c) for c in self.beat_cost[:, i]),
            )
            self._profiles[i] = prof
        return prof

    def artist(self, i: int) -> str:
        return self.tracks[i].tags.artist.strip().casefold()

    def unit_cost(self, p: int) -> np.ndarray:
        """Per-second cost of every track in phase ``p``, energy aside."""
        return (
            W_TEMPO * self.tempo_cost[p]
            + W_BEATLESS * self.beat_cost[p]
            + W_VARIETY * self.variety
            + 0.1 * W_RECENT * self.recent
        )


# ---------------------------------------------------------------------------------------------
# The target: nominal phase spans and the energy curve


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


# ---------------------------------------------------------------------------------------------
# Cost terms, shared by the search and `plan_objective` so both compute the same numbers


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


def pair_terms(a: Profile, b: Profile, transition: str) -> tuple[float, float]:
    step = W_STEP_ENERGY * (a.energy - b.energy) ** 2
    if a.bpm is not None and b.bpm is not None:
        d = abs(math.log2(b.bpm / a.bpm))
        d = abs(d - round(d))
        conf = min(a.confidence, b.confidence)
        c = conf * min((d / STEP_SCALE) ** 2, 4.0) + (1.0 - conf) * 0.5
        step += W_STEP_TEMPO * c * (1.0 if transition == "crossfade" else 0.3)
    artist = W_ARTIST if a.artist and a.artist == b.artist else 0.0
    return step, artist


def pair(a: Profile, b: Profile, transition: str) -> float:
    step, artist = pair_terms(a, b, transition)
    return step + artist


def alignment(target: Target, phase: int, start: float) -> float:
    d = (start - target.starts[phase]) / target.total
    return W_ALIGN * d * d


def length_cost(target: Target, end: float) -> float:
    return W_LENGTH * abs(end - target.total) / target.total


# ---------------------------------------------------------------------------------------------
# Search states and the placement rules (one step along the timeline)


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


def _cut(grid: tuple[float, ...], latest: float, earliest: float) -> float | None:
    """The last phrase boundary in ``[earliest, latest]``; any time when there is no grid."""
    if not grid:
        return latest if latest >= earliest else None
    k = bisect.bisect_right(grid, latest + 1e-9) - 1
    if k < 0 or grid[k] < earliest - 1e-9:
        return None
    return grid[k]


def _r(x: float) -> float:
    return round(x, 6)


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
        self._unit = [library.unit_cost(p) for p in range(self.n_phases)]
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
            transition, start, fade_in = "start", _r(state.time), FIRST_FADE
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
                return out, fade_out, _r(op.start + (out - op.source_in) + ph.gap_seconds), GAP_FADE_IN
            return out, fade_out, _r(op.start + (out - op.source_in) - fade_out), fade_out
        prof = op.prof
        if transition == "gap":
            if op.out_max >= prof.cue_out - 1e-9:
                out, fade_out = prof.cue_out, NATURAL_END_FADE
            else:
                cut = _cut(prof.grid, op.out_max - TRIM_FADE, op.min_cut)
                if cut is None:
                    return None
                out, fade_out = cut + TRIM_FADE, TRIM_FADE
            if out - fade_out < op.min_cut:
                return None
            return out, fade_out, _r(op.start + (out - op.source_in) + ph.gap_seconds), GAP_FADE_IN
        if transition == "crossfade":
            overlap = _r(ph.transition_beats * prof.period)
        else:
            overlap = ph.fade_seconds
        cut = _cut(prof.grid, op.out_max - overlap, max(op.min_cut, op.source_in + op.fade_in))
        if cut is None:
            return None
        return cut + overlap, overlap, _r(op.start + (cut - op.source_in)), overlap

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
        return _r(min(fade, (out - source_in) / 2))

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
            op = Open(prof, 0, _r(root.time), prof.cue_in, fade_in, "start", prof.cue_in + play, prof.cue_in)
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


def entries_of(state: State, phases: Sequence[Phase]) -> tuple[PlanEntry, ...]:
    """The closed entries of ``state`` as `PlanEntry` values, times rounded to the microsecond."""
    return tuple(
        PlanEntry(
            track=prof.track,
            phase=phases[phase].name,
            start=start,
            source_in=_r(source_in),
            source_out=_r(out),
            fade_in=_r(fade_in),
            fade_out=_r(fade_out),
            transition=transition,
        )
        for prof, phase, start, source_in, out, fade_in, fade_out, transition in state.closed
    )


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
        soon = _cut(prof.grid, min_cut + 60.0, min_cut) if prof.grid else min_cut + 30.0
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
