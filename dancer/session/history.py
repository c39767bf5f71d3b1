"""Past sessions at a glance: the before/after hip-tension trend as text, numbers and a chart.

Public: `trend_chart`, `average_change`, `plot_history`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dancer.errors import DancerError


def trend_chart(records: Sequence, width: int = 40) -> list[str]:
    """Before/after hip tension per session as text bars (``#`` before, ``=`` after)."""
    lines = []
    for r in records:
        if r.before.tension is None and r.after.tension is None:
            continue
        date = r.as_json()["date"]
        b = r.before.tension
        a = r.after.tension
        scale = width / 10
        bar_b = "#" * int(round((b or 0) * scale))
        bar_a = "=" * int(round((a or 0) * scale))
        lines.append(f"{date}  before {'-' if b is None else b:>2} {bar_b}")
        lines.append(f"{'':16}  after  {'-' if a is None else a:>2} {bar_a}")
    return lines


def average_change(records: Sequence) -> tuple[float, int] | None:
    """(mean after − before, sessions counted) over the sessions with both check-ins; None without any."""
    pairs = [(r.before.tension, r.after.tension) for r in records
             if r.before.tension is not None and r.after.tension is not None]
    if not pairs:
        return None
    return sum(a - b for b, a in pairs) / len(pairs), len(pairs)


def plot_history(records: Sequence, path: Path) -> None:
    """Draw hip tension before and after each session to ``path`` (PNG, SVG, ...; needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DancerError("--plot needs matplotlib: pip install 'dancer[plot]'") from None
    rs = [r for r in records if r.before.tension is not None or r.after.tension is not None]
    x = list(range(1, len(rs) + 1))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(x, [r.before.tension for r in rs], "o-", label="before")
    ax.plot(x, [r.after.tension for r in rs], "s-", label="after")
    ax.set_xlabel("session")
    ax.set_ylabel("hip tension (0-10)")
    ax.set_ylim(0, 10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
