"""`dancer play`, `dancer render`, `dancer devices`: hear a playlist, render it to a file, list outputs."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

import click

from dancer.commands.scan import library_option
from dancer.errors import DancerError

#: Key → player control. Arrow keys arrive as escape sequences and are mapped in `_read_keys`.
KEYS = {" ": "toggle", "p": "toggle", "n": "next", "b": "previous", ".": "forward", ",": "back",
        "+": "up", "=": "up", "-": "down", "q": "quit"}
SEEK_STEP = 30.0
VOLUME_STEP = 3.0
RENDER_SUFFIXES = (".wav", ".flac", ".ogg")


def parse_time(text: str) -> float:
    """``SS``, ``MM:SS`` or ``H:MM:SS`` → seconds; ValueError otherwise."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or any(not p.replace(".", "", 1).isdigit() for p in parts):
        raise ValueError(text)
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + float(p)
    return seconds


def start_time(spec: str | None, plan) -> float:
    """``--start``: an entry number (1-based) or a time; click.BadParameter when it does not fit."""
    if spec is None:
        return 0.0
    if spec.strip().isdigit():
        k = int(spec)
        if not 1 <= k <= len(plan.entries):
            raise click.BadParameter(f"entry {k} does not exist; the playlist has {len(plan.entries)}",
                                     param_hint="--start")
        return plan.entries[k - 1].start
    try:
        t = parse_time(spec)
    except ValueError:
        raise click.BadParameter(f"{spec!r} is neither an entry number nor MM:SS",
                                 param_hint="--start") from None
    if t >= plan.length:
        raise click.BadParameter(f"{spec} is past the end of the session ({_clock(plan.length)})",
                                 param_hint="--start")
    return t


def _latency(value: str) -> str | float:
    if value in ("low", "high"):
        return value
    try:
        seconds = float(value)
    except ValueError:
        raise click.BadParameter("use low, high or a number of seconds", param_hint="--latency") from None
    if not 0.0 < seconds <= 2.0:
        raise click.BadParameter("must be between 0 and 2 seconds", param_hint="--latency")
    return seconds


def load_plan(playlist: Path, library_path: Path | None):
    """The `Plan` a playlist describes, its tracks' analyses taken from the library when it has them.

    Files the library does not know still play, without loudness matching or beat-aligned skips.
    """
    from dancer.errors import LibraryError
    from dancer.library import Library
    from dancer.model import Tags, Track
    from dancer.playlist import read_plan

    try:
        lib = Library.open(library_path, create=False)
    except LibraryError:
        lib = None

    def resolve(path: Path) -> Track:
        found = lib.track(path) if lib is not None else None
        return found or Track(str(path), 0, 0.0, Tags(Path(path).stem), None)

    try:
        plan = read_plan(playlist, resolve=resolve if lib is not None else None)
    finally:
        if lib is not None:
            lib.close()
    if not plan.entries:
        raise DancerError(f"{playlist}: no playable entries")
    return plan


def _clock(seconds: float) -> str:
    from dancer.player import format_time

    return format_time(seconds)


# -- play ----------------------------------------------------------------------------------------


