"""The SQLite library of analysed tracks, the folders it has scanned and the session journal's tables.

Public: `Library`, `default_library_path`, `SCHEMA_VERSION`.

One row per file the scan has seen, failures included. WAL mode and a busy timeout let two
scans share a library; every finished track is its own commit, so a killed scan keeps all the
work it finished. File paths are stored as bytes (``os.fsencode``) because music folders hold
names that are not valid UTF-8, with a readable copy beside them for display.
"""

from __future__ import annotations

import os
import sqlite3
import time
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from dancer.errors import LibraryError
from dancer.model import Analysis, Tags, Track
from dancer.paths import display_path, path_key, user_data_dir

SCHEMA_VERSION = 3

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE tracks (
        id INTEGER PRIMARY KEY,
        path_key BLOB NOT NULL UNIQUE,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        analyser_version INTEGER NOT NULL,
        title TEXT NOT NULL, artist TEXT NOT NULL, album TEXT NOT NULL, genre TEXT NOT NULL,
        duration REAL, sample_rate INTEGER, channels INTEGER,
        bpm REAL, bpm_confidence REAL, beatless INTEGER, meter INTEGER,
        loudness_lufs REAL, peak_db REAL, true_peak_db REAL,
        energy REAL, cue_in REAL, cue_out REAL, intro_beats INTEGER, outro_beats INTEGER,
        beats BLOB, downbeats BLOB, phrases BLOB, energy_curve BLOB,
        error TEXT,
        scanned_at REAL NOT NULL
    );
    CREATE INDEX tracks_error ON tracks(error);
    """,
    2: """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,
        ended_at REAL,
        arc TEXT NOT NULL,
        minutes REAL NOT NULL,
        seed INTEGER NOT NULL DEFAULT 0,
        playlist TEXT,
        position REAL NOT NULL DEFAULT 0,
        seconds_danced REAL NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        nudges INTEGER NOT NULL DEFAULT 0,
        before_tension INTEGER, before_where TEXT, before_note TEXT,
        after_tension INTEGER, after_where TEXT, after_note TEXT,
        state TEXT
    );
    CREATE TABLE session_tracks (
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        ord INTEGER NOT NULL,
        path_key BLOB NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL,
        seconds REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (session_id, ord)
    );
    CREATE INDEX sessions_started ON sessions(started_at);
    """,
    # The pulse's confidence octave aside; bpm_confidence also counts how sure the octave is.
    3: "ALTER TABLE tracks ADD COLUMN pulse_confidence REAL;",
}

_TRACK_COLUMNS = (
    "path_key, path, size, mtime, analyser_version, title, artist, album, genre, duration, sample_rate, "
    "channels, bpm, bpm_confidence, beatless, meter, loudness_lufs, peak_db, true_peak_db, energy, cue_in, "
    "cue_out, intro_beats, outro_beats, beats, downbeats, phrases, energy_curve, error, scanned_at, "
    "pulse_confidence"
)

SORT_FIELDS = (
    "path", "title", "artist", "genre", "duration", "bpm", "bpm_confidence", "loudness_lufs", "energy",
)


def default_library_path() -> Path:
    """``$DANCER_LIBRARY`` if set, else ``library.sqlite3`` in the platform's user data dir."""
    env = os.environ.get("DANCER_LIBRARY")
    if env:
        return Path(env).expanduser()
    return user_data_dir() / "library.sqlite3"


def _text(value: str | None) -> str | None:
    """Text safe for SQLite: undecodable file-name bytes (surrogates) become U+FFFD."""
    if value is None:
        return None
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _blob(values: Iterable[float]) -> bytes:
    return array("d", values).tobytes()


def _unblob(data: bytes | None) -> tuple[float, ...]:
    if not data:
        return ()
    a = array("d")
    a.frombytes(data)
    return tuple(a)


