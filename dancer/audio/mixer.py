"""Render a session timeline to stereo float32 blocks: the one mixer behind `dancer play` and `dancer render`.

Public: `Mixer`, `QUANTUM`.

Signal path, per timeline sample::

    each entry: source (streamed decode → channel map → resample; `dancer.audio.sources`)
                → gain to target loudness × fade curve (`dancer.audio.timeline.Program`)
    Σ entries × ducking (while a voice clip speaks) + Σ voice clips × voice gain
    → look-ahead true-peak limiter (`dancer.audio.limiter`) → output

The timeline is rendered in fixed quanta counted from the last `Mixer.seek`, whatever block sizes
the caller asks for, so an offline render and a real-time play from the same start produce the
same samples. Placement is sample-accurate: every timeline time is rounded once to an output
sample and all fades, jumps and clips are computed from those integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np

from dancer.audio.limiter import Limiter
from dancer.audio.sources import SourceReader
from dancer.audio.timeline import Placement, Program, Spoken, Timeline, VoiceClip, prepare_voice
from dancer.errors import DecodeError

#: Frames rendered per internal step. Fixed so output does not depend on the caller's block size.
QUANTUM = 4096
#: Crossfade (s) when a re-planned timeline takes over.
SWAP_FADE = 0.05


class _Head:
    """A play position on the program with the readers it has open."""

    def __init__(self, program: Program, pos: int) -> None:
        self.program = program
        self.pos = pos
        self._readers: dict[int, SourceReader] = {}

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

    def _read(self, p: Placement, lo: int, n: int) -> np.ndarray | None:
        reader = self._readers.get(p.index)
        try:
            if reader is None:
                sr = self.program.sample_rate
                reader = SourceReader(p.entry.track.path, p.entry.source_in + (lo - p.start) / sr, sr)
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
        self._program = Program(timeline)
        self._voice_on = True
        self._limiter = Limiter(self.sample_rate, timeline.settings)
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
        self._swap: Program | None = None
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

    def add_voice(self, clip: VoiceClip | Spoken) -> None:
        """Add a voice clip (or one already made by `prepare_voice`) to the live timeline.

        A clip added after its start has begun to render plays from where the render is.
        """
        spoken = clip if isinstance(clip, Spoken) else prepare_voice(clip, self.timeline.settings,
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
        prog = Program(timeline)
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
