"""`analyse_blocks` computes features on a thread of its own while the next block is decoded:
the result must not depend on it, and a failure on either side must reach the caller and
leave no thread behind."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from synth import groove

from dancer.analysis import analyse_blocks
from dancer.analysis import features as features_mod
from dancer.errors import DecodeError

SR = 22050


def feature_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dancer-features"]


def blocks_of(y: np.ndarray, size: int):
    return (y[i:i + size] for i in range(0, len(y), size))


def test_result_does_not_depend_on_block_size_or_thread_timing():
    y = groove(118.0, 30.0, SR)
    one = analyse_blocks([y], sample_rate=SR, channels=y.shape[1])
    many = analyse_blocks(blocks_of(y, 1000), sample_rate=SR, channels=y.shape[1])
    assert one.bpm == pytest.approx(118.0, rel=0.02)
    assert many.bpm == pytest.approx(one.bpm, abs=1e-3)
    assert np.allclose(many.beats, one.beats, atol=1e-3)
    assert many.loudness_lufs == pytest.approx(one.loudness_lufs, abs=1e-4)
    assert many.energy == pytest.approx(one.energy, abs=1e-4)
    assert not feature_threads()


def test_a_decoder_failure_mid_stream_reaches_the_caller():
    y = groove(100.0, 20.0, SR)

    def broken():
        yield from blocks_of(y[: 8 * SR], 4096)
        raise DecodeError("song.flac: decoding failed part-way")

    with pytest.raises(DecodeError, match="part-way"):
        analyse_blocks(broken(), sample_rate=SR, channels=y.shape[1])
    assert not feature_threads()


def test_a_feature_failure_reaches_the_caller(monkeypatch):
    calls = []
    real_add = features_mod.FeatureExtractor.add

    def failing_add(self, block):
        calls.append(len(block))
        if len(calls) == 3:
            raise MemoryError
        real_add(self, block)

    monkeypatch.setattr(features_mod.FeatureExtractor, "add", failing_add)
    y = groove(100.0, 20.0, SR)
    with pytest.raises(MemoryError):
        analyse_blocks(blocks_of(y, 4096), sample_rate=SR, channels=y.shape[1])
    assert not feature_threads()
    # After the failure no more blocks are worked on: the thread only drains the queue.
    assert len(calls) == 3


#: Four ways into librosa's numba code: a scan worker's start-up, the two analysis functions
#: that call it (`dancer analyse`, the benchmarks and the tests go straight to them), and the
#: feature extractor, whose first STFT imports ``librosa.util`` and so compiles its gufuncs;
#: and a way into dancer's own (the loudness meter's K-weighting loop) from outside the
#: analysis, as a session measures a spoken prompt, racing the worker that compiles it inside.
FIRST_CALLS = (
    "from dancer.analysis import warm_up; warm_up()",
    "import numpy as np; from dancer.analysis.pulse import onset_rate; "
    "onset_rate(np.random.default_rng(0).random(4000), frame_rate=43.07)",
    "import numpy as np; from dancer.analysis.beats import track_beats; "
    "track_beats(np.random.default_rng(0).random(4000), period=25.0)",
    "import numpy as np; from dancer.analysis.features import extract_features; "
    "y = np.random.default_rng(0).standard_normal(22050 * 3).astype(np.float32); "
    "extract_features(y, sample_rate=22050)",
    "import numpy as np; from dancer.analysis.loudness import integrated_loudness; "
    "print(integrated_loudness(np.ones((48000, 2), np.float32) * 0.1, 48000))",
)
LOAD_CACHE = (
    "import numpy as np, librosa; from dancer.analysis.tempo import tempo_from_envelopes; "
    "rng = np.random.default_rng(0); "
    "tempo_from_envelopes(onset=rng.random(2000), onset_low=rng.random(2000), frame_rate=43.07); "
    "y = rng.standard_normal(22050 * 8).astype(np.float32); "
    "librosa.beat.beat_track(y=y, sr=22050); "
    "from dancer.analysis.loudness import loudness_of; loudness_of(y.astype(np.float64), 22050)"
)


@pytest.mark.slow
def test_processes_first_calling_the_analysis_at_once_leave_a_cache_that_loads(tmp_path):
    # numba #10128: processes compiling librosa's gufuncs at once could leave a cache that
    # segfaults every later process (4 of 6 trials of warming up at once broke it before the
    # lock; calling the analysis functions at once broke it until they took the lock too; a
    # features-first process, importing librosa outside the lock, broke it in 1 of 6 until the
    # extractor took it as well).
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "TMPDIR": str(tmp_path)}
    workers = [subprocess.Popen([sys.executable, "-c", code], env=env) for code in FIRST_CALLS]
    assert [w.wait(timeout=300) for w in workers] == [0] * len(FIRST_CALLS)
    assert any((tmp_path / "numba").rglob("*.nbc")), "the test must exercise numba's cache"
    assert any((tmp_path / "numba").rglob("loudness*.nbc")), "and dancer's own function's"
    # and the beat tracker's gufunc that librosa leaves uncached (numba_lock._import_beat_cached)
    assert any((tmp_path / "numba").rglob("guf-beat.__beat_local_score*.nbc"))
    later = subprocess.run([sys.executable, "-c", LOAD_CACHE], env=env, timeout=300)
    assert later.returncode == 0, f"a process loading the cache died ({later.returncode})"
