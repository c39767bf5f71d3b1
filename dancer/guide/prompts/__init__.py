"""Prompt packs: what the guide can say, as data.

A pack is a TOML file of ``[[prompt]]`` tables. The built-in packs live beside this module
(``dancer/prompts/*.toml``); user packs are read from ``<config dir>/prompts/*.toml`` and from
files named with ``--prompts``. A user prompt with the id of a built-in one replaces it.

Public API
----------
- `Prompt`: one thing the guide can say, with where and when it fits.
- `PromptPack`: the prompts of a session, with `matching` to choose candidates.
- `load_packs`: built-in + user + extra packs, filtered for ``--gentle`` and ``--no-floor``.
- `parse_pack`: one TOML text to prompts (raises `ConfigError` naming file, prompt and field).
- `user_prompt_dir`: where user packs are looked for.

Pack format::

    [pack]                      # optional
    name = "hips"
    [defaults]                  # optional: any prompt field, applied to every prompt below
    kind = "movement"
    [[prompt]]
    id = "circles-1"            # unique, lowercase letters, digits and '-'
    text = "Hip circles. ..."   # may use {title} (phase announcements), {in} and {out} (breath)
    tags = ["warm-up", "groove"]
    kind = "movement"           # movement | breath | phase | count-in | check-in | aftercare
    energy = [0.2, 0.7]         # 0..1, the arc's energy target where it fits
    tempo = [0, 300]            # BPM of the music; a range starting at 0 also fits beatless music
    focus = ["hips", "pelvis"]  # hips | pelvis | psoas | spine | breath | whole-body
    position = ["standing"]     # standing | floor | seated
    impact = "low"              # low | normal
    min_spacing = 20            # seconds of room this prompt needs before the next one
    exhale = "..."              # breath prompts only: makes it a tempo-locked inhale/exhale cycle

Tags name the moods of arc phases. The built-in packs use: ``any`` (fits everywhere), ``safety``
(said early), ``arrive``, ``warm-up``, ``build``, ``groove``, ``peak``, ``shake``, ``release``,
``flowing``, ``staccato``, ``chaos``, ``lyrical``, ``floor``, ``integrate``, ``stillness``, the
body and quality tags the built-in arcs ask for (``hips``, ``pelvis``, ``circles``, ``whine``,
``figure-eight``, ``hip-openers``, ``breath``, ``body-scan``, ``feet``, ``joints``, ``let-go``,
``voice``, ``edges``, ``percussive``, ``light``, ``float``, ``slow``, ``soften``, ``space``) and,
for aftercare, ``care`` and ``close``. A phase matches a prompt when one of the phase's
``prompt_tags`` or its name is among the prompt's tags. ``first`` marks a prompt that leads into
a phase (coming down to the floor): it is said first in a phase it matches, and only there.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from dancer.errors import ConfigError
from dancer.tomldata import parse_toml

KINDS = ("movement", "breath", "phase", "count-in", "check-in", "aftercare")
FOCI = ("hips", "pelvis", "psoas", "spine", "breath", "whole-body")
POSITIONS = ("standing", "floor", "seated")
IMPACTS = ("low", "normal")

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_FIELDS = frozenset(
    {"id", "text", "kind", "tags", "energy", "tempo", "focus", "position", "impact", "min_spacing", "exhale"}
)


@dataclass(frozen=True)
class Prompt:
    """One thing the guide can say.

    ``energy`` (0..1) and ``tempo`` (BPM) are closed ranges where the prompt fits; a tempo range
    starting at 0 also fits beatless music. ``min_spacing`` is the room, in seconds, the prompt
    needs before the next prompt (time to actually do it). A breath prompt with ``exhale`` is an
    inhale/exhale pair spoken on the beats of a tempo-locked breath cycle.
    """

    id: str
    text: str
    kind: str = "movement"
    tags: tuple[str, ...] = ("any",)
    energy: tuple[float, float] = (0.0, 1.0)
    tempo: tuple[float, float] = (0.0, 300.0)
    focus: tuple[str, ...] = ("whole-body",)
    position: tuple[str, ...] = ("standing",)
    impact: str = "low"
    min_spacing: float = 0.0
    exhale: str = ""
    source: str = field(default="", compare=False)

    @property
    def is_cycle(self) -> bool:
        """True for a breath prompt spoken as an inhale cue and an exhale cue."""
        return self.kind == "breath" and bool(self.exhale)

    def fits_tempo(self, bpm: float | None) -> bool:
        if bpm is None:
            return self.tempo[0] <= 0.0
        return self.tempo[0] <= bpm <= self.tempo[1]

    def fits_energy(self, energy: float, *, slack: float = 0.1) -> bool:
        return self.energy[0] - slack <= energy <= self.energy[1] + slack

    def fits_tags(self, tags: Iterable[str]) -> bool:
        return not set(self.tags).isdisjoint(tags)


@dataclass(frozen=True)
class PromptPack:
    """The prompts available to a session, in load order, and the files they came from."""

    prompts: tuple[Prompt, ...]
    sources: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.prompts)

    def __iter__(self) -> Iterator[Prompt]:
        return iter(self.prompts)

    def get(self, prompt_id: str) -> Prompt:
        for prompt in self.prompts:
            if prompt.id == prompt_id:
                return prompt
        raise KeyError(prompt_id)

    def filtered(self, *, gentle: bool = False, no_floor: bool = False) -> PromptPack:
        """Drop normal-impact prompts (``gentle``) and floor work (``no_floor``).

        A prompt that also suits another position stays, with ``floor`` removed from its positions.
        """
        kept = []
        for prompt in self.prompts:
            if gentle and prompt.impact != "low":
                continue
            if no_floor and "floor" in prompt.position:
                positions = tuple(p for p in prompt.position if p != "floor")
                if not positions:
                    continue
                prompt = replace(prompt, position=positions)
            kept.append(prompt)
        return PromptPack(tuple(kept), self.sources)

    def matching(
        self,
        kinds: Sequence[str],
        *,
        tags: Iterable[str] | None = None,
        position: str | None = None,
        impact: str | None = None,
        bpm: float | None = None,
        beatless: bool = False,
        energy: float | None = None,
    ) -> tuple[Prompt, ...]:
        """Prompts of one of ``kinds`` that fit every constraint given (``None`` = any).

        ``impact="low"`` keeps low-impact prompts only; ``beatless`` asks for prompts that fit
        music without a beat.
        """
        tag_set = set(tags) if tags is not None else None
        out = []
        for p in self.prompts:
            if p.kind not in kinds:
                continue
            if tag_set is not None and not p.fits_tags(tag_set):
                continue
            if position is not None and position not in p.position:
                continue
            if impact == "low" and p.impact != "low":
                continue
            if (beatless or bpm is not None) and not p.fits_tempo(None if beatless else bpm):
                continue
            if energy is not None and not p.fits_energy(energy):
                continue
            out.append(p)
        return tuple(out)


def user_prompt_dir() -> Path:
    """``prompts/`` beside the user's config file (see `dancer.config.config_path`)."""
    from dancer.config import config_path

    return config_path().parent / "prompts"


