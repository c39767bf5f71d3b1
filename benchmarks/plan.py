"""Planner speed and quality, against an exhaustive optimum and a greedy baseline measured in the same run.

Prints, for a 60-minute `wave` session from synthetic libraries of 100 / 1,000 / 10,000 / 50,000
tracks: planning time (median of 3 seeds), plan cost (`dancer.plan.objective.plan_objective`), the cost of a
greedy sort-by-energy baseline placed by the same rules and scored by the same objective, and the
length error. Then, on small instances (11-14 tracks, 15-30 minutes, three arcs): the planner's cost
against the exhaustive optimum (branch and bound over the same moves and objective, `exact_plan`).

    python benchmarks/plan.py [--sizes 100,1000,10000,50000] [--small 8]

Targets (issue #4): <= 1 s at 10,000 tracks; <= 1.05 x the optimum; length within +-5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dancer.model import ENERGY_STEP, Analysis, Plan, Tags, Track  # noqa: E402
from dancer.plan.arcs import Arc, load_arc  # noqa: E402
from dancer.plan.objective import plan_objective  # noqa: E402
from dancer.plan.planner import _plan, _prepare, exact_plan, make_plan  # noqa: E402
from dancer.plan.states import FULL, LAST  # noqa: E402


@cache
def _grid(bpm: float, cue_out: float) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    period = 60.0 / bpm
    beats = tuple(round(0.5 + k * period, 6) for k in range(int((cue_out - 0.5) / period) + 1))
    return beats, beats[::4], beats[::8]


@cache
def _curve(energy: float, duration: float) -> tuple[float, ...]:
    return (energy,) * int(duration / ENERGY_STEP)


def synthetic_library(n: int, seed: int) -> list[Track]:
    """``n`` tracks like a real collection: tempo loosely following energy, 2.5-7 min, ~12% beatless,
    a few tracks per artist. Beat grids are shared between tracks of equal tempo and length."""
    rng = np.random.default_rng(seed)
    energy = rng.beta(2.0, 2.0, n)
    beatless = rng.random(n) < 0.18 * (1.2 - energy)
    bpm = np.round(np.clip(rng.normal(72 + 65 * energy, 14), 55, 175) * 2) / 2
    duration = np.round(rng.uniform(150, 420, n) / 5) * 5
    confidence = rng.uniform(0.5, 1.0, n)
    tracks = []
    for k in range(n):
        e, d = round(float(energy[k]), 2), float(duration[k])
        if beatless[k]:
            b, grid = None, ((), (), ())
        else:
            b = float(bpm[k])
            grid = _grid(b, d - 1.0)
        analysis = Analysis(
            duration=d, sample_rate=44100, channels=2, bpm=b,
            bpm_confidence=0.0 if b is None else float(confidence[k]), beatless=b is None,
            beats=grid[0], downbeats=grid[1], phrases=grid[2], meter=4, loudness_lufs=-14.0,
            peak_db=-1.0, true_peak_db=-0.5, energy=e, energy_curve=_curve(e, d), cue_in=0.4, cue_out=d - 1.0,
        )  # fmt: skip
        artist = f"Artist {k // 4}"
        tracks.append(Track(f"/music/{artist}/{k:06d}.flac", 1, 0.0, Tags(f"Track {k}", artist), analysis))
    return tracks


def greedy_plan(tracks: list[Track], arc: Arc, minutes: float, seed: int) -> Plan | None:
    """The baseline: one pass along the timeline, each time the unused track whose energy is closest
    to the target where it would play (no look-ahead, no tempo, no transitions; never the same artist
    twice in a row), the last one cut to end on time; placed and scored exactly like the planner's plans."""
    planner, warnings = _prepare(tracks, arc, minutes, seed, (), 0.0)
    lib, target = planner.lib, planner.target
    lengths = np.array([t.analysis.cue_out - t.analysis.cue_in for t in lib.tracks])
    artists = np.array([lib.artist(i) for i in range(len(lib))])
    state = planner.root()
    used = np.zeros(len(lib), bool)
    while True:
        tau = state.time
        middle = np.minimum(tau + lengths / 2, planner.total - 1)
        score = np.abs(lib.energy - target.energy[middle.astype(int)])
        score[used] = np.inf
        if state.open is not None and state.open.prof.artist:
            score[artists == state.open.prof.artist] = np.inf
        placed = None
        for i in np.argsort(score, kind="stable")[:200]:
            if not np.isfinite(score[i]):
                break
            prof = lib.profile(int(i))
            for option in (LAST, FULL):
                placed = planner.advance(state, prof, option)
                if placed is not None:
                    break
            if placed is not None:
                used[i] = True
                break
        if placed is None:
            return None
        state = placed
        if state.done:
            return _plan(state, planner, arc, minutes, seed, warnings)


