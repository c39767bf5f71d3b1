"""Tempo-matched crossfades measured on the mixer's rendered audio (#13).

Seven click grooves at 116-131 BPM are chained the way the planner places them (16-beat crossfades
from a phrase of the outgoing track to the first phrase of the incoming one), beat-matched by
`dancer.plan.matching.beat_match`, and rendered through `Mixer`. Each track is rendered alone from
the same timeline (the mixer is linear below the limiter, so the mix is their sum) and every kick
of each overlap is found on the audio.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from synth import SR, render, synth_track

from dancer.audio.mixer import Mixer
from dancer.audio.timeline import MixSettings, Timeline
from dancer.model import PlanEntry
from dancer.plan.matching import HALFWAY, beat_match
from dancer.plan.transition import transition_ratio

#: Pairs under and over `HALFWAY` (116 → 124 and 131 → 123 make both tracks glide to meet).
TEMPI = [116.0, 124.0, 129.0, 131.0, 123.0, 118.0, 122.0]
FADE_BEATS = 16
#: Low enough that the limiter never acts: each track's render is its share of the mix.
QUIET = MixSettings(target_lufs=-24.0, end_fade=0.0)


@pytest.fixture(scope="module")
def grooves(tmp_path_factory) -> list:
    folder = tmp_path_factory.mktemp("grooves")
    return [synth_track(folder / f"{i}-{bpm:g}.wav", seconds=64.0, bpm=bpm, offset=0.31 + 0.07 * i,
                        tone=0.0, click_hz=1500.0) for i, bpm in enumerate(TEMPI)]


def placed(tracks) -> list[PlanEntry]:
    """At each track's own tempo, as the search places them: a crossfade of 16 outgoing beats
    starts on a phrase boundary and the incoming track's first phrase lands on it."""
    entries: list[PlanEntry] = []
    start = 0.0
    for i, t in enumerate(tracks):
        p = t.analysis.phrases
        fade = FADE_BEATS * 60.0 / t.bpm
        fade_in = entries[-1].fade_out if entries else 0.0
        transition = "crossfade" if i else "start"
        entries.append(PlanEntry(t, "groove", start, p[1], p[-2], fade_in, fade, transition))
        start = entries[-1].end - fade
    return entries


def kick_onsets(y: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Onset (s) of the click nearest each expected time: the first sample above a tenth of the peak
    of a ±60 ms window. The clicks start at their loudest and nothing else sounds, so the onset is
    sharp even under the start of a fade-in, where the gain rises through the click."""
    x = np.abs(y[:, 0])
    w = round(0.06 * SR)
    out = []
    for t in near:
        i = round(t * SR)
        seg = x[max(i - w, 0):i + w]
        out.append((max(i - w, 0) + int(np.argmax(seg > 0.1 * seg.max()))) / SR)
    return np.array(out)


def alone(timeline: Timeline, index: int, t0: float, t1: float) -> np.ndarray:
    """Entry ``index`` of ``timeline`` rendered on its own from ``t0`` to ``t1``."""
    solo = replace(timeline, entries=[e if k == index else replace(e, source_out=e.source_in + 0.001)
                                      for k, e in enumerate(timeline.entries)])
    return render(solo, mixer=Mixer(solo, start=t0), seconds=t1 - t0)


def overlap_errors(entries: list[PlanEntry], k: int) -> np.ndarray:
    """|incoming kick - outgoing kick| (s) for every outgoing beat from the first of the overlap
    into entry ``k`` to the last, both measured on the render."""
    out, inc = entries[k - 1], entries[k]
    timeline = Timeline(entries, sample_rate=SR, settings=QUIET)
    t0, t1 = inc.start - 0.2, out.end + 0.2
    src = np.asarray(out.track.analysis.beats)
    beats = out.timeline_time(src)
    beats = beats[(beats >= inc.start - 1e-3) & (beats <= out.end - 0.05)]
    heard_out = kick_onsets(alone(timeline, k - 1, t0, t1), beats - t0)
    heard_in = kick_onsets(alone(timeline, k, t0, t1), beats - t0)
    assert np.abs(heard_out - (beats - t0)).max() < 0.001, "the outgoing clicks are where its curve puts them"
    return np.abs(heard_in - heard_out)


@pytest.mark.parametrize("matching", [True, False], ids=["matched", "unmatched"])
def test_every_incoming_kick_lands_on_the_outgoing_kick_through_each_crossfade(grooves, matching):
    entries = placed(grooves)
    if matching:
        entries = list(beat_match(entries))
    worst = []
    for k in range(1, len(entries)):
        err = overlap_errors(entries, k)
        assert len(err) >= FADE_BEATS - 1, "every beat of the overlap is checked"
        assert err[0] < 0.001, "the first shared beat is aligned either way"
        worst.append(float(err.max()))
    if matching:
        assert max(worst) < 0.010, np.round(np.array(worst) * 1e3, 2)
    else:
        # The failure mode without matching: aligned on the first beat, then walking apart by the
        # tempo difference (16 beats x 1.5-7 % is 0.1-0.5 s, past the ±60 ms the onsets are looked
        # for in): every crossfade flams before its end.
        assert min(worst) > 0.030, np.round(np.array(worst) * 1e3, 2)


def test_both_tracks_glide_to_meet_when_the_step_is_large(grooves):
    entries = beat_match(placed(grooves))
    for out, inc in zip(entries, entries[1:]):
        ratio = transition_ratio(out.track.bpm, inc.track.bpm).ratio
        if abs(ratio - 1) > HALFWAY:
            assert out.rate_at(out.end) == pytest.approx(1 / np.sqrt(ratio), rel=2e-3)
            assert inc.rate_at(inc.start) == pytest.approx(np.sqrt(ratio), rel=2e-3)
        else:
            assert out.rate_at(out.end) == 1.0
            assert inc.rate_at(inc.start) == pytest.approx(ratio, rel=2e-3)
        assert abs(inc.rate_at(inc.start) - 1) <= 0.08 + 1e-9
        back = inc.curve.times[1] - (inc.start + inc.fade_in)
        assert inc.curve.rates[1] == 1.0 and back < 17 * 60 / out.track.bpm / 0.95, \
            "back to its own tempo four bars after the overlap"


def test_render_and_play_in_any_block_size_give_the_same_samples(grooves):
    entries = beat_match(placed(grooves[:3]))
    timeline = Timeline(entries, sample_rate=SR)
    t0 = entries[1].start - 1.0
    whole = render(timeline, mixer=Mixer(timeline, start=t0), seconds=12.0, block=65536)
    blocks = render(timeline, mixer=Mixer(timeline, start=t0), seconds=12.0, block=441)
    assert np.array_equal(whole, blocks)
