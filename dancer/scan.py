"""Scan a music folder into the library: find what changed, analyse it in worker processes.

Public: `scan_folder`, `analyse_file`, `find_audio`, `ScanReport`, `ScanEvent`.

Workers are long-lived processes (numpy, soxr and the beat tracker's JIT warm up once per
worker, not once per file). Each task has a deadline that grows with the file's length, and a
worker that misses it is killed and replaced, so one hostile file cannot hang a scan. The
parent owns the library and commits each finished track, so Ctrl-C or a kill keeps every
finished track.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dancer.decode import FFMPEG_EXTENSIONS, SOUNDFILE_EXTENSIONS, ffmpeg_available
from dancer.errors import DancerError, DecodeError
from dancer.library import Library, display_path
from dancer.model import ANALYSER_VERSION, Tags, Track

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
    tags = read_tags(path)
    base = Track(path=path, size=st.st_size, mtime=st.st_mtime, tags=tags, analysis=None)
    try:
        if st.st_size == 0:
            raise DecodeError(f"{display_path(path)}: empty file (0 bytes)")
        info, blocks = open_stream(Path(path))
        if on_start is not None:
            on_start(info.duration)
        analysis = analyse_blocks(blocks, sample_rate=info.sample_rate, channels=info.channels,
                                  name=display_path(path))
    except DancerError as exc:
        return Track(**{**base.__dict__, "error": _strip_path(str(exc), path)})
    except MemoryError:
        return Track(**{**base.__dict__, "error": "ran out of memory while analysing"})
    except Exception as exc:  # a decoder or numeric failure on a hostile file must not stop the scan
        return Track(**{**base.__dict__, "error": f"analysis failed ({type(exc).__name__}: {exc})"})
    return base.with_analysis(analysis)


def _strip_path(message: str, path: str) -> str:
    prefix = display_path(path) + ": "
    return message[len(prefix):] if message.startswith(prefix) else message


# -- worker processes ------------------------------------------------------------------------


def _worker_main(tasks: mp.Queue, results: mp.Queue) -> None:
    # The parent handles Ctrl-C and tells workers to stop; a worker dying on SIGINT mid-write
    # of a result would lose it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One worker per core already; BLAS threads on top oversubscribe and slow the true-peak step.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    from dancer.analysis import warm_up

    warm_up()
    results.put(("ready", os.getpid(), None))
    while True:
        path = tasks.get()
        if path is None:
            return
        track = analyse_file(path, on_start=lambda d, p=path: results.put(("start", os.getpid(), (p, d))))
        results.put(("done", os.getpid(), track))


class _Worker:
    def __init__(self, ctx: mp.context.BaseContext, results: mp.Queue) -> None:
        self.tasks: mp.Queue = ctx.Queue()
        self.process = ctx.Process(target=_worker_main, args=(self.tasks, results), daemon=True)
        self.process.start()
        self.path: str | None = None
        self.deadline = float("inf")

    def give(self, path: str) -> None:
        self.path = path
        # Until the worker says how long the file is, allow the floor (plus JIT warm-up).
        self.deadline = time.monotonic() + TASK_FLOOR_SECONDS

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)


def _analyse_parallel(paths: list[str], jobs: int, on_result: Callable[[Track], None],
                      ) -> None:
    """Analyse ``paths`` in ``jobs`` worker processes, calling ``on_result`` in the parent."""
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()
    workers: dict[int, _Worker] = {}
    pending = list(reversed(paths))

    def start_worker() -> None:
        w = _Worker(ctx, results)
        workers[w.process.pid] = w

    for _ in range(min(jobs, len(paths))):
        start_worker()
    idle: list[int] = []
    try:
        while pending or any(w.path for w in workers.values()):
            try:
                kind, pid, payload = results.get(timeout=0.2)
            except queue.Empty:
                kind = None
            if kind == "ready" or (kind == "done" and pid in workers):
                w = workers.get(pid)
                if w is None:
                    continue
                if kind == "done":
                    w.path = None
                    on_result(payload)
                if pending:
                    w.give(pending.pop())
                    w.tasks.put(w.path)
                else:
                    idle.append(pid)
            elif kind == "start" and pid in workers:
                _, duration = payload
                workers[pid].deadline = time.monotonic() + TASK_FLOOR_SECONDS + \
                    TASK_SECONDS_PER_AUDIO_SECOND * max(duration, 0.0)
            now = time.monotonic()
            for pid, w in list(workers.items()):
                dead = not w.process.is_alive()
                if w.path and (now > w.deadline or dead):
                    reason = ("analysis took too long and was stopped" if not dead
                              else f"the analyser crashed (exit code {w.process.exitcode})")
                    w.kill()
                    del workers[pid]
                    on_result(_failed_track(w.path, reason))
                    if pending:
                        start_worker()
                elif dead and not w.path:
                    del workers[pid]
                    if pending:
                        start_worker()
            if not workers and pending:
                start_worker()
    finally:
        for w in workers.values():
            try:
                w.tasks.put(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 2.0
        for w in workers.values():
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
    interrupted.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DancerError(f"{folder}: no such folder; give the folder that holds your music")
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
    """Analyse files in this process, one after the other (``dancer analyse``)."""
    for p in paths:
        yield analyse_file(p)
