"""Arcs as TOML data: the built-ins load and make sense, user arcs are found, bad files are named."""

from __future__ import annotations

import os
from itertools import pairwise
from pathlib import Path

import pytest

from dancer.errors import ConfigError
from dancer.plan.arcs import (
    BEATLESS,
    IMPACTS,
    POSITIONS,
    TRANSITIONS,
    builtin_arcs,
    load_arc,
    parse_arc,
    user_arc_dir,
)

GOOD = """
name = "tiny"
minutes = 20
[[phase]]
name = "arrive"
share = 1
energy = [0.1, 0.3]
tempo = [60, 90]
[[phase]]
name = "peak"
share = 3
energy = [0.7, 0.9]
transition = "gap"
gap_seconds = 1.5
"""


def test_builtin_arcs_are_listed_and_load() -> None:
    assert builtin_arcs() == ["gentle", "hip-release", "quick", "taster", "wave"]
    for name in builtin_arcs():
        arc = load_arc(name)
        assert arc.name == name
        assert arc.description and arc.title
        assert len(arc.phases) >= 4
        assert sum(p.share for p in arc.phases) == pytest.approx(1.0)
        for p in arc.phases:
            assert 0 <= min(p.energy) <= max(p.energy) <= 1
            assert p.tempo is None or p.tempo[0] < p.tempo[1]
            assert p.beatless in BEATLESS and p.transition in TRANSITIONS
            assert p.impact in IMPACTS and p.position in POSITIONS
            assert p.prompt_tags and p.prompt_density > 0


def test_builtin_arcs_have_the_phases_the_issue_names() -> None:
    assert [p.name for p in load_arc("wave").phases] == [
        "flowing",
        "staccato",
        "chaos",
        "lyrical",
        "stillness",
    ]
    hip = load_arc("hip-release")
    assert [p.title for p in hip.phases] == [
        "Arrive and breathe", "Hip warm-up", "Groove: circles and whining", "Shake and release",
        "Floor openers and stillness",
    ]  # fmt: skip
    assert "whine" in hip.phase("groove").prompt_tags
    quick = load_arc("quick")
    assert quick.minutes_range == (15, 20) and 15 <= quick.minutes <= 20
    gentle = load_arc("gentle")
    assert max(max(p.energy) for p in gentle.phases) <= 0.6
    assert all(p.impact == "low" for p in gentle.phases)
    for name in builtin_arcs():
        arc = load_arc(name)
        peak = max(max(p.energy) for p in arc.phases)
        assert max(arc.phases[-1].energy) < 0.35 and arc.phases[-1].beatless == "preferred"
        assert arc.phases[0].energy[0] < peak


@pytest.mark.parametrize("name", ["gentle", "hip-release", "quick", "wave"])
def test_spans_cover_the_session(name: str) -> None:
    arc = load_arc(name)
    spans = arc.spans(37)
    assert spans[0][1] == 0.0 and spans[-1][2] == pytest.approx(37 * 60)
    for (_, _, end), (_, start, _) in pairwise(spans):
        assert end == pytest.approx(start)
    for phase, start, end in spans:
        assert end - start == pytest.approx(phase.share * 37 * 60)


def test_fixed_minutes_phases_keep_their_length_while_they_fit() -> None:
    arc = parse_arc(GOOD.replace('name = "peak"\nshare = 3', 'name = "peak"\nminutes = 5'))
    (arrive, a0, a1), (peak, p0, p1) = arc.spans(20)
    assert p1 - p0 == pytest.approx(300) and a1 - a0 == pytest.approx(900)
    (_, a0, a1), (_, p0, p1) = arc.spans(5)
    assert p1 - p0 == pytest.approx(0.8 * 300) and a1 - a0 == pytest.approx(60)


