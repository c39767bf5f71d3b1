"""Show a plan before dancing it: a table of its entries and target vs planned energy over time.

Public: `plan_table`, `energy_series`, `target_series`, `energy_chart`, `objective_line`, `print_preview`,
`plot_plan`, `require_matplotlib`.

The planned energy at a moment is the fade-weighted mix of the entries playing then, read from each
track's energy curve (one value per `ENERGY_STEP` seconds) where it has one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dancer.clock import clock
from dancer.errors import DancerError
from dancer.model import ENERGY_STEP, Plan, PlanEntry

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from dancer.plan.arcs import Arc


def _arrival(entries: tuple[PlanEntry, ...], k: int) -> str:
    entry = entries[k]
    if entry.transition == "start":
        return f"in {entry.fade_in:.0f}s"
    if entry.transition == "crossfade":
        previous = entries[k - 1].track.bpm if k else None
        beats = f"{entry.fade_in * previous / 60:.0f} beats, " if previous else ""
        return f"crossfade {beats}{entry.fade_in:.1f}s"
    if entry.transition == "fade":
        return f"fade {entry.fade_in:.0f}s"
    gap = entry.start - entries[k - 1].end if k else 0.0
    return f"gap {gap:.1f}s" if gap > 0.05 else "back to back"


def plan_table(plan: Plan, width: int | None = None) -> Table:
    """One row per entry: phase, start time, track, BPM, energy, length and how it arrives.

    With ``width`` (a terminal's columns) every row stays on one line: the track name is cut
    short with "…" to fit, and below `_TRACK_MIN` columns for it the arrival and phase are too.
    """
    from rich.table import Table

    columns = (("#", "right"), ("phase", "left"), ("start", "right"), ("track", "left"), ("BPM", "right"),
               ("energy", "right"), ("plays", "right"), ("arrives", "left"))  # fmt: skip
    rows = []
    previous_phase = None
    for k, entry in enumerate(plan.entries):
        track = entry.track
        a = track.analysis
        bpm = "-" if a is None else ("beatless" if a.bpm is None or a.beatless else f"{a.bpm:.0f}")
        energy = "-" if a is None else f"{a.energy:.2f}"
        phase = entry.phase if entry.phase != previous_phase else ""
        previous_phase = entry.phase
        rows.append((
            str(k + 1), phase, clock(entry.start), track.display or track.name, bpm, energy,
            clock(entry.length), _arrival(plan.entries, k),
        ))  # fmt: skip
    limits: dict[str, int | None] = dict.fromkeys((name for name, _ in columns), None)
    if width is not None:
        natural = {name: max([len(name), *(len(row[i]) for row in rows)])
                   for i, (name, _) in enumerate(columns)}
        room = width - _COLUMN_GAP * (len(columns) - 1) - sum(w for n, w in natural.items() if n != "track")
        # The track name keeps a readable minimum; "arrives", then "phase", are cut short for it.
        for name, least in (("arrives", 9), ("phase", 6)):
            if room < _TRACK_MIN and natural[name] > least:
                cut = min(natural[name] - least, _TRACK_MIN - room)
                limits[name] = natural[name] - cut
                room += cut
        limits["track"] = max(len("track"), room)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis", max_width=limits[name])
    for row in rows:
        table.add_row(*row)
    return table


#: Columns between two cells of `plan_table` (rich's default padding of one on each side).
_COLUMN_GAP = 2
#: The fewest columns a track name gets before other columns of `plan_table` are cut short.
_TRACK_MIN = 24


def _gain(entry: PlanEntry, t: float) -> float:
    if t < entry.start or t > entry.end:
        return 0.0
    gain = 1.0
    if entry.fade_in > 0:
        gain = min(gain, (t - entry.start) / entry.fade_in)
    if entry.fade_out > 0:
        gain = min(gain, (entry.end - t) / entry.fade_out)
    return max(gain, 0.0)


def _entry_energy(entry: PlanEntry, t: float) -> float | None:
    a = entry.track.analysis
    if a is None:
        return None
    if a.energy_curve:
        k = int((entry.source_in + t - entry.start) / ENERGY_STEP)
        return a.energy_curve[min(max(k, 0), len(a.energy_curve) - 1)]
    return a.energy


def energy_series(plan: Plan, times: list[float]) -> list[float | None]:
    """Planned energy at each of ``times`` (None in silence or where nothing is analysed)."""
    out: list[float | None] = []
    for t in times:
        weight = total = 0.0
        for entry in plan.entries:
            g = _gain(entry, t)
            if g > 0:
                e = _entry_energy(entry, t)
                if e is not None:
                    weight += g
                    total += g * e
        out.append(total / weight if weight > 0 else None)
    return out


def target_series(arc: Arc, minutes: float, times: list[float]) -> list[float]:
    """The arc's energy target at each of ``times`` for a session of ``minutes``."""
    spans = arc.spans(minutes)
    out = []
    for t in times:
        phase, start, end = next(((p, s, e) for p, s, e in spans if t < e), spans[-1])
        out.append(phase.energy_at((t - start) / (end - start) if end > start else 0.0))
    return out


def energy_chart(plan: Plan, arc: Arc | None, *, width: int = 72, height: int = 10) -> Text:
    """Target (``·``) and planned (``█``) energy over the session as a text chart, phases below."""
    from rich.text import Text

    length = max(plan.length, 60.0 * plan.minutes, 1.0)
    times = [(c + 0.5) * length / width for c in range(width)]
    planned = energy_series(plan, times)
    target = target_series(arc, plan.minutes, times) if arc is not None else [None] * width

    def row(value: float | None) -> int | None:
        return None if value is None else min(height - 1, max(0, round(value * (height - 1))))

    text = Text()
    for r in range(height - 1, -1, -1):
        label = f"{r / (height - 1):4.1f} │" if r in (0, height - 1) or r == (height - 1) // 2 else "     │"
        text.append(label, style="dim")
        for c in range(width):
            p, t = row(planned[c]), row(target[c])
            if p == r and t == r:
                text.append("◆", style="bold green")
            elif p is not None and p == r:
                text.append("█", style="cyan")
            elif t == r:
                text.append("·", style="yellow")
            else:
                text.append(" ")
        text.append("\n")
    text.append("     └" + "─" * width + "\n", style="dim")
    marks = [" "] * width
    for span in plan.phases:
        c = min(width - 1, int(span.start / length * width))
        room = max(1, int((span.end - span.start) / length * width) - 1)
        for k, ch in enumerate(("|" + span.name)[: room + 1]):
            if c + k < width:
                marks[c + k] = ch
    text.append("      " + "".join(marks) + "\n")
    end = clock(length)
    text.append("      0:00" + " " * max(1, width - 4 - len(end)) + end + "\n", style="dim")
    legend = "      █ planned   · target" if arc is not None else "      █ planned (no arc: no target)"
    text.append(legend + "\n", style="dim")
    return text


def print_preview(plan: Plan, arc: Arc | None, console: Console) -> None:
    """The table, the energy chart, a summary line and the plan's warnings."""
    title = arc.title if arc is not None else (plan.arc or "playlist")
    console.print(
        f"[bold]{title}[/bold] · {clock(plan.length)} · {len(plan.entries)} tracks · seed {plan.seed}"
        f" · objective {plan.objective:.4f}",
        highlight=False,
    )
    console.print(plan_table(plan, width=console.width))
    console.print()
    console.print(energy_chart(plan, arc, width=max(40, min(100, console.width - 8))))
    if arc is not None and plan.entries and plan.arc == arc.name:
        console.print(objective_line(plan, arc), highlight=False)
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def objective_line(plan: Plan, arc: Arc) -> str:
    """The plan's objective recomputed against ``arc``, with its non-zero terms (largest first)."""
    from dancer.plan.objective import plan_objective

    objective = plan_objective(plan, arc)
    terms = sorted(((v, k) for k, v in vars(objective).items() if v > 5e-5), reverse=True)
    return f"objective {objective.total:.4f} = " + " + ".join(f"{k} {v:.4f}" for v, k in terms)


def require_matplotlib() -> None:
    """Raise a `DancerError` saying how to install matplotlib when it is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise DancerError(
            "--plot needs matplotlib, an optional extra: pip install 'dancer[plot]' (or matplotlib)"
        ) from None


def plot_plan(plan: Plan, arc: Arc | None, path: Path) -> None:
    """Draw target and planned energy with the phases shaded into ``path`` (PNG, SVG, PDF...)."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    length = max(plan.length, 60.0 * plan.minutes, 1.0)
    times = [k * 2.0 for k in range(int(length / 2.0) + 1)]
    minutes = [t / 60 for t in times]
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=120)
    try:
        for k, span in enumerate(plan.phases):
            ax.axvspan(span.start / 60, span.end / 60, color=f"C{k % 10}", alpha=0.08, lw=0)
            ax.text((span.start + span.end) / 120, 1.02, span.name, ha="center", va="bottom", fontsize=8)
        if arc is not None:
            ax.plot(minutes, target_series(arc, plan.minutes, times), "--", color="0.4", label="target")
        planned = [float("nan") if v is None else v for v in energy_series(plan, times)]
        ax.plot(minutes, planned, color="C0", lw=1.8, label="planned")
        ax.set_xlim(0, length / 60)
        ax.set_ylim(0, 1.1)
        ax.set_xlabel("minutes")
        ax.set_ylabel("energy")
        ax.legend(loc="upper right", bbox_to_anchor=(1.0, -0.12), ncol=2, fontsize=8, frameon=False)
        fig.tight_layout()
        try:
            fig.savefig(path)
        except OSError as exc:
            raise DancerError(f"cannot write plot {path}: {exc.strerror or exc}") from exc
    finally:
        plt.close(fig)
