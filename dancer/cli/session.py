"""`dancer session` and `dancer resume`: one command to dance."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from dancer.cli.options import (
    latency_option,
    library_option,
    open_voice_option,
    render_output,
    render_progress,
)
from dancer.errors import DancerError, DeviceError, Interrupted

DEMO_MINUTES = 5.0
DEMO_RENDER = Path("demo-session.wav")
STOPPED = "\nstopped; `dancer resume` continues where you left off"


def _err(text: str) -> None:
    click.echo(text, err=True)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _ask_checkin(when: str):
    """Hip tension 0–10, where it sits, a note; empty answers are fine."""
    from dancer.session.journal import CheckIn

    click.echo(f"\nCheck-in {when} (Enter skips a question).")
    tension = click.prompt("  Hip tension, 0 (none) to 10 (a lot)", default="", show_default=False,
                           value_proc=_tension)
    where = click.prompt("  Where does tension sit?", default="", show_default=False)
    note = click.prompt("  A note to yourself", default="", show_default=False)
    return CheckIn(tension, where.strip(), note.strip())


def _tension(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise click.BadParameter("a whole number from 0 to 10") from None
    if not 0 <= value <= 10:
        raise click.BadParameter("a whole number from 0 to 10")
    return value


def _resolve_source(source: Path | None, demo: bool, cfg) -> tuple[Path | None, Path | None]:
    """(folder, playlist) to dance to; asks for the music folder on a first interactive run."""
    from dancer.config import save_config
    from dancer.session.prepare import PLAYLIST_SUFFIXES, NoMusicFolder, resolve_source

    if source is not None and not source.is_dir() and source.suffix.lower() not in PLAYLIST_SUFFIXES:
        raise click.BadParameter(f"{source}: give a music folder or an .m3u/.m3u8 playlist",
                                 param_hint="SOURCE")
    try:
        return resolve_source(source, demo=demo, music=cfg.music, echo=_err)
    except NoMusicFolder:
        if not _interactive():
            raise
    answer = click.prompt("Where is your music? (a folder)", type=click.Path(exists=True, file_okay=False,
                                                                            path_type=Path))
    save_config(cfg.with_values(music=str(answer.expanduser().resolve())))
    return answer, None


def _arc_reference(arc: str) -> str:
    """An arc file as an absolute path (a resumed session may start elsewhere); names as they are."""
    path = Path(arc).expanduser()
    if ("/" in arc or arc.endswith(".toml")) and path.is_file():
        return str(path.resolve())
    return arc


def _print_cues(cues) -> None:
    from dancer.clock import clock

    for c in cues:
        click.echo(f"  [{clock(c.time)}] {c.kind:<9} {c.text}")


def _render(prepared, voice, output: Path, cues_path: Path | None) -> None:
    from dancer.clock import clock
    from dancer.session.prepare import render_session, write_cues_json

    render_output(output, "--render")
    with render_progress() as progress:
        seconds = render_session(prepared, output, voice=voice, progress=progress)
    if cues_path is not None:
        write_cues_json(prepared.cues, cues_path)
    _err(f"wrote {output} ({clock(seconds)}, {len(prepared.plan.entries)} tracks, {len(prepared.cues)} "
         f"prompts)")


def _count_in() -> None:
    for word in ("3", "2", "1"):
        click.echo(f"  {word} …")
        time.sleep(0.4)


def _play(prepared, lib, voice, *, journal_id: int, start: float = 0.0, previous=None) -> str:
    from dancer.session.live import run_live

    try:
        return run_live(prepared, lib, voice, journal_id=journal_id, start=start, previous=previous,
                        interactive=_interactive(), echo=click.echo, keys=sys.stdin)
    except KeyboardInterrupt:
        raise Interrupted(STOPPED) from None


def _finish(status: str, record_id: int, lib, *, checkin: bool) -> None:
    from dancer.session.journal import Journal

    journal = Journal(lib)
    rec = journal.get(record_id)
    minutes = rec.seconds_danced / 60 if rec else 0.0
    if status == "finished":
        click.echo(f"\nSession complete: {minutes:.1f} minutes danced. "
                   "Drink some water; be gentle with your hips.")
    else:
        click.echo(f"\nStopped after {minutes:.1f} minutes; `dancer resume` continues where you left off.")
    if checkin and _interactive():
        journal.check_in_after(record_id, _ask_checkin("after"))


@click.command()
@click.argument("source", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--demo", is_flag=True, help="Dance to the built-in demo music (synthesised on first use).")
@click.option("--minutes", type=click.FloatRange(1, 240), help="Session length (default: config, 45).")
@click.option("--arc", help="Session arc: hip-release, wave, quick, gentle, or a TOML file.")
@click.option("--voice", help="auto (Piper, else espeak-ng), none (printed prompts), espeak, or a Piper "
                              ".onnx.")
@click.option("--gentle", is_flag=True, default=None, help="Low-impact prompts only.")
@click.option("--no-floor", is_flag=True, default=None, help="No prompts that need the floor.")
@click.option("--prompts", "prompt_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="An extra prompt pack (TOML); repeatable.")
@click.option("--seed", type=int, help="Same seed, same plan and prompts (default: a new one each time).")
@click.option("--device", help="Output device: index or (part of) its name; see `dancer devices`.")
@click.option("--latency", default="high", show_default=True, help="Device buffer: low, high, or seconds.")
@click.option("--no-checkin", is_flag=True, help="Skip the before/after check-in questions.")
@click.option("--music", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Your music folder (saved in the config for next time).")
@click.option("--render", "render_to", type=click.Path(dir_okay=False, path_type=Path),
              help="Render the session to a .wav/.flac/.ogg file instead of playing it.")
@click.option("--cues", "cues_to", type=click.Path(dir_okay=False, path_type=Path),
              help="With --render: also write the prompts as JSON (time, kind, text).")
@click.option("--preview/--no-preview", default=True, help="Show the plan before starting.")
@library_option
def session(source: Path | None, demo: bool, minutes: float | None, arc: str | None, voice: str | None,
            gentle: bool | None, no_floor: bool | None, prompt_files: tuple[str, ...], seed: int | None,
            device: str | None, latency: str, no_checkin: bool, music: Path | None, render_to: Path | None,
            cues_to: Path | None, preview: bool, library_path: Path | None) -> None:
    """Scan, plan, count in and dance: music, movement prompts and breath, hands free.

    SOURCE is a music folder or a playlist; without it the configured folder is used.
    Keys: space pause, n next, b back, +/- volume, ↑/↓ more/less energy, v voice, q quit.
    """
    from dancer.audio.player import NO_DEVICE, has_device
    from dancer.cli.scan import print_report, run_scan
    from dancer.config import load_config, save_config
    from dancer.library.store import Library
    from dancer.plan.build import playlist_arc
    from dancer.session.prepare import SessionOptions, prepare, start_journal

    cfg = load_config()
    if music is not None:
        cfg = cfg.with_values(music=str(music.resolve()))
        save_config(cfg)
        source = source or music
    folder, playlist = _resolve_source(source, demo, cfg)
    if arc is None and playlist is not None:
        arc = playlist_arc(playlist) or None  # a playlist's prompts follow the arc it was planned for
    options = SessionOptions(
        arc=_arc_reference(arc or ("taster" if demo else cfg.arc)),
        minutes=minutes or (DEMO_MINUTES if demo else cfg.minutes),
        seed=seed if seed is not None else int(time.time()) % 100_000,
        voice=voice or cfg.voice,
        gentle=cfg.gentle if gentle is None else gentle,
        no_floor=cfg.no_floor if no_floor is None else no_floor,
        prompts=tuple(cfg.prompts) + tuple(prompt_files),
        loudness_target=cfg.loudness_target,
        volume=cfg.volume,
        device=device or cfg.device or None,
        latency=latency_option(latency),
        checkin=cfg.checkin and not no_checkin,
    )
    if cues_to is not None and render_to is None:
        raise click.BadParameter("--cues goes with --render", param_hint="--cues")

    if folder is not None:
        report = run_scan(folder, library_path)
        if report.added or report.updated or report.failed:
            print_report(report)
    voice_obj = open_voice_option(options.voice)
    with Library.open(library_path) as lib:
        prepared = prepare(lib, folder=folder, playlist=playlist, options=options, voice=voice_obj)
        if not preview:
            for w in prepared.warnings:
                _err(f"warning: {w}")
        else:
            from rich.console import Console

            from dancer.plan.preview import print_preview

            print_preview(prepared.plan, prepared.arc, Console())
        click.echo(f"seed {options.seed} · {len(prepared.cues)} prompts · voice: {voice_obj.name}")

        if render_to is not None:
            _render(prepared, voice_obj, render_to, cues_to)
            return
        if not has_device(options.device):
            if demo:
                _err("no audio output device here: rendering the demo session to a file instead")
                _render(prepared, voice_obj, DEMO_RENDER, None)
                click.echo("Prompts, at their times in demo-session.wav:")
                _print_cues(prepared.cues)
                return
            raise DeviceError(NO_DEVICE.replace("dancer render PLAYLIST -o FILE.wav",
                                                "dancer session --render FILE.wav"))

        before = _ask_checkin("before") if options.checkin and _interactive() else None
        record_id = start_journal(lib, prepared, before)
        if _interactive():
            _count_in()
        status = _play(prepared, lib, voice_obj, journal_id=record_id)
        _finish(status, record_id, lib, checkin=options.checkin)


@click.command()
@click.option("--voice", help="Override the voice of the saved session.")
@click.option("--device", help="Output device: index or (part of) its name.")
@click.option("--latency", default="high", show_default=True)
@click.option("--no-checkin", is_flag=True, help="Skip the after check-in.")
@library_option
def resume(voice: str | None, device: str | None, latency: str, no_checkin: bool,
           library_path: Path | None) -> None:
    """Continue the last unfinished session where it stopped, with the same plan and options."""
    from dancer.audio.player import NO_DEVICE, has_device
    from dancer.clock import clock
    from dancer.config import load_config
    from dancer.library.store import Library
    from dancer.session.journal import Journal
    from dancer.session.prepare import SessionOptions, prepare_resume, resume_point

    cfg = load_config()
    with Library.open(library_path) as lib:
        rec = Journal(lib).last_unfinished()
        if rec is None:
            raise DancerError("no unfinished session to resume; start one with `dancer session`")
        options = SessionOptions.resumed(rec, voice=voice, device=device or cfg.device or None,
                                         latency=latency_option(latency))
        voice_obj = open_voice_option(options.voice)
        prepared = prepare_resume(lib, rec, options, voice_obj)
        if not has_device(options.device):
            raise DeviceError(NO_DEVICE)
        start = resume_point(prepared.plan, rec.position)
        click.echo(f"resuming session {rec.id} ({rec.arc}) at {clock(start)}")
        status = _play(prepared, lib, voice_obj, journal_id=rec.id, start=start, previous=rec)
        _finish(status, rec.id, lib, checkin=options.checkin and not no_checkin)
