"""A guided session before its first sound: options, plan, cues; and rendering it to a file.

Public: `SessionOptions`, `Prepared`, `prepare`, `resolve_source`, `prepare_resume`, `resume_point`,
`schedule`,
`demo_folder`, `sessions_dir`, `voice_clips`, `render_session`, `render_playlist`, `write_cues_json`,
`mix_settings`, `start_journal`.

Each stage is the library function of its own module; this one only wires them. A session's
options are saved in the journal (`SessionOptions.state`) so that `dancer resume` plays it again
exactly as it was started.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from dancer.errors import DancerError
from dancer.model import Cue, Plan
from dancer.paths import atomic_write_text, display_path, user_data_dir

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
    checkin: bool = True

    def state(self) -> dict:
        """What the journal keeps so that a resumed session plays as it was started."""
        return {"arc": self.arc, "voice": self.voice, "gentle": self.gentle, "no_floor": self.no_floor,
                "prompts": list(self.prompts), "loudness_target": self.loudness_target, "seed": self.seed,
                "volume": self.volume, "checkin": self.checkin}

    @classmethod
    def resumed(cls, record, **overrides) -> SessionOptions:
        """The options a journal record was started with, with ``overrides`` (the ones not None) on top."""
        st = record.state
        options = cls(arc=st.get("arc", record.arc), minutes=record.minutes, seed=st.get("seed", record.seed),
                      voice=st.get("voice", cls.voice), gentle=st.get("gentle", False),
                      no_floor=st.get("no_floor", False), prompts=tuple(st.get("prompts", ())),
                      loudness_target=st.get("loudness_target", cls.loudness_target),
                      volume=st.get("volume", cls.volume), checkin=st.get("checkin", True))
        return replace(options, **{k: v for k, v in overrides.items() if v is not None})


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


def sessions_dir() -> Path:
    """Where the plans of journal sessions are kept (for `dancer resume`)."""
    return user_data_dir() / "sessions"


def demo_folder(echo: Callable[[str], None] = lambda s: None) -> Path:
    """The demo library in the user data dir, synthesised on first use."""
    from dancer.demo import generate_demo

    folder = user_data_dir() / "demo-music"
    marker = folder / ".complete"
    if not marker.exists():
        echo(f"synthesising the demo library in {display_path(folder)} (first use only)")
        # Twice the `dancer demo` length (about 14 minutes), so a 5-minute session has a choice.
        generate_demo(folder, scale=DEMO_SCALE)
        marker.write_text("demo library complete\n")
    return folder


class NoMusicFolder(DancerError):
    """No music to dance to was given and none is configured."""


PLAYLIST_SUFFIXES = (".m3u", ".m3u8")


def resolve_source(source: Path | None, *, demo: bool = False, music: str = "",
                   echo: Callable[[str], None] = lambda s: None) -> tuple[Path | None, Path | None]:
    """(folder, playlist) to dance to: the demo library, ``source`` (a folder or a playlist), or the
    configured ``music`` folder. Raises `NoMusicFolder` when there is none of them."""
    if demo:
        return demo_folder(echo), None
    if source is not None:
        return (source, None) if source.is_dir() else (None, source)
    if music:
        folder = Path(music).expanduser()
        if not folder.is_dir():
            raise DancerError(f"{folder}: the configured music folder is missing; "
                              "pass FOLDER or set it with `dancer config set music DIR`")
        return folder, None
    raise NoMusicFolder("no music folder yet: pass FOLDER, --music DIR (saved for next time) or --demo")


def _load_pack(options: SessionOptions):
    from dancer.guide.prompts import load_packs

    return load_packs([Path(p) for p in options.prompts], gentle=options.gentle, no_floor=options.no_floor)


def schedule(plan: Plan, arc, options: SessionOptions, voice=None) -> list[Cue]:
    """The cue list of ``plan``: phrase-placed prompts, sized by the voice's real speech lengths."""
    from dancer.guide.schedule import guides_for, schedule_cues

    seconds = None
    if voice is not None and voice.speaks:
        from dancer.guide.voice_cache import speech_seconds

        seconds = speech_seconds(voice)
    return schedule_cues(plan, guides_for(plan, arc.phases), _load_pack(options), seed=options.seed,
                         speech_seconds=seconds)


def prepare(library, *, folder: Path | None, playlist: Path | None, options: SessionOptions, voice=None,
            avoid_recent: bool = True) -> Prepared:
    """Plan the session (from a folder's tracks, or as a given playlist) and schedule its cues."""
    from dancer.plan.arcs import load_arc
    from dancer.plan.planner import make_plan

    arc = load_arc(options.arc)
    if playlist is not None:
        from dancer.plan.build import load_plan

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
    from dancer.plan.playlist import write_plan

    write_plan(plan, path)


