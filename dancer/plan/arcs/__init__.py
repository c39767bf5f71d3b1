"""Session arcs as data: built-in ``dancer/arcs/*.toml`` beside this module, user arcs in the config dir.

Public: `Arc`, `Phase`, `load_arc`, `parse_arc`, `builtin_arcs`, `user_arcs`, `user_arc_dir`.

An arc file names the phases of a session in order. Each phase takes a share of the session (or a
fixed number of minutes), an energy target that moves from a start to an end value, a soft tempo
range read octave-aware (a 140 BPM track fits 60-90 as 70), how much it wants beatless music, how
tracks arrive in it (beat-matched crossfade, long ambient fade, or a silence gap) and what the
prompt packs need (tags, density, breath cues, impact, body position). See ``hip-release.toml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from dancer.errors import ConfigError
from dancer.tomldata import parse_toml

BEATLESS = ("no", "allowed", "preferred")
TRANSITIONS = ("crossfade", "fade", "gap")
IMPACTS = ("low", "normal")
POSITIONS = ("standing", "floor", "seated")

#: Fixed-minute phases may take at most this fraction of a session; share phases split the rest.
_FIXED_MAX_FRACTION = 0.8
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Phase:
    """One stretch of a session. ``share`` is normalised over the share phases of the arc."""

    name: str
    title: str
    share: float | None
    minutes: float | None
    energy: tuple[float, float]
    tempo: tuple[float, float] | None
    beatless: str = "allowed"
    transition: str = "crossfade"
    transition_beats: int = 16
    fade_seconds: float = 12.0
    gap_seconds: float = 2.0
    prompt_tags: tuple[str, ...] = ()
    prompt_density: float = 1.0
    breath: bool = False
    impact: str = "normal"
    position: str = "standing"

    def energy_at(self, fraction: float) -> float:
        """The energy target a ``fraction`` (0..1) of the way through the phase."""
        start, end = self.energy
        return start + (end - start) * min(max(fraction, 0.0), 1.0)


@dataclass(frozen=True)
class Arc:
    """A named sequence of phases and the session length it is written for."""

    name: str
    title: str
    description: str
    minutes: float
    phases: tuple[Phase, ...]
    minutes_range: tuple[float, float] | None = None
    #: The file the arc was read from ("" for a built-in arc).
    source: str = ""

    def phase(self, name: str) -> Phase:
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(name)

    def spans(self, minutes: float | None = None) -> tuple[tuple[Phase, float, float], ...]:
        """Each phase with its nominal (start, end) in seconds for a session of ``minutes``.

        Fixed-minute phases keep their length while they fit in 80% of the session (beyond that
        they shrink together); share phases divide what is left in proportion to their shares.
        """
        total = 60.0 * (self.minutes if minutes is None else minutes)
        fixed = sum(60.0 * p.minutes for p in self.phases if p.minutes is not None)
        shares = sum(p.share for p in self.phases if p.share is not None)
        limit = total if shares == 0 else _FIXED_MAX_FRACTION * total
        scale = min(1.0, limit / fixed) if fixed > 0 else 1.0
        rest = total - fixed * scale
        spans = []
        start = 0.0
        for phase in self.phases:
            if phase.minutes is not None:
                length = 60.0 * phase.minutes * scale
            else:
                length = rest * (phase.share or 0.0) / shares
            spans.append((phase, start, start + length))
            start += length
        last_phase, last_start, _ = spans[-1]
        spans[-1] = (last_phase, last_start, total)
        return tuple(spans)


def builtin_arcs() -> list[str]:
    """Names of the arcs shipped with dancer, sorted."""
    root = resources.files(__name__)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def user_arc_dir() -> Path:
    """Where a user's own arcs live: ``arcs/`` beside the config file (see `dancer.config.config_path`)."""
    from dancer.config import config_path

    return config_path().parent / "arcs"


