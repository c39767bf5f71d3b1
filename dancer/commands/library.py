"""`dancer library list|stats`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dancer.commands.scan import library_option, print_table, track_json


@click.group()
def library() -> None:
    """Inspect the library of analysed tracks."""


@library.command("list")
@click.option("--sort", default="path", show_default=True,
              type=click.Choice(["path", "title", "artist", "genre", "duration", "bpm", "bpm_confidence",
                                 "loudness_lufs", "energy"]))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per track and line.")
@library_option
def list_(sort: str, as_json: bool, library_path: Path | None) -> None:
    """List every file the library knows, failures included."""
    from dancer.library import Library

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
    from dancer.library import Library

    with Library.open(library_path, create=False) as lib:
        s = lib.stats()
        click.echo(f"library      {lib.path}")
    click.echo(f"tracks       {s['tracks']} ({s['analysed']} analysed, {s['failed']} failed)")
    click.echo(f"music        {s['hours']:.2f} hours, {s['beatless']} beatless")
    if s["mean_bpm"] is not None:
        click.echo(f"tempo        {s['min_bpm']:.0f}-{s['max_bpm']:.0f} BPM (mean {s['mean_bpm']:.0f})")
    if s["mean_energy"] is not None:
        click.echo(f"energy       mean {s['mean_energy']:.2f}")
