"""Session times as people read and type them.

Public: `clock`, `parse_clock`.
"""

from __future__ import annotations


def clock(seconds: float) -> str:
    """``M:SS`` (or ``H:MM:SS``), whole seconds truncated: the form ``--start`` accepts."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def parse_clock(text: str) -> float:
    """``SS``, ``MM:SS`` or ``H:MM:SS`` → seconds; ValueError otherwise."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or any(not p.replace(".", "", 1).isdigit() for p in parts):
        raise ValueError(text)
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + float(p)
    return seconds