def user_arcs() -> list[str]:
    """Names of the arcs in `user_arc_dir`, sorted (a user arc hides a built-in one of that name)."""
    folder = user_arc_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml"))


def load_arc(name_or_path: str | Path) -> Arc:
    """Load an arc by name (user arcs first, then built-ins) or from a ``.toml`` file.

    Raises `ConfigError` naming the file, the field and what is allowed when the file is invalid,
    and listing the known arcs when the name is unknown.
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"arc file '{text}' not found")
        return parse_arc(_read(path, text), label=text, source=str(path))
    user_file = user_arc_dir() / f"{text}.toml"
    if user_file.is_file():
        return parse_arc(_read(user_file, str(user_file)), label=str(user_file), source=str(user_file))
    builtin = resources.files(__name__) / f"{text}.toml"
    if builtin.is_file():
        label = f"arcs/{text}.toml"
        return parse_arc(builtin.read_text(encoding="utf-8"), label=label)
    known = ", ".join(sorted(set(builtin_arcs()) | set(user_arcs())))
    raise ConfigError(f"unknown arc '{text}' (available: {known}; or give a .toml file)")


def _read(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: cannot read: {exc}") from exc


def parse_arc(text: str, *, label: str = "<arc>", source: str = "") -> Arc:
    """Parse and validate the TOML text of an arc; ``label`` names the file in error messages."""
    return _Validator(label).arc(parse_toml(text, label), source)


def _shown(value: Any) -> str:
    """``repr(value)``; Python refuses to print an integer past 4,300 digits (a TOML hex literal can be)."""
    try:
        return repr(value)
    except ValueError:
        return "a number too large to print"


_ARC_FIELDS = ("name", "title", "description", "minutes", "minutes_range", "phase")
_PHASE_FIELDS = (
    "name", "title", "share", "minutes", "energy", "tempo", "beatless", "transition", "transition_beats",
    "fade_seconds", "gap_seconds", "prompt_tags", "prompt_density", "breath", "impact", "position",
)  # fmt: skip


class _Validator:
    """Turns parsed TOML into an `Arc`, raising `ConfigError` at the first field that is wrong."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.where = ""

    def fail(self, field: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(
            f"{self.label}: {self.where}field '{field}': expected {expected}, got {_shown(value)}"
        )

    def unknown(self, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                where = f"{self.where.strip()}: " if self.where else ""
                raise ConfigError(
                    f"{self.label}: {where}unknown field {key!r} (allowed: {', '.join(allowed)})"
                )

    def get(self, data: dict[str, Any], field: str, expected: str, default: Any = ...) -> Any:
        if field in data:
            return data[field]
        if default is ...:
            raise ConfigError(f"{self.label}: {self.where}field '{field}': missing (expected {expected})")
        return default

    def name(self, data: dict[str, Any]) -> str:
        expected = "a name of lowercase letters, digits and '-'"
        value = self.get(data, "name", expected)
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise self.fail("name", expected, value)
        return value

    def text(self, data: dict[str, Any], field: str, default: str) -> str:
        value = self.get(data, field, "text", default)
        if not isinstance(value, str):
            raise self.fail(field, "text", value)
        return value

    def number(self, data: dict[str, Any], field: str, lo: float, hi: float, default: Any = ...) -> Any:
        expected = f"a number in {lo:g}..{hi:g}"
        value = self.get(data, field, expected, default)
        if value is None or value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise self.fail(field, expected, value)
        return float(value)

    def pair(self, data: dict[str, Any], field: str, lo: float, hi: float, default: Any = ...) -> Any:
        expected = f"two numbers in {lo:g}..{hi:g}"
        value = self.get(data, field, expected, default)
        if value is None:
            return None
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) and lo <= v <= hi for v in value)
        )
        if not ok:
            raise self.fail(field, expected, value)
        return float(value[0]), float(value[1])

    def choice(self, data: dict[str, Any], field: str, allowed: tuple[str, ...], default: str) -> str:
        expected = "one of " + ", ".join(f'"{a}"' for a in allowed)
        value = self.get(data, field, expected, default)
        if value not in allowed:
            raise self.fail(field, expected, value)
        return value

    def arc(self, data: dict[str, Any], source: str) -> Arc:
        self.unknown(data, _ARC_FIELDS)
        name = self.name(data)
        minutes = self.number(data, "minutes", 1, 600, 45.0)
        minutes_range = self.pair(data, "minutes_range", 1, 600, None)
        if minutes_range is not None and minutes_range[0] > minutes_range[1]:
            raise self.fail("minutes_range", "[shortest, longest] minutes", list(minutes_range))
        raw_phases = self.get(data, "phase", "one or more [[phase]] tables")
        if (
            not isinstance(raw_phases, list)
            or not raw_phases
            or not all(isinstance(p, dict) for p in raw_phases)
        ):
            raise self.fail("phase", "one or more [[phase]] tables", raw_phases)
        phases = [self.phase(raw, index) for index, raw in enumerate(raw_phases)]
        self.where = ""
        names = [p.name for p in phases]
        for phase_name in names:
            if names.count(phase_name) > 1:
                raise ConfigError(f"{self.label}: phase '{phase_name}' is defined more than once")
        total = sum(p.share for p in phases if p.share is not None)
        phases = [p if p.share is None else replace(p, share=p.share / total) for p in phases]
        return Arc(
            name=name,
            title=self.text(data, "title", name.replace("-", " ").capitalize()),
            description=self.text(data, "description", ""),
            minutes=minutes,
            phases=tuple(phases),
            minutes_range=minutes_range,
            source=source,
        )

    def phase(self, data: dict[str, Any], index: int) -> Phase:
        self.where = f"phase {index + 1}: "
        name = self.name(data)
        self.where = f"phase '{name}' "
        self.unknown(data, _PHASE_FIELDS)
        share = self.number(data, "share", 0, 1000, None)
        minutes = self.number(data, "minutes", 0, 600, None)
        if (share is None) == (minutes is None):
            raise ConfigError(
                f"{self.label}: phase '{name}': give exactly one of 'share' (fraction of the session) "
                f"or 'minutes'"
            )
        if share == 0 or minutes == 0:
            raise self.fail("share" if share is not None else "minutes", "a number > 0", 0)
        tempo = self.pair(data, "tempo", 20, 300, None)
        if tempo is not None and tempo[0] > tempo[1]:
            raise self.fail("tempo", "[slowest, fastest] BPM", list(tempo))
        tags = self.get(data, "prompt_tags", "a list of tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise self.fail("prompt_tags", "a list of tags", tags)
        breath = self.get(data, "breath", "true or false", False)
        if not isinstance(breath, bool):
            raise self.fail("breath", "true or false", breath)
        beats = self.get(data, "transition_beats", "a whole number of beats in 1..64", 16)
        if isinstance(beats, bool) or not isinstance(beats, int) or not 1 <= beats <= 64:
            raise self.fail("transition_beats", "a whole number of beats in 1..64", beats)
        return Phase(
            name=name,
            title=self.text(data, "title", name.replace("-", " ").capitalize()),
            share=share,
            minutes=minutes,
            energy=self.pair(data, "energy", 0, 1),
            tempo=tempo,
            beatless=self.choice(data, "beatless", BEATLESS, "allowed"),
            transition=self.choice(data, "transition", TRANSITIONS, "crossfade"),
            transition_beats=beats,
            fade_seconds=self.number(data, "fade_seconds", 0.5, 60, 12.0),
            gap_seconds=self.number(data, "gap_seconds", 0, 30, 2.0),
            prompt_tags=tuple(tags),
            prompt_density=self.number(data, "prompt_density", 0, 20, 1.0),
            breath=breath,
            impact=self.choice(data, "impact", IMPACTS, "normal"),
            position=self.choice(data, "position", POSITIONS, "standing"),
        )
