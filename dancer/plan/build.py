"""From a library to a playlist and back: build a session playlist, load one for playing.

Public: `build_playlist`, `default_output`, `load_plan`, `read_plan_analysing`, `plan_arc`,
`playlist_arc`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

from dancer.errors import ConfigError, DancerError, LibraryError
from dancer.model import Plan, Tags, Track
from dancer.paths import display_path
from dancer.plan.arcs import Arc, load_arc


def default_output(arc: str, minutes: float, today: datetime.date | None = None) -> Path:
    """``playlists/<arc>-<minutes>min-<date>.m3u8`` relative to the current directory."""
    today = today or datetime.date.today()
    return Path("playlists") / f"{Path(arc).stem}-{minutes:g}min-{today:%Y-%m-%d}.m3u8"


def build_playlist(library, folder: Path, arc: Arc, *, minutes: float, seed: int = 0,
                   include: tuple[str, ...] = (), exclude: tuple[str, ...] = (), min_confidence: float = 0.0,
                   output: Path | None = None) -> tuple[Plan, Path]:
    """Plan a session from ``folder``'s analysed tracks and write it as a playlist; (plan, its path).

    Tracks played in the last sessions are avoided. Raises `DancerError` when nothing fits.
    """
    from dancer.plan.planner import filter_tracks, make_plan
    from dancer.plan.playlist import write_plan

    tracks = filter_tracks(library.tracks(under=folder), include=include, exclude=exclude,
                           min_confidence=min_confidence)
    if not tracks:
        filtered = ""
        if include or exclude or min_confidence:
            filtered = " that match --include/--exclude/--min-confidence"
        raise DancerError(f"no analysed tracks in {folder}{filtered}")
    plan = make_plan(tracks, arc, minutes=minutes, seed=seed, avoid=library.recent_paths())
    if not plan.entries:
        raise DancerError("; ".join(plan.warnings) or f"could not plan a session from {folder}")
    output = output or default_output(arc.name, minutes)
    write_plan(plan, output)
    return plan, output


def load_plan(playlist: Path, library_path: Path | None) -> Plan:
    """The `Plan` a playlist describes, its tracks' analyses taken from the library when it has them.

    Files the library does not know still play, without loudness matching or beat-aligned skips.
    """
    from dancer.library.store import Library
    from dancer.plan.playlist import read_plan

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


def read_plan_analysing(playlist: Path, library, *, warn: Callable[[str], None] = lambda text: None) -> Plan:
    """Read any playlist as a plan; files the library does not know are analysed on the spot
    (those that fail are left out, each with a warning)."""
    from dancer.library.scan import analyse_file
    from dancer.plan.playlist import read_plan

    def resolve(path: Path) -> Track | None:
        track = library.track(path)
        if track is not None and track.ok:
            return track
        track = analyse_file(path)
        if not track.ok:
            warn(f"{display_path(path)}: {track.error}")
            return None
        return track

    return read_plan(playlist, resolve=resolve)


def plan_arc(plan: Plan, name: str | None = None) -> Arc:
    """The arc ``plan`` was made for (its arc file when it names one), or the arc ``name`` given.

    Raises `ConfigError` when the plan names no arc, or its arc cannot be found.
    """
    if name:
        return load_arc(name)
    if plan.arc_file:
        try:
            return load_arc(Path(plan.arc_file))
        except ConfigError:
            pass  # moved or deleted since: a user or built-in arc of that name may still do
    if not plan.arc:
        raise ConfigError("this playlist names no arc (not made by dancer)")
    return load_arc(plan.arc)


def playlist_arc(playlist: Path) -> str:
    """The arc a dancer playlist was planned for, as `load_arc` takes it (its arc file while that
    exists, else its name); "" for a playlist that names none."""
    from dancer.plan.playlist import read_plan

    plan = read_plan(playlist)
    if plan.arc_file and Path(plan.arc_file).is_file():
        return plan.arc_file
    return plan.arc

