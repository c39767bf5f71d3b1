"""Playing a plan without a guide (`dancer play`), and the controls every player shares.

Public: `play_timeline`, `control`, `VOLUME_STEP`, `SEEK_STEP`.

The same key does the same thing in `dancer play` and in a session: `control` applies it to the
player; a session adds energy nudges (↑/↓) and the voice key on top.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from dancer.clock import clock
from dancer.errors import DeviceError

#: One +/- press changes the volume by this much (dB).
VOLUME_STEP = 2.0
#: One ←/→ (or ,/.) press seeks this far (s).
SEEK_STEP = 30.0


def control(player, action: str) -> bool:
    """Apply a player key's ``action``; False when ``action`` is not one the player handles alone."""
    if action == "toggle":
        player.toggle_pause()
    elif action == "next":
        player.next()
    elif action == "previous":
        player.previous()
    elif action == "forward":
        player.seek(SEEK_STEP)
    elif action == "back":
        player.seek(-SEEK_STEP)
    elif action == "up":
        player.volume(VOLUME_STEP)
    elif action == "down":
        player.volume(-VOLUME_STEP)
    else:
        return False
    return True


def play_timeline(timeline, *, device: str | int | None = None, latency: str | float = "high",
                  start: float = 0.0, name: str = "session", controls=None,
                  echo: Callable[[str], None] = print) -> tuple[str | None, bool]:
    """Play ``timeline`` until it ends or is quit.

    Returns the stop time (``M:SS``, None when the session played to its end) and whether Ctrl-C
    stopped it. ``controls`` is a text stream of key presses (a terminal is put in cbreak mode). Device
    failures raise `DeviceError` naming the time reached, so the session can be resumed.
    """
    from dancer.audio.player import Player

    player = Player(timeline, device=device, latency=latency, start=start)
    player.start()
    quit_requested = threading.Event()
    interrupted = False
    try:
        where = player.device.name if player.device else "the output device"
        echo(f"playing {name}: {len(timeline.entries)} tracks, {clock(timeline.length)} on {where}")
        if controls is not None:
            _start_key_thread(controls, player, quit_requested)
        shown = None
        while not player.wait(0.1):
            player.check()
            status = player.status()
            if status.entry != shown and status.entry is not None:
                shown = status.entry
                echo(f"{clock(status.position)}  {status.entry + 1}. {status.track}  [{status.phase}]")
        player.check()
    except KeyboardInterrupt:
        quit_requested.set()
        interrupted = True
    except DeviceError as exc:
        player.close()
        raise DeviceError(f"{exc}; resume with --start {clock(player.status().position)}") from None
    finally:
        position = player.status().position
        underruns = player.underruns
        warnings = list(player.mixer.warnings) if player.mixer else []
        player.close()
    for w in warnings:
        echo(f"warning: {w}")
    if underruns:
        echo(f"{underruns} buffer underrun(s): raise --latency if you heard gaps")
    return (clock(position) if quit_requested.is_set() else None), interrupted


def _start_key_thread(controls, player, quit_requested: threading.Event) -> None:
    from dancer.session.view import PLAY_ARROWS, PLAY_KEYS, read_keys

    def act(action: str) -> None:
        if action == "quit":
            quit_requested.set()
            player.stop()
        else:
            control(player, action)

    thread = threading.Thread(target=read_keys, args=(controls, act), name="dancer-keys", daemon=True,
                              kwargs={"keys": PLAY_KEYS, "arrows": PLAY_ARROWS})
    thread.start()
