"""A whole guided session: music → library → plan → cues → voice → playback or render → journal.

Public: `SessionOptions`, `Prepared`, `prepare`, `demo_folder`, `sessions_dir`, `voice_clips`,
`render_session`, `LiveSession`, `write_cues_json`.

Each stage is the library function of its own module; this one only wires them, keeps the
session's state (plan, cues, position, nudges) and saves it to the journal so that `dancer
resume` can continue where a session stopped.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dancer.errors import DancerError
from dancer.model import Cue, Plan
from dancer.paths import atomic_write_text, display_path

#: How far ahead of "now" a re-plan may change the music: past the player's buffer, on a phrase.
REPLAN_LEAD = 2.0
#: One ↑/↓ press moves the remaining energy target by this much.
NUDGE_STEP = 0.15
NUDGE_LIMIT = 0.45
#: Seconds between journal saves while playing.
SAVE_EVERY = 5.0
DEMO_SCALE = 2.0


@dataclass(frozen=True)
class SessionOptions:
    arc: str = "hip-release"
    minutes: float = 45.0
    seed: int = 0
    voice: str = "auto"
    gentle: bool = False
    no_floor: bool = False
    prompts: tuple[str, ...] = ()
    loudness_target: float = -16.0
    volume: float = 0.8
    device: str | None = None
    latency: str | float = "high"


@dataclass
class Prepared:
    """Everything a session needs before the first sound."""

    plan: Plan
    arc: object
    cues: list[Cue]
    tracks: list
    playlist: Path
    options: SessionOptions
    warnings: list[str] = field(default_factory=list)


def data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("dancer", appauthor=False))


def sessions_dir() -> Path:
    """Where the plans of journal sessions are kept (for `dancer resume`)."""
    return data_dir() / "sessions"


def demo_folder(echo: Callable[[str], None] = lambda s: None) -> Path:
    """The demo library in the user data dir, synthesised on first use."""
    from dancer.demo import generate_demo

    folder = data_dir() / "demo-music"
    marker = folder / ".complete"
    if not marker.exists():
        echo(f"synthesising the demo library in {display_path(folder)} (first use only)")
        # Twice the `dancer demo` length (about 14 minutes), so a 5-minute session has a choice.
        generate_demo(folder, scale=DEMO_SCALE)
        marker.write_text("demo library complete\n")
    return folder


def _load_pack(options: SessionOptions):
    from dancer.prompts import load_packs

    return load_packs([Path(p) for p in options.prompts], gentle=options.gentle, no_floor=options.no_floor)


def schedule(plan: Plan, arc, options: SessionOptions, voice=None) -> list[Cue]:
    """The cue list of ``plan``: phrase-placed prompts, sized by the voice's real speech lengths."""
    from dancer.prompts.schedule import guides_for, schedule_cues

    seconds = None
    if voice is not None and voice.speaks:
        from dancer.voice import speech_seconds

        seconds = speech_seconds(voice)
    return schedule_cues(plan, guides_for(plan, arc.phases), _load_pack(options), seed=options.seed,
                         speech_seconds=seconds)


def prepare(library, *, folder: Path | None, playlist: Path | None, options: SessionOptions, voice=None,
            avoid_recent: bool = True) -> Prepared:
    """Plan the session (from a folder's tracks, or as a given playlist) and schedule its cues."""
    from dancer.arcs import load_arc
    from dancer.plan import make_plan

    arc = load_arc(options.arc)
    if playlist is not None:
        from dancer.commands.play import load_plan

        plan = load_plan(playlist, library.path)
        tracks = [e.track for e in plan.entries]
    else:
        tracks = library.tracks(under=folder)
        if not tracks:
            raise DancerError(f"{display_path(folder)}: no analysed tracks; add music there and scan again")
        avoid = library.recent_paths() if avoid_recent else set()
        plan = make_plan(tracks, arc, minutes=options.minutes, seed=options.seed, avoid=avoid)
    if not plan.entries:
        raise DancerError("the plan is empty: the library has no usable tracks")
    cues = schedule(plan, arc, options, voice)
    sessions_dir().mkdir(parents=True, exist_ok=True)
    path = sessions_dir() / f"session-{time.strftime('%Y%m%d-%H%M%S')}-{options.seed}.m3u8"
    save_plan(plan, path)
    return Prepared(plan=plan, arc=arc, cues=cues, tracks=tracks, playlist=path, options=options,
                    warnings=list(plan.warnings))


def save_plan(plan: Plan, path: Path) -> None:
    from dancer.playlist import write_plan

    write_plan(plan, path)


def write_cues_json(cues: Sequence[Cue], path: Path) -> None:
    """The cue list as JSON: start time (s), kind, text, phase — to check a session without listening."""
    rows = [{"time": round(c.time, 3), "kind": c.kind, "text": c.text, "phase": c.phase} for c in cues]
    atomic_write_text(path, json.dumps(rows, indent=1, ensure_ascii=False) + "\n")


def voice_clips(cues: Sequence[Cue], voice, sample_rate: int, *, timeout: float | None = None) -> list:
    """Synthesise every cue (cached) and return mixer `VoiceClip`s at ``sample_rate``."""
    from dancer.mixer import VoiceClip
    from dancer.voice import VoiceRenderer

    if voice is None or not voice.speaks:
        return []
    with VoiceRenderer(cues, voice, sample_rate=sample_rate) as renderer:
        renderer.wait(timeout)
        clips = []
        for cue in cues:
            audio = renderer.get(cue)
            if audio is not None:
                clips.append(VoiceClip(cue.time, audio[0], cue.text))
    return clips


