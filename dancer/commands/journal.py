"""`dancer history` and `dancer config show|path|set`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dancer.commands.scan import library_option


@click.group()
def config() -> None:
    """Show or change your settings (music folder, arc, minutes, voice, ...)."""


@config.command("path")
def config_path_cmd() -> None:
    """Print where the configuration file lives."""
    from dancer.config import config_path

    click.echo(str(config_path()))


@config.command("show")
def config_show() -> None:
    """Print the configuration in force (defaults where the file says nothing)."""
    from dancer.config import config_path, dump_config, load_config

    path = config_path()
    click.echo(f"# {path}{'' if path.exists() else ' (not written yet: defaults)'}")
    click.echo(dump_config(load_config(path)), nl=False)


@config.command("set")
@click.argument("key")
@click.argument("value")
def config_set(key: str, value: str) -> None:
    """Set one KEY to VALUE and save (lists are comma-separated)."""
    from dancer.config import load_config, parse_value, save_config

    cfg = load_config().with_values(**{key: parse_value(key, value)})
    click.echo(f"saved {key} in {save_config(cfg)}")


def trend_chart(records, width: int = 40) -> list[str]:
    """Before/after hip tension per session as text bars (``#`` before, ``=`` after)."""
    lines = []
    for r in records:
        if r.before.tension is None and r.after.tension is None:
            continue
        date = r.as_json()["date"]
        b = r.before.tension
        a = r.after.tension
        scale = width / 10
        bar_b = "#" * int(round((b or 0) * scale))
        bar_a = "=" * int(round((a or 0) * scale))
        lines.append(f"{date}  before {'-' if b is None else b:>2} {bar_b}")
        lines.append(f"{'':16}  after  {'-' if a is None else a:>2} {bar_a}")
    return lines


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per session and line.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the last N sessions.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw the before/after trend to a PNG (needs matplotlib).")
@library_option
def history(as_json: bool, limit: int | None, plot: Path | None, library_path: Path | None) -> None:
    """Show past sessions and how hip tension changed before and after."""
    from dancer.journal import Journal
    from dancer.library import Library

    with Library.open(library_path) as lib:
        records = Journal(lib).sessions(limit)
    if as_json:
        for r in records:
            click.echo(json.dumps(r.as_json(), ensure_ascii=False))
        return
    if not records:
        click.echo("no sessions yet: start one with `dancer session`")
        return
    for r in records:
        j = r.as_json()
        click.echo(f"{j['date']}  {r.arc:<12} {j['minutes_danced']:5.1f}/{r.minutes:g} min  {r.status:<8} "
                   f"played {r.played}, skipped {r.skipped}, nudges {r.nudges}")
    chart = trend_chart(records)
    if chart:
        click.echo("\nhip tension, before (#) and after (=), 0-10:")
        for line in chart:
            click.echo(line)
        pairs = [(r.before.tension, r.after.tension) for r in records
                 if r.before.tension is not None and r.after.tension is not None]
        if pairs:
            drop = sum(b - a for b, a in pairs) / len(pairs)
            click.echo(f"\naverage change over {len(pairs)} session(s): {-drop:+.1f} points")
    if plot is not None:
        _plot(records, plot)
        click.echo(f"wrote {plot}")


def _plot(records, path: Path) -> None:
    from dancer.errors import DancerError

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DancerError("--plot needs matplotlib: pip install 'dancer[plot]'") from None
    rs = [r for r in records if r.before.tension is not None or r.after.tension is not None]
    x = list(range(1, len(rs) + 1))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(x, [r.before.tension for r in rs], "o-", label="before")
    ax.plot(x, [r.after.tension for r in rs], "s-", label="after")
    ax.set_xlabel("session")
    ax.set_ylabel("hip tension (0-10)")
    ax.set_ylim(0, 10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
