"""One process at a time compiles librosa's numba code.

Public: `compile_once`, `import_librosa`, `set_pipeline`.

Why this exists (librosa has no such guard): numba writes a compiled function's cache in two
files. Processes compiling librosa's functions at once (two scan workers on a fresh install, or
a benchmark and a script) can leave files from different compilations side by side, and every
process that loads them later segfaults (``librosa.beat.beat_track``,
``librosa.util.peak_pick``; numba issue #10128, open). Three processes warming up at once on
an empty cache left it broken in 4 of 6 trials. Guarding only the calls of ``beat_track`` and
``peak_pick`` is not enough: librosa's ``vectorize``/``guvectorize`` functions with signatures
compile when their module is first imported, and a test racing the first calls still crashed
in 2 of 3 runs. So the first process runs the whole analysis pipeline once under the lock
(the imports and every compiled form the analysis uses), and the others wait for it.

Importing librosa's modules compiles too (``librosa.util`` and ``librosa.beat`` at their first
import, and ``librosa.stft`` imports ``librosa.util``), so the analysis imports librosa only
through `import_librosa`, which calls `compile_once` first, and every way into the analysis (a
scan worker, ``dancer analyse``, a benchmark, a test) goes through the lock. Before that, the
feature extractor imported librosa outside it: a test run and the tempo benchmark started
together on a fresh install left a cache that crashed every later process. The package
registers its pipeline with `set_pipeline`, so this module imports nothing from the rest of the
analysis and they use it without a cycle.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

__all__ = ["compile_once", "import_librosa", "set_pipeline"]

#: The run that compiles everything (`dancer.analysis` registers it), whether this process has
#: made it, and which thread is making it now.
_pipeline: Callable[[], None] | None = None
_compiled = False
_compiling = threading.Lock()
_compiling_thread: int | None = None


def set_pipeline(run: Callable[[], None]) -> None:
    """Register the run of the analysis that `compile_once` makes (a few seconds of audio)."""
    global _pipeline
    _pipeline = run


def compile_once() -> None:
    """Make the registered pipeline run the first time this process needs librosa's numba code,
    under a machine-wide lock while no process has built numba's cache yet; afterwards nothing.

    Other threads wait for the first; the thread making the run passes straight through when
    the pipeline calls back in.
    """
    global _compiled, _compiling_thread
    if _compiled or _compiling_thread == threading.get_ident() or _pipeline is None:
        return
    with _compiling:
        if _compiled:
            return
        _compiling_thread = threading.get_ident()
        try:
            with _first_compile():
                _pipeline()
            _compiled = True
        finally:
            _compiling_thread = None


def import_librosa() -> ModuleType:
    """The ``librosa`` module, imported after `compile_once` (see the module docstring)."""
    compile_once()
    import librosa

    return librosa


@contextlib.contextmanager
def _first_compile() -> Iterator[None]:
    """Hold an exclusive lock while librosa's numba functions are first compiled and cached.

    Once one process has compiled under the lock it leaves a marker, and later processes skip
    the lock (the cache is then only read). The marker and lock live in the temporary
    directory, named after the librosa install, numba version and numba cache directory they
    vouch for, so a reinstall starts over. Where no lock can be taken (no ``fcntl``, an
    unwritable temporary directory) this does nothing.
    """
    base = _marker_base()
    try:
        import fcntl
    except ImportError:  # not POSIX
        fcntl = None  # type: ignore[assignment]
    if base is None or fcntl is None or base.with_suffix(".done").exists():
        yield
        return
    try:
        fd = os.open(base.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if base.with_suffix(".done").exists():  # compiled by the process we waited for
            fcntl.flock(fd, fcntl.LOCK_UN)
            yield
            return
        yield
        with contextlib.suppress(OSError):
            base.with_suffix(".done").touch()
    finally:
        os.close(fd)


def _marker_base() -> Path | None:
    """Path (without suffix) of the compile lock and marker for this librosa and numba install."""
    try:
        spec = importlib.util.find_spec("librosa")
        origin = Path(spec.origin).parent if spec and spec.origin else None
        if origin is None:
            return None
        stamps = [str(origin), sys.version, importlib.metadata.version("numba"),
                  os.environ.get("NUMBA_CACHE_DIR", "")]
        stamps += [str((origin / f).stat().st_mtime_ns) for f in ("beat.py", "util/utils.py")]
    except (OSError, ValueError, importlib.metadata.PackageNotFoundError):
        return None
    key = hashlib.sha1("\0".join(stamps).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"dancer-numba-{os.getuid() if hasattr(os, 'getuid') else 0}-{key}"
