"""Shared fixtures: an isolated home for every test, an offline network, the test-audio helpers."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from cli_process import run_dancer
from synth import click_signal, write_audio  # noqa: F401 - the analysis tests import it from here

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


@pytest.fixture
def make_click():
    return click_signal


@pytest.fixture
def audio_writer():
    return write_audio


@pytest.fixture
def dancer_cli():
    return run_dancer
