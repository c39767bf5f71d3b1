"""What the mixer renders: a session timeline, and the same timeline resolved to samples.

Public: `MixSettings`, `VoiceClip`, `Timeline`, `entry_gain_db`, `prepare_voice`, `Program`,
`Placement`, `Spoken`.

A `Timeline` is plain data in seconds (placed entries, voice clips, output rate, mix settings).
A `Program` is that timeline resolved once to integer sample positions, gains and fade lengths,
so that every fade, jump and clip is computed from the same integers whoever renders it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dancer.model import PhaseSpan, Plan, PlanEntry, Track

#: Shortest fade at an entry's edges: a hard cut into or out of music clicks.
MIN_FADE = 0.010


@dataclass(frozen=True)
class MixSettings:
    """How the mix sounds: loudness target, limiter, ducking, session fade-out.

    Levels in dB (LUFS for loudness), times in seconds.
    """

    target_lufs: float = -16.0
    max_boost_db: float = 12.0
    ceiling_dbtp: float = -1.0
    lookahead: float = 0.005
    release_db_per_s: float = 25.0
    duck_db: float = 11.0
    duck_attack: float = 0.1
    duck_release: float = 0.6
    voice_offset_lu: float = -2.0
    end_fade: float = 6.0


@dataclass(frozen=True, eq=False)
class VoiceClip:
    """A spoken prompt: mono float32 ``samples`` at the timeline's sample rate, starting at ``start`` s."""

    start: float
    samples: np.ndarray
    text: str = ""


@dataclass(frozen=True)
class Timeline:
    """Everything the mixer renders: placed entries, voice clips, output rate and mix settings."""

    entries: Sequence[PlanEntry]
    voice: Sequence[VoiceClip] = ()
    sample_rate: int = 44100
    settings: MixSettings = field(default_factory=MixSettings)
    phases: Sequence[PhaseSpan] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))
        object.__setattr__(self, "voice", tuple(self.voice))
        object.__setattr__(self, "phases", tuple(self.phases))

    @classmethod
    def from_plan(cls, plan: Plan, *, voice: Sequence[VoiceClip] = (), sample_rate: int = 44100,
                  settings: MixSettings | None = None) -> Timeline:
        return cls(plan.entries, voice, sample_rate, settings or MixSettings(), plan.phases)

    @property
    def length(self) -> float:
        """Seconds from 0 to the end of the last entry or voice clip."""
        ends = [e.end for e in self.entries]
        ends += [c.start + len(c.samples) / self.sample_rate for c in self.voice]
        return max(ends, default=0.0)

    def with_sample_rate(self, sample_rate: int) -> Timeline:
        """The same timeline at another output rate (voice clips are resampled)."""
        if sample_rate == self.sample_rate:
            return self
        import soxr

        voice = []
        for c in self.voice:
            samples = soxr.resample(np.asarray(c.samples, np.float32), self.sample_rate, sample_rate)
            voice.append(VoiceClip(c.start, samples.astype(np.float32), c.text))
        return Timeline(self.entries, voice, sample_rate, self.settings, self.phases)


def entry_gain_db(track: Track, settings: MixSettings) -> float:
    """Gain (dB) that brings ``track`` to the target loudness; boosts are capped, unknowns get 0 dB."""
    a = track.analysis
    if a is None or not math.isfinite(a.loudness_lufs):
        return 0.0
    # A mono file is measured on one channel but heard on two: 3 dB louder than measured.
    mono = -10.0 * math.log10(2.0) if a.channels == 1 else 0.0
    return min(settings.target_lufs - a.loudness_lufs + mono, settings.max_boost_db)


@dataclass(frozen=True)
class Placement:
    index: int
    entry: PlanEntry
    start: int
    end: int
    fade_in: int
    fade_out: int
    gain: float

    def envelope(self, lo: int, hi: int) -> np.ndarray | float:
        """Gain for timeline samples ``[lo, hi)``: a scalar where flat, else equal-power fade curves."""
        fi_end, fo_start = self.start + self.fade_in, self.end - self.fade_out
        if lo >= fi_end and hi <= fo_start:
            return self.gain
        n = np.arange(lo, hi, dtype=np.float64)
        g = np.full(hi - lo, self.gain)
        if lo < fi_end:
            g *= np.sin(0.5 * np.pi * np.clip((n - self.start) / self.fade_in, 0.0, 1.0))
        if hi > fo_start:
            g *= np.cos(0.5 * np.pi * np.clip((n - fo_start) / self.fade_out, 0.0, 1.0))
        return g


