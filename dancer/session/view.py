"""What a dancer sees: the rich live view, plain timestamped lines, and key reading.

Public: `LiveView`, `PlainView`, `read_keys`, `SESSION_KEYS`, `PLAY_KEYS`, `KEY_HINTS`, `arc_bar`,
`energy_meter`.

The live view only reads `dancer.session.live.LiveState` and the plan; it never touches the player.
Key reading puts a terminal in cbreak mode and always restores it (normal exit, exception,
Ctrl-C), because a terminal left in cbreak mode is a broken terminal.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from dancer.clock import clock

#: Key → session action. Arrow keys arrive as escape sequences (see `read_keys`).
SESSION_KEYS = {" ": "toggle", "p": "toggle", "n": "next", "b": "previous", "+": "up", "=": "up", "-": "down",
                "v": "voice", "q": "quit", ".": "forward", ",": "back"}
ARROWS = {"A": "more", "B": "less", "C": "forward", "D": "back"}
#: `dancer play`'s keys: a session's without the voice; its ↑/↓ change the volume (no energy to nudge).
PLAY_KEYS = {k: v for k, v in SESSION_KEYS.items() if v != "voice"}
PLAY_ARROWS = {**ARROWS, "A": "up", "B": "down"}
KEY_HINTS = "space pause · n next · b back · +/- volume · ↑/↓ energy · v voice · q quit"


def arc_bar(plan, position: float, width: int = 60) -> str:
    """The session as a bar: ``█`` done, ``░`` to come, ``│`` at each phase boundary."""
    length = max(plan.length, 1e-9)
    done = int(round(width * min(position / length, 1.0)))
    cells = ["█" if i < done else "░" for i in range(width)]
    for span in plan.phases[1:]:
        i = int(round(width * span.start / length))
        if 0 < i < width:
            cells[i] = "│"
    return "".join(cells)


def phase_labels(plan, width: int = 60) -> str:
    """Phase titles, each starting under its mark in `arc_bar` and cut to fit before the next."""
    length = max(plan.length, 1e-9)
    starts = [int(round(width * span.start / length)) for span in plan.phases]
    line = [" "] * width
    for k, span in enumerate(plan.phases):
        end = starts[k + 1] - 1 if k + 1 < len(starts) else width
        label = (span.title or span.name)[: max(0, end - starts[k])]
        for j, ch in enumerate(label):
            line[starts[k] + j] = ch
    return "".join(line).rstrip()


def energy_meter(value: float, width: int = 10) -> str:
    n = int(round(width * max(0.0, min(value, 1.0))))
    return "▮" * n + "▯" * (width - n)


def _entry_line(entry) -> str:
    t = entry.track
    bpm = "beatless" if t.bpm is None else f"{t.bpm:.0f} BPM"
    return f"{t.display}  ·  {bpm}  ·  energy {energy_meter(t.energy)} {t.energy:.2f}"


class LiveView:
    """A rich Live panel redrawn a few times a second from the session's state."""

    def __init__(self, session, console=None) -> None:
        from rich.console import Console

        self.session = session
        self.console = console or Console()
        self._live = None

    def render(self):
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        s = self.session.state
        plan = self.session.prepared.plan
        title = next((p.title for p in plan.phases if p.name == s.phase), s.phase) or "…"
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", style="dim")
        grid.add_column()
        head = Text.assemble(
            (title, "bold magenta"),
            "   ",
            (f"{clock(s.position)} / {clock(s.length)}", "cyan"),
            ("   (paused)" if s.paused else "", "bold yellow"),
        )
        grid.add_row("phase", head)
        width = min(72, max(20, self.console.width - 16))
        grid.add_row("arc", Text(arc_bar(plan, s.position, width=width), style="green"))
        grid.add_row("", Text(phase_labels(plan, width=width), style="dim"))
        if s.entry is not None and s.entry < len(plan.entries):
            grid.add_row("now", _entry_line(plan.entries[s.entry]))
            if s.entry + 1 < len(plan.entries):
                grid.add_row("next", Text(_entry_line(plan.entries[s.entry + 1]), style="dim"))
        prompt = s.prompt.text if s.prompt is not None and s.position - s.prompt.time < 20 else ""
        grid.add_row("", "")
        grid.add_row("", Text(prompt or " ", style="bold white on blue" if prompt else ""))
        grid.add_row("", "")
        status = f"volume {s.volume_db:+.0f} dB · voice {'on' if s.voice_on else 'off'}"
        if s.nudge:
            status += f" · energy {s.nudge:+.2f}"
        grid.add_row("", Text(status, style="dim"))
        if s.message:
            grid.add_row("", Text(s.message, style="yellow"))
        grid.add_row("keys", Text(KEY_HINTS, style="dim"))
        return Panel(grid, title="dancer", border_style="magenta")

    def __enter__(self) -> LiveView:
        from rich.live import Live

        self._live = Live(self.render(), console=self.console, refresh_per_second=8, transient=False,
                          get_renderable=self.render)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def event(self, kind: str, text: str, position: float) -> None:
        if kind == "info":
            self.session.state.message = text


class PlainView:
    """Timestamped lines for a pipe or a log: phase changes, tracks, prompts."""

    LABELS = {"phase": "phase ", "track": "track ", "prompt": "prompt", "info": "info  "}

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo

    def event(self, kind: str, text: str, position: float) -> None:
        self.echo(f"[{clock(position)}] {self.LABELS.get(kind, kind)}  {text}")


def read_keys(stream, act: Callable[[str], None], stop: Callable[[], bool] = lambda: False, *,
              keys: dict[str, str] = SESSION_KEYS, arrows: dict[str, str] = ARROWS) -> None:
    """Read key presses from ``stream`` and call ``act(action)`` until EOF or ``stop()``.

    ``keys`` maps characters to actions, ``arrows`` the final letter of arrow-key escapes.

    A terminal is switched to cbreak mode (no echo, no line buffering) and restored on every
    exit path.
    """
    import select

    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    restore = None
    if os.isatty(fd):
        import termios
        import tty

        restore = termios.tcgetattr(fd)
        tty.setcbreak(fd, termios.TCSANOW)  # not TCSAFLUSH: keys typed while starting up still count
    try:
        pending = ""
        while not stop():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if not ready:
                if pending == "\x1b":  # a lone Escape key, not the start of an arrow
                    pending = ""
                continue
            chunk = os.read(fd, 32).decode("utf-8", "replace")
            if not chunk:
                return
            pending += chunk
            while pending:
                if pending.startswith("\x1b"):
                    if len(pending) < 3:
                        break
                    if pending[1] in "[O":
                        action = arrows.get(pending[2])
                        if action:
                            act(action)
                    pending = pending[3:]
                    continue
                key, pending = pending[0], pending[1:]
                action = keys.get(key)
                if action:
                    act(action)
    except OSError:
        return
    finally:
        if restore is not None:
            import termios

            termios.tcsetattr(fd, termios.TCSADRAIN, restore)