def builtin_pack_names() -> tuple[str, ...]:
    """File names of the built-in packs, sorted."""
    return tuple(sorted(f.name for f in resources.files(__name__).iterdir() if f.name.endswith(".toml")))


def load_packs(
    extra: Sequence[Path] = (),
    *,
    gentle: bool = False,
    no_floor: bool = False,
    include_user: bool = True,
) -> PromptPack:
    """Load the built-in packs, then user packs, then ``extra`` files, and filter them.

    Later prompts replace earlier ones with the same id. ``gentle`` keeps only low-impact
    prompts; ``no_floor`` drops floor work (see `PromptPack.filtered`).

    Raises
    ------
    ConfigError
        A pack is unreadable or invalid; the message names the file, the prompt and the field.
    """
    by_id: dict[str, Prompt] = {}
    sources: list[str] = []
    root = resources.files(__name__)
    files: list[tuple[str, str]] = [
        (f"prompts/{name}", root.joinpath(name).read_text(encoding="utf-8")) for name in builtin_pack_names()
    ]
    paths: list[Path] = []
    if include_user:
        user_dir = user_prompt_dir()
        if user_dir.is_dir():
            paths.extend(sorted(user_dir.glob("*.toml")))
    paths.extend(Path(p) for p in extra)
    for path in paths:
        try:
            files.append((str(path), path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read prompt pack: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: prompt pack is not UTF-8 text") from exc
    for source, text in files:
        for prompt in parse_pack(text, source):
            by_id.pop(prompt.id, None)
            by_id[prompt.id] = prompt
        sources.append(source)
    return PromptPack(tuple(by_id.values()), tuple(sources)).filtered(gentle=gentle, no_floor=no_floor)


def parse_pack(text: str, source: str) -> list[Prompt]:
    """Parse and validate one pack; ``source`` names the file in error messages."""
    doc = parse_toml(text, source)
    unknown = set(doc) - {"pack", "defaults", "prompt"}
    if unknown:
        raise ConfigError(f"{source}: unknown table {min(unknown)!r} (expected pack, defaults, prompt)")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{source}: 'defaults' must be a table")
    _check_fields(defaults, source, "defaults")
    if "id" in defaults or "text" in defaults:
        raise ConfigError(f"{source}: defaults cannot set 'id' or 'text'")
    tables = doc.get("prompt", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{source}: 'prompt' must be an array of tables ([[prompt]])")
    prompts: list[Prompt] = []
    seen: set[str] = set()
    for index, table in enumerate(tables, 1):
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: prompt #{index}: expected a table")
        prompt = _parse_prompt({**defaults, **table}, source, index)
        if prompt.id in seen:
            raise ConfigError(f"{source}: prompt {prompt.id!r} field 'id': duplicate id in this file")
        seen.add(prompt.id)
        prompts.append(prompt)
    return prompts


def _check_fields(table: dict[str, Any], source: str, where: str) -> None:
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        raise ConfigError(
            f"{source}: {where} field {unknown[0]!r}: unknown field "
            f"(expected one of {', '.join(sorted(_FIELDS))})"
        )


def _parse_prompt(table: dict[str, Any], source: str, index: int) -> Prompt:
    raw_id = table.get("id")
    name = f"prompt {raw_id!r}" if isinstance(raw_id, str) else f"prompt #{index}"
    _check_fields(table, source, name)

    def fail(fld: str, message: str) -> ConfigError:
        return ConfigError(f"{source}: {name} field {fld!r}: {message}")

    if not isinstance(raw_id, str) or not _ID.fullmatch(raw_id):
        raise fail("id", f"expected lowercase letters, digits and '-', got {_shown(raw_id)}")
    text = _text(table, "text", fail, required=True)
    kind = _choice(table, "kind", KINDS, "movement", fail)
    tags = _words(table, "tags", None, ("any",), fail)
    energy = _range(table, "energy", (0.0, 1.0), 1.0, fail)
    tempo = _range(table, "tempo", (0.0, 300.0), 400.0, fail)
    focus = _words(table, "focus", FOCI, ("whole-body",), fail)
    position = _words(table, "position", POSITIONS, ("standing",), fail)
    impact = _choice(table, "impact", IMPACTS, "low", fail)
    spacing = table.get("min_spacing", 0.0)
    if isinstance(spacing, bool) or not isinstance(spacing, int | float) or not 0 <= spacing <= 600:
        raise fail("min_spacing", f"expected seconds between 0 and 600, got {_shown(spacing)}")
    exhale = _text(table, "exhale", fail, required=False)
    if exhale and kind != "breath":
        raise fail("exhale", f"only breath prompts have an exhale, this one is kind {kind!r}")
    allowed = {"title"} if kind == "phase" else ({"in", "out"} if kind == "breath" else set())
    for fld, value in (("text", text), ("exhale", exhale)):
        _check_placeholders(value, allowed, lambda m, f=fld: fail(f, m))
    return Prompt(
        id=raw_id,
        text=text,
        kind=kind,
        tags=tags,
        energy=energy,
        tempo=tempo,
        focus=focus,
        position=position,
        impact=impact,
        min_spacing=float(spacing),
        exhale=exhale,
        source=source,
    )


def _text(table: dict[str, Any], fld: str, fail: Any, *, required: bool) -> str:
    value = table.get(fld, "")
    if not isinstance(value, str):
        raise fail(fld, f"expected a string, got {_shown(value)}")
    value = " ".join(value.split())
    if required and not value:
        raise fail(fld, "must not be empty")
    if len(value) > 400:
        raise fail(fld, f"at most 400 characters, got {len(value)}")
    return value


def _choice(table: dict[str, Any], fld: str, allowed: Sequence[str], default: str, fail: Any) -> str:
    value = table.get(fld, default)
    if value not in allowed:
        raise fail(fld, f"expected one of {', '.join(allowed)}, got {_shown(value)}")
    return str(value)


def _words(
    table: dict[str, Any], fld: str, allowed: Sequence[str] | None, default: tuple[str, ...], fail: Any
) -> tuple[str, ...]:
    value = table.get(fld, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise fail(fld, f"expected a non-empty list of strings, got {_shown(value)}")
    for word in value:
        if allowed is not None and word not in allowed:
            raise fail(fld, f"expected one of {', '.join(allowed)}, got {_shown(word)}")
        if allowed is None and (not isinstance(word, str) or not _ID.fullmatch(word)):
            raise fail(fld, f"expected lowercase words with '-', got {_shown(word)}")
    return tuple(dict.fromkeys(value))


def _range(
    table: dict[str, Any], fld: str, default: tuple[float, float], top: float, fail: Any
) -> tuple[float, float]:
    value = table.get(fld, list(default))
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )
    if not ok or not 0 <= value[0] <= value[1] <= top:
        raise fail(fld, f"expected [low, high] with 0 <= low <= high <= {top:g}, got {_shown(value)}")
    return float(value[0]), float(value[1])


def _check_placeholders(text: str, allowed: set[str], fail: Any) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise fail(f"bad braces ({exc}); write {{{{ and }}}} for literal braces") from exc
    bad = sorted(names - allowed)
    if bad:
        hint = ", ".join("{" + a + "}" for a in sorted(allowed)) or "none"
        raise fail(f"unknown placeholder {{{bad[0]}}} (allowed here: {hint})")
    # Fill it in as the scheduler will: a conversion or format spec ("{title!z}", "{in:{x}}") fails there.
    try:
        text.format(**{name: "four" for name in allowed})
    except (ValueError, KeyError) as exc:
        raise fail(f"cannot fill in its placeholders ({type(exc).__name__}: {exc})") from None


def _shown(value: Any) -> str:
    """``repr(value)``; Python refuses to print an integer past 4,300 digits (a TOML hex literal can be)."""
    try:
        return repr(value)
    except ValueError:
        return "a number too large to print"
