"""A damaged library: one clear line, then `dancer library repair` backs up, salvages and rescans (#8)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from cli_process import run_dancer
from hostile_scan import duplicate_keys, integrity, library_rows
from synth import click_signal, write_audio

from dancer.library.folders import folders_file, remembered_folders
from dancer.library.repair import repair_library
from dancer.library.scan import scan_folder
from dancer.library.store import Library
from dancer.model import Analysis, Tags, Track


def _track(path: str, i: int) -> Track:
    beats = tuple(j * 0.5 for j in range(120))
    a = Analysis(duration=60.0, sample_rate=44100, channels=2, bpm=100.0 + i % 40, bpm_confidence=0.8,
                 beatless=False, beats=beats, downbeats=beats[::4], phrases=beats[::32], meter=4,
                 loudness_lufs=-12.0, peak_db=-1.0, true_peak_db=-0.8, energy=0.5, energy_curve=(0.4,) * 12,
                 cue_in=0.0, cue_out=59.0)
    return Track(path=path, size=1000 + i, mtime=1_700_000_000.0 + i, tags=Tags(f"Song {i}", "Artist"),
                 analysis=a)


def _settle(library: Path) -> None:
    """Fold the WAL into the main file so that byte damage to it is what SQLite will read."""
    conn = sqlite3.connect(library)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _damage_page(library: Path, table: str = "tracks", which: float = 0.5) -> int:
    """Zero one leaf page of ``table``; returns how many rows lived on it."""
    _settle(library)
    conn = sqlite3.connect(library)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    leaves = conn.execute("SELECT pageno, ncell FROM dbstat WHERE name = ? AND pagetype = 'leaf' "
                          "ORDER BY pageno", (table,)).fetchall()
    conn.close()
    pageno, cells = leaves[int(len(leaves) * which)]
    with open(library, "r+b") as f:
        f.seek((pageno - 1) * page_size)
        f.write(bytes(page_size))
    return cells


@pytest.fixture
def music(tmp_path):
    d = tmp_path / "music"
    for i in range(6):
        write_audio(d / f"t{i}.{('wav', 'flac', 'ogg')[i % 3]}", click_signal(96 + 6 * i, 4), 22050)
    return d


def test_damaged_header_gives_one_clear_line(tmp_path):
    library = tmp_path / "lib.sqlite3"
    library.write_bytes(b"SQLite format 3\0" + os.urandom(8000))
    for args in (("library", "list"), ("library", "stats"), ("scan", str(tmp_path))):
        res = run_dancer(*args, "--library", str(library))
        assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "damaged" in lines[0] and "dancer library repair" in lines[0], res.stderr


def test_damaged_page_gives_one_clear_line(tmp_path):
    library = tmp_path / "lib.sqlite3"
    with Library.open(library) as lib:
        for i in range(200):
            lib.put(_track(f"/music/t{i:03d}.wav", i))
    _damage_page(library)
    for args in (("library", "list"), ("library", "stats"), ("scan", str(tmp_path))):
        res = run_dancer(*args, "--library", str(library))
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 1 and len(lines) == 1 and "dancer library repair" in lines[0], res.stderr


def test_scan_remembers_its_folders_beside_the_library(tmp_path, music):
    library = tmp_path / "lib.sqlite3"
    odd = tmp_path / os.fsdecode(b"caf\xe9")
    write_audio(odd / "x.wav", click_signal(120, 3), 22050)
    with Library.open(library) as lib:
        scan_folder(music, lib, jobs=1)
        scan_folder(odd, lib, jobs=1)
        scan_folder(music, lib, jobs=1)  # already listed: no change
        assert sorted(remembered_folders(library)) == sorted([str(music), str(odd)])
        write_audio(music / "sub" / "y.wav", click_signal(120, 3), 22050)
        scan_folder(music / "sub", lib, jobs=1)  # inside a listed folder: covered by it
        assert sorted(remembered_folders(library)) == sorted([str(music), str(odd)])
        scan_folder(tmp_path, lib, jobs=1)  # a parent replaces the folders inside it
        assert remembered_folders(library) == [str(tmp_path)]
    text = folders_file(library).read_text("ascii")  # non-UTF-8 names survive as JSON escapes
    assert json.loads(text)["folders"] == [str(tmp_path)]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_salvage_reads_every_row_past_a_damaged_page(tmp_path):
    library = tmp_path / "lib.sqlite3"
    originals = [_track(f"/music/t{i:03d}.wav", i) for i in range(300)]
    with Library.open(library) as lib:
        for t in originals:
            lib.put(t)
    lost = _damage_page(library, which=0.4)
    damaged = library.read_bytes()

    report = repair_library(library, rescan=False)

    assert report.salvaged["tracks"] == len(originals) - lost > 0
    assert report.damage
    [(src, backup)] = report.backups
    assert src == str(library) and Path(backup).read_bytes() == damaged
    assert Path(backup).name.startswith("lib.sqlite3.damaged-")
    with Library.open(library) as lib:
        assert lib.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        by_path = {t.path: t for t in originals}
        back = lib.tracks(ok_only=False)
        assert len(back) == len(originals) - lost
        assert all(t == by_path[t.path] for t in back)


def test_repair_command_backs_up_salvages_and_rescans(tmp_path, music):
    library = tmp_path / "lib.sqlite3"
    res = run_dancer("scan", str(music), "--library", str(library), "--jobs", "2")
    assert res.returncode == 0, res.stderr
    with Library.open(library) as lib:
        for i in range(120):  # enough rows for the tracks table to span several pages
            lib.put(_track(str(tmp_path / "gone" / f"old{i:03d}.wav"), i))
    _damage_page(library, which=0.9)
    Path(f"{library}-wal").write_bytes(os.urandom(5000))  # a torn WAL and index left by a crash
    Path(f"{library}-shm").write_bytes(os.urandom(32768))
    before = {s: Path(f"{library}{s}").read_bytes() for s in ("", "-wal", "-shm")}

    res = run_dancer("library", "repair", "--library", str(library), "--jobs", "2")

    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    out = res.stderr
    assert "backed up" in out and "salvaged" in out and f"rescanned  {music}" in out, out
    [backup] = [p for p in tmp_path.iterdir()
                if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm"))]
    for suffix, data in before.items():  # the database, its WAL and its index, side by side, byte for byte
        assert Path(f"{backup}{suffix}").read_bytes() == data
    assert integrity(library) == "ok" and duplicate_keys(library) == []
    rows = library_rows(library)
    music_rows = {k: v for k, v in rows.items() if k.startswith(os.fsencode(music))}
    assert len(music_rows) == 6 and all(err is None for err, _ in music_rows.values())
    assert run_dancer("library", "list", "--library", str(library)).returncode == 0


def test_repair_of_a_file_that_is_not_a_database_rescans_everything(tmp_path, music):
    library = tmp_path / "lib.sqlite3"
    assert run_dancer("scan", str(music), "--library", str(library)).returncode == 0
    library.write_bytes(os.urandom(20000))
    res = run_dancer("library", "repair", "--library", str(library))
    assert res.returncode == 0, res.stderr
    assert "salvaged   0 track row(s)" in res.stderr and "6 added" in res.stderr, res.stderr
    assert len(library_rows(library)) == 6 and integrity(library) == "ok"


def test_nothing_to_repair_is_exit_1_and_touches_nothing(tmp_path, music):
    library = tmp_path / "lib.sqlite3"
    res = run_dancer("library", "repair", "--library", str(library))
    assert res.returncode == 1 and "nothing to repair" in res.stderr and "Traceback" not in res.stderr
    assert not library.exists()
    assert run_dancer("scan", str(music), "--library", str(library)).returncode == 0
    _settle(library)
    healthy = library.read_bytes()
    res = run_dancer("library", "repair", "--library", str(library))
    assert res.returncode == 1 and "healthy" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert library.read_bytes() == healthy
    assert not [p for p in tmp_path.iterdir() if ".damaged-" in p.name or p.name.startswith(".dancer-repair")]


def test_repair_without_a_folder_record_says_what_to_do(tmp_path):
    library = tmp_path / "lib.sqlite3"
    library.write_bytes(b"not a database" * 100)
    res = run_dancer("library", "repair", "--library", str(library))
    assert res.returncode == 0, res.stderr
    assert "no scanned folders on record" in res.stderr and "dancer scan FOLDER" in res.stderr
    assert integrity(library) == "ok"
