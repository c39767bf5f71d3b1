"""Tracks as the planner sees them: numeric columns over the usable tracks, and a `Profile` per track.

Public: `TrackTable`, `Profile`, `natural_in`, `min_play`, `usable`.

`TrackTable` holds energy, tempo, per-phase tempo and beat costs and the seed's variety hash of
every usable track; a `Profile` (natural in point, cut grid, minimum play length) is built on demand.
"""

from __future__ import annotations

import bisect
import math
import os
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from dancer.model import Track
from dancer.plan.arcs import Phase

TEMPO_SCALE = 0.15  # octaves outside a phase's range that cost as much as its whole tempo weight
MIN_TRACK_SECONDS = 30.0
MIN_PLAY_SECONDS = 90.0
MIN_PLAY_FRACTION = 0.4
MAX_MIN_PLAY_SECONDS = 180.0


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


def _pulse_confidence(track: Track) -> float:
    """How steady and salient the track's pulse is, octave aside; ``bpm_confidence`` for tracks
    analysed before that was kept."""
    a = track.analysis
    return a.bpm_confidence if a.pulse_confidence is None else a.pulse_confidence


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
        # The pulse's confidence, octave aside: every tempo cost here folds octaves already.
        self.confidence = np.clip(np.fromiter((_pulse_confidence(t) for t in self.tracks), float, n), 0, 1)
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
