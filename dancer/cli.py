"""The `dancer` command line: click commands only (parse, call the library API, print).

Command modules live in `dancer/commands/`; each defines click commands and imports numpy,
librosa and friends inside the command body so `dancer --help` starts fast.
"""

from __future__ import annotations

import importlib
import sqlite3
import sys

import click

from dancer import __version__
from dancer.errors import DancerError

#: (module in dancer.commands, attribute) for every registered command or group.
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
    ("journal", "config"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dancer")
def cli() -> None:
    """Turn your own music folder into a guided freeform dance session."""


for _module, _attr in COMMANDS:
    cli.add_command(getattr(importlib.import_module(f"dancer.commands.{_module}"), _attr))


def main() -> None:
    """Entry point: domain errors become one line and exit 1; Ctrl-C and broken pipes exit quietly."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DancerError as exc:
        click.echo(f"dancer: {exc}", err=True)
        sys.exit(1)
    except sqlite3.DatabaseError as exc:
        click.echo(f"dancer: library error ({exc}); if it persists run `dancer library repair`", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
