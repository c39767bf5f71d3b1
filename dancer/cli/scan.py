"""`dancer scan` and `dancer analyse`, and the scan progress other commands show."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from dancer.cli.options import jobs_option, library_option
from dancer.errors import DancerError, Interrupted


def run_scan(folder: Path, library_path: Path | None, *, jobs: int | None = None, retry_failed: bool = False,
             quiet: bool = False):
    """Scan with progress on stderr; returns the ScanReport. Shared by `scan`, `build` and `session`."""
    from dancer.library.scan import scan_folder
    from dancer.library.store import Library
    from dancer.paths import display_path

    err = click.get_text_stream("stderr")
    with Library.open(library_path) as lib:
        if quiet:
            return scan_folder(folder, lib, jobs=jobs, retry_failed=retry_failed)
        if err.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            console = Console(stderr=True)
            with Progress(
                TextColumn("[bold]scanning"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task("", total=None)

                def on_event(e) -> None:
                    if e.kind == "found":
                        bar.update(task, total=e.total)
                    else:
                        bar.update(task, advance=1, description=Path(display_path(e.path)).name[:40])
                        if e.kind == "failed":
                            console.print(f"[red]failed[/] {display_path(e.path)}: {e.message}")

                return scan_folder(folder, lib, jobs=jobs, retry_failed=retry_failed, on_event=on_event)

        state = {"total": 0, "n": 0}

        def on_line(e) -> None:
            if e.kind == "found":
                state["total"] = e.total
                click.echo(f"scanning {e.total} new or changed file(s)", err=True)
                return
            state["n"] += 1
            status = "ok" if e.kind == "done" else f"failed: {e.message}"
            click.echo(f"[{state['n']}/{state['total']}] {display_path(e.path)}: {status}", err=True)

        return scan_folder(folder, lib, jobs=jobs, retry_failed=retry_failed, on_event=on_line)


def print_report(report) -> None:
    from dancer.paths import display_path

    for path, reason in report.skipped:
        click.echo(f"skipped {display_path(path)}: {reason}", err=True)
    for path, reason in report.failed:
        click.echo(f"failed  {display_path(path)}: {reason}", err=True)
    speed = f", {report.realtime:.0f}x real time" if report.audio_seconds else ""
    click.echo(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed, "
        f"{len(report.failed)} failed, {len(report.skipped)} skipped in {report.seconds:.1f} s{speed}",
        err=True,
    )
    if report.interrupted:
        click.echo("scan interrupted: finished tracks are kept; run the scan again to continue", err=True)


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--jobs", "-j", type=int, default=None, help="Worker processes (default: one per core).")
@click.option("--retry-failed", is_flag=True, help="Analyse files that failed before even if unchanged.")
@library_option
def scan(folder: Path, jobs: int | None, retry_failed: bool, library_path: Path | None) -> None:
    """Analyse a music folder into the library (only new or changed files)."""
    if not folder.is_dir():
        raise DancerError(f"{folder}: no such folder; give the folder that holds your music")
    report = run_scan(folder, library_path, jobs=jobs_option(jobs), retry_failed=retry_failed)
    print_report(report)
    if report.interrupted:
        raise Interrupted()


def track_json(track, *, beats: bool = False) -> dict:
    """The `dancer analyse --json` / `library list --json` object for one track (DESIGN.md contract)."""
    from dancer.paths import display_path

    a = track.analysis

    def num(x, nd=3):
        return None if x is None or not math.isfinite(x) else round(float(x), nd)

    obj = {
        "path": display_path(track.path),
        "title": track.tags.title,
        "artist": track.tags.artist,
        "album": track.tags.album,
        "genre": track.tags.genre,
        "duration": num(a.duration) if a else None,
        "bpm": num(a.bpm) if a else None,
        "bpm_confidence": num(a.bpm_confidence) if a else None,
        "beatless": a.beatless if a else None,
        "meter": a.meter if a else None,
        "loudness_lufs": num(a.loudness_lufs, 2) if a else None,
        "peak_db": num(a.peak_db, 2) if a else None,
        "true_peak_db": num(a.true_peak_db, 2) if a else None,
        "energy": num(a.energy) if a else None,
        "cue_in": num(a.cue_in) if a else None,
        "cue_out": num(a.cue_out) if a else None,
        "intro_beats": a.intro_beats if a else None,
        "outro_beats": a.outro_beats if a else None,
        "error": track.error,
    }
    if beats:
        obj["beats"] = [round(b, 4) for b in a.beats] if a else []
        obj["downbeats"] = [round(b, 4) for b in a.downbeats] if a else []
        obj["phrases"] = [round(b, 4) for b in a.phrases] if a else []
    return obj


def print_table(tracks, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from dancer.clock import clock
    from dancer.paths import display_path

    table = Table(title=title)
    for col, justify in (("track", "left"), ("length", "right"), ("BPM", "right"), ("conf", "right"),
                         ("LUFS", "right"), ("energy", "right"), ("note", "left")):
        table.add_column(col, justify=justify)
    for t in tracks:
        a = t.analysis
        if a is None:
            table.add_row(Path(display_path(t.path)).name, "", "", "", "", "", f"[red]{t.error}[/]")
            continue
        bpm = "beatless" if a.beatless or a.bpm is None else f"{a.bpm:.1f}"
        lufs = f"{a.loudness_lufs:.1f}" if math.isfinite(a.loudness_lufs) else "-inf"
        table.add_row(
            t.tags.title if t.tags.title else Path(t.path).name,
            clock(a.duration),
            bpm,
            f"{a.bpm_confidence:.2f}",
            lufs,
            f"{a.energy:.2f}",
            t.tags.artist,
        )
    Console(width=max(100, Console().width)).print(table)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file and line.")
@click.option("--beats", is_flag=True, help="Include beat, downbeat and phrase times (with --json).")
def analyse(files: tuple[Path, ...], as_json: bool, beats: bool) -> None:
    """Analyse audio files without touching the library."""
    from dancer.library.scan import iter_analyse

    failed = 0
    tracks = []
    for track in iter_analyse([str(f) for f in files]):
        failed += track.error is not None
        if as_json:
            click.echo(json.dumps(track_json(track, beats=beats), ensure_ascii=False))
        else:
            tracks.append(track)
    if not as_json:
        print_table(tracks, "analysis")
    if failed == len(files):
        raise DancerError("no file could be analysed" if len(files) > 1 else "the file could not be analysed")
