"""The scheduler: cues on beats, off crossfades, count-ins on downbeats, whole-beat breaths."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_factory import grid_track

from dancer.guide.grid import BUSY_FROM, music_grid
from dancer.guide.prompts import Prompt, PromptPack, load_packs
from dancer.guide.schedule import (
    COUNT_ONE,
    COUNT_WORDS,
    FOLLOW_INHALE,
    PhaseGuide,
    breath_beats,
    count_in_step,
    estimate_speech_seconds,
    guides_for,
    schedule_cues,
)
from dancer.model import Cue, PhaseSpan, Plan, PlanEntry

TOLERANCE = 0.030


def make_plan(
    tempi: Sequence[float | None],
    lengths: Sequence[float],
    *,
    fades: Sequence[float] | float = 8.0,
    phases: Sequence[tuple[str, float]] = (),
) -> Plan:
    """Entries back to back with overlapping fades; ``phases`` are (name, share of the length)."""
    fades = [fades] * len(tempi) if isinstance(fades, int | float) else list(fades)
    entries: list[PlanEntry] = []
    cursor = 0.0
    for i, (bpm, length) in enumerate(zip(tempi, lengths)):
        track = grid_track(bpm, length + 30.0, first_beat=0.11 + 0.07 * i, name=f"track{i}")
        beats = track.analysis.beats if track.analysis else ()
        source_in = beats[8] if beats else 2.0
        fade = fades[i] if i else 0.0
        entry = PlanEntry(
            track=track,
            phase="",
            start=max(0.0, cursor - fade),
            source_in=source_in,
            source_out=source_in + length,
            fade_in=fade,
            fade_out=fades[min(i + 1, len(fades) - 1)],
            transition="start" if i == 0 else "crossfade",
        )
        entries.append(entry)
        cursor = entry.end
    spans = []
    start = 0.0
    for name, share in phases:
        end = start + share * cursor
        spans.append(PhaseSpan(name=name, title=name.replace("-", " ").title(), start=start, end=end))
        start = end
    return Plan(arc="test", minutes=cursor / 60, seed=0, entries=tuple(entries), phases=tuple(spans))


HIP_RELEASE = {
    "arrive": {"tags": ("arrive",), "density": 1.5, "breath": True, "energy": (0.1, 0.3), "impact": "low"},
    "warm-up": {"tags": ("warm-up", "build"), "density": 1.5, "energy": (0.3, 0.5)},
    "groove": {"tags": ("groove", "peak"), "density": 1.2, "energy": (0.5, 0.85)},
    "shake": {"tags": ("shake", "release"), "density": 1.5, "energy": (0.85, 0.7)},
    "floor": {
        "tags": ("floor", "integrate"),
        "density": 1.0,
        "breath": True,
        "position": "floor",
        "energy": (0.2, 0.0),
        "impact": "low",
    },
}


def hip_release(plan: Plan) -> list[PhaseGuide]:
    return [
        PhaseGuide(name=s.name, title=s.title, start=s.start, end=s.end, **HIP_RELEASE[s.name])  # type: ignore[arg-type]
        for s in plan.phases
    ]


@pytest.fixture(scope="module")
def session() -> Plan:
    """About 45 minutes: ambient arrival, grooves from 84 to 128 BPM, a beatless floor."""
    return make_plan(
        [None, 84, 96, 104, 118, 124, 128, 126, 110, 72, None],
        [240, 220, 260, 250, 280, 270, 260, 240, 230, 260, 300],
        phases=[("arrive", 0.12), ("warm-up", 0.2), ("groove", 0.33), ("shake", 0.15), ("floor", 0.2)],
    )


@pytest.fixture(scope="module")
def pack() -> PromptPack:
    return load_packs(include_user=False)


@pytest.fixture(scope="module")
def cues(session: Plan, pack: PromptPack) -> list[Cue]:
    return schedule_cues(session, hip_release(session), pack, seed=7)


def playing(plan: Plan, t: float) -> list[PlanEntry]:
    return [e for e in plan.entries if e.start <= t < e.end]


def beats_on_timeline(entry: PlanEntry) -> np.ndarray:
    analysis = entry.track.analysis
    assert analysis is not None
    b = np.asarray(analysis.beats)
    b = b[(b >= entry.source_in) & (b <= entry.source_out)]
    return entry.start + (b - entry.source_in)


def downbeats_on_timeline(entry: PlanEntry) -> np.ndarray:
    analysis = entry.track.analysis
    assert analysis is not None
    b = np.asarray(analysis.downbeats)
    b = b[(b >= entry.source_in) & (b <= entry.source_out)]
    return entry.start + (b - entry.source_in)


def beat_error(plan: Plan, t: float) -> float | None:
    """Distance to the nearest beat of any entry playing at ``t``; None over beatless music only."""
    grids = [beats_on_timeline(e) for e in playing(plan, t)]
    grids = [g for g in grids if len(g)]
    if not grids:
        return None
    return min(float(np.min(np.abs(g - t))) for g in grids)


def assert_on_beats(plan: Plan, cues: Sequence[Cue]) -> None:
    for cue in cues:
        assert playing(plan, cue.time), f"no music at {cue.time:.2f}: {cue.text}"
        error = beat_error(plan, cue.time)
        beatless_only = all(
            e.track.analysis is None or e.track.analysis.beatless for e in playing(plan, cue.time)
        )
        if beatless_only:
            continue
        assert error is not None and error <= TOLERANCE, f"{cue.time:.3f} {cue.kind} {cue.text!r}: {error}"


def assert_clear_of_crossfades(plan: Plan, cues: Sequence[Cue]) -> None:
    for a, b in itertools.pairwise(plan.entries):
        overlap = a.end - b.start
        if overlap <= 0:
            continue
        lo, hi = b.start + BUSY_FROM * overlap, a.end
        for cue in cues:
            end = cue.time + estimate_speech_seconds(cue.text)
            assert not (cue.time < hi and lo < end), (
                f"{cue.text!r} at {cue.time:.2f} in crossfade {lo:.2f}-{hi:.2f}"
            )


def test_every_cue_starts_on_a_beat_of_the_music_playing(session: Plan, cues: list[Cue]) -> None:
    assert len(cues) > 60
    assert_on_beats(session, cues)


def test_cues_stay_off_the_busy_part_of_crossfades(session: Plan, cues: list[Cue]) -> None:
    assert_clear_of_crossfades(session, cues)


def test_cues_are_in_order_and_never_talk_over_each_other(cues: list[Cue]) -> None:
    times = [c.time for c in cues]
    assert times == sorted(times)
    for a, b in itertools.pairwise(cues):
        if a.kind == b.kind == "count-in" and a.text in COUNT_WORDS:
            continue
        assert a.time + estimate_speech_seconds(a.text) <= b.time + 1e-6, (a, b)


def test_every_phase_is_announced_just_before_it_starts(session: Plan, cues: list[Cue]) -> None:
    announcements = [c for c in cues if c.kind == "phase"]
    assert [c.phase for c in announcements] == [s.name for s in session.phases]
    first, *rest = announcements
    assert 3.0 <= first.time < 10.0
    for cue, span in zip(rest, session.phases[1:]):
        end = cue.time + estimate_speech_seconds(cue.text)
        assert span.start - 10.0 <= end <= span.start, (cue, span)


def test_count_in_lands_one_on_a_downbeat(session: Plan, cues: list[Cue]) -> None:
    counts = [c for c in cues if c.kind == "count-in"]
    words = [c for c in counts if c.text in (*COUNT_WORDS, COUNT_ONE)]
    assert [c.text for c in words] == [*COUNT_WORDS, COUNT_ONE]
    assert counts[0].text not in COUNT_WORDS, "a lead-in line comes first"
    one = words[-1]
    assert one.phase == "warm-up" or one.phase == "groove"
    (entry,) = [e for e in playing(session, one.time) if len(beats_on_timeline(e))][:1]
    assert float(np.min(np.abs(downbeats_on_timeline(entry) - one.time))) <= TOLERANCE
    beats = beats_on_timeline(entry)
    index = [int(np.argmin(np.abs(beats - c.time))) for c in words]
    steps = np.diff(index)
    assert len(set(steps)) == 1 and steps[0] in (1, 2, 4)


def test_count_in_goes_before_the_first_groove(pack: PromptPack) -> None:
    plan = make_plan([None, 120, 120], [200, 200, 200], phases=[("arrive", 0.3), ("groove", 0.7)])
    guides = hip_release(plan)
    cues = schedule_cues(plan, guides, pack, seed=1)
    one = [c for c in cues if c.text == COUNT_ONE]
    assert len(one) == 1 and one[0].phase == "groove"
    assert one[0].time >= guides[1].start


def breath_blocks(cues: Sequence[Cue]) -> list[list[Cue]]:
    """Runs of breath cycle cues (in, out, in, out...), without the breath reminders."""
    reminders = {p.text for p in load_packs(include_user=False) if p.kind == "breath" and not p.is_cycle}
    blocks: list[list[Cue]] = []
    for cue in cues:
        if cue.kind != "breath" or cue.text in reminders:
            continue
        if blocks and cue.time - blocks[-1][-1].time <= 10.5:
            blocks[-1].append(cue)
        else:
            blocks.append([cue])
    return [b for b in blocks if any(c.text == FOLLOW_INHALE for c in b)]


def test_breath_cues_are_whole_beats_long(session: Plan, cues: list[Cue]) -> None:
    blocks = breath_blocks(cues)
    with_beat = 0
    for block in blocks:
        entries = {id(e): e for c in block for e in playing(session, c.time)}
        beat_entries = [e for e in entries.values() if len(beats_on_timeline(e))]
        if not beat_entries:
            gaps = np.diff([c.time for c in block])
            assert np.allclose(gaps, [4.0, 6.0] * (len(gaps) // 2) + [4.0] * (len(gaps) % 2))
            continue
        with_beat += 1
        (entry,) = beat_entries
        beats = beats_on_timeline(entry)
        period = 60.0 / entry.track.bpm  # type: ignore[operator]
        index = [int(np.argmin(np.abs(beats - c.time))) for c in block]
        assert all(abs(beats[i] - c.time) <= TOLERANCE for i, c in zip(index, block))
        lengths = np.diff(index)
        inhale, exhale = breath_beats(entry.track.bpm)  # type: ignore[arg-type]
        assert list(lengths) == [inhale, exhale] * (len(lengths) // 2) + [inhale] * (len(lengths) % 2)
        seconds = np.diff([c.time for c in block]) / period
        assert np.allclose(seconds, np.round(seconds), atol=TOLERANCE / period)
    assert blocks and with_beat, "the session has breath cycles over music with and without a beat"


def test_beatless_breath_is_four_in_six_out(pack: PromptPack) -> None:
    plan = make_plan([None], [300], phases=[("arrive", 1.0)])
    cues = schedule_cues(plan, hip_release(plan), pack, seed=3)
    (block, *_) = breath_blocks(cues)
    assert np.allclose(np.diff([c.time for c in block]), [4.0, 6.0, 4.0, 6.0, 4.0][: len(block) - 1])


@pytest.mark.parametrize("bpm", [50, 60, 72, 84, 96, 100, 110, 120, 128, 140, 174])
def test_breath_beats_are_whole_bars_and_calm(bpm: float) -> None:
    inhale, exhale = breath_beats(bpm)
    assert isinstance(inhale, int) and isinstance(exhale, int)
    assert exhale >= 2 * inhale
    assert (inhale + exhale) % 4 == 0
    assert 1.9 <= inhale * 60 / bpm <= 5.0


def test_count_in_step_leaves_room_for_each_word() -> None:
    assert count_in_step(0.6, 0.4) == 1
    assert count_in_step(0.4, 0.4) == 2
    assert count_in_step(0.15, 0.4) == 4


def test_closing_check_in_then_aftercare(session: Plan, cues: list[Cue], pack: PromptPack) -> None:
    tail = cues[-3:]
    assert [c.kind for c in tail] == ["check-in", "aftercare", "aftercare"]
    assert all(c.phase == "floor" for c in tail)
    assert tail[-1].time + estimate_speech_seconds(tail[-1].text) <= session.length
    assert session.length - tail[0].time < 120
    by_text = {p.text: p for p in pack}
    assert [by_text[c.text].tags for c in tail[1:]] == [("care",), ("close",)]


def test_no_repeats_while_unused_prompts_fit(cues: list[Cue]) -> None:
    said = [c.text for c in cues if c.kind in ("movement", "phase", "aftercare", "check-in")]
    assert len(said) == len(set(said))


def test_prompts_repeat_only_after_all_were_used() -> None:
    pack = PromptPack(
        tuple(Prompt(id=f"p{i}", text=f"Prompt number {i}.", tags=("groove",)) for i in range(3))
    )
    plan = make_plan([120], [600], phases=[("groove", 1.0)])
    guide = PhaseGuide("groove", "Groove", 0.0, plan.length, tags=("groove",), density=3.0)
    texts = [c.text for c in schedule_cues(plan, [guide], pack, seed=5) if c.kind == "movement"]
    assert len(texts) > 6
    for start in range(0, len(texts) - 2, 3):
        assert len(set(texts[start : start + 3])) == len(texts[start : start + 3])


def test_deterministic_per_seed(session: Plan, pack: PromptPack, cues: list[Cue]) -> None:
    assert schedule_cues(session, hip_release(session), pack, seed=7) == cues
    assert schedule_cues(session, hip_release(session), pack, seed=8) != cues


def test_density_follows_the_arc(session: Plan, cues: list[Cue]) -> None:
    for span in session.phases:
        guide = HIP_RELEASE[span.name]
        moves = [c for c in cues if c.phase == span.name and c.kind in ("movement", "breath")]
        minutes = (span.end - span.start) / 60
        assert moves, span.name
        if not guide.get("breath"):
            assert 0.5 * guide["density"] * minutes <= len(moves) <= guide["density"] * minutes + 1  # type: ignore[operator]


def test_gentle_and_no_floor_are_respected(session: Plan) -> None:
    full = load_packs(include_user=False)
    pack = load_packs(gentle=True, no_floor=True, include_user=False)
    cues = schedule_cues(session, hip_release(session), pack, seed=2)
    vigorous = {p.text for p in full if p.impact == "normal"}
    floor_only = {p.text for p in full if p.position == ("floor",)}
    assert not [c for c in cues if c.text in vigorous | floor_only]
    floor_moves = [c for c in cues if c.phase == "floor" and c.kind == "movement"]
    by_text = {p.text: p for p in full}
    assert floor_moves
    assert all(set(by_text[c.text].position) - {"floor"} for c in floor_moves)


def test_low_impact_phase_gets_low_impact_prompts(pack: PromptPack) -> None:
    plan = make_plan([124, 124, 124], [300, 300, 300], phases=[("groove", 1.0)])
    guide = PhaseGuide(
        "groove",
        "Groove",
        0.0,
        plan.length,
        tags=("groove", "peak"),
        density=3,
        impact="low",
        energy=(0.9, 0.9),
    )
    vigorous = {p.text for p in pack if p.impact == "normal"}
    cues = schedule_cues(plan, [guide], pack, seed=4)
    assert cues and not [c for c in cues if c.text in vigorous]


def test_guides_for_reads_arc_phases_by_name() -> None:
    plan = make_plan([100], [300], phases=[("arrive", 0.5), ("groove", 0.5)])

    class ArcPhase:
        name = "groove"
        prompt_tags = ("groove", "peak")
        prompt_density = 2.0
        breath = False
        impact = "normal"
        position = "standing"
        energy = (0.6, 0.9)

    guides = guides_for(plan, [ArcPhase(), {"name": "arrive", "breath": True, "impact": "low"}])
    assert guides[0] == PhaseGuide("arrive", "Arrive", 0.0, plan.length / 2, breath=True, impact="low")
    assert (
        guides[1].tags == ("groove", "peak") and guides[1].density == 2.0 and guides[1].energy == (0.6, 0.9)
    )


def test_empty_plan_has_no_cues(pack: PromptPack) -> None:
    assert schedule_cues(Plan("x", 0, 0, (), ()), [], pack) == []


def test_music_grid_hands_over_at_the_crossfade() -> None:
    plan = make_plan([120, 100], [60, 60], fades=8.0)
    grid = music_grid(plan)
    a, b = plan.entries
    assert grid.busy == ((b.start + 2.0, a.end),)
    assert grid.spans[0].end == pytest.approx(b.start + 2.0)
    assert grid.spans[1].start == pytest.approx(a.end)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tempi=st.lists(st.one_of(st.none(), st.floats(60, 175)), min_size=1, max_size=5),
    lengths=st.lists(st.floats(40, 240), min_size=5, max_size=5),
    fades=st.lists(st.floats(0, 16), min_size=5, max_size=5),
    shares=st.lists(st.floats(0.1, 1.0), min_size=1, max_size=5),
    seed=st.integers(0, 2**16),
    breath=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_any_plan_puts_cues_on_beats_and_off_crossfades(
    tempi: list[float | None],
    lengths: list[float],
    fades: list[float],
    shares: list[float],
    seed: int,
    breath: list[bool],
) -> None:
    names = ["arrive", "warm-up", "groove", "shake", "floor"][: len(shares)]
    total = sum(shares)
    plan = make_plan(
        tempi,
        lengths[: len(tempi)],
        fades=fades[: len(tempi)],
        phases=[(n, s / total) for n, s in zip(names, shares)],
    )
    guides = [
        PhaseGuide(
            s.name,
            s.title,
            s.start,
            s.end,
            tags=(s.name,),
            density=2.0,
            breath=breath[i],
            position="floor" if s.name == "floor" else "standing",
        )
        for i, s in enumerate(plan.phases)
    ]
    cues = schedule_cues(plan, guides, load_packs(include_user=False), seed=seed)
    assert cues
    assert_on_beats(plan, cues)
    assert_clear_of_crossfades(plan, cues)
    assert [c.time for c in cues] == sorted(c.time for c in cues)
    for one in (c for c in cues if c.text == COUNT_ONE):
        downbeats = [downbeats_on_timeline(e) for e in playing(plan, one.time) if len(beats_on_timeline(e))]
        assert min(float(np.min(np.abs(d - one.time))) for d in downbeats) <= TOLERANCE


def test_first_prompt_is_the_move_within_comfort_reminder(cues: list[Cue], pack: PromptPack) -> None:
    first = next(c for c in cues if c.kind in ("movement", "breath") and c.text not in _cycle_texts(pack))
    assert "safety" in next(p for p in pack if p.text == first.text).tags


def _cycle_texts(pack: PromptPack) -> set[str]:
    texts = {FOLLOW_INHALE, "And out."}
    for p in pack:
        if p.is_cycle:
            for n_in, n_out in (("two", "six"), ("four", "eight"), ("eight", "sixteen"), ("four", "six")):
                texts |= {
                    p.text.format(**{"in": n_in, "out": n_out}),
                    p.exhale.format(**{"in": n_in, "out": n_out}),
                }
    return texts


def arc_plan(arc_name: str, minutes: float = 40.0) -> tuple[Plan, list[PhaseGuide]]:
    """A plan over a built-in arc: tracks at the middle of each phase's tempo range, beatless where
    preferred."""
    from dancer.plan.arcs import load_arc

    arc = load_arc(arc_name)
    entries: list[PlanEntry] = []
    spans: list[PhaseSpan] = []
    cursor = 0.0
    for phase, start, end in arc.spans(minutes):
        spans.append(PhaseSpan(phase.name, phase.title, start, end))
        bpm = None if phase.beatless == "preferred" or phase.tempo is None else sum(phase.tempo) / 2
        while cursor < end - 20.0:
            piece = min(200.0, end - cursor + 6.0)
            track = grid_track(bpm, piece + 20.0, name=f"{phase.name}{len(entries)}")
            begin = max(0.0, cursor - 6.0) if entries else 0.0
            entries.append(PlanEntry(track, phase.name, begin, 1.0, 1.0 + piece, 6.0, 6.0))
            cursor = begin + piece
    plan = Plan(arc_name, minutes, 0, tuple(entries), tuple(spans))
    return plan, guides_for(plan, arc.phases)


@pytest.mark.parametrize("arc_name", ["hip-release", "wave", "quick", "gentle"])
def test_builtin_arcs_get_fitting_prompts(arc_name: str, pack: PromptPack) -> None:
    plan, guides = arc_plan(arc_name)
    cues = schedule_cues(plan, guides, pack, seed=11)
    assert_on_beats(plan, cues)
    assert_clear_of_crossfades(plan, cues)
    by_text = {p.text: p for p in pack}
    announcements = [c for c in cues if c.kind == "phase"]
    assert [c.phase for c in announcements] == [g.name for g in guides]
    for guide in guides:
        said = [by_text[c.text] for c in cues if c.phase == guide.name and c.text in by_text]
        assert any(p.kind == "movement" and set(p.tags) & guide.match_tags for p in said), guide.name
        assert all(
            guide.position in p.position or guide.position == "floor" for p in said if p.kind == "movement"
        )
        if guide.impact == "low":
            assert all(p.impact == "low" for p in said), guide.name
    assert [c.kind for c in cues[-3:]] == ["check-in", "aftercare", "aftercare"]
