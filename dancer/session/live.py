"""A prepared session played live: keys, prompts, energy nudges, journal saves, resume.

Public: `LiveSession`, `LiveState`, `run_live`.

The session's state (plan, cues, position, nudges) is saved to the journal as it plays, so
that `dancer resume` continues where it stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dancer.clock import clock
from dancer.model import Cue, Plan
from dancer.session.play import control
from dancer.session.prepare import Prepared, mix_settings, save_plan, schedule

#: How far ahead of "now" a re-plan may change the music: past the player's buffer, on a phrase.
REPLAN_LEAD = 2.0
#: One ↑/↓ press moves the remaining energy target by this much.
NUDGE_STEP = 0.15
NUDGE_LIMIT = 0.45
#: Seconds between journal saves while playing.
SAVE_EVERY = 5.0


@dataclass
class LiveState:
    """What the live view shows; read by the UI thread, written by the session loop."""

    position: float = 0.0
    length: float = 0.0
    entry: int | None = None
    phase: str = ""
    paused: bool = False
    volume_db: float = 0.0
    prompt: Cue | None = None
    voice_on: bool = True
    nudge: float = 0.0
    message: str = ""


class LiveSession:
    """Plays a prepared session on a device with keys, prompts, re-planning and journal saves.

    ``on_event(kind, text, position)`` receives "phase", "track", "prompt" and "info" events
    (the plain-text view prints them with a timestamp).
    """

    def __init__(self, prepared: Prepared, library, *, voice=None, journal_id: int | None = None,
                 start: float = 0.0, on_event: Callable[[str, str, float], None] | None = None,
                 stream_factory=None, previous=None) -> None:
        self.prepared = prepared
        self.library = library
        self.voice = voice
        self.journal_id = journal_id
        self.start_at = start
        self.on_event = on_event or (lambda kind, text, pos: None)
        self.state = LiveState(length=prepared.plan.length, voice_on=voice is not None and voice.speaks)
        self.quit = threading.Event()
        self.player = None
        self.renderer = None
        self.nudges = 0
        self.skipped: set[int] = set()
        self.heard: dict[int, float] = {}
        self.danced = 0.0
        #: Seconds danced in earlier runs of this journal session (before a resume).
        self.danced_before = 0.0
        self._stream_factory = stream_factory
        self._next_cue = 0
        self._sent: set[int] = set()
        self._lock = threading.Lock()
        #: Keys pressed while the player was still starting; played once it runs.
        self._early: list[str] = []
        self._replanning = False
        if previous is not None:
            self._carry_over(previous)

    def _carry_over(self, previous) -> None:
        """Continue the journal record ``previous`` (a resumed session): its minutes danced, nudges,
        energy shift and the tracks already heard count towards this run's saves."""
        self.danced_before = previous.seconds_danced
        self.nudges = previous.nudges
        self.state.nudge = float(previous.state.get("nudge", 0.0))
        if len(previous.tracks) == len(self.prepared.plan.entries):
            for i, (_, state, seconds) in enumerate(previous.tracks):
                self.heard[i] = seconds
                if state == "skipped":
                    self.skipped.add(i)

    # -- controls (called from the key thread) ----------------------------------------------------

    def key(self, action: str) -> None:
        """Apply a key's action; an energy nudge re-plans on a thread of its own, so keys keep working."""
        with self._lock:
            p = self.player
            if p is None:
                self._early.append(action)
                return
        if action == "next":
            entry = p.status().entry
            if entry is not None:
                self.skipped.add(entry)
            p.next()
        elif control(p, action):
            pass
        elif action in ("more", "less"):
            step = +NUDGE_STEP if action == "more" else -NUDGE_STEP
            threading.Thread(target=self._nudge_reporting, args=(step,), name="dancer-replan",
                             daemon=True).start()
        elif action == "voice":
            self.state.voice_on = not self.state.voice_on
            p.set_voice_enabled(self.state.voice_on)
            self.on_event("info", f"voice {'on' if self.state.voice_on else 'off'}", p.status().position)
        elif action == "quit":
            self.quit.set()
            p.stop()

    def _nudge_reporting(self, step: float) -> None:
        # A failed re-plan must not end the session: the plan in force keeps playing.
        try:
            self.nudge(step)
        except Exception as exc:
            self.on_event("info", f"re-planning failed: {type(exc).__name__}: {exc}", self.state.position)

    def nudge(self, step: float) -> None:
        """Shift the remaining energy target and re-plan from the next phrase boundary.

        The lock is held only to read the plan in force and to swap the new one in: the search,
        the cue schedule and the playlist write happen outside it, so the session loop and the
        keys carry on meanwhile. A press while a re-plan is running is refused with a message.
        """
        from dancer.audio.timeline import Timeline
        from dancer.plan.planner import replan_remaining

        word = "more" if step > 0 else "less"
        with self._lock:
            if self._replanning:
                self.on_event("info", "still re-planning the last energy change", self.state.position)
                return
            shift = max(-NUDGE_LIMIT, min(NUDGE_LIMIT, self.state.nudge + step))
            if shift == self.state.nudge:
                self.on_event("info", "energy is already at its limit", self.state.position)
                return
            self._replanning = True
            now = self.player.status().position
            old = self.prepared.plan
            sample_rate, settings = self.player.timeline.sample_rate, self.player.timeline.settings
        try:
            new = replan_remaining(old, self.prepared.tracks, self.prepared.arc, from_time=now + REPLAN_LEAD,
                                   energy_shift=shift, avoid=(), push=step)
            cut = _first_difference(old, new)
            if cut is None:
                with self._lock:
                    # The target still moves, so the next press builds on this one.
                    self.state.nudge = shift
                self.on_event(
                    "info",
                    f"{word} energy: no {'livelier' if step > 0 else 'calmer'} music in the "
                    f"library fits the rest of the session; the plan stays (energy {shift:+.2f})",
                    now,
                )
                return
            cues = schedule(new, self.prepared.arc, self.prepared.options, self.voice)
            later = [c for c in cues if c.time >= cut]
            timeline = Timeline.from_plan(new, sample_rate=sample_rate, settings=settings)
            with self._lock:
                cues = [c for c in self.prepared.cues if c.time < cut]
                self.prepared.plan = new
                self.prepared.cues = cues + later
                self.state.nudge = shift
                self.state.length = new.length
                self.nudges += 1
                self._sent = {i for i in self._sent if i < len(cues)}
                self._next_cue = min(self._next_cue, len(cues))
                self.player.replace_timeline(timeline, from_time=cut)
                old_renderer, self.renderer = self.renderer, None
            if old_renderer is not None:
                old_renderer.close()
            renderer = self._start_renderer(self.prepared.cues, cut, sample_rate)
            with self._lock:
                self.renderer = renderer
            save_plan(new, self.prepared.playlist)
        finally:
            with self._lock:
                self._replanning = False
        self.on_event("info", f"{word} energy: re-planned from {clock(cut)} ({len(new.entries)} tracks, "
                              f"ends at {clock(new.length)})", now)

    # -- running -----------------------------------------------------------------------------------

    def _start_renderer(self, cues, from_time: float, sample_rate: int):
        if self.voice is None or not self.voice.speaks:
            return None
        from dancer.guide.voice_render import VoiceRenderer

        renderer = VoiceRenderer([c for c in cues if c.time >= from_time - 1.0], self.voice,
                                 sample_rate=sample_rate)
        return renderer.start()

    def run(self) -> str:
        """Play until the end or quit; returns "finished" or "quit". Raises DeviceError on device failure."""
        from dancer.audio.player import Player
        from dancer.audio.timeline import Timeline

        prepared = self.prepared
        timeline = Timeline.from_plan(prepared.plan, settings=mix_settings(prepared.options))
        kwargs = {"stream_factory": self._stream_factory} if self._stream_factory else {}
        player = Player(timeline, device=prepared.options.device, latency=prepared.options.latency,
                        start=self.start_at, **kwargs)
        player.start()
        player.volume(_volume_db(prepared.options.volume))
        self._next_cue = next((i for i, c in enumerate(prepared.cues) if c.time >= self.start_at - 0.05),
                              len(prepared.cues))
        self.renderer = self._start_renderer(prepared.cues, self.start_at, player.timeline.sample_rate)
        with self._lock:
            self.player = player
            early, self._early = self._early, []
        for action in early:
            self.key(action)
        last_entry = None
        last_phase = None
        last_save = time.monotonic()
        last_pos = self.start_at
        try:
            while not self.player.wait(0.05):
                self.player.check()
                st = self.player.status()
                self._feed_voice(st.position)
                with self._lock:
                    pos = st.position
                    step = max(0.0, min(pos - last_pos, 1.0))  # a skip or seek is a jump, not dancing
                    if not st.paused:
                        self.danced += step
                        if st.entry is not None:
                            self.heard[st.entry] = self.heard.get(st.entry, 0.0) + step
                    last_pos = pos
                    self._update_state(st)
                    if st.phase and st.phase != last_phase:
                        last_phase = st.phase
                        self.on_event("phase", _phase_title(prepared.plan, st.phase), pos)
                    if st.entry is not None and st.entry != last_entry:
                        last_entry = st.entry
                        e = prepared.plan.entries[st.entry]
                        bpm = "beatless" if e.track.bpm is None else f"{e.track.bpm:.0f} BPM"
                        self.on_event("track", f"{e.track.display} ({bpm})", pos)
                    self._announce_cues(pos)
                if time.monotonic() - last_save > SAVE_EVERY:
                    self.save("running" if not st.paused else "paused")
                    last_save = time.monotonic()
            self.player.check()
        finally:
            st = self.player.status()
            if not st.paused:
                self.danced += max(0.0, min(st.position - last_pos, 1.0))
            self.state.position = st.position
            if self.renderer is not None:
                self.renderer.close()
            self.player.close()
        status = "quit" if self.quit.is_set() else "finished"
        self.save(status)
        return status

    def _update_state(self, st) -> None:
        s = self.state
        s.position, s.entry, s.phase = st.position, st.entry, st.phase
        s.paused, s.volume_db = st.paused, st.volume_db
        s.length = self.prepared.plan.length

    def _announce_cues(self, pos: float) -> None:
        cues = self.prepared.cues
        while self._next_cue < len(cues) and cues[self._next_cue].time <= pos:
            cue = cues[self._next_cue]
            self._next_cue += 1
            if pos - cue.time < 2.0:
                self.state.prompt = cue
                self.on_event("prompt", cue.text, cue.time)

    def _feed_voice(self, pos: float) -> None:
        """Hand synthesised cues to the player well before they are due."""
        if self.renderer is None:
            return
        from dancer.audio.timeline import VoiceClip

        for i, cue in enumerate(self.prepared.cues):
            if i in self._sent or cue.time < pos - 0.5:
                continue
            if cue.time > pos + 30.0:
                break
            if self.renderer.ready(cue):
                self._sent.add(i)
                audio = self.renderer.get(cue)
                if audio is not None:
                    self.player.add_voice(VoiceClip(cue.time, audio[0], cue.text))

    def save(self, status: str) -> None:
        """Write progress to the journal (position, tracks played/skipped, nudges, current plan)."""
        if self.journal_id is None:
            return
        from dancer.session.journal import Journal

        plan = self.prepared.plan
        pos = self.state.position
        tracks = []
        for i, e in enumerate(plan.entries):
            heard = self.heard.get(i, 0.0)
            if i in self.skipped:
                state = "skipped"
            elif heard >= min(30.0, 0.5 * e.length) or (e.end <= pos and heard > 0):
                state = "played"
            else:
                state = "planned"
            tracks.append((e.track.path, state, heard))
        Journal(self.library).update(
            self.journal_id,
            position=pos,
            seconds_danced=self.danced + self.danced_before,
            status=status,
            tracks=tracks,
            nudges=self.nudges,
            playlist=str(self.prepared.playlist),
            state={**self.prepared.options.state(), "nudge": self.state.nudge},
        )


