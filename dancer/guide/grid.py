"""The music's time grid as the prompt scheduler sees it: beats, downbeats and phrases of whatever
plays at each moment, and where crossfades are too busy to talk over.

Public: `MusicGrid`, `music_grid`, `Span`, `BUSY_FROM`, `BEATLESS_PHRASE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dancer.model import Plan, PlanEntry

#: Phrase length of the stand-in grid used for beatless music (seconds).
BEATLESS_PHRASE = 8.0
#: Fraction of a crossfade's overlap, from its start, in which cues are still allowed.
BUSY_FROM = 0.25


@dataclass(frozen=True)
class Span:
    """A stretch of the timeline during which cues follow one entry's music.

    ``beats``, ``downbeats`` and ``phrases`` are timeline seconds within [start, end). Beatless
    music (``bpm`` None) has no beats; its ``phrases`` are a stand-in grid every
    `BEATLESS_PHRASE` seconds.
    """

    start: float
    end: float
    entry: int
    bpm: float | None
    meter: int
    beats: np.ndarray
    downbeats: np.ndarray
    phrases: np.ndarray

    @property
    def beatless(self) -> bool:
        return self.bpm is None or len(self.beats) < 2

    @property
    def beat_period(self) -> float:
        if self.beatless:
            return 0.0
        return float(np.median(np.diff(self.beats)))


@dataclass(frozen=True)
class MusicGrid:
    """The cue grid of a whole plan: spans in time order and the busy parts of crossfades."""

    spans: tuple[Span, ...]
    busy: tuple[tuple[float, float], ...]
    length: float

    def span_at(self, t: float) -> Span | None:
        for span in self.spans:
            if span.start <= t < span.end:
                return span
        return None

    def is_busy(self, t0: float, t1: float) -> bool:
        return any(t0 < hi and lo < t1 for lo, hi in self.busy)

    def points(self, t0: float, t1: float, level: str) -> list[tuple[float, Span]]:
        """Grid points in [t0, t1): ``level`` is "beat", "downbeat" or "phrase".

        Beatless spans offer their stand-in phrase grid (and whole seconds as "beats").
        """
        out: list[tuple[float, Span]] = []
        for span in self.spans:
            if span.end <= t0 or span.start >= t1:
                continue
            if span.beatless:
                step = 1.0 if level == "beat" else BEATLESS_PHRASE
                times = span.start + step * np.arange(int(np.ceil((span.end - span.start) / step)))
            else:
                times = {"beat": span.beats, "downbeat": span.downbeats, "phrase": span.phrases}[level]
            out.extend((float(t), span) for t in times if t0 <= t < t1)
        return out


def music_grid(plan: Plan) -> MusicGrid:
    """Map every entry's beat grid onto the timeline, split where crossfades hand over.

    During an overlap of two entries the outgoing one leads until `BUSY_FROM` of the overlap,
    nothing is said until the overlap ends, and the incoming one leads after that.
    """
    entries = plan.entries
    busy: list[tuple[float, float]] = []
    bounds: list[list[float]] = [[e.start, e.end] for e in entries]
    for i in range(len(entries) - 1):
        a, b = entries[i], entries[i + 1]
        overlap = a.end - b.start
        if overlap > 0:
            lo = b.start + BUSY_FROM * overlap
            busy.append((lo, a.end))
            bounds[i][1] = min(bounds[i][1], lo)
            bounds[i + 1][0] = max(bounds[i + 1][0], a.end)
        else:
            bounds[i][1] = min(bounds[i][1], b.start)
    spans = [_span(i, entry, lo, hi) for i, (entry, (lo, hi)) in enumerate(zip(entries, bounds)) if hi > lo]
    return MusicGrid(tuple(spans), tuple(busy), plan.length)


def _span(index: int, entry: PlanEntry, lo: float, hi: float) -> Span:
    analysis = entry.track.analysis
    empty = np.zeros(0)
    if analysis is None or analysis.beatless or analysis.bpm is None or len(analysis.beats) < 2:
        bpm = None
        beats = downbeats = empty
        phrases = lo + BEATLESS_PHRASE * np.arange(int(np.ceil((hi - lo) / BEATLESS_PHRASE)))
        meter = 4
    else:
        bpm = float(analysis.bpm)
        meter = analysis.meter or 4

        def timeline(times: Sequence[float]) -> np.ndarray:
            src = np.asarray(times, dtype=float)
            src = src[(src >= entry.source_in) & (src <= entry.source_out)]
            t = entry.start + (src - entry.source_in)
            return t[(t >= lo) & (t < hi)]

        beats = timeline(analysis.beats)
        downbeats = timeline(analysis.downbeats) if analysis.downbeats else beats[::meter]
        if analysis.phrases:
            phrases = timeline(analysis.phrases)
        else:
            phrases = downbeats[::2]
    return Span(lo, hi, index, bpm, meter, beats, downbeats, phrases)


# --------------------------------------------------------------------------------------------
# Small pure helpers