def big_libraries(sizes: list[int]) -> None:
    arc = load_arc("wave")
    minutes = 60.0
    print(f"60-minute '{arc.name}' from synthetic libraries (median of 3 seeds)")
    columns = ("tracks", 8), ("plan s", 8), ("greedy s", 9), ("cost", 9), ("greedy", 9), ("greedy/plan", 12)
    print(" ".join(f"{name:>{width}}" for name, width in columns), f"{'length err s':>13}")
    for n in sizes:
        library = synthetic_library(n, seed=n)
        times, costs, greedy_costs, greedy_times, errors = [], [], [], [], []
        for seed in range(3):
            t0 = time.perf_counter()
            plan = make_plan(library, arc, minutes=minutes, seed=seed)
            times.append(time.perf_counter() - t0)
            costs.append(plan_objective(plan, arc).total)
            errors.append(abs(plan.length - 60 * minutes))
            t0 = time.perf_counter()
            greedy = greedy_plan(library, arc, minutes, seed)
            greedy_times.append(time.perf_counter() - t0)
            greedy_costs.append(plan_objective(greedy, arc).total if greedy else float("nan"))
        cost, greedy_cost = statistics.median(costs), statistics.median(greedy_costs)
        print(
            f"{n:>8,} {statistics.median(times):>8.3f} {statistics.median(greedy_times):>9.3f} {cost:>9.4f} "
            f"{greedy_cost:>9.4f} {greedy_cost / cost:>11.1f}x {max(errors):>13.3f}"
        )


def small_instances(count: int) -> None:
    print("\nplanner vs exhaustive optimum (branch and bound over the same moves and objective)")
    print(
        f"{'arc':>12} {'min':>4} {'tracks':>6} {'mean ratio':>11} {'worst':>7} {'optimal':>8} "
        f"{'plan s':>7} {'exact s':>8}"
    )
    worst_all = 1.0
    cases = (("quick", 15.0, 11, count), ("gentle", 20.0, 11, count), ("hip-release", 25.0, 11, count),
             ("hip-release", 30.0, 14, max(1, count // 3)))  # fmt: skip
    for arc_name, minutes, size, instances in cases:
        arc = load_arc(arc_name)
        ratios, plan_s, exact_s = [], 0.0, 0.0
        for k in range(instances):
            library = synthetic_library(size, seed=1000 * size + k)
            t0 = time.perf_counter()
            plan = make_plan(library, arc, minutes=minutes, seed=k)
            plan_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            best = exact_plan(library, arc, minutes=minutes, seed=k)
            exact_s += time.perf_counter() - t0
            assert best is not None and abs(plan.length - 60 * minutes) <= 5.0
            ratios.append(plan_objective(plan, arc).total / plan_objective(best, arc).total)
        worst_all = max(worst_all, max(ratios))
        optimal = sum(r < 1 + 1e-9 for r in ratios)
        print(
            f"{arc_name:>12} {minutes:>4.0f} {size:>6} {statistics.mean(ratios):>11.4f} {max(ratios):>7.4f} "
            f"{optimal:>4}/{instances:<3} {plan_s / instances:>7.3f} {exact_s / instances:>8.3f}"
        )
    print(f"worst ratio {worst_all:.4f} (target <= 1.05)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000,50000", help="library sizes, comma-separated")
    parser.add_argument("--small", type=int, default=8, help="small instances per arc for the optimum")
    args = parser.parse_args()
    big_libraries([int(s) for s in args.sizes.split(",") if s])
    if args.small:
        small_instances(args.small)


if __name__ == "__main__":
    main()
