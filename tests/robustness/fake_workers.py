"""Scan workers that misbehave on purpose, swapped in for `dancer.library.scan._worker_main` by tests.

Spawned workers import their target by module and name, and spawn hands the parent's
``sys.path`` to the child, so these functions run for real in the worker processes.
"""

from __future__ import annotations

import os
import signal
import struct


def never_starts(tasks, results) -> None:
    """Dies before saying it is ready, like a worker whose imports or JIT warm-up crash."""
    os._exit(3)


def crashes_on_marked_files(tasks, results) -> None:
    """A real analyser, except that files named ``*crash*`` segfault it and ``*torn*`` kill it
    half-way through sending a large message (the moment a shared queue's lock would be held)."""
    from dancer.library.scan import analyse_file

    results.send(("ready", None))
    while True:
        path = tasks.recv()
        if path is None:
            return
        name = os.path.basename(path)
        if "crash" in name:
            results.send(("start", 3.0))
            os.kill(os.getpid(), signal.SIGSEGV)
        if "torn" in name:
            # Half a message: a length header promising a megabyte, a few bytes of it, then death.
            os.write(results.fileno(), struct.pack("!i", 2**20) + b"\x80\x04partial")
            os.kill(os.getpid(), signal.SIGKILL)
        results.send(("done", analyse_file(path)))

