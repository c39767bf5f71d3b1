"""Prompt packs: the built-in content, filtering, user packs and validation messages."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dancer.errors import ConfigError
from dancer.guide.prompts import FOCI, KINDS, POSITIONS, PromptPack, load_packs, parse_pack


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config"
    monkeypatch.setenv("DANCER_CONFIG", str(config / "config.toml"))
    return config


@pytest.fixture(scope="module")
def builtin() -> PromptPack:
    return load_packs(include_user=False)


def test_builtin_packs_are_rich_and_unique(builtin: PromptPack) -> None:
    assert len(builtin) >= 80
    assert len({p.id for p in builtin}) == len(builtin)
    assert len({p.text for p in builtin}) == len(builtin)
    assert {p.kind for p in builtin} == set(KINDS)
    assert {f for p in builtin for f in p.focus} == set(FOCI)
    assert {pos for p in builtin for pos in p.position} == set(POSITIONS)
    assert len(builtin.sources) >= 6


@pytest.mark.parametrize(
    "words",
    [
        "let the music move you",
        "hip circles",
        "figure-eight",
        "pelvic tilts",
        "rock",
        "whine",
        "twerk",
        "gentle bounce",
        "shake",
        "psoas",
        "sigh",
        "exhale",
        "pigeon",
        "butterfly",
        "bound angle",
        "foam roller",
        "glutes",
        "outer thighs",
        "massage",
        "water",
        "note",
        "move within comfort",
    ],
)
def test_builtin_content_covers_the_brief(builtin: PromptPack, words: str) -> None:
    assert any(words in (p.text + " " + p.exhale).lower() for p in builtin), words


def test_placeholders_format(builtin: PromptPack) -> None:
    for p in builtin:
        for text in (p.text, p.exhale):
            text.format(title="Groove", **{"in": "four", "out": "eight"})


def test_breath_cycles_are_short_enough_for_a_fast_in_breath(builtin: PromptPack) -> None:
    cycles = [p for p in builtin if p.is_cycle]
    assert len(cycles) >= 6
    assert all(len(p.text.split()) <= 8 for p in cycles)


def test_every_vigorous_prompt_has_a_gentler_alternative(builtin: PromptPack) -> None:
    gentle = [p for p in builtin if p.impact == "low" and p.kind == "movement"]
    for loud in (p for p in builtin if p.impact == "normal"):
        assert any(set(g.tags) & set(loud.tags) and set(g.focus) & set(loud.focus) for g in gentle), loud.id


def test_gentle_and_no_floor_filter() -> None:
    full = load_packs(include_user=False)
    gentle = load_packs(gentle=True, include_user=False)
    assert any(p.kind == "movement" for p in full) and any(p.impact == "normal" for p in full)
    assert all(p.impact == "low" for p in gentle)
    no_floor = load_packs(no_floor=True, include_user=False)
    assert all("floor" not in p.position for p in no_floor)
    assert no_floor.matching(("movement",), tags={"floor"}, position="seated")
    # Prompts that suit a chair as well as the floor stay.
    assert "floor-arrive-1" in {p.id for p in no_floor}
    assert "pigeon-1" not in {p.id for p in no_floor}


def test_user_pack_overrides_and_extends(no_user_config: Path, tmp_path: Path) -> None:
    (no_user_config / "prompts").mkdir(parents=True)
    (no_user_config / "prompts" / "mine.toml").write_text(
        '[[prompt]]\nid = "circles-1"\ntext = "My own circles."\ntags = ["groove"]\n'
    )
    extra = tmp_path / "extra.toml"
    extra.write_text('[defaults]\nkind = "aftercare"\n[[prompt]]\nid = "bath"\ntext = "Take a warm bath."\n')
    pack = load_packs([extra])
    assert pack.get("circles-1").text == "My own circles."
    assert pack.get("bath").kind == "aftercare"
    assert str(extra) in pack.sources


def test_missing_extra_pack_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml: cannot read prompt pack"):
        load_packs([tmp_path / "nope.toml"], include_user=False)


PROMPT = '[[prompt]]\nid = "circles-1"\ntext = "Circle."\n'


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('kind = "dance"', "prompts/hips.toml: prompt 'circles-1' field 'kind': expected one of movement, "),
        ("energy = [0.8, 0.2]", "prompt 'circles-1' field 'energy': expected [low, high]"),
        ("energy = [0, 2]", "field 'energy'"),
        ('tempo = ["slow", 100]', "field 'tempo'"),
        (
            'focus = ["knees"]',
            "field 'focus': expected one of hips, pelvis, psoas, spine, breath, whole-body",
        ),
        ('position = "lying"', "field 'position'"),
        ('impact = "high"', "field 'impact': expected one of low, normal, got 'high'"),
        ("min_spacing = -3", "field 'min_spacing'"),
        ('exhale = "Out."', "field 'exhale': only breath prompts"),
        ('txt = "typo"', "prompt 'circles-1' field 'txt': unknown field"),
        ("tags = []", "field 'tags'"),
        ('tags = ["Hip Hop"]', "field 'tags'"),
    ],
)
def test_invalid_prompt_names_file_prompt_and_field(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_pack(PROMPT + extra + "\n", "prompts/hips.toml")
    assert message in str(error.value)
    assert str(error.value).startswith("prompts/hips.toml: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[prompt]]\nid = "a"\ntags = ["x"]\n', "prompt 'a' field 'text': must not be empty"),
        ('[[prompt]]\ntext = "Hi."\n', "prompt #1 field 'id'"),
        ('[[prompt]]\nid = "Bad Id"\ntext = "Hi."\n', "prompt 'Bad Id' field 'id'"),
        ('[[prompt]]\nid = "a"\ntext = "Hi {name}."\n', "field 'text': unknown placeholder {name}"),
        ('[[prompt]]\nid = "a"\ntext = "Hi {."\n', "field 'text': bad braces"),
        (
            '[[prompt]]\nid = "a"\ntext = "A."\n[[prompt]]\nid = "a"\ntext = "B."\n',
            "prompt 'a' field 'id': duplicate",
        ),
        ('[[prompt]\nid = "a"\n', "x.toml: invalid TOML"),
        ("[mood]\nx = 1\n", "unknown table 'mood'"),
        ('[defaults]\nkind = "dance"\n[[prompt]]\nid = "a"\ntext = "A."\n', "prompt 'a' field 'kind'"),
        ('[defaults]\ncolour = "red"\n', "defaults field 'colour': unknown field"),
    ],
)
def test_invalid_pack_messages(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as error:
        parse_pack(text, "x.toml")
    assert message in str(error.value)


def test_invalid_user_pack_fails_load_with_its_path(no_user_config: Path) -> None:
    folder = no_user_config / "prompts"
    folder.mkdir(parents=True)
    (folder / "bad.toml").write_text(PROMPT + 'kind = "jump"\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: prompt 'circles-1' field 'kind'"):
        load_packs()


# Any mix of values either parses or raises ConfigError: never a crash of another kind.

_values = st.one_of(
    st.text(alphabet=string.ascii_letters + " {}.-", max_size=12),
    st.integers(-5, 500),
    st.floats(-1, 2, allow_nan=False),
    st.booleans(),
    st.lists(st.one_of(st.sampled_from(["hips", "groove", "floor", "low"]), st.integers(0, 200)), max_size=3),
)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "text",
                "kind",
                "tags",
                "energy",
                "tempo",
                "focus",
                "position",
                "impact",
                "min_spacing",
                "exhale",
            ]
        ),
        _values,
    )
)
def test_arbitrary_fields_parse_or_raise_config_error(fields: dict[str, object]) -> None:
    body = "".join(f"{k} = {_toml_value(v)}\n" for k, v in fields.items())
    try:
        prompts = parse_pack("[[prompt]]\n" + body, "fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml: ")
    else:
        assert len(prompts) == 1 and prompts[0].text