def _first_difference(old: Plan, new: Plan) -> float | None:
    """Timeline time from which ``new`` differs from ``old`` (None when they are the same)."""
    for a, b in zip(old.entries, new.entries):
        if a != b:
            return min(a.end, b.end) if a.track.path == b.track.path else min(a.start, b.start)
    if len(old.entries) != len(new.entries):
        shorter = min(len(old.entries), len(new.entries))
        pick = (old.entries if len(old.entries) > shorter else new.entries)[shorter]
        return pick.start
    return None


def _volume_db(volume: float) -> float:
    import math

    return 20.0 * math.log10(max(volume, 0.01)) if volume < 1.0 else 0.0


def _phase_title(plan: Plan, name: str) -> str:
    for span in plan.phases:
        if span.name == name:
            return span.title or name
    return name


def run_live(prepared: Prepared, library, voice, *, journal_id: int, start: float = 0.0, previous=None,
             interactive: bool, echo: Callable[[str], None] = print, keys=None) -> str:
    """Play a session with the live view (``interactive``) or timestamped lines; returns the end status.

    ``previous`` is the journal record of the run being resumed: its minutes danced, nudges and
    the tracks heard carry over, so the journal keeps one session. ``keys`` is a text stream of key
    presses. Ctrl-C and device failures save the session (as quit or paused) before they propagate.
    """
    from dancer.errors import DancerError, DeviceError
    from dancer.session.view import LiveView, PlainView, read_keys

    live = LiveSession(prepared, library, voice=voice, journal_id=journal_id, start=start, previous=previous)
    view = LiveView(live) if interactive else PlainView(echo)
    live.on_event = view.event
    stop_keys = threading.Event()

    def on_key(action: str) -> None:
        # The key thread must survive anything a control does, or the session stops listening.
        try:
            live.key(action)
        except DancerError as exc:
            live.on_event("info", str(exc), live.state.position)
        except Exception as exc:
            live.on_event("info", f"{action} failed: {type(exc).__name__}: {exc}", live.state.position)

    reader = None
    if keys is not None and not keys.closed:
        reader = threading.Thread(target=read_keys, args=(keys, on_key, stop_keys.is_set), name="dancer-keys",
                                  daemon=True)
        reader.start()
    try:
        if interactive:
            with view:
                return live.run()
        return live.run()
    except KeyboardInterrupt:
        live.save("quit")
        raise
    except DeviceError as exc:
        live.save("paused")
        raise DeviceError(f"{exc}; the session is saved: `dancer resume` continues it") from None
    finally:
        stop_keys.set()
        if reader is not None:
            reader.join(timeout=1.0)
