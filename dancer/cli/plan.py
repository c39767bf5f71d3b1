"""`dancer build` (folder -> session playlist) and `dancer plan show` (read a playlist back)."""

from __future__ import annotations

from pathlib import Path

import click

from dancer.cli.options import library_option


def _warn(text: str) -> None:
    click.secho(f"warning: {text}", fg="yellow", err=True)


def _arc_help() -> str:
    from dancer.plan.arcs import builtin_arcs

    return f"Arc name ({', '.join(builtin_arcs())}, or your own) or an arc .toml file [default: config's]."


@click.command("build")
@click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--minutes", type=click.FloatRange(1, 600), help="Session length [default: the arc's or config's]."
)
@click.option("--arc", "arc_name", help=_arc_help())
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
    help="Playlist to write [default: playlists/<arc>-<minutes>min-<date>.m3u8].",
)  # fmt: skip
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Another seed, another (equally good) plan."
)
@click.option("--include", multiple=True, metavar="GLOB", help="Only tracks whose artist/genre/path match.")
@click.option(
    "--exclude", multiple=True, metavar="GLOB", help="Leave out tracks whose artist/genre/path match."
)
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.0, help="Minimum tempo confidence.")
@click.option("--preview", is_flag=True, help="Print the plan and its energy chart.")
@click.option(
    "--plot", type=click.Path(dir_okay=False, path_type=Path), help="Draw the energy chart (matplotlib)."
)
@library_option
def build(folder: Path | None, minutes: float | None, arc_name: str | None, output: Path | None, seed: int,
          include: tuple[str, ...], exclude: tuple[str, ...], min_confidence: float, preview: bool,
          plot: Path | None, library_path: Path | None) -> None:
    """Scan FOLDER and write a session playlist that follows an arc for the given minutes.

    Without FOLDER, --arc or --minutes the configuration's music folder, arc and minutes are
    used (an arc given on the command line brings its own default length).
    """
    from dancer.cli.scan import run_scan
    from dancer.config import load_config
    from dancer.library.store import Library
    from dancer.plan.arcs import load_arc
    from dancer.plan.build import build_playlist
    from dancer.plan.preview import plot_plan, print_preview, require_matplotlib

    config = load_config()
    if folder is None:
        if not config.music:
            raise click.UsageError("give a music FOLDER (or set one: dancer config set music PATH)")
        folder = Path(config.music).expanduser()
    arc = load_arc(arc_name or config.arc)
    if minutes is None:
        minutes = arc.minutes if arc_name else config.minutes
    if plot is not None:
        require_matplotlib()
    run_scan(folder, library_path)
    with Library.open(library_path) as library:
        plan, output = build_playlist(library, folder, arc, minutes=minutes, seed=seed, include=include,
                                      exclude=exclude, min_confidence=min_confidence, output=output)
    for warning in plan.warnings:
        _warn(warning)
    click.echo(f"wrote {output}: {len(plan.entries)} tracks, {plan.length / 60:.1f} min of '{arc.name}' "
               f"(objective {plan.objective:.4f})", err=True)
    if preview:
        from rich.console import Console

        print_preview(plan, arc, Console())
    if plot is not None:
        plot_plan(plan, arc, plot)
        click.echo(f"wrote {plot}", err=True)


@click.group("plan")
def plan() -> None:
    """Look at session plans (playlists written by `dancer build`, or any M3U)."""


@plan.command("show")
@click.argument("playlist", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--arc", "arc_name", help="Arc for the target curve [default: the one the playlist names].")
@click.option(
    "--plot", type=click.Path(dir_okay=False, path_type=Path), help="Draw the energy chart (matplotlib)."
)
@library_option
def show(playlist: Path, arc_name: str | None, plot: Path | None, library_path: Path | None) -> None:
    """Print PLAYLIST as a plan: its table and its energy against the arc's target."""
    from rich.console import Console

    from dancer.errors import ConfigError
    from dancer.library.store import Library
    from dancer.plan.build import plan_arc, read_plan_analysing
    from dancer.plan.preview import plot_plan, print_preview, require_matplotlib

    if plot is not None:
        require_matplotlib()
    with Library.open(library_path) as library:
        plan_ = read_plan_analysing(playlist, library, warn=_warn)
    arc = None
    if arc_name or plan_.arc or plan_.arc_file:
        try:
            arc = plan_arc(plan_, arc_name)
        except ConfigError as exc:
            if arc_name:
                raise
            click.secho(f"note: {exc}; showing the plan without its target", err=True)
    print_preview(plan_, arc, Console())
    if plot is not None:
        plot_plan(plan_, arc, plot)
        click.echo(f"wrote {plot}", err=True)
