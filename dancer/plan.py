"""Choose and order tracks so a session fits an arc and a length, and place them on the timeline.

Public: `make_plan`, `replan_remaining`, `plan_objective`, `Objective`, `filter_tracks`,
`place_sequence`, `exact_plan`.

The objective (`plan_objective`, lower is better, every term >= 0) of a plan of length ``T``:

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

Hard constraints: no track twice, a trimmed track keeps at least ``MIN_PLAY_SECONDS`` (or 40% of its
length), cuts fall on phrase boundaries, the last entry ends within ``LENGTH_TOLERANCE`` of T.

The method: beam search along the timeline (each state: cost so far, the entry still open, tracks
used), children ranked by exact cost so far plus an estimate of the open entry plus a lower-bound-like
cost-to-go; candidate tracks come from per-phase pools chosen with numpy over the whole library. The
best complete plan is then improved by local search (replace, swap, trim toggle, insert, delete)
evaluated exactly. `exact_plan` is a branch-and-bound over the same moves, exponential, for checking
the planner on small libraries.
"""

from __future__ import annotations

import bisect
import fnmatch
import math
import os
import zlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from dancer.arcs import Arc, Phase
from dancer.model import Plan, PlanEntry, PhaseSpan, Track

W_TEMPO = 0.05
W_BEATLESS = 0.1
W_VARIETY = 0.01
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
LENGTH_TOLERANCE = 5.0
FIRST_FADE = 4.0
FINAL_FADE = 10.0
FINAL_FADE_RANGE = (8.0, 14.0)
TRIM_FADE = 3.0
NATURAL_END_FADE = 1.0
GAP_FADE_IN = 0.5
TRIM_ALLOWANCE = 20.0  # seconds lost at a natural end to phrase alignment; not counted as trimming
TRIM_SLACK = 45.0  # a track is offered trimmed when it would run this far past its phase's end
TRIM_OVERLAP = 8.0

BEAM_WIDTH = 48
CANDIDATES = 16
POOL_PER_POINT = 16
LOCAL_SEARCH_EVALUATIONS = 900
KEEP_COMPLETE = 3

_FULL, _TRIM, _LAST = 0, 1, 2


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


# ---------------------------------------------------------------------------------------------
# Tracks as the planner sees them


@dataclass(slots=True)
class _Profile:
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


def _natural_in(analysis) -> tuple[float, tuple[float, ...]]:
    """First phrase boundary (else downbeat, else beat) at or after cue-in, and the cut grid after it."""
    for grid in (analysis.phrases, analysis.downbeats, analysis.beats):
        if grid:
            k = bisect.bisect_left(grid, analysis.cue_in - 1e-6)
            if k < len(grid) and grid[k] < analysis.cue_out - MIN_TRACK_SECONDS:
                first = grid[k]
                end = bisect.bisect_right(grid, analysis.cue_out)
                return first, tuple(grid[k + 1 : end])
    return analysis.cue_in, ()


def _usable(track: Track, min_confidence: float) -> bool:
    if not track.ok:
        return False
    a = track.analysis
    if a.cue_out - a.cue_in < MIN_TRACK_SECONDS:
        return False
    if a.bpm is not None and not a.beatless and a.bpm_confidence < min_confidence:
        return False
    return True


