"""Reading dancer's TOML data files (arcs, prompt packs, config) with one kind of error.

Public: `parse_toml`.
"""

from __future__ import annotations

import tomllib
from typing import Any

from dancer.errors import ConfigError


def parse_toml(text: str, where: str, *, hint: str = "") -> dict[str, Any]:
    """The TOML document in ``text``; any syntax problem is a one-line `ConfigError` naming ``where``.

    tomllib lets Python's own limits escape as ValueError (integers over 4,300 digits) and
    RecursionError (deep nesting); those are invalid files too.
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        detail = str(exc)
    except RecursionError:
        detail = "tables or arrays nested too deep"
    except ValueError:
        detail = "a number too long"
    raise ConfigError(f"{where}: invalid TOML: {detail}{hint}")
