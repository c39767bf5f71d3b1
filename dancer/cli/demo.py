"""`dancer demo`: synthesise a small demo library so a new user can try a session at once."""

from __future__ import annotations

from pathlib import Path

import click

from dancer.errors import DancerError


@click.command("demo")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the demo tracks into (created if missing).")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed for the synthesised sounds.")
@click.option("--scale", type=click.FloatRange(min=0.05, max=20.0), default=1.0, show_default=True,
              help="Stretch every track's length by this factor (3 gives about 20 minutes).")
def demo(out_dir: Path, seed: int, scale: float) -> None:
    """Write nine synthesised demo tracks (ambient to techno) into OUT."""
    from dancer.demo import generate_demo

    try:
        tracks = generate_demo(out_dir, seed=seed, scale=scale)
    except (OSError, RuntimeError) as exc:
        # soundfile reports unwritable files as RuntimeError (LibsndfileError), mkdir as OSError.
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise DancerError(f"cannot write the demo library to {out_dir}: {reason}") from exc
    for track in tracks:
        tempo = f"{track.bpm:g} bpm" if track.bpm is not None else "beatless"
        click.echo(f"{track.file:<26} {tempo:>10}  {track.style}")
    minutes = sum(track.duration for track in tracks) / 60
    click.echo(f"{len(tracks)} tracks, {minutes:.1f} min in {out_dir}")
