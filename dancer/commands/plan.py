"""`dancer build` (folder -> session playlist) and `dancer plan show` (read a playlist back)."""

from __future__ import annotations

import datetime
from pathlib import Path

import click

from dancer.commands.scan import library_option
from dancer.errors import DancerError


def _minutes_label(minutes: float) -> str:
    return f"{minutes:g}"


def default_output(arc: str, minutes: float, today: datetime.date | None = None) -> Path:
    """``playlists/<arc>-<minutes>min-<date>.m3u8`` relative to the current directory."""
    today = today or datetime.date.today()
    return Path("playlists") / f"{Path(arc).stem}-{_minutes_label(minutes)}min-{today:%Y-%m-%d}.m3u8"


def _warn(warnings) -> None:
    for warning in warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)


def build_playlist(
    folder: Path | None,
    *,
    minutes: float | None,
    arc_name: str | None,
    output: Path | None,
    seed: int,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    min_confidence: float,
    preview: bool,
    plot: Path | None,
    library_path: Path | None,
) -> Path:
    """Scan ``folder`` (incrementally), plan a session from it and write the playlist; returns its path.

    Without ``folder``, ``arc_name`` or ``minutes`` the configuration's music folder, arc and
    minutes are used (an arc given on the command line brings its own default length).
    """
    from dancer.arcs import load_arc
    from dancer.commands.scan import run_scan
    from dancer.config import load_config
    from dancer.library import Library
    from dancer.plan import filter_tracks, make_plan
    from dancer.playlist import write_plan
    from dancer.preview import plot_plan, print_preview, require_matplotlib

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
        tracks = library.tracks(under=folder)
        avoid = library.recent_paths()
    tracks = filter_tracks(tracks, include=include, exclude=exclude, min_confidence=min_confidence)
    if not tracks:
        filtered = (
            " that match --include/--exclude/--min-confidence" if include or exclude or min_confidence else ""
        )
        raise DancerError(f"no analysed tracks in {folder}{filtered}")
    plan = make_plan(tracks, arc, minutes=minutes, seed=seed, avoid=avoid)
    if not plan.entries:
        raise DancerError("; ".join(plan.warnings) or f"could not plan a session from {folder}")
    output = output or default_output(arc.name, minutes)
    write_plan(plan, output)
    _warn(plan.warnings)
    click.echo(
        f"wrote {output}: {len(plan.entries)} tracks, {plan.length / 60:.1f} min of '{arc.name}' "
        f"(objective {plan.objective:.4f})",
        err=True,
    )
    if preview:
        from rich.console import Console

        print_preview(plan, arc, Console())
    if plot is not None:
        plot_plan(plan, arc, plot)
        click.echo(f"wrote {plot}", err=True)
    return output


def _arc_help() -> str:
    from dancer.arcs import builtin_arcs

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
def build(folder: Path | None, **options) -> None:
    """Scan FOLDER and write a session playlist that follows an arc for the given minutes."""
    try:
        build_playlist(folder, **options)
    except DancerError as exc:
        raise click.ClickException(str(exc)) from exc


def show_playlist(
    playlist: Path, *, arc_name: str | None, plot: Path | None, library_path: Path | None
) -> None:
    """Read a playlist (dancer's or another player's) and print its plan, analysing as needed."""
    from rich.console import Console

    from dancer.arcs import load_arc
    from dancer.errors import ConfigError
    from dancer.library import Library
    from dancer.paths import display_path
    from dancer.playlist import read_plan
    from dancer.preview import plot_plan, print_preview, require_matplotlib
    from dancer.scan import analyse_file

    if plot is not None:
        require_matplotlib()
    with Library.open(library_path) as library:

        def resolve(path: Path):
            track = library.track(path)
            if track is not None and track.ok:
                return track
            track = analyse_file(path)
            if not track.ok:
                click.secho(f"warning: {display_path(path)}: {track.error}", fg="yellow", err=True)
                return None
            return track

        plan = read_plan(playlist, resolve=resolve)
    arc = None
    name = arc_name or plan.arc
    if name:
        try:
            arc = load_arc(name)
        except ConfigError as exc:
            if arc_name:
                raise
            click.secho(f"note: {exc}; showing the plan without its target", err=True)
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
def show(playlist: Path, **options) -> None:
    """Print PLAYLIST as a plan: its table and its energy against the arc's target."""
    try:
        show_playlist(playlist, **options)
    except DancerError as exc:
        raise click.ClickException(str(exc)) from exc
