"""Scan a music folder into the library: find what changed, analyse it in worker processes.

Public: `scan_folder`, `analyse_file`, `find_audio`, `ScanReport`, `ScanEvent`.

Workers are long-lived processes: imports and first calls are paid once per worker (~0.15 s),
not once per file. Each task has a deadline that grows with the file's length, and a worker
that misses it is killed and replaced, so one hostile file cannot hang a scan. Each
worker has pipes of its own: killing one cannot block the others, and workers exit when the
scan process dies, even by SIGKILL. The parent owns the library and commits each finished
track, so Ctrl-C or a kill keeps every finished track.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import stat
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path

from dancer.decode import FFMPEG_EXTENSIONS, SOUNDFILE_EXTENSIONS, ffmpeg_available
from dancer.errors import DancerError, DecodeError
from dancer.library.store import Library
from dancer.model import ANALYSER_VERSION, Tags, Track
from dancer.paths import display_path

#: Seconds a worker may take for a file: a floor for start-up and tags, plus a share of its length.
TASK_FLOOR_SECONDS = 60.0
TASK_SECONDS_PER_AUDIO_SECOND = 0.1


@dataclass
class ScanReport:
    """What a scan did; `failed` and `skipped` hold (path, reason) pairs for the user."""

    folder: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0
    interrupted: bool = False

    @property
    def realtime(self) -> float:
        """Audio seconds analysed per wall-clock second."""
        return self.audio_seconds / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ScanEvent:
    """Progress: ``kind`` is "found" (total known), "done" or "failed" for one file."""

    kind: str
    path: str = ""
    total: int = 0
    message: str = ""


# -- finding files ---------------------------------------------------------------------------


def find_audio(folder: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Audio files under ``folder`` (recursive, following symlinks once) and skipped ones with reasons.

    Directories are visited once by (device, inode), so symlink loops end. Only regular files
    count: a directory named ``x.mp3`` or a FIFO is not audio.
    """
    found: list[str] = []
    skipped: list[tuple[str, str]] = []
    seen: set[tuple[int, int]] = set()
    has_ffmpeg = ffmpeg_available()
    stack = [os.path.abspath(folder)]
    while stack:
        d = stack.pop()
        try:
            st = os.stat(d)
        except OSError as exc:
            skipped.append((d, f"cannot open folder ({exc.strerror})"))
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            skipped.append((d, f"cannot list folder ({exc.strerror})"))
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                mode = os.stat(e.path).st_mode
            except OSError:
                if e.is_symlink():
                    skipped.append((e.path, "broken symlink"))
                continue
            if stat.S_ISDIR(mode):
                stack.append(e.path)
                continue
            ext = os.path.splitext(e.name)[1].lower()
            if ext not in SOUNDFILE_EXTENSIONS and ext not in FFMPEG_EXTENSIONS:
                continue
            if not stat.S_ISREG(mode):
                skipped.append((e.path, "not a regular file"))
            elif ext in FFMPEG_EXTENSIONS and not has_ffmpeg:
                skipped.append((e.path, f"{ext} needs ffmpeg (apt-get install ffmpeg)"))
            else:
                found.append(e.path)
    return sorted(found), skipped


# -- analysing one file ----------------------------------------------------------------------


def read_tags(path: str) -> Tags:
    """Title/artist/album/genre from the file's tags, falling back to the file name."""
    stem = Path(path).stem
    title = display_path(stem)
    try:
        import mutagen

        f = mutagen.File(path, easy=True)
        tags = f.tags if f is not None and f.tags is not None else {}

        def first(key: str) -> str:
            v = tags.get(key) if hasattr(tags, "get") else None
            return str(v[0]).strip() if v else ""

        tags = Tags(title=first("title"), artist=first("artist"), album=first("album"), genre=first("genre"))
    except Exception:
        # Tags are a nicety: a file mutagen cannot parse may still decode fine.
        tags = Tags(title="")
    if not (tags.title or tags.artist) and path.lower().endswith((".wav", ".wave", ".aif", ".aiff")):
        tags = _riff_tags(path) or tags
    return tags if tags.title else Tags(title, tags.artist, tags.album, tags.genre)


