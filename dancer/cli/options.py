"""Options and option parsers several commands share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

library_option = click.option(
    "--library", "library_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Library file (default: $DANCER_LIBRARY or the user data dir).",
)


def jobs_option(value: int | None) -> int | None:
    """``--jobs``: at least one worker process (None: one per core)."""
    if value is not None and value < 1:
        raise click.BadParameter("must be at least 1", param_hint="--jobs")
    return value


def latency_option(value: str) -> str | float:
    """``--latency``: ``low``, ``high`` or seconds in (0, 2]."""
    if value in ("low", "high"):
        return value
    try:
        seconds = float(value)
    except ValueError:
        raise click.BadParameter("use low, high or a number of seconds", param_hint="--latency") from None
    if not 0.0 < seconds <= 2.0:
        raise click.BadParameter("must be between 0 and 2 seconds", param_hint="--latency")
    return seconds


def open_voice_option(spec: str, *, report: bool = True):
    """The voice ``--voice`` names, cached when it speaks; with ``report`` a fallback is said on stderr."""
    from dancer.guide.voice import open_voice
    from dancer.guide.voice_cache import CachedVoice

    voice = open_voice(spec)
    reason = getattr(voice, "fallback_reason", None)
    if reason and report:
        click.echo(f"voice: {reason}", err=True)
    return CachedVoice(voice) if voice.speaks else voice


@contextmanager
def render_progress() -> Iterator[Callable[[float, float], None]]:
    """A rendering progress bar on stderr; yields the ``progress(done, total)`` callback."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("rendering"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("render", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=max(total, 1e-9))


def render_output(path: Path, param_hint: str) -> Path:
    """A render target whose suffix names a format dancer writes; click.BadParameter otherwise."""
    from dancer.audio.render import RENDER_FORMATS

    if path.suffix.lower() not in RENDER_FORMATS:
        *most, last = RENDER_FORMATS
        raise click.BadParameter(f"{path.name}: use a {', '.join(most)} or {last} file name",
                                 param_hint=param_hint)
    return path
