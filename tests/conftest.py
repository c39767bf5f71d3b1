"""Shared fixtures: an isolated home for every test, synthesised audio, an offline network."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


class NetworkBlocked(RuntimeError):
    pass


def _refuse(*args, **kwargs):
    raise NetworkBlocked("dancer must not use the network")


_real_connect = socket.socket.connect


def _connect(self, address):
    # Unix sockets are local IPC (multiprocessing may use them); anything with a host is network.
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)
    _refuse()


def pytest_configure(config):
    """Block network access for the whole run: dancer never opens a connection. Property tests
    draw the same examples on every run, so a red run can be rerun and a green one stays green;
    `benchmarks/robustness.py` explores fresh random inputs (``--seed``)."""
    from hypothesis import settings

    settings.register_profile("dancer", derandomize=True, database=None)
    settings.load_profile("dancer")
    socket.socket.connect = _connect
    socket.create_connection = _refuse
    socket.getaddrinfo = _refuse


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own HOME, XDG dirs, library and cache: nothing touches the user's files."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache")):
        (home / sub).mkdir()
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DANCER_LIBRARY", str(home / "library.sqlite3"))
    monkeypatch.setenv("DANCER_CACHE", str(home / "cache" / "dancer"))
    return home


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def click_signal(bpm: float, seconds: float, sr: int = 22050, *, offset: float = 0.0, meter: int = 4,
                 accent: bool = True, channels: int = 1, level: float = 0.5) -> np.ndarray:
    """Decaying noise-and-tone clicks on a sample-exact grid; downbeats louder and lower when ``accent``.

    Returns float32 ``(frames, channels)``.
    """
    n = int(round(seconds * sr))
    y = np.zeros(n, dtype=np.float64)
    period = 60.0 / bpm
    click_len = int(0.03 * sr)
    t = np.arange(click_len) / sr
    env = np.exp(-t / 0.008)
    gen = np.random.default_rng(7)
    k = 0
    while True:
        start = offset + k * period
        i = int(round(start * sr))
        if i >= n:
            break
        down = accent and k % meter == 0
        f = 800.0 if down else 1600.0
        amp = 1.0 if down else 0.6
        burst = amp * env * (0.6 * np.sin(2 * np.pi * f * t) + 0.4 * gen.standard_normal(click_len))
        m = min(click_len, n - i)
        y[i:i + m] += burst[:m]
        k += 1
    y *= level / max(1e-9, np.max(np.abs(y)))
    return np.repeat(y[:, None], channels, axis=1).astype(np.float32)


def write_audio(path: Path, y: np.ndarray, sr: int, **kwargs) -> Path:
    """Write with soundfile in blocks (libsndfile's Vorbis encoder crashes on one large write)."""
    import soundfile as sf

    y = y if y.ndim == 2 else y[:, None]
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(os.fsencode(path), "w", samplerate=sr, channels=y.shape[1], **kwargs) as f:
        for i in range(0, len(y), 32768):
            f.write(y[i:i + 32768])
    return path


@pytest.fixture
def make_click():
    return click_signal


@pytest.fixture
def audio_writer():
    return write_audio


def run_dancer(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300,
               input: str | None = None):
    """Run the installed CLI in a subprocess (real start-up, real exit codes)."""
    import subprocess

    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "dancer", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout, input=input)


@pytest.fixture
def dancer_cli():
    return run_dancer
