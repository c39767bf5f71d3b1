"""The journal remembers sessions and check-ins; the config file is validated and written atomically."""

from __future__ import annotations

import json

import pytest
from cli_process import run_dancer

from dancer.config import Config, config_path, load_config, parse_config, save_config
from dancer.errors import ConfigError, DancerError
from dancer.library.store import Library
from dancer.session.journal import CheckIn, Journal


def test_journal_round_trip_and_recent_paths(tmp_path):
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        j = Journal(lib)
        sid = j.start(
            arc="hip-release",
            minutes=30,
            seed=3,
            playlist="/p.m3u8",
            track_paths=["/a.wav", "/b.wav"],
            before=CheckIn(7, "left hip", "tight after work"),
        )
        assert lib.recent_paths() == set()  # planned is not played
        j.update(sid, position=400.0, seconds_danced=390.0, status="quit", nudges=2,
                 tracks=[("/a.wav", "played", 300.0), ("/b.wav", "skipped", 20.0)])
        j.check_in_after(sid, CheckIn(3, "", "warm"))
        r = j.get(sid)
        assert (r.played, r.skipped, r.nudges, r.status) == (1, 1, 2, "quit")
        assert r.before.tension == 7 and r.after.tension == 3 and r.ended_at is not None
        assert lib.recent_paths() == {"/a.wav"}
        assert j.last_unfinished().id == sid
        j.update(sid, position=1800.0, seconds_danced=1800.0, status="finished")
        assert j.last_unfinished() is None


def test_checkin_range_is_checked():
    with pytest.raises(DancerError, match="0 to 10"):
        CheckIn(11)


def test_history_json_and_chart(tmp_path):
    lib_path = tmp_path / "lib.sqlite3"
    with Library.open(lib_path) as lib:
        j = Journal(lib)
        for before, after in ((8, 4), (6, 2)):
            sid = j.start(arc="quick", minutes=15, seed=0, playlist=None, track_paths=["/x.wav"],
                          before=CheckIn(before))
            j.update(sid, position=900, seconds_danced=900, status="finished",
                     tracks=[("/x.wav", "played", 900.0)])
            j.check_in_after(sid, CheckIn(after))
    res = run_dancer("history", "--json", "--library", str(lib_path))
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["before"]["tension"], r["after"]["tension"]) for r in rows] == [(8, 4), (6, 2)]
    assert rows[0]["minutes_danced"] == 15 and rows[0]["tracks_played"] == 1
    text = run_dancer("history", "--library", str(lib_path)).stdout
    assert "before  8 " in text and "average change over 2 session(s): -4.0 points" in text


def test_config_defaults_roundtrip_and_errors(tmp_path):
    assert load_config() == Config()
    cfg = Config(music="/music/ünï", minutes=30.0, prompts=("a.toml",), gentle=True)
    path = save_config(cfg)
    assert path == config_path() and load_config() == cfg
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        parse_config('colour = "red"', "c.toml")
    with pytest.raises(ConfigError, match="c.toml: key 'minutes' must be"):
        parse_config("minutes = 1000", "c.toml")
    with pytest.raises(ConfigError, match="invalid TOML"):
        parse_config("minutes = = 3", "c.toml")


def test_config_cli(tmp_path):
    res = run_dancer("config", "set", "minutes", "20")
    assert res.returncode == 0, res.stderr
    show = run_dancer("config", "show").stdout
    assert "minutes = 20.0" in show
    bad = run_dancer("config", "set", "volume", "loud")
    assert bad.returncode == 1 and "volume" in bad.stderr and "Traceback" not in bad.stderr
    assert run_dancer("config", "path").stdout.strip().endswith("config.toml")