def _enable_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL, waiting out a concurrent creator: this pragma ignores the busy timeout."""
    deadline = time.monotonic() + 30.0
    while True:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _guarded(method):
    """Reading methods turn SQLite damage into the one-line `LibraryError` the CLI prints."""

    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise _library_error(self.path, exc) from None

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class Library:
    """An open SQLite library. Use `Library.open`; close it (or use it as a context manager)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | None = None, *, create: bool = True) -> Library:
        """Open (creating and migrating as needed) the library at ``path`` or the default place."""
        path = Path(path) if path is not None else default_library_path()
        if not create and not path.exists():
            raise LibraryError(f"{path}: no library here yet; run `dancer scan FOLDER` first")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LibraryError(f"{path}: cannot create the library folder ({exc.strerror}); "
                               "choose another place with --library or DANCER_LIBRARY") from None
        try:
            conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 30000")
            mode = _enable_wal(conn)
            if mode.lower() != "wal":
                conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("PRAGMA synchronous = NORMAL")
            lib = cls(conn, path)
            lib._migrate()
        except sqlite3.DatabaseError as exc:
            raise _library_error(path, exc) from None
        return lib

    def _migrate(self) -> None:
        c = self._conn
        c.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at "
                  "REAL)")
        current = c.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise LibraryError(f"{self.path}: made by a newer dancer (schema {current}); upgrade dancer")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            with self._transaction():
                # Another process may have migrated between our read and our lock.
                done = c.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone()
                if done:
                    continue
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        c.execute(statement)
                c.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
                c.execute(f"PRAGMA user_version = {version}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def put(self, track: Track) -> None:
        """Insert or replace one track in its own transaction (one commit per finished track)."""
        a = track.analysis
        t = track.tags
        row = (
            path_key(track.path), display_path(track.path), track.size, track.mtime, track.analyser_version,
            _text(t.title), _text(t.artist), _text(t.album), _text(t.genre),
            a.duration if a else None, a.sample_rate if a else None, a.channels if a else None,
            a.bpm if a else None, a.bpm_confidence if a else None, int(a.beatless) if a else None,
            a.meter if a else None, a.loudness_lufs if a else None, a.peak_db if a else None,
            a.true_peak_db if a else None, a.energy if a else None, a.cue_in if a else None,
            a.cue_out if a else None, a.intro_beats if a else None, a.outro_beats if a else None,
            _blob(a.beats) if a else None, _blob(a.downbeats) if a else None, _blob(a.phrases) if a else None,
            _blob(a.energy_curve) if a else None, _text(track.error), time.time(),
            a.pulse_confidence if a else None,
        )
        marks = ",".join("?" * len(row))
        try:
            with self._transaction() as c:
                c.execute(f"INSERT OR REPLACE INTO tracks ({_TRACK_COLUMNS}) VALUES ({marks})", row)
        except sqlite3.DatabaseError as exc:
            raise _library_error(self.path, exc) from None

    @_guarded
    def remove(self, paths: Iterable[str]) -> int:
        keys = [(path_key(p),) for p in paths]
        if not keys:
            return 0
        with self._transaction() as c:
            c.executemany("DELETE FROM tracks WHERE path_key = ?", keys)
        return len(keys)

    # -- reading -------------------------------------------------------------------------------

    @_guarded
    def known(self) -> dict[str, tuple[int, float, int, bool]]:
        """Every stored path → (size, mtime, analyser version, failed): what a rescan compares."""
        rows = self._conn.execute("SELECT path_key, size, mtime, analyser_version, error IS NOT NULL FROM "
                                  "tracks")
        return {os.fsdecode(k): (s, m, v, bool(f)) for k, s, m, v, f in rows}

    @_guarded
    def tracks(self, ok_only: bool = True, *, sort: str = "path", under: Path | None = None) -> list[Track]:
        """Stored tracks (only analysed ones unless ``ok_only`` is False), sorted by ``sort``."""
        if sort not in SORT_FIELDS:
            raise LibraryError(f"cannot sort by {sort!r}; choose one of {', '.join(SORT_FIELDS)}")
        where = "WHERE error IS NULL" if ok_only else ""
        rows = self._conn.execute(f"SELECT {_TRACK_COLUMNS}, id FROM tracks {where} ORDER BY {sort}, path")
        out = [_row_to_track(r) for r in rows]
        if under is not None:
            prefix = os.fsencode(os.path.abspath(under)).rstrip(b"/") + b"/"
            out = [t for t in out if path_key(t.path).startswith(prefix)]
        return out

    @_guarded
    def track(self, path: str | Path) -> Track | None:
        key = path_key(os.path.abspath(path))
        query = f"SELECT {_TRACK_COLUMNS}, id FROM tracks WHERE path_key = ?"
        row = self._conn.execute(query, (key,)).fetchone()
        return _row_to_track(row) if row else None

    @_guarded
    def stats(self) -> dict[str, float | int]:
        row = self._conn.execute(
            "SELECT COUNT(*), SUM(error IS NOT NULL), SUM(CASE WHEN error IS NULL THEN duration END), "
            "SUM(beatless = 1 AND error IS NULL), AVG(CASE WHEN error IS NULL THEN bpm END), "
            "AVG(CASE WHEN error IS NULL THEN energy END), MIN(CASE WHEN error IS NULL THEN bpm END), "
            "MAX(CASE WHEN error IS NULL THEN bpm END) FROM tracks"
        ).fetchone()
        total, failed, seconds, beatless, mean_bpm, mean_energy, min_bpm, max_bpm = row
        return {
            "tracks": total or 0, "analysed": (total or 0) - (failed or 0), "failed": failed or 0,
            "hours": (seconds or 0.0) / 3600.0, "beatless": beatless or 0,
            "mean_bpm": mean_bpm, "min_bpm": min_bpm, "max_bpm": max_bpm, "mean_energy": mean_energy,
        }

    @_guarded
    def recent_paths(self, sessions: int = 3) -> set[str]:
        """Paths played in the last ``sessions`` sessions of the journal."""
        rows = self._conn.execute(
            "SELECT DISTINCT path_key FROM session_tracks WHERE status = 'played' AND session_id IN "
            "(SELECT id FROM sessions ORDER BY started_at DESC LIMIT ?)", (sessions,))
        return {os.fsdecode(k) for (k,) in rows}

    def remember_folder(self, folder: Path) -> None:
        """Add ``folder`` to the folders this library has scanned (`dancer.library.folders`)."""
        from dancer.library.folders import remember_folder

        remember_folder(self.path, folder)

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn


def _row_to_track(r: tuple) -> Track:
    (key, _disp, size, mtime, version, title, artist, album, genre, duration, rate, channels, bpm, conf,
     beatless, meter, lufs, peak, tpeak, energy, cue_in, cue_out, intro, outro, beats, downbeats, phrases,
     curve, error, _scanned, pulse, rowid) = r
    analysis = None
    if error is None and duration is not None:
        analysis = Analysis(
            duration=duration,
            sample_rate=rate,
            channels=channels,
            bpm=bpm,
            bpm_confidence=conf,
            beatless=bool(beatless),
            beats=_unblob(beats),
            downbeats=_unblob(downbeats),
            phrases=_unblob(phrases),
            meter=meter,
            loudness_lufs=lufs,
            peak_db=peak,
            true_peak_db=tpeak,
            energy=energy,
            energy_curve=_unblob(curve),
            cue_in=cue_in,
            cue_out=cue_out,
            intro_beats=intro,
            outro_beats=outro,
            pulse_confidence=pulse,
        )
    return Track(path=os.fsdecode(key), size=size, mtime=mtime, tags=Tags(title, artist, album, genre),
                 analysis=analysis, analyser_version=version, error=error, id=rowid)


def _library_error(path: Path, exc: sqlite3.DatabaseError) -> LibraryError:
    text = str(exc)
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        hint = "dancer library repair"
        if path != default_library_path():
            hint += f" --library {path}"
        return LibraryError(f"{path}: the library file is damaged ({text}); run `{hint}`")
    if "readonly" in text or "unable to open" in text or "disk I/O" in text:
        return LibraryError(f"{path}: cannot write the library ({text}); "
                            "choose another place with --library or DANCER_LIBRARY")
    return LibraryError(f"{path}: library error ({text})")
