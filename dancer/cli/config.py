"""`dancer config show|path|set`."""

from __future__ import annotations

import click


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
