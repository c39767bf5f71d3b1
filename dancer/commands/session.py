"""`dancer session` and `dancer resume`: one command to dance."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import click

from dancer.commands.scan import library_option
from dancer.errors import DancerError, DeviceError

PLAYLIST_SUFFIXES = (".m3u", ".m3u8")
DEMO_MINUTES = 5.0
DEMO_RENDER = Path("demo-session.wav")


def _err(text: str) -> None:
    click.echo(text, err=True)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _ask_checkin(when: str):
    """Hip tension 0–10, where it sits, a note; empty answers are fine."""
    from dancer.journal import CheckIn

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
    from dancer.session import demo_folder

    if demo:
        return demo_folder(_err), None
    if source is not None:
        if source.is_dir():
            return source, None
        if source.is_file() and source.suffix.lower() in PLAYLIST_SUFFIXES:
            return None, source
        raise click.BadParameter(f"{source}: give a music folder or an .m3u/.m3u8 playlist", param_hint="SOURCE")
    if cfg.music:
        folder = Path(cfg.music).expanduser()
        if not folder.is_dir():
            raise DancerError(f"{folder}: the configured music folder is missing; "
                              "pass FOLDER or set it with `dancer config set music DIR`")
        return folder, None
    if not _interactive():
        raise DancerError("no music folder yet: pass FOLDER, --music DIR (saved for next time) or --demo")
    answer = click.prompt("Where is your music? (a folder)", type=click.Path(exists=True, file_okay=False,
                                                                            path_type=Path))
    save_config(cfg.with_values(music=str(answer.expanduser().resolve())))
    return answer, None


def _open_voice(spec: str):
    from dancer.voice import CachedVoice, open_voice

    voice = open_voice(spec)
    reason = getattr(voice, "fallback_reason", None)
    if reason:
        _err(f"voice: {reason}")
    return CachedVoice(voice) if voice.speaks else voice


def _print_cues(cues) -> None:
    from dancer.ui import clock

    for c in cues:
        click.echo(f"  [{clock(c.time)}] {c.kind:<9} {c.text}")


def _has_device(device) -> bool:
    from dancer.player import output_devices, resolve_device

    try:
        if device:
            resolve_device(device)
            return True
        return bool(output_devices())
    except DeviceError:
        return False


def _render(prepared, voice, output: Path, cues_path: Path | None) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    from dancer.session import render_session, write_cues_json

    if output.suffix.lower() not in (".wav", ".flac", ".ogg"):
        raise click.BadParameter(f"{output.name}: use a .wav, .flac or .ogg file name", param_hint="--render")
    with Progress(TextColumn("rendering"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("render", total=max(prepared.plan.length, 1e-9))
        seconds = render_session(prepared, output, voice=voice,
                                 progress=lambda done, total: bar.update(task, completed=done))
    if cues_path is not None:
        write_cues_json(prepared.cues, cues_path)
    from dancer.ui import clock

    _err(f"wrote {output} ({clock(seconds)}, {len(prepared.plan.entries)} tracks, "
         f"{len(prepared.cues)} prompts)")


def _count_in(echo) -> None:
    for word in ("3", "2", "1"):
        echo(f"  {word} …")
        time.sleep(0.4)


def play_live(prepared, lib, voice, *, journal_id: int, start: float = 0.0, previous=None) -> str:
    """Play with the live view (terminal) or timestamped lines (pipe); returns the end status.

    ``previous`` is the journal record of the run being resumed: its time danced and the tracks
    heard carry over.
    """
    from dancer.session import LiveSession
    from dancer.ui import LiveView, PlainView, read_keys

    interactive = _interactive()
    live = LiveSession(prepared, lib, voice=voice, journal_id=journal_id, start=start)
    if previous is not None:
        live.danced_before = previous.seconds_danced
        live.nudges = previous.nudges
        if len(previous.tracks) == len(prepared.plan.entries):
            for i, (_, state, seconds) in enumerate(previous.tracks):
                live.heard[i] = seconds
                if state == "skipped":
                    live.skipped.add(i)
    stop_keys = threading.Event()
    if interactive:
        view = LiveView(live)
        live.on_event = view.event
    else:
        view = PlainView(click.echo)
        live.on_event = view.event

    def on_key(action: str) -> None:
        # The key thread must survive anything a control does, or the session stops listening.
        try:
            live.key(action)
        except DancerError as exc:
            live.on_event("info", str(exc), live.state.position)
        except Exception as exc:
            live.on_event("info", f"{action} failed: {type(exc).__name__}: {exc}", live.state.position)

    keys = None
    if sys.stdin is not None and not sys.stdin.closed:
        keys = threading.Thread(target=read_keys, args=(sys.stdin, on_key, stop_keys.is_set), name="dancer-keys",
                                daemon=True)
        keys.start()
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
        if keys is not None:
            keys.join(timeout=1.0)


def _finish(status: str, record_id: int, lib, *, checkin: bool) -> None:
    from dancer.journal import Journal

    journal = Journal(lib)
    rec = journal.get(record_id)
    minutes = rec.seconds_danced / 60 if rec else 0.0
    if status == "finished":
        click.echo(f"\nSession complete: {minutes:.1f} minutes danced. Drink some water; be gentle with your hips.")
    else:
        click.echo(f"\nStopped after {minutes:.1f} minutes; `dancer resume` continues where you left off.")
    if checkin and _interactive():
        journal.check_in_after(record_id, _ask_checkin("after"))


@click.command()
@click.argument("source", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--demo", is_flag=True, help="Dance to the built-in demo music (synthesised on first use).")
@click.option("--minutes", type=click.FloatRange(1, 240), help="Session length (default: config, 45).")
@click.option("--arc", help="Session arc: hip-release, wave, quick, gentle, or a TOML file.")
@click.option("--voice", help="auto (Piper, else espeak-ng), none (printed prompts), espeak, or a Piper .onnx.")
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
    from dancer.commands.play import _latency
    from dancer.commands.scan import print_report, run_scan
    from dancer.config import load_config, save_config
    from dancer.journal import Journal
    from dancer.library import Library
    from dancer.session import SessionOptions, prepare

    cfg = load_config()
    if music is not None:
        cfg = cfg.with_values(music=str(music.resolve()))
        save_config(cfg)
        source = source or music
    folder, playlist = _resolve_source(source, demo, cfg)
    options = SessionOptions(
        arc=arc or ("taster" if demo else cfg.arc),
        minutes=minutes or (DEMO_MINUTES if demo else cfg.minutes),
        seed=seed if seed is not None else int(time.time()) % 100_000,
        voice=voice or cfg.voice,
        gentle=cfg.gentle if gentle is None else gentle,
        no_floor=cfg.no_floor if no_floor is None else no_floor,
        prompts=tuple(cfg.prompts) + tuple(prompt_files),
        loudness_target=cfg.loudness_target,
        volume=cfg.volume,
        device=device or cfg.device or None,
        latency=_latency(latency),
    )
    if cues_to is not None and render_to is None:
        raise click.BadParameter("--cues goes with --render", param_hint="--cues")

    if folder is not None:
        report = run_scan(folder, library_path)
        if report.added or report.updated or report.failed:
            print_report(report)
    voice_obj = _open_voice(options.voice)
    with Library.open(library_path) as lib:
        prepared = prepare(lib, folder=folder, playlist=playlist, options=options, voice=voice_obj)
        if not preview:
            for w in prepared.warnings:
                _err(f"warning: {w}")
        else:
            from rich.console import Console

            from dancer.preview import print_preview

            print_preview(prepared.plan, prepared.arc, Console())
        click.echo(f"seed {options.seed} · {len(prepared.cues)} prompts · voice: {voice_obj.name}")

        if render_to is not None:
            _render(prepared, voice_obj, render_to, cues_to)
            return
        if not _has_device(options.device):
            if demo:
                _err("no audio output device here: rendering the demo session to a file instead")
                _render(prepared, voice_obj, DEMO_RENDER, None)
                click.echo("Prompts, at their times in demo-session.wav:")
                _print_cues(prepared.cues)
                return
            from dancer.player import NO_DEVICE

            raise DeviceError(NO_DEVICE.replace("dancer render PLAYLIST -o FILE.wav",
                                                "dancer session --render FILE.wav"))

        checkin = cfg.checkin and not no_checkin
        before = _ask_checkin("before") if checkin and _interactive() else None
        journal = Journal(lib)
        record_id = journal.start(arc=prepared.arc.name, minutes=options.minutes, seed=options.seed,
                                  playlist=str(prepared.playlist),
                                  track_paths=[e.track.path for e in prepared.plan.entries], before=before)
        journal.update(record_id, position=0.0, seconds_danced=0.0, status="running",
                       state=_state(options))
        if _interactive():
            _count_in(click.echo)
        try:
            status = play_live(prepared, lib, voice_obj, journal_id=record_id)
        except KeyboardInterrupt:
            _err("\nstopped; `dancer resume` continues where you left off")
            sys.exit(130)
        _finish(status, record_id, lib, checkin=checkin)


def _state(options) -> dict:
    return {"arc": options.arc, "voice": options.voice, "gentle": options.gentle, "no_floor": options.no_floor,
            "prompts": list(options.prompts), "loudness_target": options.loudness_target, "seed": options.seed,
            "volume": options.volume}


@click.command()
@click.option("--voice", help="Override the voice of the saved session.")
@click.option("--device", help="Output device: index or (part of) its name.")
@click.option("--latency", default="high", show_default=True)
@click.option("--no-checkin", is_flag=True, help="Skip the after check-in.")
@library_option
def resume(voice: str | None, device: str | None, latency: str, no_checkin: bool, library_path: Path | None) -> None:
    """Continue the last unfinished session where it stopped, with the same plan."""
    from dancer.commands.play import _latency
    from dancer.config import load_config
    from dancer.journal import Journal
    from dancer.library import Library
    from dancer.session import Prepared, SessionOptions, schedule

    cfg = load_config()
    with Library.open(library_path) as lib:
        journal = Journal(lib)
        rec = journal.last_unfinished()
        if rec is None:
            raise DancerError("no unfinished session to resume; start one with `dancer session`")
        playlist = Path(rec.playlist)
        if not playlist.exists():
            raise DancerError(f"{playlist}: the saved plan of session {rec.id} is missing; start a new session")
        from dancer.arcs import load_arc
        from dancer.commands.play import load_plan

        st = rec.state
        options = SessionOptions(
            arc=st.get("arc", rec.arc), minutes=rec.minutes, seed=rec.seed, voice=voice or st.get("voice", cfg.voice),
            gentle=st.get("gentle", False), no_floor=st.get("no_floor", False), prompts=tuple(st.get("prompts", ())),
            loudness_target=st.get("loudness_target", cfg.loudness_target), volume=st.get("volume", cfg.volume),
            device=device or cfg.device or None, latency=_latency(latency),
        )
        plan = load_plan(playlist, library_path)
        arc = load_arc(options.arc)
        voice_obj = _open_voice(options.voice)
        cues = schedule(plan, arc, options, voice_obj)
        prepared = Prepared(plan=plan, arc=arc, cues=cues, tracks=[e.track for e in plan.entries],
                            playlist=playlist, options=options)
        if not _has_device(options.device):
            from dancer.player import NO_DEVICE

            raise DeviceError(NO_DEVICE)
        from dancer.ui import clock

        start = _resume_point(plan, rec.position)
        click.echo(f"resuming session {rec.id} ({rec.arc}) at {clock(start)}")
        try:
            status = play_live(prepared, lib, voice_obj, journal_id=rec.id, start=start, previous=rec)
        except KeyboardInterrupt:
            _err("\nstopped; `dancer resume` continues where you left off")
            sys.exit(130)
        _finish(status, rec.id, lib, checkin=cfg.checkin and not no_checkin)


def _resume_point(plan, position: float) -> float:
    """A little before where the session stopped, on a phrase of the music then playing."""
    target = max(0.0, position - 2.0)
    for e in plan.entries:
        if e.start <= target < e.end and e.track.analysis is not None:
            phrases = [e.start + (p - e.source_in) for p in e.track.analysis.phrases
                       if e.source_in <= p < e.source_out]
            earlier = [t for t in phrases if target - 16.0 <= t <= target]
            return max(earlier) if earlier else target
    return min(target, max(plan.length - 1.0, 0.0))
