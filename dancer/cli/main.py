"""The `dancer` group and its one error path.

A `DancerError` becomes one line, ``dancer: …``, on stderr and exit code 1; usage errors are
click's (exit 2); Ctrl-C exits 130; a closed pipe exits quietly. Command bodies never call
`sys.exit` or raise `click.ClickException`: they raise domain errors (or `Interrupted`).
"""

from __future__ import annotations

import importlib
import sqlite3
import sys

import click

from dancer import __version__
from dancer.errors import DancerError, Interrupted

#: (module in dancer.cli, attribute) for every registered command or group.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("scan", "scan"),
    ("scan", "analyse"),
    ("library", "library"),
    ("demo", "demo"),
    ("plan", "build"),
    ("plan", "plan"),
    ("play", "play"),
    ("play", "render"),
    ("play", "devices"),
    ("session", "session"),
    ("session", "resume"),
    ("journal", "history"),
    ("config", "config"),
)


class DancerGroup(click.Group):
    """A group whose commands' domain errors become one line and an exit code (under CliRunner too)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DancerError as exc:
            click.echo(f"dancer: {exc}", err=True)
            ctx.exit(1)
        except sqlite3.DatabaseError as exc:
            click.echo(f"dancer: library error ({exc}); if it persists run `dancer library repair`", err=True)
            ctx.exit(1)
        except Interrupted as exc:
            if str(exc):
                click.echo(str(exc), err=True)
            ctx.exit(130)


@click.group(cls=DancerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dancer")
def cli() -> None:
    """Turn your own music folder into a guided freeform dance session."""


for _module, _attr in COMMANDS:
    cli.add_command(getattr(importlib.import_module(f"dancer.cli.{_module}"), _attr))


def main() -> None:
    """Entry point: run the group; Ctrl-C exits 130 and a closed pipe exits quietly."""
    try:
        code = cli.main(standalone_mode=False)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    sys.exit(code if isinstance(code, int) else 0)