def mix_settings(options: SessionOptions):
    from dancer.mixer import MixSettings

    return MixSettings(target_lufs=options.loudness_target)


def render_session(prepared: Prepared, output: Path, *, voice=None, sample_rate: int = 44100,
                   progress: Callable[[float, float], None] | None = None) -> float:
    """Render the session, voice and ducking included, to an audio file; returns its length (s)."""
    from dancer.mixer import Timeline, render_to_file

    clips = voice_clips(prepared.cues, voice, sample_rate)
    timeline = Timeline.from_plan(prepared.plan, voice=clips, sample_rate=sample_rate,
                                  settings=mix_settings(prepared.options))
    render_to_file(timeline, output, progress=progress)
    return timeline.length


# -- live playback -----------------------------------------------------------------------------


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
                 stream_factory=None) -> None:
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

    # -- controls (called from the key thread) ----------------------------------------------------

    def key(self, action: str) -> None:
        with self._lock:
            p = self.player
            if p is None:
                self._early.append(action)
                return
        if action == "toggle":
            p.toggle_pause()
        elif action == "next":
            entry = p.status().entry
            if entry is not None:
                self.skipped.add(entry)
            p.next()
        elif action == "previous":
            p.previous()
        elif action == "up":
            p.volume(+2.0)
        elif action == "down":
            p.volume(-2.0)
        elif action == "forward":
            p.seek(30.0)
        elif action == "back":
            p.seek(-30.0)
        elif action in ("more", "less"):
            self.nudge(+NUDGE_STEP if action == "more" else -NUDGE_STEP)
        elif action == "voice":
            self.state.voice_on = not self.state.voice_on
            p.set_voice_enabled(self.state.voice_on)
            self.on_event("info", f"voice {'on' if self.state.voice_on else 'off'}", p.status().position)
        elif action == "quit":
            self.quit.set()
            p.stop()

    def nudge(self, step: float) -> None:
        """Shift the remaining energy target and re-plan from the next phrase boundary."""
        from dancer.plan import replan_remaining

        with self._lock:
            shift = max(-NUDGE_LIMIT, min(NUDGE_LIMIT, self.state.nudge + step))
            if shift == self.state.nudge:
                self.on_event("info", "energy is already at its limit", self.state.position)
                return
            now = self.player.status().position
            old = self.prepared.plan
            new = replan_remaining(old, self.prepared.tracks, self.prepared.arc, from_time=now + REPLAN_LEAD,
                                   energy_shift=shift, avoid=(), push=step)
            cut = _first_difference(old, new)
            if cut is None:
                # The target still moves, so the next press builds on this one.
                self.state.nudge = shift
                word = "more" if step > 0 else "less"
                self.on_event("info", f"{word} energy: no {'livelier' if step > 0 else 'calmer'} music in the "
                                      f"library fits the rest of the session; the plan stays (energy {shift:+.2f})",
                              now)
                return
            cues = [c for c in self.prepared.cues if c.time < cut]
            later = [c for c in schedule(new, self.prepared.arc, self.prepared.options, self.voice) if c.time >= cut]
            self.prepared.plan = new
            self.prepared.cues = cues + later
            self.state.nudge = shift
            self.state.length = new.length
            self.nudges += 1
            self._sent = {i for i in self._sent if i < len(cues)}
            self._next_cue = min(self._next_cue, len(cues))
            from dancer.mixer import Timeline

            timeline = Timeline.from_plan(new, sample_rate=self.player.timeline.sample_rate,
                                          settings=self.player.timeline.settings)
            self.player.replace_timeline(timeline, from_time=cut)
            if self.renderer is not None:
                self.renderer.close()
            self.renderer = self._start_renderer(self.prepared.cues, cut, self.player.timeline.sample_rate)
            save_plan(new, self.prepared.playlist)
            from dancer.ui import clock

            word = "more" if step > 0 else "less"
            self.on_event("info", f"{word} energy: re-planned from {clock(cut)} ({len(new.entries)} tracks, "
                                  f"ends at {clock(new.length)})", now)

    # -- running -----------------------------------------------------------------------------------

    def _start_renderer(self, cues, from_time: float, sample_rate: int):
        if self.voice is None or not self.voice.speaks:
            return None
        from dancer.voice import VoiceRenderer

        renderer = VoiceRenderer([c for c in cues if c.time >= from_time - 1.0], self.voice,
                                 sample_rate=sample_rate)
        return renderer.start()

    def run(self) -> str:
        """Play until the end or quit; returns "finished" or "quit". Raises DeviceError on device failure."""
        from dancer.mixer import Timeline
        from dancer.player import Player

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
        s.position, s.entry, s.phase, s.paused, s.volume_db = st.position, st.entry, st.phase, st.paused, st.volume_db
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
        from dancer.mixer import VoiceClip

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
        from dancer.journal import Journal

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
        Journal(self.library).update(self.journal_id, position=pos, seconds_danced=self.danced + self.danced_before,
                                     status=status, tracks=tracks, nudges=self.nudges,
                                     playlist=str(self.prepared.playlist),
                                     state={"nudge": self.state.nudge, "arc": self.prepared.arc.name})


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