def test_defaults_and_normalised_shares() -> None:
    arc = parse_arc(GOOD)
    arrive, peak = arc.phases
    assert arrive.share == pytest.approx(0.25) and peak.share == pytest.approx(0.75)
    assert arrive.title == "Arrive" and arrive.transition == "crossfade" and arrive.transition_beats == 16
    assert peak.tempo is None and peak.transition == "gap" and peak.gap_seconds == 1.5
    assert arrive.energy_at(0.5) == pytest.approx(0.2)


BAD = [
    ("energy = [0.1, 0.3]", "energy = [0.1, 1.3]",
     "phase 'arrive' field 'energy': expected two numbers in 0..1, got [0.1, 1.3]"),
    ("energy = [0.1, 0.3]", "energy = 0.5", "field 'energy': expected two numbers in 0..1, got 0.5"),
    ("energy = [0.1, 0.3]\n", "", "phase 'arrive' field 'energy': missing"),
    ("tempo = [60, 90]", "tempo = [90, 60]", "field 'tempo': expected [slowest, fastest] BPM"),
    ("tempo = [60, 90]", "tempo = [60, 900]", "field 'tempo': expected two numbers in 20..300"),
    ("tempo = [60, 90]", 'beatless = "maybe"',
     "field 'beatless': expected one of \"no\", \"allowed\", \"preferred\", got 'maybe'"),
    ('transition = "gap"', 'transition = "cut"',
     "phase 'peak' field 'transition': expected one of \"crossfade\", \"fade\", \"gap\""),
    ("tempo = [60, 90]", "enrgy = 1", "phase 'arrive': unknown field 'enrgy' (allowed: name, title, share"),
    ("share = 1\n", "share = 1\nminutes = 3\n", "phase 'arrive': give exactly one of 'share'"),
    ("share = 1\n", "", "phase 'arrive': give exactly one of 'share'"),
    ('name = "peak"', 'name = "arrive"', "phase 'arrive' is defined more than once"),
    ('name = "peak"', 'name = "Peak!"', "phase 2: field 'name': expected a name of lowercase letters"),
    ('name = "tiny"', 'name = "tiny"\ncolour = "red"', "unknown field 'colour'"),
    ("minutes = 20", "minutes = -4", "field 'minutes': expected a number in 1..600, got -4"),
    ("tempo = [60, 90]", "transition_beats = 2.5",
     "field 'transition_beats': expected a whole number of beats"),
    ("tempo = [60, 90]", "breath = 1", "field 'breath': expected true or false, got 1"),
    ("tempo = [60, 90]", 'prompt_tags = "breath"', "field 'prompt_tags': expected a list of tags"),
    ("tempo = [60, 90]", "share = 2", "invalid TOML"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "message"), BAD)
def test_invalid_arc_files_name_the_file_the_field_and_what_is_allowed(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in GOOD
    path = tmp_path / "foo.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_arc(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_no_phases_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"arcs/x.toml: field 'phase': missing \(expected one or more"):
        parse_arc('name = "x"', label="arcs/x.toml")


def test_arc_by_file_name_and_user_folder(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_arc(str(path)).name == "tiny"
    assert load_arc(path).source == str(path)
    folder = user_arc_dir()
    assert str(folder).startswith(os.environ["XDG_CONFIG_HOME"])
    folder.mkdir(parents=True)
    (folder / "tiny.toml").write_text(GOOD, encoding="utf-8")
    (folder / "wave.toml").write_text(GOOD.replace('"tiny"', '"wave"'), encoding="utf-8")
    assert load_arc("tiny").minutes == 20
    assert len(load_arc("wave").phases) == 2, "a user arc hides the built-in of the same name"


def test_unknown_arc_lists_what_exists(tmp_path: Path) -> None:
    known = r"unknown arc 'hip' \(available: gentle, hip-release, quick, taster, wave"
    with pytest.raises(ConfigError, match=known):
        load_arc("hip")
    with pytest.raises(ConfigError, match="arc file 'nowhere/x.toml' not found"):
        load_arc("nowhere/x.toml")
