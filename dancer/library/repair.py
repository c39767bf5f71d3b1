"""Repair a damaged library: back it up, salvage what SQLite can still read, rebuild, rescan.

Public: `repair_library`, `RepairReport`.

A library is rebuilt from two sources. Rows are read one by one from a scratch copy of the
damaged file, stepping over pages SQLite cannot read, so analyses of unchanged files survive.
Then every folder the library ever scanned is scanned again; those folders are listed in a small
JSON file beside the library (``<library>.folders.json``), written atomically by every scan, so
the list survives whatever happened to the database itself (`dancer.library.folders`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dancer.errors import LibraryError
from dancer.library.folders import remembered_folders
from dancer.library.scan import ScanEvent, ScanReport, scan_folder
from dancer.library.store import Library
from dancer.paths import display_path

#: Consecutive unreadable rowids probed past a damaged page when the table's largest rowid is unknown.
PROBE_LIMIT = 100_000
_SIDE_FILES = ("-wal", "-shm")


@dataclass
class RepairReport:
    """What `repair_library` did, for the command to print."""

    library: str
    damage: str
    backups: list[tuple[str, str]] = field(default_factory=list)
    salvaged: dict[str, int] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    missing_folders: list[str] = field(default_factory=list)
    scans: list[ScanReport] = field(default_factory=list)
    tracks: int = 0
    integrity: str = ""


def repair_library(path: Path, *, rescan: bool = True, jobs: int | None = None,
                   on_event: Callable[[ScanEvent], None] | None = None,
                   on_backup: Callable[[RepairReport], None] | None = None) -> RepairReport:
    """Back up a damaged library beside itself, rebuild it from what can be read, rescan its folders.

    Raises `LibraryError` when there is nothing to repair: no library at ``path``, or one that
    passes SQLite's integrity check and reads completely; or when the files cannot be copied or
    moved. ``on_backup`` is called once the damaged files are moved aside and the readable rows
    salvaged, before the (possibly long) rescan. Nothing else may have the library open meanwhile:
    a scan still running would go on writing to the moved-aside file.
    """
    path = Path(path)
    if path.is_dir():
        raise LibraryError(f"{path}: is a folder, not a library file; nothing to repair")
    if not path.exists():
        raise LibraryError(f"{path}: no library here; nothing to repair")
    try:
        scratch = Path(tempfile.mkdtemp(prefix=".dancer-repair-", dir=path.parent))
    except OSError as exc:
        raise LibraryError(f"{path.parent}: cannot work beside the library ({exc.strerror})") from None
    try:
        copy = scratch / "damaged.sqlite3"
        try:
            shutil.copyfile(path, copy)
            if Path(f"{path}-wal").exists():
                shutil.copyfile(f"{path}-wal", f"{copy}-wal")
        except OSError as exc:
            raise LibraryError(f"{path}: cannot copy the library to check it ({exc.strerror})") from None
        damage = _damage(copy)
        if damage is None:
            raise LibraryError(f"{path}: the library is healthy (integrity check ok); nothing to repair")
        report = RepairReport(library=display_path(path), damage=damage)
        backup = _backup_name(path)
        for suffix in ("", *_SIDE_FILES):
            src = Path(f"{path}{suffix}")
            if src.exists():
                try:
                    os.replace(src, f"{backup}{suffix}")
                except OSError as exc:
                    raise LibraryError(f"{src}: cannot move it aside ({exc.strerror})") from None
                report.backups.append((display_path(src), display_path(f"{backup}{suffix}")))
        with Library.open(path) as lib:
            try:
                src_conn = sqlite3.connect(copy)
            except sqlite3.DatabaseError:
                src_conn = None
            if src_conn is not None:
                try:
                    report.salvaged = _salvage(src_conn, lib.connection)
                finally:
                    src_conn.close()
            if on_backup is not None:
                on_backup(report)
            report.folders = remembered_folders(path)
            if rescan:
                for folder in report.folders:
                    if not os.path.isdir(folder):
                        report.missing_folders.append(folder)
                        continue
                    report.scans.append(scan_folder(Path(folder), lib, jobs=jobs, on_event=on_event))
            report.tracks = lib.connection.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
            report.integrity = "; ".join(r[0] for r in lib.connection.execute("PRAGMA integrity_check"))
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _damage(path: Path) -> str | None:
    """What is wrong with the SQLite file at ``path``, or None when it checks and reads cleanly."""
    conn = None
    try:
        conn = sqlite3.connect(path)
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
            return f"{problems[0]}{more}"
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for _ in conn.execute(f"SELECT * FROM {_quote(table)}"):
                pass
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        if conn is not None:
            conn.close()
    return None


def _backup_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 2
    while any(Path(f"{candidate}{s}").exists() for s in ("", *_SIDE_FILES)):
        candidate = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
        n += 1
    return candidate


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _salvage(src: sqlite3.Connection, dst: sqlite3.Connection) -> dict[str, int]:
    """Copy every readable row of every table both libraries have; rows copied per table."""
    try:
        src_tables = {name for (name,) in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        return {}
    dst_tables = [name for (name,) in dst.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    counts: dict[str, int] = {}
    dst.execute("BEGIN IMMEDIATE")
    try:
        for table in dst_tables:
            if table == "schema_migrations" or table not in src_tables:
                continue
            try:
                src_columns = {row[1] for row in src.execute(f"PRAGMA table_info({_quote(table)})")}
            except sqlite3.DatabaseError:
                continue
            dst_columns = [row[1] for row in dst.execute(f"PRAGMA table_info({_quote(table)})")]
            columns = [c for c in dst_columns if c in src_columns]
            if not columns:
                continue
            insert = (f"INSERT OR IGNORE INTO {_quote(table)} ({', '.join(map(_quote, columns))}) "
                      f"VALUES ({', '.join('?' * len(columns))})")
            valid = _ROW_CHECKS.get(table, lambda row: True)
            n = 0
            for row in _readable_rows(src, table, columns):
                named = dict(zip(columns, row))
                if not valid(named):
                    continue
                try:
                    n += dst.execute(insert, row).rowcount
                except sqlite3.DatabaseError:
                    continue  # a damaged value that breaks a constraint is one more lost row
            counts[table] = n
    except BaseException:
        dst.execute("ROLLBACK")
        raise
    dst.execute("COMMIT")
    return counts


def _readable_rows(src: sqlite3.Connection, table: str, columns: list[str]) -> Iterator[tuple]:
    """Every row of ``table`` SQLite can still read, in rowid order, stepping over damaged pages.

    A range scan stops at the first unreadable page; from there single rowids are probed (each
    lookup descends the b-tree afresh, so it can reach leaves past the damage) until one reads,
    and the range scan resumes after it.
    """
    select = f"SELECT rowid, {', '.join(map(_quote, columns))} FROM {_quote(table)}"
    try:
        src.execute(f"SELECT rowid FROM {_quote(table)} LIMIT 0")
    except sqlite3.OperationalError:
        # WITHOUT ROWID (none of dancer's tables today): keep what a plain scan reads before any damage.
        try:
            for row in src.execute(f"SELECT {', '.join(map(_quote, columns))} FROM {_quote(table)}"):
                yield row
        except sqlite3.DatabaseError:
            pass
        return
    except sqlite3.DatabaseError:
        pass
    try:
        high = src.execute(f"SELECT MAX(rowid) FROM {_quote(table)}").fetchone()[0]
    except sqlite3.DatabaseError:
        high = None
    start: int | None = None
    while True:
        try:
            first = start if start is not None else -(2**63)
            for row in src.execute(select + " WHERE rowid >= ? ORDER BY rowid", (first,)):
                start = row[0] + 1
                yield row[1:]
            return
        except sqlite3.DatabaseError:
            pass
        probe = start if start is not None else 1
        misses = 0
        while True:
            if (high is not None and probe > high) or (high is None and misses >= PROBE_LIMIT):
                return
            try:
                row = src.execute(select + " WHERE rowid = ?", (probe,)).fetchone()
            except sqlite3.DatabaseError:
                row = None
            probe += 1
            if row is not None:
                start = probe
                yield row[1:]
                break
            misses += 1


def _track_row_ok(row: dict) -> bool:
    """A salvaged tracks row is usable if the fields a rescan compares have sane types."""
    key = row.get("path_key")
    return (isinstance(key, bytes) and os.path.isabs(key) and isinstance(row.get("size"), int)
            and isinstance(row.get("mtime"), (int, float)) and isinstance(row.get("analyser_version"), int))


_ROW_CHECKS: dict[str, Callable[[dict], bool]] = {"tracks": _track_row_ok}
