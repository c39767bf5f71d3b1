from __future__ import annotations

import math
import os
import sqlite3

import pytest

from dancer.errors import LibraryError
from dancer.library.store import SCHEMA_VERSION, Library, default_library_path
from dancer.model import Analysis, Tags, Track


def analysed(path: str, bpm: float | None = 120.0, energy: float = 0.5) -> Track:
    beats = tuple(i * 0.5 for i in range(60))
    a = Analysis(
        duration=30.0,
        sample_rate=44100,
        channels=2,
        bpm=bpm,
        bpm_confidence=0.9,
        beatless=bpm is None,
        beats=beats,
        downbeats=beats[::4],
        phrases=beats[::8],
        meter=4,
        loudness_lufs=-14.2,
        peak_db=-0.5,
        true_peak_db=-0.2,
        energy=energy,
        energy_curve=(0.1, 0.5, 0.9, 0.4, 0.3, 0.2),
        cue_in=0.25,
        cue_out=29.5,
        intro_beats=8,
        outro_beats=4,
        pulse_confidence=0.95,
    )
    tags = Tags("Song", "Artist", "Album", "Genre")
    return Track(path=path, size=1234, mtime=1700000000.5, tags=tags, analysis=a)


def test_round_trip_keeps_every_field(tmp_path):
    t = analysed(str(tmp_path / "a.wav"))
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        lib.put(t)
        back = lib.track(t.path)
    assert back == t
    assert back.analysis.beats == t.analysis.beats


def test_failures_are_kept_with_their_error(tmp_path):
    bad = Track(path=str(tmp_path / "bad.mp3"), size=10, mtime=1.0, tags=Tags("bad"), analysis=None,
                error="not a readable audio file")
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        lib.put(bad)
        assert lib.tracks() == []
        (row,) = lib.tracks(ok_only=False)
        assert row.error == "not a readable audio file"
        assert lib.known()[bad.path][3] is True
        assert lib.stats()["failed"] == 1


def test_non_utf8_paths_survive(tmp_path):
    name = os.fsdecode(b"caf\xe9-\xff.wav")
    t = analysed(str(tmp_path / name))
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        lib.put(t)
        assert lib.track(t.path).path == t.path
        assert t.path in lib.known()
        assert lib.remove([t.path]) == 1
        assert lib.tracks(ok_only=False) == []


def test_put_replaces_the_same_path(tmp_path):
    p = str(tmp_path / "a.wav")
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        lib.put(analysed(p, energy=0.2))
        lib.put(analysed(p, energy=0.8))
        (t,) = lib.tracks()
        assert t.energy == 0.8


def test_beatless_and_infinite_values(tmp_path):
    t = analysed(str(tmp_path / "pad.flac"), bpm=None)
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        lib.put(t)
        back = lib.track(t.path)
    assert back.analysis.bpm is None and back.analysis.beatless


def test_wal_schema_version_and_migrations(tmp_path):
    path = tmp_path / "lib.sqlite3"
    Library.open(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    versions = [v for (v,) in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    conn.close()
    Library.open(path).close()  # reopening migrates nothing twice


def test_a_library_from_before_the_pulse_confidence_migrates_and_keeps_its_tracks(tmp_path):
    path = tmp_path / "lib.sqlite3"
    t = analysed(str(tmp_path / "a.wav"))
    with Library.open(path) as lib:
        lib.put(t)
    conn = sqlite3.connect(path)  # make it a schema-2 library: no pulse_confidence column
    conn.execute("ALTER TABLE tracks DROP COLUMN pulse_confidence")
    conn.execute("DELETE FROM schema_migrations WHERE version = 3")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with Library.open(path) as lib:
        back = lib.track(t.path)
        assert back.analysis.pulse_confidence is None
        assert back.analysis.bpm_confidence == t.analysis.bpm_confidence
        lib.put(t)
        assert lib.track(t.path) == t


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "lib.sqlite3"
    Library.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (99, 0)")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match="newer dancer"):
        Library.open(path)


def test_damaged_file_gives_one_clear_error(tmp_path):
    path = tmp_path / "lib.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(LibraryError, match="damaged.*dancer library repair"):
        Library.open(path)


def test_unwritable_location_gives_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LibraryError, match="--library"):
        Library.open(blocker / "sub" / "lib.sqlite3")


def test_default_path_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DANCER_LIBRARY", str(tmp_path / "x.sqlite3"))
    assert default_library_path() == tmp_path / "x.sqlite3"
    monkeypatch.delenv("DANCER_LIBRARY")
    assert default_library_path().parts[-2:] == ("dancer", "library.sqlite3")
    assert str(default_library_path()).startswith(os.environ["XDG_DATA_HOME"])


def test_sorting_and_folder_filter(tmp_path):
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        lib.put(analysed(str(tmp_path / "x" / "slow.wav"), bpm=70, energy=0.2))
        lib.put(analysed(str(tmp_path / "y" / "fast.wav"), bpm=128, energy=0.9))
        assert [t.bpm for t in lib.tracks(sort="bpm")] == [70, 128]
        assert [t.name for t in lib.tracks(under=tmp_path / "y")] == ["fast.wav"]
        with pytest.raises(LibraryError, match="cannot sort"):
            lib.tracks(sort="nonsense; DROP TABLE tracks")
        s = lib.stats()
        assert s["tracks"] == 2 and math.isclose(s["hours"], 60 / 3600)
