"""Two scans of one library at the same time both finish, with no duplicate rows (#8)."""

from __future__ import annotations

import subprocess
import sys

from hostile_scan import duplicate_keys, integrity, library_rows
from synth import click_signal, write_audio

from dancer.library.folders import remembered_folders
from dancer.library.store import Library


def _scan(folder, library) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dancer", "scan", str(folder), "--library", str(library),
                             "--jobs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(*procs: subprocess.Popen) -> None:
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0 and "Traceback" not in err, err


def test_two_scans_of_one_library_at_once(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for i in range(8):
        write_audio(a / f"a{i}.wav", click_signal(100 + 4 * i, 10), 22050)
        write_audio(b / f"b{i}.flac", click_signal(96 + 4 * i, 10), 22050)
    library = tmp_path / "lib.sqlite3"
    Library.open(library).close()  # creating it at once is test_processes_creating_one_library_at_once

    # The same folder twice: both analyse every file and replace each other's rows.
    _finish(_scan(a, library), _scan(a, library))
    assert integrity(library) == "ok" and duplicate_keys(library) == []
    assert len(library_rows(library)) == 8

    # Two different folders at once: both sets of tracks, and both folders remembered for repair.
    _finish(_scan(a, library), _scan(b, library))
    rows = library_rows(library)
    assert len(rows) == 16 and all(err is None for err, _ in rows.values()), rows
    assert duplicate_keys(library) == [] and integrity(library) == "ok"
    assert sorted(remembered_folders(library)) == [str(a), str(b)]


def test_processes_creating_one_library_at_once(tmp_path):
    code = "import sys; from dancer.library.store import Library; Library.open(sys.argv[1]).close()"
    for round_ in range(20):
        library = tmp_path / f"lib{round_}.sqlite3"
        procs = [
            subprocess.Popen([sys.executable, "-c", code, str(library)], stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, f"round {round_}: {err.strip().splitlines()[-1]}"
        assert integrity(library) == "ok"
