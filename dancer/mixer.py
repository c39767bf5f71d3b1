"""Render a session timeline to stereo float32 blocks: the one mixer behind `dancer play` and `dancer render`.

Public: `MixSettings`, `VoiceClip`, `Timeline`, `Mixer`, `render_to_file`, `entry_gain_db`,
`OUTPUT_FORMATS`.

Signal path, per timeline sample::

    each entry: streamed decode → channel map → resample → gain to target loudness × fade curve
    Σ entries × ducking (while a voice clip speaks) + Σ voice clips × voice gain
    → look-ahead true-peak limiter → output

The timeline is rendered in fixed quanta counted from the last `Mixer.seek`, whatever block sizes
the caller asks for, so an offline render and a real-time play from the same start produce the
same samples. Placement is sample-accurate: every timeline time is rounded once to an output
sample and all fades, jumps and clips are computed from those integers.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np

from dancer.errors import DancerError, DecodeError
from dancer.model import PhaseSpan, Plan, PlanEntry, Track

__all__ = [
    "OUTPUT_FORMATS", "MixSettings", "Mixer", "Timeline", "VoiceClip", "entry_gain_db", "render_to_file",
]

#: Frames rendered per internal step. Fixed so output does not depend on the caller's block size.
QUANTUM = 4096
#: Frames decoded per read from a file.
READ_FRAMES = 16384
#: Crossfade (s) when a re-planned timeline takes over.
SWAP_FADE = 0.05
#: Shortest fade at an entry's edges: a hard cut into or out of music clicks.
MIN_FADE = 0.010
#: file suffix → (libsndfile format, subtype) for `render_to_file`.
OUTPUT_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}


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


# -- the program: a timeline in samples ----------------------------------------------------------


@dataclass(frozen=True)
class _Placement:
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
class _Spoken:
    start: int
    samples: np.ndarray

    @property
    def end(self) -> int:
        return self.start + len(self.samples)


class _Program:
    """A `Timeline` resolved to sample positions, gains and fade lengths, shared by every head."""

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
            placements.append(_Placement(i, e, start, end, fi, fo, gain))
        self.placements = sorted(placements, key=lambda p: p.start)
        spoken = (prepare_voice(c, s, sr) for c in timeline.voice if len(c.samples))
        self.voice = sorted(spoken, key=lambda v: v.start)
        self.muted: list[_Spoken] = []
        self.duck_attack = max(1, round(s.duck_attack * sr))
        self.duck_release = max(1, round(s.duck_release * sr))
        self.duck_db = s.duck_db
        ends = [p.end for p in self.placements] + [v.end for v in self.voice]
        self.length = max(ends, default=0)

    def add_voice(self, spoken: _Spoken) -> None:
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

    def placement(self, index: int | None) -> _Placement | None:
        return next((p for p in self.placements if p.index == index), None)

    def end_of(self, index: int) -> int:
        p = self.placement(index)
        return p.end if p is not None else 0

    def beats(self, p: _Placement, *, downbeats: bool = False) -> np.ndarray:
        """Timeline samples of the entry's beats (or downbeats) inside its span."""
        a = p.entry.track.analysis
        times = (a.downbeats if downbeats else a.beats) if a is not None and not a.beatless else ()
        if not times:
            return np.empty(0, dtype=np.int64)
        pos = p.start + np.round((np.asarray(times) - p.entry.source_in) * self.sample_rate).astype(np.int64)
        return pos[(pos >= p.start) & (pos < p.end)]


def prepare_voice(clip: VoiceClip, settings: MixSettings, sample_rate: int) -> _Spoken:
    """A clip placed in samples and scaled to the voice level (``target + voice_offset_lu``).

    Measuring loudness costs a K-weighting pass: `Mixer.add_voice` callers on a real-time path do
    this in their own thread and hand over the result.
    """
    samples = np.asarray(clip.samples, dtype=np.float32).reshape(-1)
    loudness = _voice_loudness(samples, sample_rate)
    gain_db = 0.0
    if math.isfinite(loudness):
        gain_db = min(settings.target_lufs + settings.voice_offset_lu - loudness, settings.max_boost_db)
    return _Spoken(round(clip.start * sample_rate), samples * np.float32(10.0 ** (gain_db / 20.0)))


