"""`dancer play`, `dancer render`, `dancer devices`: hear a playlist, render it to a file, list outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dancer.cli.options import (
    latency_option,
    library_option,
    open_voice_option,
    render_output,
    render_progress,
)


def start_time(spec: str | None, plan) -> float:
    """``--start``: an entry number (1-based) or a time; click.BadParameter when it does not fit."""
    from dancer.clock import clock, parse_clock

    if spec is None:
        return 0.0
    if spec.strip().isdigit():
        k = int(spec)
        if not 1 <= k <= len(plan.entries):
            raise click.BadParameter(f"entry {k} does not exist; the playlist has {len(plan.entries)}",
                                     param_hint="--start")
        return plan.entries[k - 1].start
    try:
        t = parse_clock(spec)
    except ValueError:
        raise click.BadParameter(f"{spec!r} is neither an entry number nor MM:SS",
                                 param_hint="--start") from None
    if t >= plan.length:
        raise click.BadParameter(f"{spec} is past the end of the session ({clock(plan.length)})",
                                 param_hint="--start")
    return t


def _err(text: str) -> None:
    click.echo(text, err=True)


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
    from dancer.audio.timeline import Timeline
    from dancer.errors import Interrupted
    from dancer.plan.build import load_plan
    from dancer.session.play import play_timeline

    lat = latency_option(latency)
    plan = load_plan(playlist, library_path)
    start = start_time(start_at, plan)
    stopped_at, interrupted = play_timeline(Timeline.from_plan(plan), device=device, latency=lat, start=start,
                                            name=playlist.name, controls=sys.stdin, echo=_err)
    if stopped_at is not None:
        _err(f"stopped at {stopped_at}; resume with `dancer play {playlist} --start {stopped_at}`")
    if interrupted:
        raise Interrupted()


@click.command()
@click.argument("playlist", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write: .wav, .flac or .ogg.")
@click.option("--voice", help="Speak the session's prompts: auto, none (cue list only), espeak, or a Piper "
                              ".onnx.")
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
    from dancer.clock import clock
    from dancer.plan.build import load_plan
    from dancer.session.prepare import render_playlist

    render_output(output, "-o")
    plan = load_plan(playlist, library_path)
    with_cues = voice is not None or cues_to is not None
    spoken = open_voice_option(voice or "auto", report=False) if with_cues else None
    with render_progress() as progress:
        seconds, cues = render_playlist(plan, output, voice=spoken, with_cues=with_cues, seed=seed,
                                        cues_to=cues_to, progress=progress)
    if cues_to is not None:
        _err(f"wrote {cues_to} ({len(cues)} prompts)")
    _err(f"wrote {output} ({clock(seconds)}, {len(plan.entries)} tracks)")


@click.command()
def devices() -> None:
    """List the audio output devices `dancer play --device` accepts."""
    from dancer.audio.player import NO_DEVICE, output_devices
    from dancer.errors import DeviceError

    found = output_devices()
    if not found:
        raise DeviceError(NO_DEVICE)
    for d in found:
        mark = "*" if d.is_default else " "
        click.echo(f"{mark} {d.index:>3}  {d.name}  ({d.hostapi}, {d.channels} ch, "
                   f"{d.default_samplerate:.0f} Hz)")