@click.command()
@click.argument("playlist", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--device", help="Output device: index or (part of) its name; see `dancer devices`.")
@click.option("--latency", default="high", show_default=True,
              help="Device buffer: low, high, or seconds. Raise it if playback stutters.")
@click.option("--start", "start_at", metavar="ENTRY|MM:SS", help="Begin at entry N (from 1) or at a time.")
@library_option
def play(playlist: Path, device: str | None, latency: str, start_at: str | None,
         library_path: Path | None) -> None:
    """Play PLAYLIST mixed like a DJ set.

    Keys: space pause, n next, b previous, ←/→ seek 30 s, +/- volume, q quit.
    """
    from dancer.mixer import Timeline

    lat = _latency(latency)
    plan = load_plan(playlist, library_path)
    start = start_time(start_at, plan)
    timeline = Timeline.from_plan(plan)
    stopped_at, interrupted = play_timeline(timeline, device=device, latency=lat, start=start,
                                            name=playlist.name, controls=sys.stdin)
    if stopped_at is not None:
        click.echo(f"stopped at {stopped_at}; resume with `dancer play {playlist} --start {stopped_at}`",
                   err=True)
    if interrupted:
        sys.exit(130)


def play_timeline(timeline, *, device: str | int | None = None, latency: str | float = "high",
                  start: float = 0.0, name: str = "session", controls=None,
                  echo: Callable[[str], None] | None = None) -> tuple[str | None, bool]:
    """Play ``timeline`` until it ends or is quit.

    Returns the stop time (``M:SS``, None when the session played to its end) and whether Ctrl-C
    stopped it. ``controls`` is a text stream of key presses (a terminal is put in cbreak mode). Device
    failures raise `DeviceError` naming the time reached, so the session can be resumed.
    """
    from dancer.errors import DeviceError
    from dancer.player import Player, format_time

    echo = echo or (lambda text: click.echo(text, err=True))
    player = Player(timeline, device=device, latency=latency, start=start)
    player.start()
    quit_requested = threading.Event()
    interrupted = False
    try:
        where = player.device.name if player.device else "the output device"
        echo(f"playing {name}: {len(timeline.entries)} tracks, {format_time(timeline.length)} on {where}")
        if controls is not None:
            _start_key_thread(controls, player, quit_requested)
        shown = None
        while not player.wait(0.1):
            player.check()
            status = player.status()
            if status.entry != shown and status.entry is not None:
                shown = status.entry
                echo(f"{format_time(status.position)}  {status.entry + 1}. {status.track}  [{status.phase}]")
        player.check()
    except KeyboardInterrupt:
        quit_requested.set()
        interrupted = True
    except DeviceError as exc:
        player.close()
        raise DeviceError(f"{exc}; resume with --start {format_time(player.status().position)}") from None
    finally:
        position = player.status().position
        underruns = player.underruns
        warnings = list(player.mixer.warnings) if player.mixer else []
        player.close()
    for w in warnings:
        echo(f"warning: {w}")
    if underruns:
        echo(f"{underruns} buffer underrun(s): raise --latency if you heard gaps")
    return (format_time(position) if quit_requested.is_set() else None), interrupted


def _start_key_thread(controls, player, quit_requested: threading.Event) -> None:
    def act(action: str) -> None:
        if action == "toggle":
            player.toggle_pause()
        elif action == "next":
            player.next()
        elif action == "previous":
            player.previous()
        elif action == "forward":
            player.seek(SEEK_STEP)
        elif action == "back":
            player.seek(-SEEK_STEP)
        elif action == "up":
            player.volume(VOLUME_STEP)
        elif action == "down":
            player.volume(-VOLUME_STEP)
        elif action == "quit":
            quit_requested.set()
            player.stop()

    thread = threading.Thread(target=_read_keys, args=(controls, act), name="dancer-keys", daemon=True)
    thread.start()


def _read_keys(stream, act: Callable[[str], None]) -> None:
    """`dancer play`'s keys: arrows seek and change the volume (a session's ↑/↓ nudge energy)."""
    from dancer.ui import read_keys

    read_keys(stream, act, keys=KEYS, arrows={"C": "forward", "D": "back", "A": "up", "B": "down"})


# -- render --------------------------------------------------------------------------------------


@click.command()
@click.argument("playlist", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write: .wav, .flac or .ogg.")
@click.option("--voice", help="Speak the session's prompts: auto, none (cue list only), espeak, or a Piper .onnx.")
@click.option("--cues", "cues_to", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the prompts as JSON (time in seconds, kind, text, phase).")
@click.option("--seed", type=int, default=None, help="Prompt choice (default: the playlist's seed).")
@library_option
def render(playlist: Path, output: Path, voice: str | None, cues_to: Path | None, seed: int | None,
           library_path: Path | None) -> None:
    """Render PLAYLIST to an audio file, mixed exactly as `dancer play` plays it.

    With --voice or --cues the arc's prompts are scheduled on the music's phrases; --voice speaks
    them over the ducked music.
    """
    if output.suffix.lower() not in RENDER_SUFFIXES:
        raise click.BadParameter(f"{output.name}: use a .wav, .flac or .ogg file name", param_hint="-o")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from dancer.mixer import Timeline, render_to_file

    plan = load_plan(playlist, library_path)
    clips = []
    if voice is not None or cues_to is not None:
        clips = _prompt_clips(plan, voice or "auto", seed, cues_to)
    timeline = Timeline.from_plan(plan, voice=clips)
    console = Console(stderr=True)
    with Progress(TextColumn("rendering"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeRemainingColumn(), console=console, transient=True) as progress:
        task = progress.add_task("render", total=max(timeline.length, 1e-9))
        seconds = render_to_file(timeline, output,
                                 progress=lambda done, total: progress.update(task, completed=done))
    click.echo(f"wrote {output} ({_clock(seconds)}, {len(plan.entries)} tracks)", err=True)


def _prompt_clips(plan, voice_spec: str, seed: int | None, cues_to: Path | None) -> list:
    """Schedule the plan's prompts (its arc from the playlist), write the cue list, synthesise them."""
    from dancer.arcs import load_arc
    from dancer.session import SessionOptions, schedule, voice_clips, write_cues_json
    from dancer.voice import CachedVoice, open_voice

    if not plan.arc:
        raise DancerError("this playlist names no arc (not made by dancer), so it has no prompts; "
                          "drop --voice/--cues")
    arc = load_arc(plan.arc)
    spoken = open_voice(voice_spec)
    spoken = CachedVoice(spoken) if spoken.speaks else spoken
    cues = schedule(plan, arc, SessionOptions(arc=plan.arc, seed=plan.seed if seed is None else seed), spoken)
    if cues_to is not None:
        write_cues_json(cues, cues_to)
        click.echo(f"wrote {cues_to} ({len(cues)} prompts)", err=True)
    return voice_clips(cues, spoken, 44100)


# -- devices -------------------------------------------------------------------------------------


@click.command()
def devices() -> None:
    """List the audio output devices `dancer play --device` accepts."""
    from dancer.errors import DeviceError
    from dancer.player import NO_DEVICE, output_devices

    found = output_devices()
    if not found:
        raise DeviceError(NO_DEVICE)
    for d in found:
        mark = "*" if d.is_default else " "
        click.echo(f"{mark} {d.index:>3}  {d.name}  ({d.hostapi}, {d.channels} ch, "
                   f"{d.default_samplerate:.0f} Hz)")
