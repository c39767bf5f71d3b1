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


WARM_UP = "from dancer.analysis import warm_up; warm_up()"
BEAT_TRACK = (
    "import numpy as np, librosa; "
    "y = np.random.default_rng(0).standard_normal(22050 * 8).astype(np.float32); "
    "librosa.beat.beat_track(y=y, sr=22050)"
)


@pytest.mark.slow
def test_workers_warming_up_at_once_on_a_fresh_install_leave_a_cache_that_loads(tmp_path):
    # numba #10128: processes compiling librosa's gufuncs at once could leave a cache that
    # segfaults every later process (4 of 6 trials of this test broke it before the lock).
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "TMPDIR": str(tmp_path)}
    workers = [subprocess.Popen([sys.executable, "-c", WARM_UP], env=env) for _ in range(3)]
    assert [w.wait(timeout=300) for w in workers] == [0, 0, 0]
    assert any((tmp_path / "numba").rglob("*.nbc")), "the test must exercise numba's cache"
    later = subprocess.run([sys.executable, "-c", BEAT_TRACK], env=env, timeout=300)
    assert later.returncode == 0, f"a process loading the cache died ({later.returncode})"
