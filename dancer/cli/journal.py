"""`dancer history`: past sessions and the before/after trend."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dancer.cli.options import library_option


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per session and line.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the last N sessions.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Draw the before/after trend to a PNG (needs matplotlib).")
@library_option
def history(as_json: bool, limit: int | None, plot: Path | None, library_path: Path | None) -> None:
    """Show past sessions and how hip tension changed before and after."""
    from dancer.library.store import Library
    from dancer.session.history import average_change, plot_history, trend_chart
    from dancer.session.journal import Journal

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
        change = average_change(records)
        if change is not None:
            click.echo(f"\naverage change over {change[1]} session(s): {change[0]:+.1f} points")
    if plot is not None:
        plot_history(records, plot)
        click.echo(f"wrote {plot}")
