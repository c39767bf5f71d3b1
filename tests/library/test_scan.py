"""The scan: incremental, parallel, robust to bad files, and honest in its report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_process import run_dancer
from synth import click_signal, write_audio

from dancer import decode as decode_mod
from dancer.errors import DecodeError
from dancer.library import scan as scan_mod
from dancer.library.scan import find_audio, scan_folder
from dancer.library.store import Library
from dancer.model import ANALYSER_VERSION


@pytest.fixture
def music(tmp_path):
    """A small folder of good files in several formats, rates and channel counts."""
    d = tmp_path / "music"
    write_audio(d / "a" / "click100.wav", click_signal(100, 8, 44100, channels=2), 44100)
    write_audio(d / "a" / "click120.flac", click_signal(120, 8, 22050), 22050)
    write_audio(d / "b" / "click90.ogg", click_signal(90, 8, 48000, channels=2), 48000)
    write_audio(d / "b" / "click128.mp3", click_signal(128, 8, 44100, channels=2), 44100)
    return d


def test_find_audio_ignores_non_audio_and_survives_loops(tmp_path):
    d = tmp_path / "m"
    write_audio(d / "x.wav", click_signal(120, 3), 22050)
    (d / "notes.txt").write_text("hi")
    (d / "dir.mp3").mkdir()
    os.symlink(d, d / "loop")
    os.mkfifo(d / "pipe.wav")
    found, skipped = find_audio(d)
    assert found == [str(d / "x.wav")]
    assert [Path(p).name for p, _ in skipped] == ["pipe.wav"]


def test_scan_reads_every_container_libsndfile_reads(tmp_path):
    # GTZAN's genre collection ships as 22 050 Hz mono .au; recorders write CAF, W64 and RF64.
    d = tmp_path / "containers"
    for name, fmt, bpm in (("blues.00000.au", "AU", 100), ("take.caf", "CAF", 110), ("long.w64", "W64", 120),
                           ("big.rf64", "RF64", 90), ("old.aifc", "AIFF", 130)):
        write_audio(d / name, click_signal(bpm, 8, 22050), 22050, format=fmt, subtype="PCM_16")
    found, skipped = find_audio(d)
    assert sorted(Path(p).name for p in found) == ["big.rf64", "blues.00000.au", "long.w64", "old.aifc",
                                                   "take.caf"]
    assert skipped == []
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        result = scan_folder(d, lib, jobs=1)
        assert (result.added, result.failed) == (5, [])
        bpms = {t.name: t.bpm for t in lib.tracks()}
    for name, bpm in (("blues.00000.au", 100), ("take.caf", 110), ("long.w64", 120), ("big.rf64", 90),
                      ("old.aifc", 130)):
        assert bpms[name] == pytest.approx(bpm, rel=0.02), name


def test_scan_analyses_and_rescan_is_incremental(music, tmp_path):
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        r1 = scan_folder(music, lib, jobs=2)
        assert (r1.added, r1.failed, r1.unchanged) == (4, [], 0)
        bpms = {t.name: t.bpm for t in lib.tracks()}
        files = (("click100.wav", 100), ("click120.flac", 120), ("click90.ogg", 90), ("click128.mp3", 128))
        for name, true in files:
            assert bpms[name] == pytest.approx(true, rel=0.02), name
        r2 = scan_folder(music, lib, jobs=2)
        assert (r2.added, r2.updated, r2.unchanged) == (0, 0, 4)

        changed = music / "a" / "click100.wav"
        write_audio(changed, click_signal(110, 8, 44100, channels=2), 44100)
        (music / "b" / "click90.ogg").unlink()
        r3 = scan_folder(music, lib, jobs=1)
        assert (r3.added, r3.updated, r3.unchanged, r3.removed) == (0, 1, 2, 1)
        assert lib.track(changed).bpm == pytest.approx(110, rel=0.02)
        assert len(lib.tracks(ok_only=False)) == 3


def test_bad_files_are_reported_and_good_ones_analysed(tmp_path):
    d = tmp_path / "messy"
    write_audio(d / "good.wav", click_signal(120, 6), 22050)
    (d / "empty.wav").write_bytes(b"")
    (d / "text.wav").write_text("this is a shopping list, not audio\n" * 50)
    (d / "random.flac").write_bytes(np.random.default_rng(0).bytes(5000))
    good = (d / "good.wav").read_bytes()
    (d / "truncated.wav").write_bytes(good[:60])
    write_audio(d / "short.wav", click_signal(120, 1.0), 22050)
    write_audio(d / "silent.wav", np.zeros((22050 * 4, 1), np.float32), 22050)
    nan = click_signal(120, 4)
    nan[:] = np.nan
    write_audio(d / "nan.wav", nan, 22050, subtype="FLOAT")
    write_audio(d / os.fsdecode(b"caf\xe9.wav"), click_signal(100, 4), 22050)
    (d / os.fsdecode(b"bad-\xff.mp3")).write_bytes(b"ID3" + bytes(300))
    write_audio(d / "six.wav", click_signal(120, 4, 8000, channels=6), 8000)
    write_audio(d / "hi.wav", click_signal(120, 4, 192000, channels=2), 192000)
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        r = scan_folder(d, lib, jobs=2)
        failed = {Path(p).name: reason for p, reason in r.failed}
        assert set(failed) == {
            "empty.wav",
            "text.wav",
            "random.flac",
            "truncated.wav",
            "short.wav",
            "silent.wav",
            "nan.wav",
            os.fsdecode(b"bad-\xff.mp3"),
        }
        assert "empty" in failed["empty.wav"] and "too short" in failed["short.wav"]
        # libsndfile calls an MP3 with no frames "not a regular file (possibly a pipe?)"
        no_frames = "not a readable audio file (no audio frames found in it)"
        assert failed[os.fsdecode(b"bad-\xff.mp3")].endswith(no_frames)
        assert "silent" in failed["silent.wav"]
        assert r.added == 4
        # failures are remembered and not retried until they change or --retry-failed
        r2 = scan_folder(d, lib, jobs=2)
        assert r2.unchanged == 12 and not r2.failed
        r3 = scan_folder(d, lib, jobs=2, retry_failed=True)
        assert len(r3.failed) == 8


@pytest.mark.skipif(not decode_mod.ffmpeg_available(), reason="ffmpeg is not installed (Debian package "
                                                              "ffmpeg)")
def test_a_flac_cut_short_is_read_up_to_the_cut(tmp_path):
    # libsndfile "loses sync" at the missing tail and drops its whole block; the stream goes on
    # through ffmpeg from the last good frame, with no gap or repeat at the join.
    whole = write_audio(tmp_path / "whole.flac", click_signal(120, 12, 44100, channels=2), 44100,
                        subtype="PCM_16")
    original, _ = sf.read(whole, dtype="float32")
    cut = tmp_path / "music" / "cut.flac"
    cut.parent.mkdir()
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.9)])
    info, blocks = decode_mod.open_stream(cut, block_frames=4096)
    decoded = np.concatenate(list(blocks))
    assert info.frames == len(original) and 0.8 * len(original) < len(decoded) < len(original)
    np.testing.assert_array_equal(decoded, original[: len(decoded)])
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        r = scan_folder(cut.parent, lib, jobs=1)
        assert (r.added, r.failed) == (1, [])
        (track,) = lib.tracks()
        assert track.bpm == pytest.approx(120, rel=0.02)
        assert track.duration == pytest.approx(len(decoded) / 44100, abs=0.01)


def test_a_flac_cut_short_without_ffmpeg_names_the_fix(tmp_path, monkeypatch):
    whole = write_audio(tmp_path / "whole.flac", click_signal(120, 12, 44100), 44100, subtype="PCM_16")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.9)])
    monkeypatch.setattr(decode_mod, "ffmpeg_available", lambda: False)
    _, blocks = decode_mod.open_stream(cut)
    with pytest.raises(DecodeError, match=r"cut\.flac: decoding failed part-way .*cut short.*install ffmpeg"):
        list(blocks)


def damaged_mp3(path: Path) -> Path:
    """An 8-s MP3 from libsndfile's own encoder with bytes scrambled a third of the way in: libsndfile
    (libmpg123) ends the stream at the damage without an error, and libmpg123 writes notes on fd 2."""
    rate = 22050
    t = np.arange(8 * rate) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
    sf.write(path, tone.astype(np.float32), rate, format="MP3")
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    for k in range(len(data) // 3, len(data) // 3 + 400, 7):
        data[k] = int(rng.integers(0, 256))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.skipif(not decode_mod.ffmpeg_available(), reason="ffmpeg is not installed (Debian package "
                                                              "ffmpeg)")
def test_a_damaged_mp3_is_read_past_the_damage(tmp_path, monkeypatch):
    path = damaged_mp3(tmp_path / "damaged.mp3")
    # libsndfile alone, read in blocks as dancer reads (this encoder's MP3s decode a little
    # differently at block joins than in one read) until it returns nothing.
    blocks = []
    with sf.SoundFile(path) as f:
        rate = f.samplerate
        while len(block := f.read(4096, dtype="float32", always_2d=True)):
            blocks.append(block)
    alone = np.concatenate(blocks)
    assert decode_mod.probe(path).duration == pytest.approx(8.0, abs=0.1)
    assert len(alone) < 4 * rate, "libsndfile no longer stops at the damage: this test needs a new file"
    info, blocks = decode_mod.open_stream(path, block_frames=4096)
    decoded = np.concatenate(list(blocks))
    assert len(decoded) > 7.5 * rate
    np.testing.assert_array_equal(decoded[: len(alone)], alone)
    # Without ffmpeg the stream ends where libsndfile stops, as before, with no error.
    monkeypatch.setattr(decode_mod, "ffmpeg_available", lambda: False)
    _, blocks = decode_mod.open_stream(path, block_frames=4096)
    assert sum(len(b) for b in blocks) == len(alone)


def test_analyse_keeps_the_decoders_own_notes_off_stderr(tmp_path):
    path = damaged_mp3(tmp_path / "damaged.mp3")
    plain = subprocess.run([sys.executable, "-c", f"import soundfile; soundfile.read({str(path)!r})"],
                           capture_output=True, text=True, timeout=60)
    def mpg123_notes(text: str) -> list[str]:
        return [line for line in text.splitlines() if "libmpg123" in line or line.startswith("Note:")]

    assert mpg123_notes(plain.stderr), "the file no longer makes libmpg123 talk"
    res = run_dancer("analyse", "--json", str(path))
    assert res.returncode == 0, res.stderr
    assert mpg123_notes(res.stderr) == []
    assert json.loads(res.stdout)["beatless"] is False


def test_ffmpeg_formats_are_skipped_without_ffmpeg(tmp_path, monkeypatch):
    d = tmp_path / "m"
    d.mkdir()
    (d / "song.m4a").write_bytes(b"\0" * 100)
    monkeypatch.setattr(scan_mod, "ffmpeg_available", lambda: False)
    found, skipped = find_audio(d)
    assert found == [] and "needs ffmpeg" in skipped[0][1]


def test_newer_analyser_reanalyses(music, tmp_path, monkeypatch):
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        scan_folder(music, lib, jobs=2)
        monkeypatch.setattr(scan_mod, "ANALYSER_VERSION", ANALYSER_VERSION + 1)
        r = scan_folder(music, lib, jobs=2)
        assert r.updated == 4


def test_hung_worker_is_stopped_and_reported(tmp_path, monkeypatch):
    d = tmp_path / "m"
    write_audio(d / "ok.wav", click_signal(120, 3), 22050)
    monkeypatch.setattr(scan_mod, "TASK_FLOOR_SECONDS", 0.0)
    monkeypatch.setattr(scan_mod, "TASK_SECONDS_PER_AUDIO_SECOND", 0.0)
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        r = scan_folder(d, lib, jobs=1)
    assert r.failed and "too long" in r.failed[0][1]


def test_analyse_json_contract(tmp_path):
    f = write_audio(tmp_path / "c.wav", click_signal(120, 6), 22050)
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    res = run_dancer("analyse", str(f), str(bad), "--json", "--beats")
    assert res.returncode == 0, res.stderr
    good, broken = [json.loads(line) for line in res.stdout.splitlines()]
    for key in ("path", "duration", "bpm", "bpm_confidence", "loudness_lufs", "energy", "error", "beats"):
        assert key in good
    assert good["error"] is None and good["bpm"] == pytest.approx(120, rel=0.02)
    assert np.allclose(np.diff(good["beats"]), 0.5, atol=0.03)
    assert broken["error"] and broken["bpm"] is None
    only_bad = run_dancer("analyse", str(bad), "--json")
    assert only_bad.returncode == 1


def test_scan_cli_exit_codes_and_plain_progress(music, tmp_path):
    lib = tmp_path / "cli.sqlite3"
    res = run_dancer("scan", str(music), "--library", str(lib), "--jobs", "2")
    assert res.returncode == 0, res.stderr
    assert "[1/4]" in res.stderr and "4 added" in res.stderr and "x real time" in res.stderr
    res = run_dancer("library", "list", "--json", "--library", str(lib))
    assert len(res.stdout.splitlines()) == 4
    assert run_dancer("library", "stats", "--library", str(lib)).returncode == 0

    missing = run_dancer("scan", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "no such folder" in missing.stderr
    assert "Traceback" not in missing.stderr
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    unwritable = run_dancer("scan", str(music), "--library", str(blocker / "lib.sqlite3"))
    assert unwritable.returncode == 1 and "--library" in unwritable.stderr
    assert len(unwritable.stderr.strip().splitlines()) == 1


def test_ctrl_c_keeps_finished_work(tmp_path):
    d = tmp_path / "many"
    for i in range(12):
        write_audio(d / f"t{i:02d}.wav", click_signal(90 + i * 3, 20), 22050)
    lib = tmp_path / "lib.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dancer", "scan", str(d), "--library", str(lib), "--jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background by a shell without job control inherits SIGINT
        # ignored, and so would the scan (Python installs no handler then): give it the
        # default, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Interrupt as soon as the scan reports its second file (its own progress line).
    progress = []
    for line in proc.stderr:
        progress.append(line)
        if line.startswith("[2/12]"):
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    err = "".join(progress) + rest
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    with Library.open(lib) as opened:
        kept = len(opened.tracks())
        assert opened.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert 2 <= kept < 12
    res = run_dancer("scan", str(d), "--library", str(lib))
    assert f"{12 - kept} added" in res.stderr and f"{kept} unchanged" in res.stderr


def test_analyse_file_memory_is_bounded_on_long_input(tmp_path):
    """A 20-minute file is analysed in blocks: it costs little more than a process that only
    imports the analysis (librosa's imports alone are ~250 MB resident: numba, LLVM, scipy)."""
    path = tmp_path / "long.flac"
    one = click_signal(124, 60, 44100, channels=2)
    with sf.SoundFile(str(path), "w", samplerate=44100, channels=2) as f:
        for _ in range(20):
            f.write(one)
    # VmHWM rather than ru_maxrss, which a child inherits from its (large) parent across exec.
    peak = "print([int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0] // 1024)"
    busy = (f"from dancer.library.scan import analyse_file; t = analyse_file({str(path)!r}); "
            "assert t.error is None, t.error; ")
    idle = "from dancer.analysis import warm_up; warm_up(); "
    peaks = []
    for code in (busy + peak, idle + peak):
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        peaks.append(int(res.stdout.strip()))
    decoded_mb = 20 * 60 * 44100 * 2 * 4 / 2**20  # 404 MB as float32
    assert peaks[0] - peaks[1] < decoded_mb / 8, peaks


def test_demo_library_analyses_to_its_true_tempi(tmp_path):
    """The demo music's tempi are known exactly: the scan must find them within 2%."""
    from dancer.demo import generate_demo

    demo = generate_demo(tmp_path / "demo")
    with Library.open(tmp_path / "lib.sqlite3") as lib:
        report = scan_folder(tmp_path / "demo", lib, jobs=2)
        assert not report.failed, report.failed
        for truth in demo:
            t = lib.track(truth.path)
            if truth.bpm is None:
                assert t.analysis.beatless or t.analysis.bpm_confidence < 0.3, truth.file
            else:
                assert not t.analysis.beatless, truth.file
                assert t.bpm == pytest.approx(truth.bpm, rel=0.02), truth.file
            assert t.analysis.loudness_lufs == pytest.approx(truth.loudness_lufs, abs=1.5), truth.file
        calm = [lib.track(d.path).energy for d in demo if d.character == "calm"]
        peak = [lib.track(d.path).energy for d in demo if d.character == "peak"]
        assert max(calm) < min(peak)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_tags_are_read_and_fall_back_to_the_file_name(tmp_path, ext):
    from dancer.library.scan import read_tags

    y = click_signal(100, 3, 44100, channels=2)
    tagged = tmp_path / f"tagged.{ext}"
    with sf.SoundFile(str(tagged), "w", samplerate=44100, channels=2) as f:
        f.title, f.artist, f.genre = "Hip Circles", "Somebody", "Afrobeats"
        f.write(y)
    t = read_tags(str(tagged))
    assert (t.title, t.artist, t.genre) == ("Hip Circles", "Somebody", "Afrobeats")
    plain = write_audio(tmp_path / f"Artist - Plain Song.{ext}", y, 44100)
    assert read_tags(str(plain)).title == "Artist - Plain Song"


def test_worker_warm_up_pays_the_imports_and_the_jit_before_the_first_file():
    """librosa's imports and numba's compilation (seconds) happen once, at a worker's start."""
    code = (
        "import sys, time; import numpy as np; "
        "from dancer.analysis import analyse_blocks, warm_up; warm_up(); "
        "n = 22050 * 6; y = (np.sin(np.arange(n) * 0.05) * (np.arange(n) % 11025 < 900)).astype('float32'); "
        "t = time.process_time(); analyse_blocks([y[:, None]], sample_rate=22050, channels=1); "
        "print(time.process_time() - t, 'numba' in sys.modules and 'librosa' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    seconds, loaded = res.stdout.split()
    assert loaded == "True"
    assert float(seconds) < 0.5, "the first file after the warm-up must not import or compile"


def _blas_threads(conn) -> None:
    """In a spawned worker: how many threads the BLAS numpy loaded will use."""
    import threadpoolctl

    info = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    conn.send(max(info, default=1))


def test_scan_workers_start_with_single_threaded_blas(monkeypatch):
    import multiprocessing as mp

    for var in scan_mod.WORKER_THREAD_ENV:
        monkeypatch.delenv(var, raising=False)
    ctx = mp.get_context("spawn")
    counts = {}
    for label, env in (("plain", {}), ("worker", scan_mod.WORKER_THREAD_ENV)):
        reader, writer = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_blas_threads, args=(writer,))
        scan_mod._start_with_env(process, env)
        writer.close()
        counts[label] = reader.recv()
        process.join(timeout=30)
    assert counts["worker"] == 1
    if os.cpu_count() and os.cpu_count() > 1:
        assert counts["plain"] > 1, "without the setting BLAS starts a pool (else this test shows nothing)"
    assert not any(var in os.environ for var in scan_mod.WORKER_THREAD_ENV), "parent's environment untouched"


def test_workers_crashing_at_start_up_point_at_numbas_cache(monkeypatch, tmp_path):
    from dancer.library.scan import _start_failure

    assert _start_failure(1) == "the analyser could not start (exit code 1)"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba-cache"))
    reason = _start_failure(-11)
    assert reason.startswith("the analyser could not start (exit code -11); ")
    assert "numba-cache" in reason and ".nbc" in reason and "\n" not in reason


def test_a_file_with_a_channel_in_inverted_polarity_keeps_its_beat(tmp_path):
    # Analyser version 28 analysed the channels' sum, which such a file cancels: the groove was
    # called beatless. Its low end says how it is wired, and the features are taken again.
    from synth import plain_groove

    groove = plain_groove(120.0, 20.0)
    pad = 0.1 * np.sin(2 * np.pi * 220.0 * np.arange(groove.shape[0]) / 22050).astype(np.float32)
    # The groove in the centre, a pad only on the left; the right channel wired backwards.
    path = write_audio(tmp_path / "wired-backwards.wav", np.stack([groove + pad, -groove], axis=1), 22050)
    track = scan_mod.analyse_file(path)
    assert track.error is None and track.analysis is not None
    assert not track.analysis.beatless
    assert track.analysis.bpm == pytest.approx(120.0, rel=0.01)
    wired = np.stack([groove + pad, groove], axis=1)
    normal = scan_mod.analyse_file(write_audio(tmp_path / "wired.wav", wired, 22050))
    assert len(track.analysis.beats) == len(normal.analysis.beats)
    np.testing.assert_allclose(track.analysis.beats, normal.analysis.beats, atol=0.02)
