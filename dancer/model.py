"""Plain data shared by every stage: an analysed `Track` and its `Analysis`.

Frozen dataclasses; beat and curve arrays are tuples of floats so a `Track` is hashable and
can cross process boundaries and be compared in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from dancer.timemap import RateCurve

#: Bump when analysis results change meaning or precision: the next scan re-analyses every track.
ANALYSER_VERSION = 36


@dataclass(frozen=True)
class Analysis:
    """What `dancer.analysis.analyse_blocks` measures on one decoded signal.

    Times are seconds from the start of the file. ``bpm`` is None for beatless material.
    ``phrases`` are phrase boundaries (every 8 beats, starting on a downbeat); ``downbeats`` are
    the first beats of bars. ``energy_curve`` holds one 0..1 value per ``ENERGY_STEP`` seconds.
    ``bpm_confidence`` counts how sure the octave is; ``pulse_confidence`` is how steady and
    salient the pulse is, octave aside (None for tracks analysed before it was kept).
    """

    duration: float
    sample_rate: int
    channels: int
    bpm: float | None
    bpm_confidence: float
    beatless: bool
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    phrases: tuple[float, ...]
    meter: int
    loudness_lufs: float
    peak_db: float
    true_peak_db: float
    energy: float
    energy_curve: tuple[float, ...]
    cue_in: float
    cue_out: float
    intro_beats: int = 0
    outro_beats: int = 0
    pulse_confidence: float | None = None


ENERGY_STEP = 5.0


@dataclass(frozen=True)
class Tags:
    title: str
    artist: str = ""
    album: str = ""
    genre: str = ""


@dataclass(frozen=True)
class Track:
    """A file the library knows: where it is, how it was when analysed, its tags and analysis.

    A file that failed keeps a Track with ``error`` set and ``analysis`` None, so it is reported
    and not retried until it changes.
    """

    path: str
    size: int
    mtime: float
    tags: Tags
    analysis: Analysis | None
    analyser_version: int = ANALYSER_VERSION
    error: str | None = None
    id: int | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None and self.analysis is not None

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def display(self) -> str:
        """``Artist - Title`` as players show it, or the title alone."""
        if self.tags.artist:
            return f"{self.tags.artist} - {self.tags.title}"
        return self.tags.title

    @property
    def duration(self) -> float:
        return self.analysis.duration if self.analysis else 0.0

    @property
    def bpm(self) -> float | None:
        return self.analysis.bpm if self.analysis else None

    @property
    def energy(self) -> float:
        return self.analysis.energy if self.analysis else 0.0

    def with_analysis(self, analysis: Analysis) -> Track:
        return replace(self, analysis=analysis, error=None)


@dataclass(frozen=True)
class PhaseSpan:
    """Where one arc phase sits on the session timeline (seconds)."""

    name: str
    title: str
    start: float
    end: float
    #: The phase's music level (dB) against the loudness target; see `dancer.plan.arcs.Phase`.
    level_db: float = 0.0


@dataclass(frozen=True)
class PlanEntry:
    """One track placed on the session timeline.

    The entry plays the file from ``source_in`` to ``source_out`` starting at timeline time
    ``start``; its gain ramps up over ``fade_in`` (timeline) seconds from ``start`` and down over
    ``fade_out`` seconds ending at ``end``. ``transition`` says how it arrives: ``"start"`` (first
    entry), ``"crossfade"`` (beat-aligned, overlapping the previous entry's fade-out), ``"fade"``
    (long ambient fade) or ``"gap"`` (silence before it).

    ``curve`` (None: rate 1.0) is the entry's playback rate against timeline time when it is
    tempo-matched (`dancer.plan.matching`): source time ``curve.source_time(t)`` plays at timeline
    time ``t``, so ``end`` is where ``source_out`` is reached, not ``start + length``.
    """

    track: Track
    phase: str
    start: float
    source_in: float
    source_out: float
    fade_in: float
    fade_out: float
    transition: str = "crossfade"
    curve: RateCurve | None = None

    @property
    def length(self) -> float:
        """Source seconds played (timeline seconds too, unless the entry has a rate curve)."""
        return self.source_out - self.source_in

    @property
    def end(self) -> float:
        if self.curve is None:
            return self.start + self.length
        return float(self.curve.timeline_time(self.source_out))

    def timeline_time(self, source: float | np.ndarray) -> np.ndarray:
        """Timeline time(s) at which source time(s) ``source`` of this entry's file play."""
        if self.curve is None:
            return self.start + (np.asarray(source, dtype=np.float64) - self.source_in)
        return self.curve.timeline_time(source)

    def source_time(self, t: float | np.ndarray) -> np.ndarray:
        """Source time(s) of this entry's file playing at timeline time(s) ``t``."""
        if self.curve is None:
            return self.source_in + (np.asarray(t, dtype=np.float64) - self.start)
        return self.curve.source_time(t)

    def rate_at(self, t: float) -> float:
        """Playback rate (source seconds per timeline second) at timeline time ``t``."""
        return 1.0 if self.curve is None else float(self.curve.rate_at(t))


@dataclass(frozen=True)
class Plan:
    """A session: ordered entries, the phases they serve, and how well they fit the arc."""

    arc: str
    minutes: float
    seed: int
    entries: tuple[PlanEntry, ...]
    phases: tuple[PhaseSpan, ...]
    objective: float = 0.0
    warnings: tuple[str, ...] = ()
    #: The arc's file when it came from one (not a built-in or user arc found by name), absolute.
    arc_file: str = ""

    @property
    def length(self) -> float:
        return max((e.end for e in self.entries), default=0.0)


@dataclass(frozen=True)
class Cue:
    """A prompt on the timeline: spoken (or printed) at ``time`` seconds."""

    time: float
    kind: str
    text: str
    phase: str = ""
