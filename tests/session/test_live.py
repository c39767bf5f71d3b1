"""A live session's bookkeeping without a device: energy nudges re-plan outside the session's lock,
and a resumed session keeps its options and is journaled as one session with every minute danced."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from plan_factory import make_library

from dancer.audio.timeline import MixSettings
from dancer.library.store import Library
from dancer.plan import planner
from dancer.plan.arcs import load_arc
from dancer.session.journal import Journal
from dancer.session.live import LiveSession
from dancer.session.prepare import Prepared, SessionOptions, schedule


class FakePlayer:
    """The player surface a live session uses, recording what it was asked."""

    def __init__(self) -> None:
        self.timeline = SimpleNamespace(sample_rate=44100, settings=MixSettings())
        self.position = 60.0
        self.replaced: list[float] = []
        self.toggled = 0

    def status(self):
        return SimpleNamespace(position=self.position, entry=0, paused=False)

    def replace_timeline(self, timeline, *, from_time: float) -> None:
        self.replaced.append(from_time)

    def toggle_pause(self) -> None:
        self.toggled += 1


def prepared(tmp_path: Path, options: SessionOptions) -> Prepared:
    tracks = make_library(40, seed=3)
    arc = load_arc(options.arc)
    plan = planner.make_plan(tracks, arc, minutes=options.minutes, seed=options.seed)
    return Prepared(plan=plan, arc=arc, cues=schedule(plan, arc, options), tracks=tracks,
                    playlist=tmp_path / "session.m3u8", options=options)


def test_a_nudge_replans_outside_the_lock_and_keys_keep_working(tmp_path, monkeypatch) -> None:
    live = LiveSession(prepared(tmp_path, SessionOptions(arc="quick", minutes=18, seed=2)), library=None)
    live.player = FakePlayer()
    searching, release = threading.Event(), threading.Event()
    real = planner.replan_remaining

    def slow_replan(*args, **kwargs):
        searching.set()
        assert release.wait(10), "the test never let the re-plan finish"
        return real(*args, **kwargs)

    monkeypatch.setattr(planner, "replan_remaining", slow_replan)
    live.key("more")
    assert searching.wait(10), "the nudge never started re-planning"
    # While the search runs, the lock is free: the session loop and other keys carry on.
    assert live._lock.acquire(timeout=1.0), "the nudge holds the session's lock while it re-plans"
    live._lock.release()
    live.key("toggle")
    assert live.player.toggled == 1
    events = []
    live.on_event = lambda kind, text, pos: events.append(text)
    live.nudge(+0.15)
    assert events == ["still re-planning the last energy change"]
    old = live.prepared.plan
    release.set()
    # Done when the re-plan has let go (the count moves before the playlist is saved).
    for _ in range(100):
        if live.nudges and not live._replanning:
            break
        threading.Event().wait(0.1)
    assert live.nudges == 1 and live.prepared.plan is not old and live.player.replaced
    assert live.prepared.playlist.exists(), "the re-planned session is saved for resume"
    assert not live._replanning


def test_a_resumed_session_keeps_its_options_and_all_its_minutes(tmp_path) -> None:
    pack = tmp_path / "mine.toml"
    pack.write_text('[[prompt]]\nid = "mine"\nkind = "movement"\ntext = "Sway."\n', encoding="utf-8")
    options = SessionOptions(arc="quick", minutes=18, seed=4, voice="none", gentle=True, no_floor=True,
                             prompts=(str(pack),), volume=0.5, checkin=False)
    first = prepared(tmp_path, options)
    with Library.open(Path(os.environ["DANCER_LIBRARY"])) as lib:
        journal = Journal(lib)
        sid = journal.start(arc="quick", minutes=18, seed=4, playlist=str(first.playlist),
                            track_paths=[e.track.path for e in first.plan.entries])
        journal.update(sid, position=0.0, seconds_danced=0.0, status="running", state=options.state())
        run = LiveSession(first, lib, journal_id=sid)
        run.danced, run.state.position, run.nudges = 78.0, 80.0, 1
        run.save("quit")

        record = journal.last_unfinished()
        assert record is not None and record.id == sid
        again = SessionOptions.resumed(record, device="hw:1", latency=0.2)
        assert again == SessionOptions(
            arc="quick",
            minutes=18,
            seed=4,
            voice="none",
            gentle=True,
            no_floor=True,
            prompts=(str(pack),),
            volume=0.5,
            checkin=False,
            device="hw:1",
            latency=0.2,
        )
        assert SessionOptions.resumed(record, voice="espeak").voice == "espeak"

        resumed = LiveSession(first, lib, journal_id=sid, start=76.0, previous=record)
        resumed.danced, resumed.state.position = 1002.0, 1080.0
        resumed.save("finished")
        (final,) = journal.sessions()
    assert final.status == "finished" and final.nudges == 1
    assert final.seconds_danced == pytest.approx(78.0 + 1002.0), "the first part of the session is counted"
    assert final.state["checkin"] is False and final.state["no_floor"] is True
