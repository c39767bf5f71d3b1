"""The session journal: what was danced, how the body felt before and after, where a session stopped.

Public: `Journal`, `SessionRecord`, `CheckIn`.

Stored in the library's SQLite file (tables ``sessions`` and ``session_tracks``), so the planner
can avoid recently played tracks and `dancer resume` can pick up an unfinished session.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from dancer.errors import DancerError
from dancer.library.store import Library
from dancer.paths import display_path, path_key

STATUSES = ("running", "paused", "finished", "quit")


@dataclass(frozen=True)
class CheckIn:
    """How the body feels: hip tension 0–10, where tension sits, a free note."""

    tension: int | None = None
    where: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.tension is not None and not 0 <= self.tension <= 10:
            raise DancerError(f"hip tension must be 0 to 10, got {self.tension}")


@dataclass(frozen=True)
class SessionRecord:
    id: int
    started_at: float
    ended_at: float | None
    arc: str
    minutes: float
    seed: int
    playlist: str | None
    position: float
    seconds_danced: float
    status: str
    nudges: int
    before: CheckIn
    after: CheckIn
    tracks: tuple[tuple[str, str, float], ...] = ()
    state: dict = field(default_factory=dict)

    @property
    def played(self) -> int:
        return sum(1 for _, s, _ in self.tracks if s == "played")

    @property
    def skipped(self) -> int:
        return sum(1 for _, s, _ in self.tracks if s == "skipped")

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(self.started_at)),
            "arc": self.arc,
            "minutes_planned": self.minutes,
            "minutes_danced": round(self.seconds_danced / 60, 2),
            "status": self.status,
            "nudges": self.nudges,
            "playlist": self.playlist,
            "position": round(self.position, 3),
            "seed": self.seed,
            "tracks_played": self.played,
            "tracks_skipped": self.skipped,
            "before": {"tension": self.before.tension, "where": self.before.where, "note": self.before.note},
            "after": {"tension": self.after.tension, "where": self.after.where, "note": self.after.note},
            "tracks": [{"path": p, "status": s, "seconds": round(sec, 2)} for p, s, sec in self.tracks],
        }


class Journal:
    """Read and write session rows through an open `Library`."""

    def __init__(self, library: Library) -> None:
        self._lib = library
        self._conn = library.connection

    def start(self, *, arc: str, minutes: float, seed: int, playlist: str | None, track_paths: list[str],
              before: CheckIn | None = None) -> int:
        """Record a new running session and its planned tracks; returns its id."""
        b = before or CheckIn()
        with self._lib._transaction() as c:
            cur = c.execute(
                "INSERT INTO sessions (started_at, arc, minutes, seed, playlist, status, before_tension, "
                "before_where, before_note) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (time.time(), arc, minutes, seed, playlist, b.tension, b.where, b.note),
            )
            sid = int(cur.lastrowid)
            self._set_tracks(c, sid, [(p, "planned", 0.0) for p in track_paths])
        return sid

    @staticmethod
    def _set_tracks(c, sid: int, tracks: list[tuple[str, str, float]]) -> None:
        c.execute("DELETE FROM session_tracks WHERE session_id = ?", (sid,))
        c.executemany(
            "INSERT INTO session_tracks (session_id, ord, path_key, path, status, seconds) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(sid, i, path_key(p), display_path(p), s, sec) for i, (p, s, sec) in enumerate(tracks)],
        )

    def update(self, sid: int, *, position: float, seconds_danced: float, status: str,
               tracks: list[tuple[str, str, float]] | None = None, nudges: int | None = None,
               playlist: str | None = None, state: dict | None = None) -> None:
        """Save progress (called regularly while playing and on every exit path)."""
        if status not in STATUSES:
            raise ValueError(status)
        with self._lib._transaction() as c:
            c.execute(
                "UPDATE sessions SET position = ?, seconds_danced = ?, status = ?, "
                "nudges = COALESCE(?, nudges), "
                "playlist = COALESCE(?, playlist), state = COALESCE(?, state), "
                "ended_at = CASE WHEN ? IN ('finished', 'quit') THEN ? ELSE ended_at END WHERE id = ?",
                (
                    position,
                    seconds_danced,
                    status,
                    nudges,
                    playlist,
                    json.dumps(state) if state is not None else None,
                    status,
                    time.time(),
                    sid,
                ),
            )
            if tracks is not None:
                self._set_tracks(c, sid, tracks)

    def check_in_after(self, sid: int, after: CheckIn) -> None:
        with self._lib._transaction() as c:
            c.execute("UPDATE sessions SET after_tension = ?, after_where = ?, after_note = ? WHERE id = ?",
                      (after.tension, after.where, after.note, sid))

    def get(self, sid: int) -> SessionRecord | None:
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM sessions WHERE id = ?", (sid,)).fetchone()
        return self._record(row) if row else None

    def sessions(self, limit: int | None = None) -> list[SessionRecord]:
        """Sessions, oldest first (the last ``limit`` when given)."""
        q = f"SELECT {_COLUMNS} FROM sessions ORDER BY started_at DESC, id DESC"
        rows = self._conn.execute(q + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
        return [self._record(r) for r in reversed(rows)]

    def last_unfinished(self) -> SessionRecord | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM sessions WHERE status IN ('running', 'paused', 'quit') "
            "AND playlist IS NOT NULL "
            "AND position < minutes * 60 - 5 ORDER BY started_at DESC, id DESC LIMIT 1"
        ).fetchone()
        return self._record(row) if row else None

    def _record(self, r: tuple) -> SessionRecord:
        (
            sid,
            started,
            ended,
            arc,
            minutes,
            seed,
            playlist,
            position,
            danced,
            status,
            nudges,
            bt,
            bw,
            bn,
            at,
            aw,
            an,
            state,
        ) = r
        tracks = tuple(self._conn.execute(
            "SELECT path, status, seconds FROM session_tracks WHERE session_id = ? ORDER BY ord", (sid,)))
        return SessionRecord(
            id=sid,
            started_at=started,
            ended_at=ended,
            arc=arc,
            minutes=minutes,
            seed=seed,
            playlist=playlist,
            position=position,
            seconds_danced=danced,
            status=status,
            nudges=nudges,
            before=CheckIn(bt, bw or "", bn or ""),
            after=CheckIn(at, aw or "", an or ""),
            tracks=tracks,
            state=json.loads(state) if state else {},
        )


_COLUMNS = (
    "id, started_at, ended_at, arc, minutes, seed, playlist, position, seconds_danced, status, nudges, "
    "before_tension, before_where, before_note, after_tension, after_where, after_note, state"
)
