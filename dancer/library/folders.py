"""The folders a library has scanned, kept beside it so a damaged library can be rebuilt.

Public: `folders_file`, `remembered_folders`, `remember_folder`.

The list lives in a small JSON file beside the library (``<library>.folders.json``), written
atomically by every scan, so it survives whatever happened to the database itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dancer.paths import atomic_write_text


def folders_file(library_path: Path) -> Path:
    """Where the list of scanned folders lives: ``<library>.folders.json`` beside the library."""
    library_path = Path(library_path)
    return library_path.with_name(library_path.name + ".folders.json")


def remembered_folders(library_path: Path) -> list[str]:
    """Absolute paths of the folders scanned into this library (empty if unknown or unreadable)."""
    try:
        data = json.loads(folders_file(library_path).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    folders = data.get("folders") if isinstance(data, dict) else None
    return [f for f in folders if isinstance(f, str) and f] if isinstance(folders, list) else []


def remember_folder(library_path: Path, folder: Path) -> None:
    """Add ``folder`` to the library's list (a folder inside a listed one is already covered).

    Names that are not UTF-8 survive as JSON ``\\udcXX`` escapes of ``os.fsdecode``'s surrogates.
    """
    if str(library_path) == ":memory:":
        return
    folder_text = os.path.abspath(folder)
    with _directory_lock(Path(library_path).parent):
        known = remembered_folders(library_path)
        if any(_within(folder_text, k) for k in known):
            return
        kept = sorted([k for k in known if not _within(k, folder_text)] + [folder_text])
        text = json.dumps({"version": 1, "folders": kept}, indent=1) + "\n"
        atomic_write_text(folders_file(library_path), text)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@contextmanager
def _directory_lock(folder: Path) -> Iterator[None]:
    """Serialise read-modify-write of the folders file between concurrent scans (best effort)."""
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)