class _Library:
    """Numeric columns of the usable tracks, and their profiles built on demand."""

    def __init__(self, tracks: Sequence[Track], phases: Sequence[Phase], seed: int, avoid: Collection[str]):
        self.tracks = list(tracks)
        self.phases = list(phases)
        n = len(self.tracks)
        avoid = set(avoid)
        self.energy = np.fromiter((t.analysis.energy for t in self.tracks), float, n)
        bpm = np.fromiter(
            (t.analysis.bpm if t.analysis.bpm and not t.analysis.beatless else np.nan for t in self.tracks), float, n
        )
        self.bpm = bpm
        self.beatless = np.isnan(bpm)
        self.confidence = np.clip(np.fromiter((t.analysis.bpm_confidence for t in self.tracks), float, n), 0, 1)
        self.variety = np.fromiter(
            (zlib.crc32(f"{seed}\0{t.path}".encode()) / 2**32 for t in self.tracks), float, n
        )
        self.recent = np.fromiter((t.path in avoid for t in self.tracks), bool, n)
        self.tempo_cost = np.zeros((len(self.phases), n))
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
                cost = np.minimum((dist / TEMPO_SCALE) ** 2, 4.0)
                cost = self.confidence * cost + (1.0 - self.confidence) * 0.5
                self.tempo_cost[p] = np.where(self.beatless, 0.0, cost)
            if phase.beatless == "no":
                self.beat_cost[p] = self.beatless * 1.0
            elif phase.beatless == "preferred":
                self.beat_cost[p] = (~self.beatless) * 0.4
        self._profiles: dict[int, _Profile] = {}

    def __len__(self) -> int:
        return len(self.tracks)

    def profile(self, i: int) -> _Profile:
        prof = self._profiles.get(i)
        if prof is None:
            track = self.tracks[i]
            a = track.analysis
            beatless = bool(self.beatless[i])
            if beatless:
                cue_in, grid = a.cue_in, ()
            else:
                cue_in, grid = _natural_in(a)
            length = a.cue_out - cue_in
            prof = _Profile(
                index=i,
                track=track,
                energy=float(self.energy[i]),
                bpm=None if beatless else float(self.bpm[i]),
                confidence=float(self.confidence[i]),
                period=0.0 if beatless else 60.0 / float(self.bpm[i]),
                cue_in=cue_in,
                cue_out=a.cue_out,
                length=length,
                min_length=min(length, max(MIN_PLAY_SECONDS, MIN_PLAY_FRACTION * length)),
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


class _Target:
    """The arc laid on ``minutes``: phase spans, and the energy target with a running integral."""

    def __init__(self, arc: Arc, minutes: float, *, shift: float = 0.0, shift_from: float = math.inf):
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


def _unary_terms(
    target: _Target, prof: _Profile, phase: int, start: float, source_in: float, source_out: float
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


def _unary(target: _Target, prof: _Profile, phase: int, start: float, source_in: float, out: float) -> float:
    return sum(_unary_terms(target, prof, phase, start, source_in, out))


def _pair_terms(a: _Profile, b: _Profile, transition: str) -> tuple[float, float]:
    step = W_STEP_ENERGY * (a.energy - b.energy) ** 2
    if a.bpm is not None and b.bpm is not None:
        d = abs(math.log2(b.bpm / a.bpm))
        d = abs(d - round(d))
        conf = min(a.confidence, b.confidence)
        c = conf * min((d / STEP_SCALE) ** 2, 4.0) + (1.0 - conf) * 0.5
        step += W_STEP_TEMPO * c * (1.0 if transition == "crossfade" else 0.3)
    artist = W_ARTIST if a.artist and a.artist == b.artist else 0.0
    return step, artist


def _pair(a: _Profile, b: _Profile, transition: str) -> float:
    step, artist = _pair_terms(a, b, transition)
    return step + artist


def _alignment(target: _Target, phase: int, start: float) -> float:
    d = (start - target.starts[phase]) / target.total
    return W_ALIGN * d * d


def _length_cost(target: _Target, end: float) -> float:
    return W_LENGTH * abs(end - target.total) / target.total


# ---------------------------------------------------------------------------------------------
# Search states and the placement rules (one step along the timeline)


@dataclass(slots=True)
class _Open:
    """The last placed entry, whose end waits for the next track's transition."""

    prof: _Profile
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
_Closed = tuple


@dataclass(slots=True)
class _State:
    cost: float
    rank: float
    open: _Open | None
    used: frozenset[int]
    closed: tuple[_Closed, ...]
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


class _Planner:
    """One planning problem: a library, an arc laid on a length, and the search over it."""

    def __init__(
        self,
        library: _Library,
        target: _Target,
        *,
        candidates: Sequence[int] | None = None,
    ):
        self.lib = library
        self.target = target
        self.total = target.total
        self.phases = target.phases
        self.n_phases = len(self.phases)
        index = np.arange(len(library)) if candidates is None else np.asarray(candidates, int)
        self.index = index
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
        base = self.lib.unit_cost(p)[index]
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

    def candidates(self, state: _State, limit: int = CANDIDATES) -> list[int]:
        """The tracks most worth placing next, by a quick score (energy at its middle, tempo, step)."""
        op = state.open
        tau = state.time if op is None else op.nominal_end
        if op is not None and op.frozen is not None:
            tau = op.start + (op.frozen[0] - op.source_in)
        key = tuple(sorted({self.target.phase_at(tau + d) for d in (60.0, 180.0)}))
        if self.total - tau < 600.0:
            key = tuple(sorted(set(key) | {self.n_phases - 1}))
        pool = self._pool_cache.get(key)
        if pool is None:
            pool = np.array(sorted(set(np.concatenate([self.pools[p] for p in key]).tolist())), int)
            self._pool_cache[key] = pool
        if len(pool) == 0:
            return []
        p = key[0]
        mid = min(tau + 120.0, self.total - 1.0)
        score = (self.lib.energy[pool] - self.target.energy_at(mid)) ** 2 + self.lib.unit_cost(p)[pool]
        if op is not None and op.prof.bpm is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                d = np.abs(np.log2(self.lib.bpm[pool] / op.prof.bpm))
            d = np.nan_to_num(np.abs(d - np.round(d)), nan=0.0)
            score = score + W_STEP_TEMPO * np.minimum((d / STEP_SCALE) ** 2, 4.0)
        used = state.used
        order = np.argsort(score, kind="stable")
        out = []
        artist = op.prof.artist if op is not None else ""
        for k in order:
            i = int(pool[k])
            if i in used:
                continue
            if artist and self.lib.tracks[i].tags.artist.strip().casefold() == artist:
                continue
            out.append(i)
            if len(out) >= limit:
                break
        return out

    # -- one step --------------------------------------------------------------------------

    def root(self, time: float = 0.0) -> _State:
        return _State(cost=0.0, rank=self._rest_from(time), open=None, used=frozenset(),
                      closed=(), choices=(), time=time)  # fmt: skip

    def options(self, state: _State, prof: _Profile) -> list[int]:
        """The options `advance` might accept for ``prof`` (a quick, loose filter; it decides)."""
        op = state.open
        tau = state.time if op is None else op.nominal_end
        remaining = self.total - tau
        margin = 60.0
        options = []
        if remaining - prof.length > self.min_tail - 30.0 - margin:
            options.append(_FULL)
        trimmed = self.target.ends[self.target.phase_at(tau)] - tau + TRIM_OVERLAP
        if prof.min_length - margin <= trimmed <= prof.length - TRIM_SLACK + margin:
            options.append(_TRIM)
        if prof.min_length - margin <= remaining <= prof.length + LENGTH_TOLERANCE + margin:
            options.append(_LAST)
        return options

    def advance(self, state: _State, prof: _Profile, option: int) -> _State | None:
        """Place ``prof`` after ``state`` (full, trimmed to its phase's end, or last); None if it cannot."""
        target = self.target
        op = state.open
        if op is None:
            tau = state.time
        elif op.frozen is not None:
            tau = op.start + (op.frozen[0] - op.source_in)
        else:
            tau = op.nominal_end
        if option == _FULL:
            phase = target.phase_at(tau + prof.length / 2)
        elif option == _TRIM:
            phase = target.phase_at(tau)
        else:
            phase = target.phase_at(tau + (self.total - tau) / 2)
        if op is not None:
            phase = max(phase, op.phase)
        ph = self.phases[phase]
        cost = state.cost
        closed = state.closed
        if op is None:
            transition, start, fade_in = "start", _r(state.time), FIRST_FADE
            for q in range(phase):
                cost += W_MISSING
        else:
            transition = ph.transition
            if transition == "crossfade" and not (op.prof.matched and prof.matched):
                transition = "fade"
            tail = self._tail(op, transition, ph)
            if tail is None:
                return None
            out, fade_out, start, fade_in = tail
            cost += _unary(target, op.prof, op.phase, op.start, op.source_in, out)
            cost += _pair(op.prof, prof, transition)
            for q in range(op.phase + 1, phase):
                cost += W_MISSING
            if phase > op.phase:
                cost += _alignment(target, phase, start)
            closed = closed + ((op.prof, op.phase, op.start, op.source_in, out, op.fade_in, fade_out, op.transition),)
        source_in = prof.cue_in
        used = state.used | {prof.index}
        choices = state.choices + ((prof.index, option),)
        if option == _LAST:
            play = self.total - start
            if play < prof.min_length - 1e-6 or play > prof.length + LENGTH_TOLERANCE:
                return None
            out = min(prof.cue_out, source_in + play)
            fade_out = self._final_fade(prof, source_in, out)
            if fade_in + fade_out > out - source_in:
                return None
            cost += _unary(target, prof, phase, start, source_in, out)
            cost += W_MISSING * (self.n_phases - 1 - phase)
            cost += _length_cost(target, start + (out - source_in))
            closed = closed + ((prof, phase, start, source_in, out, fade_in, fade_out, transition),)
            return _State(cost, cost, None, used, closed, choices, self.total, True)
        if option == _FULL:
            out_max = prof.cue_out
        else:
            trimmed = target.ends[phase] - start + TRIM_OVERLAP
            if not prof.min_length <= trimmed <= prof.length - TRIM_SLACK:
                return None
            out_max = source_in + trimmed
        nxt = _Open(prof, phase, start, source_in, fade_in, transition, out_max, min_cut=source_in + fade_in)
        end = nxt.nominal_end
        if self.total - end < self.min_tail - 30.0:
            return None
        rank = cost + _unary(target, prof, phase, start, source_in, out_max) + self._rest_from(end)
        return _State(cost, rank, nxt, used, closed, choices, end, False)

    def _tail(self, op: _Open, transition: str, ph: Phase) -> tuple[float, float, float, float] | None:
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

    def _final_fade(self, prof: _Profile, source_in: float, out: float) -> float:
        lo, hi = FINAL_FADE_RANGE
        fade = FINAL_FADE
        if prof.grid:
            k = bisect.bisect_left(prof.grid, out - FINAL_FADE)
            best = None
            for g in prof.grid[max(k - 2, 0) : k + 2]:
                if lo <= out - g <= hi and (best is None or abs(out - g - FINAL_FADE) < abs(out - best - FINAL_FADE)):
                    best = g
            if best is not None:
                fade = out - best
        return _r(min(fade, (out - source_in) / 2))

    def finish_open(self, state: _State, *, allow_short: bool = False) -> _State | None:
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
        cost = state.cost + _unary(self.target, prof, op.phase, op.start, op.source_in, out)
        cost += W_MISSING * (self.n_phases - 1 - op.phase)
        cost += _length_cost(self.target, end)
        closed = state.closed + ((prof, op.phase, op.start, op.source_in, out, op.fade_in, fade_out, op.transition),)
        return _State(cost, cost, None, state.used, closed, state.choices, self.total, True)

    # -- search ----------------------------------------------------------------------------

    def beam(self, roots: Sequence[_State], width: int | None = None) -> tuple[list[_State], _State | None]:
        """Beam search from ``roots``: the best few complete states (best first), and the longest
        incomplete one (for libraries too short to finish)."""
        width = width or BEAM_WIDTH
        beam = list(roots)
        best: _State | None = None
        longest: _State | None = None
        complete: dict[tuple[int, ...], _State] = {}
        for root in roots:
            if root.open is not None:
                done = self.finish_open(root)
                if done is not None:
                    complete[tuple(done.choices)] = done
                    if best is None or done.cost < best.cost:
                        best = done
        while beam:
            children: dict[tuple[frozenset[int], int, float], _State] = {}
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

    def replay(self, root: _State, choices: Sequence[tuple[int, int]]) -> _State | None:
        state = root
        for i, option in choices:
            if i in state.used:
                return None
            state = self.advance(state, self.lib.profile(i), option)
            if state is None:
                return None
        return state if state.done else None

    def improve(self, root: _State, starts: Sequence[_State], budget: int | None = None) -> _State:
        """Local search from each of ``starts`` (complete states), sharing ``budget`` evaluations."""
        budget = LOCAL_SEARCH_EVALUATIONS if budget is None else budget
        best = min(starts, key=lambda s: s.cost)
        for k, start in enumerate(starts):
            found = self._descend(root, start, budget // len(starts)) if budget else start
            if found.cost < best.cost:
                best = found
        return best

    def _descend(self, root: _State, best: _State, budget: int) -> _State:
        """First-improvement descent over the choice sequence; every move is replayed exactly from
        the first position it changes."""
        prefix = len(root.choices)
        evaluations = 0
        while evaluations < budget:
            seq = best.choices[prefix:]
            states = [root]
            for i, option in seq[:-1]:
                states.append(self.advance(states[-1], self.lib.profile(i), option))
            better = None
            for k, suffix in self._moves(seq, states):
                evaluations += 1
                state = self.replay(states[k], suffix)
                if state is not None and state.cost < best.cost - 1e-12:
                    better = state
                    break
                if evaluations >= budget:
                    break
            if better is None:
                break
            best = better
        return best

    def _moves(
        self, seq: tuple[tuple[int, int], ...], states: list[_State]
    ) -> Iterable[tuple[int, list[tuple[int, int]]]]:
        """Neighbouring sequences as (first changed position, new suffix from there)."""
        n = len(seq)

        def placed(i: int, k: int) -> tuple[int, int]:
            return (i, _LAST) if k == n - 1 else (i, seq[k][1] if seq[k][1] != _LAST else _FULL)

        for k in range(n - 1):
            option = seq[k][1]
            yield k, [(seq[k][0], _TRIM if option == _FULL else _FULL), *seq[k + 1 :]]
        for k in range(n - 1):
            for l in range(k + 1, min(n, k + 4)):
                swapped = list(seq)
                swapped[k], swapped[l] = placed(seq[l][0], k), placed(seq[k][0], l)
                yield k, swapped[k:]
        for k in range(n):
            options = (_LAST,) if k == n - 1 else (_FULL, _TRIM)
            for i in self.candidates(states[k], limit=8):
                for option in options:
                    yield k, [(i, option), *seq[k + 1 :]]
        for k in range(n - 1):
            shorter = [*seq[:k], *seq[k + 1 :]]
            shorter[-1] = (shorter[-1][0], _LAST)
            yield k, shorter[k:]
        if n >= 2:
            shorter = [*seq[: n - 2], (seq[n - 2][0], _LAST)]
            yield n - 2, shorter[n - 2 :]
        for k in range(1, n):
            for i in self.candidates(states[k], limit=4):
                for option in (_FULL, _TRIM):
                    yield k, [(i, option), *seq[k:]]

    def exact(self, root: _State) -> _State | None:
        """Branch and bound over every track and option: the true optimum (exponential)."""
        best: list[_State | None] = [None]
        profiles = [self.lib.profile(int(i)) for i in self.index]

        def visit(state: _State) -> None:
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


# ---------------------------------------------------------------------------------------------
# Plans from states


def _entries(state: _State, phases: Sequence[Phase]) -> tuple[PlanEntry, ...]:
    return tuple(
        PlanEntry(
            track=prof.track,
            phase=phases[phase].name,
            start=start,
            source_in=source_in,
            source_out=out,
            fade_in=_r(fade_in),
            fade_out=_r(fade_out),
            transition=transition,
        )
        for prof, phase, start, source_in, out, fade_in, fade_out, transition in state.closed
    )


def _phase_spans(entries: Sequence[PlanEntry], target: _Target) -> tuple[PhaseSpan, ...]:
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


def _warnings(entries: Sequence[PlanEntry], lib: _Library, target: _Target) -> list[str]:
    """Specific warnings for each phase the library could not serve, naming what was missing."""
    warnings = []
    total = target.total
    end = max((e.end for e in entries), default=0.0)
    names = [p.name for p in target.phases]
    if end < total - LENGTH_TOLERANCE:
        missing = [n for n in names if not any(e.phase == n for e in entries)]
        usable = sum(lib.profile(i).length for i in range(len(lib)))
        text = (
            f"the library is too short for {_fmt_minutes(total)}: its {len(lib)} usable tracks last "
            f"{_fmt_minutes(usable)}; the plan lasts {_fmt_minutes(end)}"
        )
        if missing:
            text += "; no music for phase " + ", ".join(f"'{n}'" for n in missing)
        warnings.append(text)
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
        if phase.beatless == "preferred":
            fits = int((lib.tempo_cost[p] == 0).sum() - beatless_n) if phase.tempo else 0
            if beatless_n == 0 and fits <= 0:
                tempo = f" or slow ({phase.tempo[0]:g}-{phase.tempo[1]:g} BPM)" if phase.tempo else ""
                warnings.append(
                    f"phase '{phase.name}': prefers beatless{tempo} music and the library has none; "
                    f"used the calmest tracks available"
                )
        elif phase.beatless == "no" and all(e.track.bpm is None or e.track.analysis.beatless for e in mine):
            warnings.append(f"phase '{phase.name}': wants music with a beat and the library has none")
        if phase.tempo is not None and phase.beatless != "preferred":
            beat = ~lib.beatless
            if beat.any() and not (lib.tempo_cost[p][beat] < 0.05).any():
                bpm = lib.bpm[beat]
                lo, hi = phase.tempo
                folded = np.where(bpm < lo, bpm * 2, np.where(bpm > hi, bpm / 2, bpm))
                closest = bpm[np.argmin(np.minimum(np.abs(folded - lo), np.abs(folded - hi)))]
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
    state: _State | None,
    planner: _Planner,
    arc: Arc,
    minutes: float,
    seed: int,
    warnings: Sequence[str] = (),
) -> Plan:
    entries = _entries(state, planner.phases) if state is not None else ()
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
    tracks: Sequence[Track], arc: Arc, minutes: float, seed: int, avoid: Collection[str], min_confidence: float,
    target: _Target | None = None,
) -> tuple[_Planner, list[str]]:  # fmt: skip
    if minutes <= 0:
        raise ValueError(f"minutes must be > 0, got {minutes}")
    seen: set[str] = set()
    usable = []
    for t in tracks:
        if t.path not in seen and _usable(t, min_confidence):
            seen.add(t.path)
            usable.append(t)
    warnings = []
    skipped = len(tracks) - len(usable)
    if not usable:
        warnings.append(f"no usable tracks to plan from ({len(tracks)} given: not analysed, too short or filtered)")
    elif skipped and min_confidence > 0:
        low = sum(
            1 for t in tracks if t.ok and t.analysis.bpm is not None and t.analysis.bpm_confidence < min_confidence
        )
        if low:
            warnings.append(f"{low} tracks skipped: tempo confidence below {min_confidence:g}")
    if arc.minutes_range and not arc.minutes_range[0] <= minutes <= arc.minutes_range[1]:
        lo, hi = arc.minutes_range
        warnings.append(f"arc '{arc.name}' is written for {lo:g}-{hi:g} minutes; planned for {minutes:g}")
    lib = _Library(usable, arc.phases, seed, avoid)
    planner = _Planner(lib, target or _Target(arc, minutes))
    return planner, warnings


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
    root = planner.root()
    complete, longest = planner.beam([root])
    best = None
    if complete:
        best = planner.improve(root, complete)
    elif longest is not None:
        best = planner.finish_open(longest, allow_short=True)
    return _plan(best, planner, arc, minutes, seed, warnings)


def place_sequence(
    tracks: Sequence[Track], arc: Arc, *, minutes: float, seed: int = 0, avoid: Collection[str] = ()
) -> Plan | None:
    """Place ``tracks`` in this order (each at full length, the last trimmed to the end), by the
    planner's own rules and objective; None when they cannot make ``minutes``. For baselines."""
    planner, warnings = _prepare(tracks, arc, minutes, seed, avoid, 0.0)
    index = {t.path: i for i, t in enumerate(planner.lib.tracks)}
    choices = [(index[t.path], _FULL) for t in tracks[:-1]] + [(index[tracks[-1].path], _LAST)]
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
    target = _Target(arc, plan.minutes)
    tracks = list({e.track.path: e.track for e in plan.entries if e.track.ok}.values())
    lib = _Library(tracks, arc.phases, plan.seed, avoid)
    index = {t.path: i for i, t in enumerate(tracks)}
    names = [p.name for p in arc.phases]
    terms = dict.fromkeys((f.name for f in fields(Objective)), 0.0)
    previous: _Profile | None = None
    last_phase = -1
    for entry in plan.entries:
        if entry.track.path not in index:
            continue
        prof = lib.profile(index[entry.track.path])
        phase = names.index(entry.phase) if entry.phase in names else max(last_phase, 0)
        parts = _unary_terms(target, prof, phase, entry.start, entry.source_in, entry.source_out)
        for name, value in zip(("energy", "tempo", "beatless", "variety", "trim", "recent"), parts):
            terms[name] += value
        if previous is not None:
            step, artist = _pair_terms(previous, prof, entry.transition)
            terms["steps"] += step
            terms["artist"] += artist
        if phase > last_phase:
            terms["missing"] += W_MISSING * (phase - last_phase - 1)
            if last_phase >= 0:
                terms["alignment"] += _alignment(target, phase, entry.start)
            last_phase = phase
        previous = prof
    if plan.entries:
        terms["missing"] += W_MISSING * (len(names) - 1 - last_phase)
        terms["length"] = _length_cost(target, plan.length)
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
) -> Plan:
    """Re-plan what has not started by ``from_time`` (timeline seconds), with the energy target moved
    by ``energy_shift`` from then on; entries already playing stay, and the total still fits.

    The entry playing at ``from_time`` may be cut at a later phrase boundary (or keep its fade-out if
    that has begun); the rest is searched like `make_plan`.
    """
    seed = plan.seed if seed is None else seed
    target = _Target(arc, plan.minutes, shift=energy_shift, shift_from=from_time)
    kept = [e for e in plan.entries if e.start < from_time]
    if not kept:
        planner, warnings = _prepare(tracks, arc, plan.minutes, seed, avoid, min_confidence, target)
        root = planner.root()
        complete, longest = planner.beam([root])
        best = planner.improve(root, complete) if complete else (
            planner.finish_open(longest, allow_short=True) if longest is not None else None
        )  # fmt: skip
        return _plan(best, planner, arc, plan.minutes, seed, warnings)
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
    roots = _replan_roots(planner, kept, index, from_time)
    complete, longest = planner.beam(roots)
    best = None
    if complete:
        best = min((planner.improve(r, complete) for r in roots), key=lambda s: s.cost)
    elif longest is not None:
        best = planner.finish_open(longest, allow_short=True)
    return _plan(best, planner, arc, plan.minutes, seed, warnings)