def write_cues_json(cues: Sequence[Cue], path: Path) -> None:
    """The cue list as JSON: start time (s), kind, text, phase — to check a session without listening."""
    rows = [{"time": round(c.time, 3), "kind": c.kind, "text": c.text, "phase": c.phase} for c in cues]
    atomic_write_text(path, json.dumps(rows, indent=1, ensure_ascii=False) + "\n")


def voice_clips(cues: Sequence[Cue], voice, sample_rate: int, *, timeout: float | None = None) -> list:
    """Synthesise every cue (cached) and return mixer `VoiceClip`s at ``sample_rate``."""
    from dancer.audio.timeline import VoiceClip
    from dancer.guide.voice_render import VoiceRenderer

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
    from dancer.audio.timeline import MixSettings

    return MixSettings(target_lufs=options.loudness_target)


def render_session(prepared: Prepared, output: Path, *, voice=None, sample_rate: int = 44100,
                   progress: Callable[[float, float], None] | None = None) -> float:
    """Render the session, voice and ducking included, to an audio file; returns its length (s)."""
    return _render(prepared.plan, prepared.cues, voice, output, sample_rate=sample_rate, progress=progress,
                   settings=mix_settings(prepared.options))


def render_playlist(plan: Plan, output: Path, *, voice=None, with_cues: bool = False, seed: int | None = None,
                    cues_to: Path | None = None, sample_rate: int = 44100,
                    progress: Callable[[float, float], None] | None = None) -> tuple[float, list[Cue]]:
    """Render a playlist's plan to an audio file; with ``with_cues`` its arc's prompts are scheduled
    (written to ``cues_to`` as JSON when given) and spoken by ``voice`` over the ducked music.

    Returns the length rendered (s) and the cues. The arc is the one the playlist names (its arc
    file when it was built from one).
    """
    cues: list[Cue] = []
    if with_cues:
        from dancer.plan.build import plan_arc

        if not plan.arc and not plan.arc_file:
            raise DancerError("this playlist names no arc (not made by dancer), so it has no prompts; "
                              "drop --voice/--cues")
        arc = plan_arc(plan)
        options = SessionOptions(arc=plan.arc_file or plan.arc, seed=plan.seed if seed is None else seed)
        cues = schedule(plan, arc, options, voice)
        if cues_to is not None:
            write_cues_json(cues, cues_to)
    seconds = _render(plan, cues, voice, output, sample_rate=sample_rate, progress=progress)
    return seconds, cues


def _render(plan: Plan, cues: Sequence[Cue], voice, output: Path, *, sample_rate: int, progress,
            settings=None) -> float:
    from dancer.audio.render import render_to_file
    from dancer.audio.timeline import Timeline

    clips = voice_clips(cues, voice, sample_rate)
    timeline = Timeline.from_plan(plan, voice=clips, sample_rate=sample_rate, settings=settings)
    render_to_file(timeline, output, progress=progress)
    return timeline.length


def start_journal(library, prepared: Prepared, before=None) -> int:
    """Record ``prepared`` in the journal as a running session (with its options, for resume); its id."""
    from dancer.session.journal import Journal

    journal = Journal(library)
    options = prepared.options
    record_id = journal.start(arc=prepared.arc.name, minutes=options.minutes, seed=options.seed,
                              playlist=str(prepared.playlist),
                              track_paths=[e.track.path for e in prepared.plan.entries], before=before)
    journal.update(record_id, position=0.0, seconds_danced=0.0, status="running", state=options.state())
    return record_id


def prepare_resume(library, record, options: SessionOptions, voice=None) -> Prepared:
    """The journal session ``record`` ready to play again: its saved plan (re-planned as it was when
    it stopped), its arc, and its cues scheduled as before."""
    from dancer.plan.arcs import load_arc
    from dancer.plan.build import load_plan

    playlist = Path(record.playlist)
    if not playlist.exists():
        raise DancerError(f"{playlist}: the saved plan of session {record.id} is missing; start a new "
                          f"session")
    plan = load_plan(playlist, library.path)
    arc = load_arc(options.arc)
    cues = schedule(plan, arc, options, voice)
    return Prepared(plan=plan, arc=arc, cues=cues, tracks=[e.track for e in plan.entries], playlist=playlist,
                    options=options)


def resume_point(plan: Plan, position: float) -> float:
    """A little before where the session stopped, on a phrase of the music then playing."""
    target = max(0.0, position - 2.0)
    for e in plan.entries:
        if e.start <= target < e.end and e.track.analysis is not None:
            phrases = [e.start + (p - e.source_in) for p in e.track.analysis.phrases
                       if e.source_in <= p < e.source_out]
            earlier = [t for t in phrases if target - 16.0 <= t <= target]
            return max(earlier) if earlier else target
    return min(target, max(plan.length - 1.0, 0.0))