@dataclass(frozen=True)
class Spoken:
    start: int
    samples: np.ndarray

    @property
    def end(self) -> int:
        return self.start + len(self.samples)


class Program:
    """A `Timeline` resolved to sample positions, gains and fade lengths, shared by every play head."""

    def __init__(self, timeline: Timeline) -> None:
        sr = timeline.sample_rate
        s = timeline.settings
        self.sample_rate = sr
        self.timeline = timeline
        self.warnings: list[str] = []
        self.failed: set[str] = set()
        entries = timeline.entries
        last = max(range(len(entries)), key=lambda i: entries[i].end, default=-1)
        min_fade = max(1, round(MIN_FADE * sr))
        placements = []
        for i, e in enumerate(entries):
            start, end = round(e.start * sr), round(e.end * sr)
            if end - start < 2 * min_fade:
                continue
            fade_out = e.fade_out if i != last else max(e.fade_out, s.end_fade)
            span = end - start
            fi = min(max(round(e.fade_in * sr), min_fade), span)
            fo = min(max(round(fade_out * sr), min_fade), span - min_fade if i == last else span)
            gain = 10.0 ** (entry_gain_db(e.track, s) / 20.0)
            placements.append(Placement(i, e, start, end, fi, fo, gain))
        self.placements = sorted(placements, key=lambda p: p.start)
        spoken = (prepare_voice(c, s, sr) for c in timeline.voice if len(c.samples))
        self.voice = sorted(spoken, key=lambda v: v.start)
        self.muted: list[Spoken] = []
        self.duck_attack = max(1, round(s.duck_attack * sr))
        self.duck_release = max(1, round(s.duck_release * sr))
        self.duck_db = s.duck_db
        ends = [p.end for p in self.placements] + [v.end for v in self.voice]
        self.length = max(ends, default=0)

    def add_voice(self, spoken: Spoken) -> None:
        bisect.insort(self.voice, spoken, key=lambda v: v.start)
        self.length = max(self.length, spoken.end)

    def entry_at(self, pos: int) -> int | None:
        """Index of the entry loudest at timeline sample ``pos`` (None between entries)."""
        best, best_gain = None, -1.0
        for p in self.placements:
            if p.start > pos:
                break
            if pos < p.end:
                env = p.envelope(pos, pos + 1)
                g = (env if isinstance(env, float) else float(env[0])) / p.gain
                if g >= best_gain:
                    best, best_gain = p.index, g
        return best

    def placement(self, index: int | None) -> Placement | None:
        return next((p for p in self.placements if p.index == index), None)

    def end_of(self, index: int) -> int:
        p = self.placement(index)
        return p.end if p is not None else 0

    def beats(self, p: Placement, *, downbeats: bool = False) -> np.ndarray:
        """Timeline samples of the entry's beats (or downbeats) inside its span."""
        a = p.entry.track.analysis
        times = (a.downbeats if downbeats else a.beats) if a is not None and not a.beatless else ()
        if not times:
            return np.empty(0, dtype=np.int64)
        pos = p.start + np.round((np.asarray(times) - p.entry.source_in) * self.sample_rate).astype(np.int64)
        return pos[(pos >= p.start) & (pos < p.end)]


def prepare_voice(clip: VoiceClip, settings: MixSettings, sample_rate: int) -> Spoken:
    """A clip placed in samples and scaled to the voice level (``target + voice_offset_lu``).

    Measuring loudness costs a K-weighting pass: `Mixer.add_voice` callers on a real-time path do
    this in their own thread and hand over the result.
    """
    samples = np.asarray(clip.samples, dtype=np.float32).reshape(-1)
    loudness = _voice_loudness(samples, sample_rate)
    gain_db = 0.0
    if math.isfinite(loudness):
        gain_db = min(settings.target_lufs + settings.voice_offset_lu - loudness, settings.max_boost_db)
    return Spoken(round(clip.start * sample_rate), samples * np.float32(10.0 ** (gain_db / 20.0)))


def _voice_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Loudness of a mono clip as heard on both channels; clips under 400 ms are measured looped."""
    from dancer.analysis.loudness import integrated_loudness

    if not np.any(samples):
        return -math.inf
    need = int(0.8 * sample_rate)
    y = samples if len(samples) >= need else np.tile(samples, need // len(samples) + 1)
    return integrated_loudness(np.stack([y, y], axis=1), sample_rate)