def _riff_tags(path: str) -> Tags | None:
    """RIFF INFO / AIFF text chunks, which mutagen does not read but libsndfile does."""
    try:
        import soundfile as sf

        with sf.SoundFile(os.fsencode(path)) as f:
            return Tags(title=(f.title or "").strip(), artist=(f.artist or "").strip(),
                        album=(f.album or "").strip(), genre=(f.genre or "").strip())
    except Exception:
        return None


def analyse_file(path: str | Path, *, on_start: Callable[[float], None] | None = None) -> Track:
    """Decode and analyse one file; failures come back as a Track with ``error`` set."""
    from dancer.analysis import analyse_blocks
    from dancer.decode import open_stream

    path = os.path.abspath(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        return Track(path=path, size=0, mtime=0.0, tags=Tags(Path(path).stem), analysis=None,
                     error=f"cannot read ({exc.strerror})")
    if not stat.S_ISREG(st.st_mode):
        # Opening a FIFO or a device (``dancer analyse /dev/zero``) blocks or reads for ever.
        return Track(path=path, size=0, mtime=st.st_mtime, tags=Tags(display_path(Path(path).stem)),
                     analysis=None, error=f"not a regular file ({_file_kind(st.st_mode)})")
    tags = read_tags(path)
    base = Track(path=path, size=st.st_size, mtime=st.st_mtime, tags=tags, analysis=None)
    try:
        if st.st_size == 0:
            raise DecodeError(f"{display_path(path)}: empty file (0 bytes)")
        info, blocks = open_stream(Path(path))
        if on_start is not None:
            on_start(info.duration)
        analysis = analyse_blocks(blocks, sample_rate=info.sample_rate, channels=info.channels,
                                  name=display_path(path), reopen=lambda: open_stream(Path(path))[1])
    except DancerError as exc:
        return replace(base, error=_strip_path(str(exc), path))
    except MemoryError:
        return replace(base, error="ran out of memory while analysing")
    except Exception as exc:  # a decoder or numeric failure on a hostile file must not stop the scan
        return replace(base, error=f"analysis failed ({type(exc).__name__}: {exc})")
    return base.with_analysis(analysis)


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _strip_path(message: str, path: str) -> str:
    prefix = display_path(path) + ": "
    return message[len(prefix):] if message.startswith(prefix) else message


# -- worker processes ------------------------------------------------------------------------
#
# Each worker talks to the parent over pipes of its own, not a shared multiprocessing.Queue: a
# Queue's write lock is a semaphore shared by every worker, and a worker killed at its deadline
# (or crashing in a decoder) while holding it would block all results for ever. A private pipe
# dies with its worker, and its end-of-file is how each side learns the other is gone.

#: A worker that dies this many times in a row before it is ready means the analyser cannot start.
MAX_FAILED_STARTS = 3


def _start_failure(exitcode: int | None) -> str:
    """Why no file could be analysed, when workers keep dying before they are ready. A crash
    (a signal) at start-up is most often numba's cache of librosa's compiled code left broken
    by processes that compiled it at once (numba #10128; `dancer.analysis.warm_up` now
    compiles one process at a time, but a cache broken before stays broken)."""
    reason = f"the analyser could not start (exit code {exitcode})"
    if exitcode is not None and exitcode < 0:
        import importlib.util

        spec = importlib.util.find_spec("librosa")
        where = Path(spec.origin).parent / "__pycache__" if spec and spec.origin else None
        if os.environ.get("NUMBA_CACHE_DIR"):
            where = Path(os.environ["NUMBA_CACHE_DIR"])
        if where is not None:
            reason += (f"; if it keeps crashing, delete numba's cache (the .nbi and .nbc files in "
                       f"{display_path(where)}) and scan again")
    return reason


def _worker_main(tasks: Connection, results: Connection) -> None:
    # The parent handles Ctrl-C and tells workers to stop; a worker dying on SIGINT mid-write
    # of a result would lose it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # BLAS runs single-threaded here: the parent starts workers with `WORKER_THREAD_ENV`.
    # librosa's imports and loading numba's cache (~2 s) are paid here, once per worker, not on
    # the first file.
    from dancer.analysis import warm_up

    warm_up()
    _silence_native_stderr()
    try:
        results.send(("ready", None))
        while True:
            path = tasks.recv()
            if path is None:
                # Every result is already in the pipe and the worker writes nothing else, so
                # it skips the interpreter's teardown: with librosa, scipy and numba loaded
                # that takes ~0.5 s, which the scan would wait for at its end.
                sys.stdout.flush()
                os._exit(0)
            track = analyse_file(path, on_start=lambda d: results.send(("start", d)))
            results.send(("done", track))
    except (EOFError, BrokenPipeError):
        # The scan process is gone (killed, perhaps with SIGKILL): an orphaned worker must not linger.
        return


def _silence_native_stderr() -> None:
    """Point the worker's fd 2 at /dev/null: libmpg123 writes notes for every damaged MP3 frame
    straight to it, over the scan's progress; the file's failure is reported with its reason."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    os.dup2(devnull, 2)
    os.close(devnull)


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """`_silence_native_stderr` for one file in this process, fd 2 restored after, for
    ``dancer analyse``, which prints nothing on stderr while it analyses."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    sys.stderr.flush()
    _silence_native_stderr()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


#: Set in the environment a worker starts with. One worker per core already, so BLAS and
#: OpenMP must not start thread pools of their own: two workers on two cores with two BLAS
#: threads each spin for CPU and scan slower than one. It has to be in the environment the
#: worker starts with: a spawned worker imports numpy (with `dancer.model`) while it unpickles
#: its target, before any of its own code runs.
WORKER_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _start_with_env(process: mp.process.BaseProcess, env: dict[str, str]) -> None:
    """Start ``process`` (spawned: it copies the parent's environment) with ``env`` set, leaving
    the parent's own environment as it was."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        process.start()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Worker:
    def __init__(self, ctx: mp.context.BaseContext) -> None:
        task_reader, self.tasks = ctx.Pipe(duplex=False)
        self.results, result_writer = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_worker_main, args=(task_reader, result_writer), daemon=True)
        _start_with_env(self.process, WORKER_THREAD_ENV)
        # Only the worker may hold these ends, so that either side's death is end-of-file to the other.
        task_reader.close()
        result_writer.close()
        self.path: str | None = None
        self.deadline = float("inf")
        self.ready = False
        self.gone = False

    def give(self, path: str) -> bool:
        try:
            self.tasks.send(path)
        except OSError:
            self.gone = True
            return False
        self.path = path
        # Until the worker says how long the file is, allow the floor (plus JIT warm-up).
        self.deadline = time.monotonic() + TASK_FLOOR_SECONDS
        return True

    def receive(self) -> tuple | None:
        """The next message, or None when the worker has died (end-of-file or a torn message)."""
        try:
            return self.results.recv()
        except Exception:  # EOFError, OSError, or unpickling a message cut short by the worker's death
            self.gone = True
            return None

    def kill(self) -> None:
        if self.gone:
            self.process.join(timeout=1)  # it closed its pipe: let it finish exiting for an honest exit code
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.tasks.close()
        self.results.close()


def _analyse_parallel(paths: list[str], jobs: int, on_result: Callable[[Track], None],
                      ) -> None:
    """Analyse ``paths`` in ``jobs`` worker processes, calling ``on_result`` in the parent."""
    ctx = mp.get_context("spawn")
    workers: list[_Worker] = []
    pending = list(reversed(paths))
    failed_starts = 0

    def hand_out(w: _Worker) -> None:
        if pending and w.give(pending[-1]):
            pending.pop()

    for _ in range(min(jobs, len(paths))):
        workers.append(_Worker(ctx))
    try:
        while pending or any(w.path for w in workers):
            for conn in wait([w.results for w in workers], timeout=0.2):
                w = next(w for w in workers if w.results is conn)
                message = w.receive()
                if message is None:
                    continue
                kind, payload = message
                if kind == "start":
                    w.deadline = time.monotonic() + TASK_FLOOR_SECONDS + \
                        TASK_SECONDS_PER_AUDIO_SECOND * max(payload, 0.0)
                    continue
                if kind == "ready":
                    w.ready = True
                    failed_starts = 0
                elif kind == "done":
                    w.path = None
                    on_result(payload)
                hand_out(w)
            now = time.monotonic()
            for w in list(workers):
                # Unread messages (or the end-of-file that says it died) come first.
                waiting = not w.gone and w.results.poll()
                dead = w.gone or (not waiting and not w.process.is_alive())
                late = w.path is not None and now > w.deadline and not waiting
                if not (dead or late):
                    continue
                workers.remove(w)
                w.kill()
                if w.path and late and not dead:
                    on_result(_failed_track(w.path, "analysis took too long and was stopped"))
                elif w.path:
                    on_result(_failed_track(w.path, f"the analyser crashed (exit code {w.process.exitcode})"))
                elif not w.ready:
                    failed_starts += 1
                    if failed_starts >= MAX_FAILED_STARTS:
                        reason = _start_failure(w.process.exitcode)
                        while pending:
                            on_result(_failed_track(pending.pop(), reason))
            while pending and len(workers) < jobs:
                workers.append(_Worker(ctx))
    finally:
        for w in workers:
            try:
                w.tasks.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        for w in workers:
            w.process.join(timeout=max(0.0, deadline - time.monotonic()))
            w.kill()


def _failed_track(path: str, reason: str) -> Track:
    try:
        st = os.stat(path)
        size, mtime = st.st_size, st.st_mtime
    except OSError:
        size, mtime = 0, 0.0
    return Track(path=path, size=size, mtime=mtime, tags=Tags(display_path(Path(path).stem)),
                 analysis=None, error=reason)


# -- the scan --------------------------------------------------------------------------------


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def scan_folder(folder: Path, library: Library, *, jobs: int | None = None, retry_failed: bool = False,
                on_event: Callable[[ScanEvent], None] | None = None) -> ScanReport:
    """Bring the library up to date with ``folder``: analyse new and changed files, forget vanished ones.

    A file is unchanged when its size and mtime match the stored row and it was analysed by the
    current analyser version; failed files are retried only when they change or with
    ``retry_failed``. Ctrl-C stops the scan, keeps finished tracks and marks the report
    interrupted. The folder is added to the list beside the library that `dancer library repair`
    rescans (`Library.remember_folder`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DancerError(f"{folder}: no such folder; give the folder that holds your music")
    try:
        library.remember_folder(folder)
    except OSError:
        pass  # the list only serves `dancer library repair`; it must not stop a scan
    emit = on_event or (lambda e: None)
    start = time.monotonic()
    report = ScanReport(folder=display_path(os.path.abspath(folder)))
    paths, report.skipped = find_audio(folder)
    known = library.known()
    prefix = os.path.join(os.path.abspath(folder), "")
    present = set(paths)
    vanished = [p for p in known if p.startswith(prefix) and p not in present]
    report.removed = library.remove(vanished)

    todo: list[str] = []
    is_update: set[str] = set()
    for p in paths:
        row = known.get(p)
        if row is None:
            todo.append(p)
            continue
        size, mtime, version, failed = row
        try:
            st = os.stat(p)
        except OSError as exc:
            report.skipped.append((p, f"cannot read ({exc.strerror})"))
            continue
        changed = st.st_size != size or abs(st.st_mtime - mtime) > 1e-6
        if changed or version < ANALYSER_VERSION or (failed and retry_failed):
            todo.append(p)
            is_update.add(p)
        else:
            report.unchanged += 1

    emit(ScanEvent("found", total=len(todo)))

    def record(track: Track) -> None:
        library.put(track)
        if track.error:
            report.failed.append((track.path, track.error))
            emit(ScanEvent("failed", path=track.path, message=track.error))
        else:
            report.audio_seconds += track.duration
            if track.path in is_update:
                report.updated += 1
            else:
                report.added += 1
            emit(ScanEvent("done", path=track.path))

    try:
        if todo:
            _analyse_parallel(todo, jobs or default_jobs(), record)
    except KeyboardInterrupt:
        report.interrupted = True
    report.seconds = time.monotonic() - start
    return report


def iter_analyse(paths: list[str]) -> Iterator[Track]:
    """Analyse files in this process, one after the other (``dancer analyse``); a decoder's own
    notes on stderr are silenced as in a scan worker."""
    from dancer.analysis import warm_up

    warm_up()  # compiles librosa's code as a worker does: one process at a time (numba #10128)
    for p in paths:
        with _native_stderr_silenced():
            track = analyse_file(p)
        yield track