def _voice_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Loudness of a mono clip as heard on both channels; clips under 400 ms are measured looped."""
    from dancer.analysis.loudness import integrated_loudness

    if not np.any(samples):
        return -math.inf
    need = int(0.8 * sample_rate)
    y = samples if len(samples) >= need else np.tile(samples, need // len(samples) + 1)
    return integrated_loudness(np.stack([y, y], axis=1), sample_rate)


# -- streaming sources ---------------------------------------------------------------------------


def _downmix_matrix(channels: int) -> np.ndarray | None:
    """(channels, 2) matrix to stereo; None when the file is already mono or stereo.

    5.1 (WAV/SMPTE order L R C LFE Ls Rs) uses the ITU-R BS.775 coefficients with the LFE dropped,
    unnormalised: that keeps the loudness near what BS.1770 measured on the six channels, and the
    limiter catches the peaks. Other layouts send channel 0 left, 1 right and share the rest.
    """
    if channels <= 2:
        return None
    m = np.zeros((channels, 2), dtype=np.float32)
    m[0, 0] = m[1, 1] = 1.0
    if channels == 6:
        m[2] = m[4, 0] = m[5, 1] = math.sqrt(0.5)
    else:
        m[2:] = math.sqrt(0.5 / (channels - 2))
    return m


class _Reader:
    """One entry's audio from a source position on: decoded, mapped to stereo, resampled, in pieces."""

    def __init__(self, path: str, source_seconds: float, out_rate: int) -> None:
        from dancer.decode import open_stream

        info, self._blocks = open_stream(Path(path), block_frames=READ_FRAMES, start=max(0.0, source_seconds))
        self._mono = info.channels == 1
        self._matrix = _downmix_matrix(info.channels)
        self._resampler = None
        if info.sample_rate != out_rate:
            import soxr

            self._resampler = soxr.ResampleStream(info.sample_rate, out_rate, 1 if self._mono else 2,
                                                  dtype="float32", quality="HQ")
        self._buf = np.zeros((0, 1 if self._mono else 2), dtype=np.float32)
        self._at = 0
        self._eof = False

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` frames, ``(n, 1)`` for mono sources or ``(n, 2)``; zeros past the end."""
        while len(self._buf) - self._at < n and not self._eof:
            self._pull()
        out = self._buf[self._at:self._at + n]
        self._at += len(out)
        if len(out) < n:
            out = np.concatenate([out, np.zeros((n - len(out), out.shape[1]), dtype=np.float32)])
        return out

    def _pull(self) -> None:
        block = next(self._blocks, None)
        if block is None:
            self._eof = True
            if self._resampler is None:
                return
            x = self._resampler.resample_chunk(np.zeros_like(self._buf[:0]), last=True)
        else:
            if self._matrix is not None:
                block = block @ self._matrix
            if self._resampler is not None:
                block = self._resampler.resample_chunk(np.ascontiguousarray(block))
            x = block
        if x.ndim == 1:
            x = x[:, None]
        rest = self._buf[self._at:]
        self._buf = x if not len(rest) else np.concatenate([rest, x])
        self._at = 0

    def close(self) -> None:
        close = getattr(self._blocks, "close", None)
        if close is not None:
            close()


class _Head:
    """A play position on the program with the readers it has open."""

    def __init__(self, program: _Program, pos: int) -> None:
        self.program = program
        self.pos = pos
        self._readers: dict[int, _Reader] = {}

    def render(self, n: int) -> np.ndarray:
        prog = self.program
        lo_all, hi_all = self.pos, self.pos + n
        out = np.zeros((n, 2), dtype=np.float32)
        for p in prog.placements:
            if p.start >= hi_all:
                break
            if p.end <= lo_all or p.entry.track.path in prog.failed:
                continue
            lo, hi = max(lo_all, p.start), min(hi_all, p.end)
            block = self._read(p, lo, hi - lo)
            if block is None:
                continue
            env = p.envelope(lo, hi)
            if isinstance(env, float):
                out[lo - lo_all:hi - lo_all] += block * np.float32(env)
            else:
                out[lo - lo_all:hi - lo_all] += block * env.astype(np.float32)[:, None]
        for index in [i for i in self._readers if prog.end_of(i) <= hi_all]:
            self._readers.pop(index).close()
        if prog.voice:
            self._speak(out, lo_all, hi_all)
        self.pos = hi_all
        return out

    def _read(self, p: _Placement, lo: int, n: int) -> np.ndarray | None:
        reader = self._readers.get(p.index)
        try:
            if reader is None:
                sr = self.program.sample_rate
                reader = _Reader(p.entry.track.path, p.entry.source_in + (lo - p.start) / sr, sr)
                self._readers[p.index] = reader
            return reader.read(n)
        except (DecodeError, OSError, RuntimeError) as exc:
            # A file that vanished or broke mid-session becomes silence: the set goes on.
            self.program.failed.add(p.entry.track.path)
            self.program.warnings.append(f"{p.entry.track.path}: skipped ({exc})")
            dead = self._readers.pop(p.index, None)
            if dead is not None:
                dead.close()
            return None

    def _speak(self, out: np.ndarray, lo: int, hi: int) -> None:
        prog = self.program
        a, r = prog.duck_attack, prog.duck_release
        duck = None
        n = np.arange(lo, hi, dtype=np.float64)
        for v in prog.voice:
            if v.start - a >= hi:
                break
            if v.end + r <= lo:
                continue
            env = np.clip(np.minimum((n - (v.start - a)) / a, (v.end + r - n) / r), 0.0, 1.0)
            duck = env if duck is None else np.maximum(duck, env)
        if duck is not None:
            out *= (10.0 ** (-prog.duck_db * duck / 20.0)).astype(np.float32)[:, None]
        for v in prog.voice:
            if v.start >= hi:
                break
            if v.end <= lo:
                continue
            s0, s1 = max(lo, v.start), min(hi, v.end)
            out[s0 - lo:s1 - lo] += v.samples[s0 - v.start:s1 - v.start, None]

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()


# -- the master limiter --------------------------------------------------------------------------

#: True-peak detection interpolates 4x with 12-tap Kaiser-windowed sinc phases (BS.1770-4 Annex 2 style).
_TP_TAPS = 12
_TP_HALF = _TP_TAPS // 2 - 1


def _tp_kernel() -> np.ndarray:
    """Rows: taps giving the signal at 1/4, 2/4, 3/4 of the way from sample ``m`` to ``m + 1``."""
    x = np.array([0.25, 0.5, 0.75])[:, None] - (np.arange(_TP_TAPS) - _TP_HALF)[None, :]
    half = _TP_TAPS / 2
    window = np.i0(5.0 * np.sqrt(np.clip(1.0 - (x / half) ** 2, 0.0, None))) / np.i0(5.0)
    c = np.sinc(x) * window
    return c / c.sum(axis=1, keepdims=True)


_TP_KERNEL = _tp_kernel()
_TP_KERNEL32 = _TP_KERNEL.astype(np.float32)
#: ``max |interpolated| <= _TP_BOUND * max |x|``: lets quiet blocks skip the detector exactly.
_TP_BOUND = float(max(1.0, np.abs(_TP_KERNEL).sum(axis=1).max()))


class _Limiter:
    """Look-ahead true-peak limiter: never above the ceiling, gain smooth, fixed delay.

    Required reduction (dB) per sample from the 4x-interpolated peak is held over the look-ahead
    window, released at a constant dB rate, and averaged over the look-ahead, so the gain reaches
    each peak's requirement before the (delayed) peak passes. Quiet passages cost a bound check.
    """

    def __init__(self, sample_rate: int, settings: MixSettings) -> None:
        self.ceiling = 10.0 ** (settings.ceiling_dbtp / 20.0)
        self.look = max(2, round(settings.lookahead * sample_rate))
        self.delay = self.look + _TP_TAPS - 1 - _TP_HALF
        self.rate = settings.release_db_per_s / sample_rate
        self.reset()

    def reset(self) -> None:
        self._x = np.zeros((_TP_TAPS - 1, 2), dtype=np.float32)
        self._audio = np.zeros((self.delay, 2), dtype=np.float32)
        self._held = np.zeros(self.look)
        self._released = np.zeros(self.look - 1)
        self._carry_r = 0.0
        self._carry_tp = 0.0
        self._idle = True

    def process(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        audio = np.concatenate([self._audio, x])
        self._audio = audio[n:].copy()
        y = audio[:n]
        xx = np.concatenate([self._x, x])
        self._x = xx[n:].copy()
        if self._idle and float(np.abs(xx).max(initial=0.0)) * _TP_BOUND <= self.ceiling:
            self._carry_tp = 0.0
            return y
        peak = self._peaks(xx, n)
        if self._idle and float(peak.max()) <= self.ceiling:
            return y
        y = y * self._gain(peak).astype(np.float32)[:, None]
        np.clip(y, -self.ceiling, self.ceiling, out=y)
        return y

    def _peaks(self, xx: np.ndarray, n: int) -> np.ndarray:
        """Largest |sample| or |interpolated value| next to each of ``n`` samples, both channels."""
        tp = np.zeros(n, dtype=np.float32)
        for c in _TP_KERNEL32:
            acc = xx[0:n] * c[0]
            for j in range(1, _TP_TAPS):
                acc += xx[j:j + n] * c[j]
            np.abs(acc, out=acc)
            # Reductions along a length-2 axis are slow in numpy; compare the channels directly.
            phase = np.maximum(acc[:, 0], acc[:, 1])
            np.maximum(tp, phase, out=tp)
        mid = np.abs(xx[_TP_HALF:_TP_HALF + n])
        peak = np.maximum(np.maximum(mid[:, 0], mid[:, 1]), tp)
        np.maximum(peak[1:], tp[:-1], out=peak[1:])
        peak[0] = max(peak[0], self._carry_tp)
        self._carry_tp = float(tp[-1])
        return peak

    def _gain(self, peak: np.ndarray) -> np.ndarray:
        n = len(peak)
        need = np.zeros(n)
        over = peak > self.ceiling
        need[over] = 20.0 * np.log10(peak[over] / self.ceiling)

        from scipy.ndimage import maximum_filter1d

        look = self.look
        held_in = np.concatenate([self._held, need])
        self._held = held_in[n:].copy()
        held = maximum_filter1d(held_in, look + 1, mode="nearest")[(look + 1) // 2:(look + 1) // 2 + n]
        ramp = self.rate * np.arange(n)
        acc = held + ramp
        acc[0] = max(acc[0], self._carry_r - self.rate)
        released = np.maximum.accumulate(acc) - ramp
        self._carry_r = float(released[-1])
        cat = np.concatenate([self._released, released])
        self._released = cat[n:].copy()
        sums = np.concatenate([[0.0], np.cumsum(cat)])
        smooth = (sums[look:] - sums[:-look]) / look
        self._idle = self._carry_r == 0.0 and not self._held.any() and not self._released.any()
        return 10.0 ** (-smooth / 20.0)


# -- the mixer -----------------------------------------------------------------------------------


@dataclass
class _Jump:
    at: int
    target: int
    fade: int
    entry: int | None = None


class Mixer:
    """Pure block renderer of a `Timeline`.

    `render_block` returns the next ``n`` frames; `position` is the timeline time of the next frame
    it will return. `seek` moves there at once; `jump`, `skip` and `seek` with a fade move with an
    equal-power crossfade, `skip` on the beat. Not thread-safe: one thread renders and edits.
    """

    def __init__(self, timeline: Timeline, *, start: float = 0.0) -> None:
        self.timeline = timeline
        self.sample_rate = timeline.sample_rate
        self._program = _Program(timeline)
        self._voice_on = True
        self._limiter = _Limiter(self.sample_rate, timeline.settings)
        self._head = _Head(self._program, 0)
        self._tail: _Head | None = None
        self.seek(start)

    # -- state -----------------------------------------------------------------------------------

    @property
    def warnings(self) -> list[str]:
        """Entries that could not be played (missing or broken files), in the order met."""
        return self._program.warnings

    @property
    def length(self) -> float:
        return self._program.length / self.sample_rate

    @property
    def position(self) -> float:
        """Timeline time (s) of the next frame `render_block` returns."""
        return self._timeline_sample(self._out) / self.sample_rate

    @property
    def cursor(self) -> float:
        """Timeline time (s) the mixer renders next; ahead of `position` by its look-ahead and buffer."""
        return self._head.pos / self.sample_rate

    @property
    def finished(self) -> bool:
        return self._timeline_sample(self._out) >= self._program.length and self._tail is None \
            and self._pending is None

    def entry_at(self, t: float) -> int | None:
        """Index into ``timeline.entries`` of the entry heard loudest at time ``t`` (None if none)."""
        return self._program.entry_at(round(t * self.sample_rate))

    def phase_at(self, t: float) -> str:
        for span in self.timeline.phases:
            if span.start <= t < span.end:
                return span.name
        i = self.entry_at(t)
        return self.timeline.entries[i].phase if i is not None else ""

    # -- moving ----------------------------------------------------------------------------------

    def seek(self, t: float, *, fade: float = 0.0) -> None:
        """Restart rendering at timeline time ``t``; ``fade`` (s) fades in from silence."""
        for head in (self._head, self._tail):
            if head is not None:
                head.close()
        sr = self.sample_rate
        pos = min(max(round(t * sr), 0), self._program.length)
        self._head = _Head(self._program, pos)
        self._tail = None
        self._pending: _Jump | None = None
        self._xfade = (0, 0)
        self._xfade_linear = False
        self._swap: _Program | None = None
        self._fade_in = (0, max(0, round(fade * sr)))
        self._limiter.reset()
        self._in = 0
        self._out = 0
        self._discard = self._limiter.delay
        self._breaks = [(0, pos)]
        self._fifo: list[np.ndarray] = []
        self._fifo_frames = 0

    def jump(self, t: float, *, at: float | None = None, fade: float = 0.08,
             entry: int | None = None) -> None:
        """Crossfade (equal power, ``fade`` s) to timeline time ``t`` when the render reaches ``at``.

        ``at`` defaults to `cursor` (the next frame rendered); a time already rendered means now.
        A jump already scheduled but not started is replaced.
        """
        sr = self.sample_rate
        at_s = self._head.pos if at is None else max(round(at * sr), self._head.pos)
        target = min(max(round(t * sr), 0), self._program.length)
        self._pending = _Jump(at_s, target, max(1, round(fade * sr)), entry)

    def skip(self, step: int = 1, *, beats: int = 4, max_fade: float = 2.0,
             beatless_fade: float = 1.5) -> int | None:
        """Move ``step`` entries on (or back) with a quick crossfade placed on the beat.

        The crossfade starts on the next beat of the entry heard now and lands the target entry's
        first downbeat after its planned fade-in there; it lasts ``beats`` beats (at most
        ``max_fade`` s). Skipping past the last entry fades the session out. Returns the index of
        the target entry, or None at the end.
        """
        prog, sr = self._program, self.sample_rate
        now = self._head.pos
        current = self._pending.entry if self._pending is not None and self._pending.entry is not None \
            else prog.entry_at(now)
        order = [p.index for p in prog.placements]
        if current in order:
            k = order.index(current) + step
        else:
            following = next((j for j, p in enumerate(prog.placements) if p.start > now), len(order))
            k = following + step - (1 if step > 0 else 0)
        k = max(k, 0)
        outgoing = prog.placement(prog.entry_at(now))
        at, fade = now, round(beatless_fade * sr)
        if outgoing is not None:
            grid = prog.beats(outgoing)
            ahead = grid[grid >= now]
            if len(ahead) >= 2:
                period = float(np.median(np.diff(grid))) if len(grid) > 2 else float(ahead[1] - ahead[0])
                at = int(ahead[0])
                fade = min(round(beats * period), round(max_fade * sr))
        if k >= len(order):
            self._pending = _Jump(at, prog.length, max(1, fade), None)
            return None
        p = prog.placements[k]
        landing = p.start + p.fade_in
        downs = prog.beats(p, downbeats=True)
        downs = downs[downs >= landing]
        target = int(downs[0]) if len(downs) else min(landing, p.end)
        self._pending = _Jump(at, target, max(1, fade), p.index)
        return p.index

    # -- editing while playing ---------------------------------------------------------------------

    def add_voice(self, clip: VoiceClip | _Spoken) -> None:
        """Add a voice clip (or one already made by `prepare_voice`) to the live timeline.

        A clip added after its start has begun to render plays from where the render is.
        """
        spoken = clip if isinstance(clip, _Spoken) else prepare_voice(clip, self.timeline.settings,
                                                                      self.sample_rate)
        prog = self._swap or self._program
        if self._voice_on:
            prog.add_voice(spoken)
        else:
            prog.muted.append(spoken)

    def set_voice_enabled(self, on: bool) -> None:
        """Silence (or bring back) voice clips that have not started at the render cursor."""
        if on == self._voice_on:
            return
        self._voice_on = on
        for prog in [self._program] + ([self._swap] if self._swap is not None else []):
            if on:
                for spoken in prog.muted:
                    if spoken.start >= self._head.pos:
                        prog.add_voice(spoken)
                prog.muted = []
            else:
                prog.muted = [v for v in prog.voice if v.start >= self._head.pos]
                prog.voice = [v for v in prog.voice if v.start < self._head.pos]

    def replace_timeline(self, timeline: Timeline) -> None:
        """Continue with ``timeline`` (a re-plan) from the render cursor on, voice clips carried over.

        The new timeline must agree with the old one up to the edit; the switch is a short
        crossfade at the cursor, so an edit that starts before it is smoothed, not cut. Voice clips
        already added are kept: give the new timeline only clips the old one did not have.
        """
        timeline = timeline.with_sample_rate(self.sample_rate)
        old = self._swap or self._program
        prog = _Program(timeline)
        for spoken in old.voice:
            prog.add_voice(spoken)
        prog.muted = old.muted
        prog.warnings, prog.failed = old.warnings, old.failed
        self._swap = prog

    # -- rendering -------------------------------------------------------------------------------

    def render_block(self, n: int) -> np.ndarray:
        """The next ``n`` output frames, float32 ``(n, 2)``; silence past the end."""
        while self._fifo_frames < n:
            self._render_quantum()
        buf = self._fifo[0] if len(self._fifo) == 1 else np.concatenate(self._fifo)
        out, rest = buf[:n], buf[n:]
        self._fifo = [rest] if len(rest) else []
        self._fifo_frames = len(rest)
        self._out += n
        while len(self._breaks) > 1 and self._breaks[1][0] <= self._out:
            self._breaks.pop(0)
        return out

    def _timeline_sample(self, out_index: int) -> int:
        s, pos = self._breaks[0]
        for bs, bp in self._breaks[1:]:
            if bs <= out_index:
                s, pos = bs, bp
        return pos + out_index - s

    def _render_quantum(self) -> None:
        y = self._limiter.process(self._mix(QUANTUM))
        if self._discard:
            y = y[self._discard:]
            self._discard = 0
        self._fifo.append(y)
        self._fifo_frames += len(y)

    def _mix(self, n: int) -> np.ndarray:
        out = np.empty((n, 2), dtype=np.float32)
        i = 0
        while i < n:
            if self._swap is not None and self._tail is None:
                # Old and new timelines agree up to the edit: a linear crossfade of identical audio
                # is that audio, and an edit already under way is smoothed rather than cut.
                self._program, self._swap = self._swap, None
                self.timeline = self._program.timeline
                self._tail, self._head = self._head, _Head(self._program, self._head.pos)
                self._xfade, self._xfade_linear = (0, round(SWAP_FADE * self.sample_rate)), True
                continue
            jump = self._pending
            if jump is not None and self._tail is None and self._head.pos >= jump.at:
                self._tail, self._head = self._head, _Head(self._program, jump.target)
                self._xfade, self._xfade_linear = (0, jump.fade), False
                self._pending = None
                self._breaks.append((self._in + i, jump.target))
                continue
            k = n - i
            if jump is not None and self._tail is None:
                k = min(k, jump.at - self._head.pos)
            if self._tail is not None:
                k = min(k, self._xfade[1] - self._xfade[0])
            seg = self._head.render(k)
            if self._tail is not None:
                done, total = self._xfade
                x = np.arange(done, done + k, dtype=np.float64) / total
                fade_in, fade_out = (x, 1.0 - x) if self._xfade_linear else (np.sin(0.5 * np.pi * x),
                                                                           np.cos(0.5 * np.pi * x))
                seg *= fade_in.astype(np.float32)[:, None]
                seg += self._tail.render(k) * fade_out.astype(np.float32)[:, None]
                self._xfade = (done + k, total)
                if done + k >= total:
                    self._tail.close()
                    self._tail = None
            done, total = self._fade_in
            if done < total:
                m = min(k, total - done)
                ramp = np.sin((0.5 * np.pi / total) * np.arange(done, done + m))
                seg[:m] *= ramp.astype(np.float32)[:, None]
                self._fade_in = (done + m, total)
            out[i:i + k] = seg
            i += k
        self._in += n
        return out

    def close(self) -> None:
        for head in (self._head, self._tail):
            if head is not None:
                head.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render_to_file(timeline: Timeline, path: Path, *, progress: Callable[[float, float], None] | None = None,
                   start: float = 0.0, subtype: str | None = None, block_frames: int = 65536) -> float:
    """Render ``timeline`` from ``start`` to its end into ``path`` (.wav, .flac or .ogg); returns seconds.

    16-bit output is TPDF-dithered (seeded, so renders are reproducible). Written block by block
    (libsndfile's Vorbis encoder crashes on one very large write) to a hidden temporary file that
    replaces ``path`` only when complete. ``progress(done_s, total_s)`` is called after each block.
    """
    import soundfile as sf

    path = Path(path)
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported output format; use one of {', '.join(OUTPUT_FORMATS)}")
    subtype = subtype or fmt[1]
    sr = timeline.sample_rate
    total = max(0, round(timeline.length * sr) - round(start * sr))
    tmp = path.with_name(f".{path.name}.part")
    rng = np.random.default_rng(0)
    lsb = 1.0 / 32768.0 if subtype == "PCM_16" else 0.0
    try:
        with Mixer(timeline, start=start) as mixer, \
                sf.SoundFile(str(tmp), "w", samplerate=sr, channels=2, format=fmt[0], subtype=subtype) as f:
            done = 0
            while done < total:
                k = min(block_frames, total - done)
                y = mixer.render_block(k)
                if lsb:
                    tpdf = rng.random(y.shape, dtype=np.float32) - rng.random(y.shape, dtype=np.float32)
                    y = y + tpdf * lsb
                f.write(y)
                done += k
                if progress is not None:
                    progress(done / sr, total / sr)
        os.replace(tmp, path)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise DancerError(f"{path}: cannot write the render ({exc})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return total / sr
