"""SIGKILL at random moments: the library stays sound, workers do not linger, files stay whole (#8)."""

from __future__ import annotations

import time

import pytest
from cli_process import run_dancer
from hostile_scan import duplicate_keys, integrity, library_rows
from kills import kill_atomic_writes, kill_cycles, make_music


@pytest.mark.slow
def test_scan_killed_at_random_moments_leaves_a_sound_library_and_no_orphans(tmp_path):
    music = tmp_path / "music"
    files = make_music(music)
    library = tmp_path / "lib.sqlite3"
    cycles = kill_cycles(music, library, cycles=10, seed=8, jobs=2)
    for i, c in enumerate(cycles):
        assert c.opened and c.integrity == "ok", (i, c)
        assert not c.orphans, f"cycle {i}: workers {c.orphans} outlived the killed scan"
    assert sum(c.running for c in cycles) >= 7, cycles  # the kills landed while the scan worked
    assert [c.rows for c in cycles] == sorted(c.rows for c in cycles), "finished work was lost"

    res = run_dancer("scan", str(music), "--library", str(library), "--jobs", "2", timeout=300)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    rows = library_rows(library)
    assert len(rows) == len(files) and all(err is None for err, _ in rows.values()), rows
    assert duplicate_keys(library) == []
    assert integrity(library) == "ok"


def test_atomic_write_killed_mid_write_leaves_the_previous_file_whole(tmp_path):
    target = tmp_path / "state.bin"
    t0 = time.monotonic()
    problems = kill_atomic_writes(target, cycles=10, size=24 * 2**20, seed=8)
    assert problems == []
    assert time.monotonic() - t0 < 120
