"""A scan over a few hundred hostile files finishes, reports every failure and loses no good file (#8)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import fake_workers
import pytest
from cli_process import run_dancer
from hostile_corpus import build_corpus
from hostile_scan import judge, reads_can_be_denied, run_hostile_scan
from synth import click_signal, write_audio

from dancer.library import scan as scan_mod
from dancer.library.scan import analyse_file, scan_folder
from dancer.library.store import Library

SEED = 8
#: Peak RSS of one worker; an idle one is ~130 MB (numpy, scipy, numba, librosa).
WORKER_MB_LIMIT = 400


@pytest.fixture
def corpus(tmp_path):
    deny, why = reads_can_be_denied()
    root = tmp_path / "corpus"
    specimens = build_corpus(root, seed=SEED, deny_reads=deny)
    yield root, specimens, deny, why
    for locked in ("locked-folder", "unreadable.wav"):  # so that tmp_path can be cleaned up
        os.chmod(root / "fs" / locked, 0o700)


def test_hostile_corpus_scan_finishes_reports_everything_and_loses_nothing(corpus, tmp_path):
    root, specimens, deny, why = corpus
    assert len(specimens) >= 200
    library = tmp_path / "hostile.sqlite3"
    # A tight per-file limit: every corpus file is a few seconds long, so any file still
    # running after 20 s is a hang, and the scan must stop it rather than wait.
    run = run_hostile_scan(root, library, jobs=2, floor=20.0, timeout=150.0, deny_reads=deny)
    verdict = judge(root, specimens, run, library)
    v = verdict
    problems = "\n".join(v.crashes + v.hangs + v.lost + v.unreported + v.misjudged)
    assert verdict.clean, problems
    assert verdict.analysed >= 40 and verdict.failed >= 100
    assert all(reason.strip() for _, reason in run.report["failed"] + run.report["skipped"])
    assert run.report["worker_mb"] < WORKER_MB_LIMIT, run.report
    # Native decoder chatter (libmpg123's "Note: Illegal Audio-MPEG-Header") stays out of the terminal.
    assert "Illegal Audio-MPEG-Header" not in run.stderr


def test_unreadable_file_is_reported_even_for_root(tmp_path):
    deny, why = reads_can_be_denied()
    if not deny:
        pytest.skip(why)
    d = tmp_path / "m"
    write_audio(d / "ok.wav", click_signal(120, 3), 22050)
    write_audio(d / "secret.wav", click_signal(120, 3), 22050)
    os.chmod(d / "secret.wav", 0)
    try:
        run = run_hostile_scan(d, tmp_path / "lib.sqlite3", jobs=1, deny_reads=True, timeout=120)
    finally:
        os.chmod(d / "secret.wav", 0o600)
    assert run.returncode == 0, run.stderr
    failed = {Path(p).name: reason for p, reason in run.report["failed"]}
    assert list(failed) == ["secret.wav"] and "ermission denied" in failed["secret.wav"], failed
    assert run.report["added"] == 1


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_analyse_refuses_what_is_not_a_file_instead_of_blocking(tmp_path, kind):
    target = tmp_path / "x.wav"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "device":
        os.symlink("/dev/zero", target)
    else:
        target.mkdir()
    t0 = time.monotonic()
    track = analyse_file(target)
    assert time.monotonic() - t0 < 10
    assert track.error and "not a regular file" in track.error


def test_analyse_command_on_a_fifo_returns(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    res = run_dancer("analyse", str(fifo), "/dev/zero", "--json", timeout=120)
    assert res.returncode == 1 and res.stdout.count("not a regular file") == 2, res.stdout + res.stderr


def test_workers_that_cannot_start_end_the_scan_with_every_file_reported(tmp_path, monkeypatch):
    d = tmp_path / "m"
    for i in range(5):
        write_audio(d / f"t{i}.wav", click_signal(120, 3), 22050)
    monkeypatch.setattr(scan_mod, "_worker_main", fake_workers.never_starts)
    t0 = time.monotonic()
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        report = scan_folder(d, lib, jobs=2)
    assert time.monotonic() - t0 < 60
    assert len(report.failed) == 5 and all("could not start" in r for _, r in report.failed), report.failed


def test_a_crashing_or_torn_worker_is_reported_and_the_others_carry_on(tmp_path, monkeypatch):
    d = tmp_path / "m"
    for name in ("a.wav", "crash.wav", "b.wav", "torn.wav", "c.wav", "d.wav"):
        write_audio(d / name, click_signal(120, 3), 22050)
    monkeypatch.setattr(scan_mod, "_worker_main", fake_workers.crashes_on_marked_files)
    t0 = time.monotonic()
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        report = scan_folder(d, lib, jobs=2)
        assert {t.name for t in lib.tracks()} == {"a.wav", "b.wav", "c.wav", "d.wav"}
    assert time.monotonic() - t0 < 90
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert set(failed) == {"crash.wav", "torn.wav"}
    assert "crashed (exit code -11)" in failed["crash.wav"]
    assert "crashed" in failed["torn.wav"]
