"""Placing prompts on the session timeline, in time with the music.

Public API
----------
- `PhaseGuide`: what the scheduler needs to know about one arc phase (plain data).
- `guides_for`: PhaseGuides from a `Plan` and the arc's phase objects (duck-typed).
- `schedule_cues`: the cue list of a session.
- `MusicGrid` / `music_grid` (from `dancer.guide.grid`): the beats, downbeats and phrases of the music
  playing at each moment.
- `breath_beats`: inhale and exhale lengths, in whole beats, for a tempo.
- `count_in_step`: beats between the words of a count-in.
- `estimate_speech_seconds`: how long a text takes to say, without synthesising it.

Rules
-----
Every cue starts on a beat of the music that is playing (on a phrase boundary for movement
prompts), and no cue is spoken during the busiest part of a crossfade: from a quarter of the way
into the overlap of two entries to its end. Beatless music has no beats; there cues sit on a
slow grid of their own. Cues never overlap each other.

The order of placement is the order of importance: phase announcements (ending just before
their phase starts), the count-in before the first beat-driven groove, the closing check-in and
aftercare, then breath cycles and prompts at each phase's density.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dancer.guide.grid import MusicGrid, Span, music_grid
from dancer.guide.prompts import Prompt, PromptPack
from dancer.model import Cue, Plan

#: Seconds of silence kept after a cue before the next may start.
GAP = 0.8
#: The first cue of a session waits this long, so the music is heard before the voice.
FIRST_CUE = 3.0
#: An announcement may start at most this long before its phase (plus its own length).
ANNOUNCE_LEAD = 8.0
#: Breath cycle for beatless music (seconds in, seconds out).
BEATLESS_BREATH = (4.0, 6.0)
#: Breath cycles in one guided breathing block.
BREATH_CYCLES = 3
#: Seconds between the starts of breathing blocks in a breath phase.
BREATH_EVERY = 150.0
#: Seconds left between the closing cues.
CLOSING_PAUSE = 6.0

COUNT_WORDS = ("Five", "six", "seven", "eight")
COUNT_ONE = "One!"
FOLLOW_INHALE = "Breathe in."
FOLLOW_EXHALE = "And out."
_NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
)
#: Phase positions to try, in order, when a pack has nothing for the phase's own position.
_POSITION_FALLBACK = {"floor": ("floor", "seated"), "seated": ("seated", "floor"), "standing": ("standing",)}
_GROOVE_TAGS = frozenset({"groove", "peak", "build", "staccato"})


@dataclass(frozen=True)
class PhaseGuide:
    """One arc phase as the scheduler sees it.

    ``start``/``end`` are timeline seconds; ``tags`` the phase's prompt tags (its ``name`` is
    matched too); ``density`` prompts per minute; ``breath`` asks for tempo-locked breath cycles;
    ``impact`` "low" keeps to low-impact prompts; ``position`` is standing, floor or seated;
    ``energy`` the arc's energy target at the start and end of the phase (0..1).
    """

    name: str
    title: str
    start: float
    end: float
    tags: tuple[str, ...] = ()
    density: float = 1.0
    breath: bool = False
    impact: str = "normal"
    position: str = "standing"
    energy: tuple[float, float] = (0.5, 0.5)

    @property
    def match_tags(self) -> frozenset[str]:
        return frozenset((*self.tags, self.name))

    def energy_at(self, t: float) -> float:
        if self.end <= self.start:
            return self.energy[0]
        x = min(max((t - self.start) / (self.end - self.start), 0.0), 1.0)
        return self.energy[0] + x * (self.energy[1] - self.energy[0])


def guides_for(plan: Plan, phases: Iterable[Any]) -> list[PhaseGuide]:
    """PhaseGuides for ``plan.phases``, with settings from arc phases matched by name.

    ``phases`` are the arc's phase objects or mappings with any of ``prompt_tags``,
    ``prompt_density``, ``breath``, ``impact``, ``position`` and ``energy``; missing ones take
    the PhaseGuide defaults.
    """

    def get(obj: Any, key: str, default: Any) -> Any:
        if isinstance(obj, dict):
            return obj.get(key, default)
        return getattr(obj, key, default)

    by_name = {get(p, "name", None): p for p in phases}
    guides = []
    for span in plan.phases:
        phase = by_name.get(span.name, {})
        energy = tuple(get(phase, "energy", (0.5, 0.5)))
        guides.append(
            PhaseGuide(
                name=span.name,
                title=span.title,
                start=span.start,
                end=span.end,
                tags=tuple(get(phase, "prompt_tags", ()) or ()),
                density=float(get(phase, "prompt_density", 1.0)),
                breath=bool(get(phase, "breath", False)),
                impact=str(get(phase, "impact", "normal")),
                position=str(get(phase, "position", "standing")),
                energy=(float(energy[0]), float(energy[-1])),
            )
        )
    return guides


# --------------------------------------------------------------------------------------------
# The music grid


def estimate_speech_seconds(text: str) -> float:
    """Seconds a calm voice takes to say ``text``: about 0.3 s a word plus pauses.

    Calibrated on the bundled Piper voice, on the long side so cues do not collide.
    """
    words = len(text.split())
    stops = len(re.findall(r"[.!?;:](?=\s)", text))
    commas = text.count(",")
    return 0.1 + 0.31 * words + 0.3 * stops + 0.12 * commas


def breath_beats(bpm: float, meter: int = 4) -> tuple[int, int]:
    """Inhale and exhale lengths in whole beats for music at ``bpm``.

    The in-breath is as close to 3.5 s as the choices allow, the out-breath twice as long or
    more, and a whole cycle fills whole bars, so every in-breath starts on a downbeat: e.g.
    4 in / 8 out at 80 BPM (3 s / 6 s), 8 in / 16 out at 120 BPM (4 s / 8 s).
    """
    period = 60.0 / bpm
    if meter == 4:
        choices = [(2, 6), (4, 8), (8, 16)]
    else:
        choices = [(meter, 2 * meter), (2 * meter, 4 * meter)]
    return min(choices, key=lambda c: abs(c[0] * period - 3.5))


def count_in_step(beat_period: float, word_seconds: float) -> int:
    """Beats between count-in words (1, 2 or 4) so that no word runs into the next."""
    for step in (1, 2, 4):
        if step * beat_period >= word_seconds + 0.05:
            return step
    return 4


def number_word(n: int) -> str:
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else str(n)


# --------------------------------------------------------------------------------------------
# Scheduling


def schedule_cues(
    plan: Plan,
    guides: Sequence[PhaseGuide],
    pack: PromptPack,
    *,
    seed: int = 0,
    speech_seconds: Callable[[str], float] | None = None,
) -> list[Cue]:
    """The cues of a session, in time order.

    Parameters
    ----------
    plan
        The session's entries; their tracks' beat grids give the cue times.
    guides
        One `PhaseGuide` per arc phase (see `guides_for`).
    pack
        The prompts to choose from, already filtered for ``--gentle``/``--no-floor``.
    seed
        Same seed, same cues. No prompt repeats while the pack has unused prompts that fit.
    speech_seconds
        How long a text takes to say (default `estimate_speech_seconds`).

    Returns
    -------
    list of Cue
        Kinds: ``phase``, ``count-in``, ``movement``, ``breath``, ``check-in``, ``aftercare``.
        Breath cycles in ``breath`` phases give an in-breath and an out-breath cue per cycle,
        whole beats apart (see `breath_beats`). Over beatless music the cycle is a slow fixed
        4 s in and 6 s out, and cues sit on a stand-in grid every 8 s.
    """
    if not plan.entries:
        return []
    scheduler = _Scheduler(
        music_grid(plan),
        sorted(guides, key=lambda g: g.start),
        pack,
        random.Random(seed),
        speech_seconds or estimate_speech_seconds,
    )
    return scheduler.run()


@dataclass
class _Placed:
    time: float
    end: float
    cue: Cue


@dataclass
class _Scheduler:
    grid: MusicGrid
    guides: list[PhaseGuide]
    pack: PromptPack
    rng: random.Random
    speech: Callable[[str], float]
    placed: list[_Placed] = field(default_factory=list)
    used: dict[str, int] = field(default_factory=dict)
    last_focus: tuple[str, ...] = ()
    prompted: bool = False
    prompted_phases: set[str] = field(default_factory=set)
    _durations: dict[str, float] = field(default_factory=dict)

    def run(self) -> list[Cue]:
        for index, guide in enumerate(self.guides):
            self._announce(guide, first=index == 0)
        groove = self._count_in_phase()
        if groove is not None:
            self._count_in(groove)
        closing_start = self._closing()
        for guide in self.guides:
            self._fill(guide, min(guide.end, closing_start - CLOSING_PAUSE))
        self.placed.sort(key=lambda p: p.time)
        return [p.cue for p in self.placed]

    # -- bookkeeping

    def say(self, text: str) -> float:
        if text not in self._durations:
            self._durations[text] = float(self.speech(text))
        return self._durations[text]

    def free(self, t0: float, t1: float) -> bool:
        if t0 < 0 or t1 > self.grid.length or self.grid.is_busy(t0, t1):
            return False
        return not any(t0 < p.end + GAP and p.time < t1 + GAP for p in self.placed)

    def put(self, time: float, kind: str, text: str, phase: str, *, end: float | None = None) -> None:
        end = time + self.say(text) if end is None else end
        self.placed.append(_Placed(time, end, Cue(time=time, kind=kind, text=text, phase=phase)))

    def bpm_at(self, t: float) -> float | None:
        span = self.grid.span_at(t)
        return None if span is None or span.beatless else span.bpm

    # -- choosing prompts

    def choose(
        self,
        kinds: Sequence[str],
        guide: PhaseGuide,
        t: float,
        *,
        tags: Iterable[str] | None = None,
        fits: Callable[[Prompt], bool] | None = None,
    ) -> Prompt | None:
        """A prompt for ``guide`` at time ``t``, unused ones first.

        Kind, position, impact and tempo always hold; energy is relaxed next, then the phase's
        tags (down to prompts tagged ``any``). Only when nothing unused fits is the least
        recently used prompt said again.
        """
        match_tags = frozenset(tags) if tags is not None else guide.match_tags
        bpm = self.bpm_at(t)
        impact = "low" if guide.impact == "low" else None
        energy = guide.energy_at(t)
        levels: list[tuple[Prompt, ...]] = []
        for position in _POSITION_FALLBACK.get(guide.position, (guide.position,)):

            def match(
                tags: Iterable[str], energy: float | None = None, position: str = position
            ) -> tuple[Prompt, ...]:
                return self.pack.matching(
                    kinds,
                    tags=tags,
                    position=position,
                    impact=impact,
                    bpm=bpm,
                    beatless=bpm is None,
                    energy=energy,
                )

            levels += [match(match_tags, energy), match(match_tags), match({"any"})]
        if fits is not None:
            levels = [tuple(p for p in level if fits(p)) for level in levels]
        for level in levels:
            fresh = [p for p in level if p.id not in self.used]
            if fresh:
                return self._pick(fresh)
        for level in levels:
            if level:
                oldest = min(self.used.get(p.id, -1) for p in level)
                return self._pick([p for p in level if self.used.get(p.id, -1) == oldest])
        return None

    def _pick(self, candidates: list[Prompt]) -> Prompt:
        candidates = sorted(candidates, key=lambda p: p.id)
        weights = [1.0 if set(p.focus) & set(self.last_focus) else 3.0 for p in candidates]
        return self.rng.choices(candidates, weights=weights)[0]

    def mark(self, prompt: Prompt) -> None:
        self.used[prompt.id] = len(self.placed)
        if prompt.kind in ("movement", "breath"):
            self.last_focus = prompt.focus

    # -- phase announcements

    def _announce(self, guide: PhaseGuide, *, first: bool) -> None:
        # An announcement written for this phase by name beats one that only shares a tag.
        prompt = self.choose(
            ("phase",), guide, guide.start, tags={guide.name}, fits=lambda p: guide.name in p.tags
        )
        prompt = prompt or self.choose(("phase",), guide, guide.start)
        text = prompt.text.format(title=guide.title) if prompt else f"Next: {guide.title}."
        duration = self.say(text)
        if first:
            options = [t for t, _ in self.grid.points(guide.start + FIRST_CUE, guide.end, "beat")]
        else:
            latest = guide.start - duration - 0.2
            before = self.grid.points(latest - ANNOUNCE_LEAD, latest + 1e-9, "beat")
            after = self.grid.points(guide.start, min(guide.end, guide.start + 30.0), "beat")
            options = [t for t, _ in reversed(before)] + [t for t, _ in after]
        for t in options:
            if self.free(t, t + duration):
                self.put(t, "phase", text, guide.name)
                if prompt:
                    self.mark(prompt)
                return

    # -- count-in

    def _count_in_phase(self) -> PhaseGuide | None:
        """The first standing phase without breath cycles with a beat early on, grooves first."""
        candidates = [g for g in self.guides if not g.breath and g.position == "standing"]
        with_beat = [
            g
            for g in candidates
            if any(
                not span.beatless
                for _, span in self.grid.points(g.start, min(g.end, g.start + 90.0), "downbeat")
            )
        ]
        grooves = [g for g in with_beat if g.match_tags & _GROOVE_TAGS]
        return next(iter(grooves or with_beat), None)

    def _count_in(self, guide: PhaseGuide) -> None:
        """Lead-in line, then "five, six, seven, eight" on beats and "one" on a downbeat."""
        word_seconds = max(self.say(w) for w in (*COUNT_WORDS, COUNT_ONE))
        window_end = min(guide.end, guide.start + 90.0)
        options = self.grid.points(guide.start, window_end, "phrase")
        options += self.grid.points(guide.start, window_end, "downbeat")
        for one, span in options:
            if span.beatless:
                continue
            step = count_in_step(span.beat_period, word_seconds)
            index = int(np.searchsorted(span.beats, one - 1e-6))
            first = index - len(COUNT_WORDS) * step
            if first < 0:
                continue
            times = [float(span.beats[first + k * step]) for k in range(len(COUNT_WORDS))] + [one]
            texts = [*COUNT_WORDS, COUNT_ONE]
            if not all(self.free(t, t + self.say(w)) for t, w in zip(times, texts)):
                continue
            lead = self.choose(("count-in",), guide, one)
            lead_at = None
            if lead is not None:
                latest = times[0] - self.say(lead.text) - 0.3
                for t, _ in reversed(self.grid.points(latest - 4.0, latest + 1e-9, "beat")):
                    if self.free(t, t + self.say(lead.text)):
                        lead_at = t
                        break
                if lead_at is None:
                    continue
                self.put(lead_at, "count-in", lead.text, guide.name)
                self.mark(lead)
            for t, w in zip(times, texts):
                self.put(t, "count-in", w, guide.name)
            return

    # -- closing check-in and aftercare

    def _closing(self) -> float:
        """Place the check-in and aftercare in the last minutes; returns where they start."""
        if not self.guides:
            return self.grid.length
        last = self.guides[-1]
        picks: list[tuple[str, Prompt]] = []
        check = self.choose(("check-in",), last, self.grid.length)
        if check:
            picks.append(("check-in", check))
        for tag in ("care", "close"):
            care = self.choose(("aftercare",), last, self.grid.length, tags={tag})
            if care:
                picks.append(("aftercare", care))
        if not picks:
            return self.grid.length
        total = sum(self.say(p.text) for _, p in picks) + CLOSING_PAUSE * len(picks)
        cursor = max(last.start, self.grid.length - total - 6.0)
        start = None
        for kind, prompt in picks:
            duration = self.say(prompt.text)
            for level in ("phrase", "beat"):
                spot = next(
                    (
                        t
                        for t, _ in self.grid.points(cursor, self.grid.length, level)
                        if self.free(t, t + duration)
                    ),
                    None,
                )
                if spot is not None:
                    break
            if spot is None:
                continue
            self.put(spot, kind, prompt.text, last.name)
            self.mark(prompt)
            start = spot if start is None else start
            cursor = spot + duration + CLOSING_PAUSE
        return self.grid.length if start is None else start

    # -- prompts and breath cycles

    def _fill(self, guide: PhaseGuide, end: float) -> None:
        """Prompts every ``60 / density`` seconds; in breath phases a breath block every
        `BREATH_EVERY` seconds, each followed by a prompt."""
        if guide.density <= 0:
            return
        interval = 60.0 / guide.density
        cursor = guide.start
        last_block = -np.inf
        while cursor < end:
            if guide.breath and cursor - last_block >= BREATH_EVERY:
                block = self._breath_block(guide, cursor, end)
                last_block = cursor if block is None else block[0]
                if block is not None:
                    cursor = block[0] + block[1]
                    continue
            placed = self._prompt(guide, cursor, end)
            if placed is None:
                return
            time, room = placed
            cursor = time + max(interval, room)

    def _prompt(self, guide: PhaseGuide, cursor: float, end: float) -> tuple[float, float] | None:
        kinds = ("movement", "breath")
        prompt = None
        if not self.prompted:
            # The first prompt of a session is the reminder to move within comfort, if it fits.
            prompt = self.choose(kinds, guide, cursor, tags={"safety"}, fits=lambda p: "safety" in p.tags)
        if prompt is None and guide.name not in self.prompted_phases:
            # A prompt tagged "first" leads into its phase (getting down to the floor, say).
            prompt = self.choose(
                kinds,
                guide,
                cursor,
                fits=lambda p: "first" in p.tags and bool(guide.match_tags & set(p.tags)),
            )
        if prompt is None:
            prompt = self.choose(
                kinds, guide, cursor, fits=lambda p: not p.is_cycle and "first" not in p.tags
            )
        if prompt is None:
            return None
        duration = self.say(prompt.text)
        for t, _ in self.grid.points(cursor, end, "phrase"):
            if t + duration <= end and self.free(t, t + duration):
                self.put(t, prompt.kind, prompt.text, guide.name)
                self.mark(prompt)
                self.prompted = True
                self.prompted_phases.add(guide.name)
                return t, max(duration + GAP, prompt.min_spacing)
        return None

    def _breath_block(self, guide: PhaseGuide, cursor: float, end: float) -> tuple[float, float] | None:
        """Tempo-locked breath cycles starting on a phrase boundary at or after ``cursor``."""
        for t, span in self.grid.points(cursor, end, "phrase"):
            for cycles in (BREATH_CYCLES, 2):
                times = self._breath_times(span, t, cycles)
                if times is None or times[-1] > end or not self.free(times[0], times[-1]):
                    continue
                inhale, exhale = times[1] - times[0], times[2] - times[1]

                def fits(
                    prompt: Prompt, span: Span = span, inhale: float = inhale, exhale: float = exhale
                ) -> bool:
                    return prompt.is_cycle and self._cycle_fits(prompt, span, inhale, exhale)

                prompt = self.choose(("breath",), guide, t, fits=fits)
                texts = self._breath_texts(prompt, span, cycles)
                if not all(self.say(x) <= d - 0.15 for x, d in zip(texts, np.diff(times))):
                    continue
                for i, text in enumerate(texts):
                    # Each cue holds its whole in- or out-breath, so nothing else is said inside.
                    self.put(times[i], "breath", text, guide.name, end=times[i + 1] - GAP)
                if prompt is not None:
                    self.mark(prompt)
                return t, times[-1] - t + GAP
        return None

    def _breath_times(self, span: Span, t: float, cycles: int) -> list[float] | None:
        """In/out cue times of ``cycles`` cycles from ``t``, plus the end of the last out-breath."""
        if span.beatless:
            inhale, exhale = BEATLESS_BREATH
            times = [t + k * (inhale + exhale) + off for k in range(cycles) for off in (0.0, inhale)]
            times.append(t + cycles * (inhale + exhale))
            return times if times[-1] <= span.end else None
        assert span.bpm is not None
        n_in, n_out = breath_beats(60.0 / span.beat_period, span.meter)
        start = bisect_left(span.beats.tolist(), t - 1e-6)
        idx = [start + k * (n_in + n_out) + off for k in range(cycles) for off in (0, n_in)]
        idx.append(start + cycles * (n_in + n_out))
        if idx[-1] >= len(span.beats):
            return None
        return [float(span.beats[i]) for i in idx]

    def _breath_counts(self, span: Span) -> tuple[int, int] | tuple[float, float]:
        if span.beatless:
            return BEATLESS_BREATH
        return breath_beats(60.0 / span.beat_period, span.meter)

    def _cycle_fits(self, prompt: Prompt, span: Span, inhale: float, exhale: float) -> bool:
        n_in, n_out = self._breath_counts(span)
        fmt = {"in": number_word(int(n_in)), "out": number_word(int(n_out))}
        return (
            self.say(prompt.text.format(**fmt)) <= inhale - 0.15
            and self.say(prompt.exhale.format(**fmt)) <= exhale - 0.15
        )

    def _breath_texts(self, prompt: Prompt | None, span: Span, cycles: int) -> list[str]:
        n_in, n_out = self._breath_counts(span)
        fmt = {"in": number_word(int(n_in)), "out": number_word(int(n_out))}
        first = (prompt.text.format(**fmt), prompt.exhale.format(**fmt)) if prompt else None
        texts: list[str] = []
        for k in range(cycles):
            texts += list(first) if (k == 0 and first) else [FOLLOW_INHALE, FOLLOW_EXHALE]
        return texts