def _replan_roots(planner: _Planner, kept: Sequence[PlanEntry], index: dict[str, int], from_time: float) -> list[_State]:
    """Search roots for a re-plan: the kept entries closed as they were, the last one open (to its
    natural end, or cut at the next phrase boundary after ``from_time``) or frozen when fading out."""
    names = [p.name for p in planner.phases]
    target = planner.target
    cost = 0.0
    closed: list[_Closed] = []
    profiles = [planner.lib.profile(index[e.track.path]) for e in kept]
    phases = []
    for e in kept:
        phase = names.index(e.phase) if e.phase in names else (phases[-1] if phases else 0)
        phases.append(max(phase, phases[-1]) if phases else phase)
    for k, e in enumerate(kept[:-1]):
        prof = profiles[k]
        cost += _unary(target, prof, phases[k], e.start, e.source_in, e.source_out)
        cost += _pair(prof, profiles[k + 1], kept[k + 1].transition)
        if phases[k + 1] > phases[k]:
            cost += _alignment(target, phases[k + 1], kept[k + 1].start)
        closed.append((prof, phases[k], e.start, e.source_in, e.source_out, e.fade_in, e.fade_out, e.transition))
    last, prof = kept[-1], profiles[-1]
    used = frozenset(index[e.track.path] for e in kept)
    choices = tuple((index[e.track.path], _FULL) for e in kept)
    min_cut = last.source_in + (from_time - last.start)
    opens = []
    if last.end - last.fade_out <= from_time:
        opens.append(_Open(prof, phases[-1], last.start, last.source_in, last.fade_in, last.transition,
                           last.source_out, min_cut, (last.source_out, last.fade_out)))  # fmt: skip
    else:
        opens.append(_Open(prof, phases[-1], last.start, last.source_in, last.fade_in, last.transition,
                           prof.cue_out, min_cut))  # fmt: skip
        soon = _cut(prof.grid, min_cut + 60.0, min_cut) if prof.grid else min_cut + 30.0
        if soon is not None and soon + 16.0 < prof.cue_out:
            opens.append(_Open(prof, phases[-1], last.start, last.source_in, last.fade_in, last.transition,
                               soon + 16.0, min_cut))  # fmt: skip
    roots = []
    for op in opens:
        end = op.start + ((op.frozen[0] if op.frozen else op.out_max) - op.source_in)
        rank = cost + _unary(target, prof, op.phase, op.start, op.source_in, op.out_max) + planner._rest_from(end)
        roots.append(_State(cost, rank, op, used, tuple(closed), choices, end, False))
    return roots
