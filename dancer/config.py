"""User configuration: a small TOML file in the platform's config folder.

Public: `Config`, `config_path`, `load_config`, `save_config`, `FIELDS`.

Every field has a default, so a missing file is a valid configuration. Unknown keys and wrong
types are reported with the file, the key and what is allowed.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from dancer.errors import ConfigError
from dancer.paths import atomic_write_text, display_path
from dancer.tomldata import parse_toml


@dataclass(frozen=True)
class Config:
    music: str = ""
    arc: str = "hip-release"
    minutes: float = 45.0
    voice: str = "auto"
    volume: float = 0.8
    loudness_target: float = -16.0
    device: str = ""
    gentle: bool = False
    no_floor: bool = False
    prompts: tuple[str, ...] = ()
    checkin: bool = True

    def with_values(self, **values) -> Config:
        return replace(self, **values)


FIELDS = {f.name: f for f in fields(Config)}
_SURROGATE = re.compile("[\ud800-\udfff]")
_LIMITS = {"minutes": (5.0, 240.0), "volume": (0.0, 1.0), "loudness_target": (-30.0, -6.0)}
_HELP = {
    "music": "your music folder", "arc": "default arc (dancer build --help lists them)",
    "minutes": "default session length, 5-240", "voice": "auto, none, espeak, or a Piper .onnx file",
    "volume": "0.0-1.0", "loudness_target": "LUFS, -30 to -6", "device": "output device name or index",
    "gentle": "true/false: low-impact prompts only", "no_floor": "true/false: no floor prompts",
    "prompts": "list of extra prompt pack files", "checkin": "true/false: ask before and after a session",
}


def config_path() -> Path:
    """``$DANCER_CONFIG`` if set, else ``config.toml`` in the user config dir."""
    env = os.environ.get("DANCER_CONFIG")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("dancer", appauthor=False)) / "config.toml"


def _coerce(name: str, value, where: str):
    f = FIELDS.get(name)
    if f is None:
        raise ConfigError(f"{where}: unknown key {name!r}; known keys: {', '.join(FIELDS)}")
    default = f.default
    ok = False
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        try:
            value = float(value) if ok else value
        except OverflowError:  # an integer past 1e308
            ok = False
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, tuple):
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    if not ok:
        raise ConfigError(f"{where}: key {name!r} must be {_HELP[name]}, got {_shown(value)}")
    lo_hi = _LIMITS.get(name)
    if lo_hi and not lo_hi[0] <= value <= lo_hi[1]:
        raise ConfigError(f"{where}: key {name!r} must be {_HELP[name]}, got {value!r}")
    return value


def _shown(value) -> str:
    """``repr(value)``; Python refuses to print an integer past 4,300 digits (a TOML hex literal can be)."""
    try:
        return repr(value)
    except ValueError:
        return "a number too large to print"


def parse_config(text: str, where: str = "config") -> Config:
    data = parse_toml(text, where, hint="; fix or delete the file")
    values = {k: _coerce(k, v, where) for k, v in data.items()}
    return Config(**values)


def load_config(path: Path | None = None) -> Config:
    """The configuration at ``path`` (default `config_path`), or defaults when there is no file."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(f"{display_path(path)}: cannot read ({exc.strerror})") from None
    return parse_config(raw.decode("utf-8", "replace"), display_path(path))


def parse_value(name: str, text: str):
    """A value typed on the command line (``dancer config set KEY VALUE``), checked like the file."""
    f = FIELDS.get(name)
    if f is None:
        raise ConfigError(f"unknown key {name!r}; known keys: {', '.join(FIELDS)}")
    default = f.default
    value: object = text
    if isinstance(default, bool):
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        value = words.get(text.lower(), text)
    elif isinstance(default, float):
        try:
            value = float(text)
        except ValueError:
            pass
    elif isinstance(default, tuple):
        value = [p for p in text.split(",") if p]
    return _coerce(name, value, "config")


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    s = "".join(c if c.isprintable() else _escape(c) for c in s)
    return f'"{s}"'


def _escape(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def dump_config(config: Config) -> str:
    lines = ["# dancer configuration (dancer config show | dancer config set KEY VALUE)"]
    for k, v in asdict(config).items():
        # TOML holds Unicode text only: a path in another encoding (surrogate escapes) cannot be stored.
        if _SURROGATE.search("".join(v) if isinstance(v, tuple) else str(v)):
            raise ConfigError(f"cannot save {k} = {v!r} in the config: it is not UTF-8 text")
        lines.append(f"# {_HELP[k]}")
        lines.append(f"{k} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def save_config(config: Config, path: Path | None = None) -> Path:
    """Write atomically (a kill mid-write leaves the previous file intact)."""
    path = path or config_path()
    try:
        atomic_write_text(path, dump_config(config))
    except OSError as exc:
        raise ConfigError(f"{display_path(path)}: cannot write ({exc.strerror})") from None
    return path
