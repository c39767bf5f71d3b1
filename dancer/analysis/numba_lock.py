"""One process at a time compiles librosa's numba code, and dancer's own.

Public: `compile_once`, `import_librosa`, `set_pipeline`, `jit_once`.

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

dancer compiles one function of its own with numba (the K-weighting loop of
`dancer.analysis.loudness`), and it is used outside the analysis too (the loudness of spoken
prompts in a session, the demo's mastering). `jit_once` gives it the same guard with a lock and
marker of its own, keyed on its source file, so a process that never analyses does not import
librosa for it.
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

__all__ = ["compile_once", "import_librosa", "jit_once", "set_pipeline"]

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
                _import_beat_cached()
                _pipeline()
            _compiled = True
        finally:
            _compiling_thread = None


def _import_beat_cached() -> None:
    """Import ``librosa.beat`` with numba's cache on for every one of its gufuncs.

    librosa 0.11 builds four of the beat tracker's five gufuncs with ``cache=True`` and one,
    ``__beat_local_score``, with ``cache=False``, so every process that imported
    ``librosa.beat`` compiled it again: ~1.5 s of each scan worker's start, as long as the rest
    of librosa's imports. numba caches it like the other four when asked (the results are the
    same compiled code), so ``numba.guvectorize`` asks for the cache while the module is
    imported, here, under the compile lock. Nothing changes if ``librosa.beat`` was already
    imported, or if librosa stops using ``numba.guvectorize`` by that name.
    """
    if "librosa.beat" in sys.modules:
        return
    import numba

    plain = numba.guvectorize

    def cached(*args, **kwargs):
        kwargs["cache"] = True
        return plain(*args, **kwargs)

    numba.guvectorize = cached
    try:
        import librosa.beat  # noqa: F401
    finally:
        numba.guvectorize = plain


def import_librosa() -> ModuleType:
    """The ``librosa`` module, imported after `compile_once` (see the module docstring)."""
    compile_once()
    import librosa

    return librosa


#: Functions compiled by `jit_once` in this process, by the Python function.
_jitted: dict[Callable, Callable] = {}
_jitting = threading.Lock()


def jit_once(function: Callable, *examples: tuple) -> Callable:
    """``numba.njit(cache=True, nogil=True)(function)``, compiled for each argument tuple in
    ``examples`` the first time this process asks, under a machine-wide lock until one process
    has built numba's cache for this version of ``function``'s source file.

    ``function`` must be defined at the top level of its module (numba caches it by name). Its
    lock is not librosa's, and a process may take it while holding librosa's (the analysis
    pipeline measures loudness), never the other way round, so the two cannot deadlock.
    """
    with _jitting:
        if function in _jitted:
            return _jitted[function]
        import numba

        jitted = numba.njit(cache=True, nogil=True)(function)
        with _locked_first(_source_marker_base(function)):
            for args in examples:
                jitted(*args)
        _jitted[function] = jitted
        return jitted


def _first_compile() -> contextlib.AbstractContextManager[None]:
    """`_locked_first` for librosa's numba functions."""
    return _locked_first(_marker_base())


@contextlib.contextmanager
def _locked_first(base: Path | None) -> Iterator[None]:
    """Hold an exclusive lock while numba functions are first compiled and cached.

    Once one process has compiled under the lock it leaves a marker, and later processes skip
    the lock (the cache is then only read). The marker and lock live in the temporary
    directory, named after the install, numba version and numba cache directory they vouch for
    (``base``), so a reinstall starts over. Where no lock can be taken (``base`` is None, no
    ``fcntl``, an unwritable temporary directory) this does nothing.
    """
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
        # "beat cached": markers from before `_import_beat_cached` do not vouch for its cache.
        stamps = [str(origin), sys.version, importlib.metadata.version("numba"),
                  os.environ.get("NUMBA_CACHE_DIR", ""), "beat cached"]
        stamps += [str((origin / f).stat().st_mtime_ns) for f in ("beat.py", "util/utils.py")]
    except (OSError, ValueError, importlib.metadata.PackageNotFoundError):
        return None
    return _base_for(stamps)


def _source_marker_base(function: Callable) -> Path | None:
    """Path (without suffix) of the compile lock and marker for one version of ``function``."""
    try:
        source = Path(function.__code__.co_filename)
        stamps = [str(source), str(source.stat().st_mtime_ns), function.__qualname__, sys.version,
                  importlib.metadata.version("numba"), os.environ.get("NUMBA_CACHE_DIR", "")]
    except (OSError, importlib.metadata.PackageNotFoundError):
        return None
    return _base_for(stamps)


def _base_for(stamps: list[str]) -> Path:
    key = hashlib.sha1("\0".join(stamps).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"dancer-numba-{os.getuid() if hasattr(os, 'getuid') else 0}-{key}"
