"""`dancer library list|stats|repair`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dancer.cli.options import jobs_option, library_option
from dancer.cli.scan import print_report, print_table, track_json


@click.group()
def library() -> None:
    """Inspect (or repair) the library of analysed tracks."""


@library.command("list")
@click.option("--sort", default="path", show_default=True,
              type=click.Choice(["path", "title", "artist", "genre", "duration", "bpm", "bpm_confidence",
                                 "loudness_lufs", "energy"]))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per track and line.")
@library_option
def list_(sort: str, as_json: bool, library_path: Path | None) -> None:
    """List every file the library knows, failures included."""
    from dancer.library.store import Library

    with Library.open(library_path, create=False) as lib:
        tracks = lib.tracks(ok_only=False, sort=sort)
    if as_json:
        for t in tracks:
            click.echo(json.dumps(track_json(t), ensure_ascii=False))
    else:
        print_table(tracks, f"library: {len(tracks)} file(s)")


@library.command()
@library_option
def stats(library_path: Path | None) -> None:
    """Summarise the library: counts, hours, tempo range, failures."""
    from dancer.library.store import Library

    with Library.open(library_path, create=False) as lib:
        s = lib.stats()
        click.echo(f"library      {lib.path}")
    click.echo(f"tracks       {s['tracks']} ({s['analysed']} analysed, {s['failed']} failed)")
    click.echo(f"music        {s['hours']:.2f} hours, {s['beatless']} beatless")
    if s["mean_bpm"] is not None:
        click.echo(f"tempo        {s['min_bpm']:.0f}-{s['max_bpm']:.0f} BPM (mean {s['mean_bpm']:.0f})")
    if s["mean_energy"] is not None:
        click.echo(f"energy       mean {s['mean_energy']:.2f}")


@library.command()
@click.option("--jobs", "-j", type=int, default=None,
              help="Worker processes for the rescan (default: one per core).")
@click.option("--no-rescan", is_flag=True, help="Only back up and salvage; leave the rescan for later.")
@library_option
def repair(jobs: int | None, no_rescan: bool, library_path: Path | None) -> None:
    """Rebuild a damaged library: back it up, salvage readable rows, rescan its folders."""
    from dancer.library.folders import folders_file
    from dancer.library.repair import repair_library
    from dancer.library.store import default_library_path

    path = library_path or default_library_path()

    def on_backup(report) -> None:
        click.echo(f"damaged    {report.library}: {report.damage}", err=True)
        for src, dst in report.backups:
            click.echo(f"backed up  {src} -> {dst}", err=True)
        others = sum(n for table, n in report.salvaged.items() if table != "tracks")
        click.echo(f"salvaged   {report.salvaged.get('tracks', 0)} track row(s)"
                   + (f" and {others} other row(s)" if others else ""), err=True)

    def on_event(e) -> None:
        if e.kind == "found":
            click.echo(f"rescanning {e.total} new or changed file(s)", err=True)

    report = repair_library(path, rescan=not no_rescan, jobs=jobs_option(jobs), on_event=on_event,
                            on_backup=on_backup)
    if not report.folders:
        click.echo(f"rescan     no scanned folders on record ({folders_file(path)} is missing); "
                   "run `dancer scan FOLDER` for your music", err=True)
    elif no_rescan:
        click.echo(f"rescan     skipped; later run `dancer scan` on: {', '.join(report.folders)}", err=True)
    for scan_report in report.scans:
        click.echo(f"rescanned  {scan_report.folder}", err=True)
        print_report(scan_report)
    for folder in report.missing_folders:
        click.echo(f"missing    {folder}: the folder no longer exists; not rescanned", err=True)
    click.echo(f"repaired   {report.library}: {report.tracks} track(s), integrity {report.integrity}",
               err=True)
