"""File-system helpers every module needs: printable paths, atomic writes, the user data folder.

Public: `display_path`, `path_key`, `atomic_write_bytes`, `atomic_write_text`, `user_data_dir`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def path_key(path: str | Path) -> bytes:
    """The path's bytes: a stable identity even for names that are not valid UTF-8."""
    return os.fsencode(os.fspath(path))


def display_path(path: str | Path) -> str:
    """The path as text, with undecodable bytes shown as U+FFFD instead of failing."""
    return os.fsencode(os.fspath(path)).decode("utf-8", "replace")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old file or the new one.

    Writes a temporary file in the same folder, fsyncs it, renames it over the target and
    fsyncs the folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _remove_stale_temps(path: Path, older_than: float = 60.0) -> None:
    """Delete temporaries a killed writer left behind (a minute old: not a concurrent writer's)."""
    import time

    now = time.time()
    try:
        for tmp in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
            try:
                if now - tmp.stat().st_mtime > older_than:
                    tmp.unlink()
            except OSError:
                pass
    except OSError:
        pass


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def user_data_dir() -> Path:
    """dancer's folder in the platform's user data dir (library, session plans, demo music)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("dancer", appauthor=False))
