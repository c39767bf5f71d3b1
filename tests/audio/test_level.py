"""The arc's level contour: flat phase levels, smooth ramps, and the stillness 4 dB under the peak."""

from __future__ import annotations

import numpy as np
import pytest

from dancer.analysis.loudness import integrated_loudness
from dancer.audio.level import DEFAULT_OFFSETS, level_contour
from dancer.model import PhaseSpan

SR = 44100
PHASES = (PhaseSpan("groove", "Groove", 0.0, 40.0), PhaseSpan("peak", "Peak", 40.0, 80.0),
          PhaseSpan("floor", "Floor", 80.0, 110.0), PhaseSpan("stillness", "Stillness", 110.0, 150.0))


def test_levels_are_exact_inside_phases_and_ramp_smoothly_across_boundaries():
    contour = level_contour(PHASES, DEFAULT_OFFSETS, ramp=8.0)
    assert contour.gain_db([1.0, 35.9, 44.1, 75.0, 84.1, 105.9, 114.1, 149.0]).tolist() == \
        [0.0, 0.0, 0.0, 0.0, -3.0, -3.0, -4.0, -4.0]
    assert contour.ramps == ((76.0, 84.0), (106.0, 114.0)), "no ramp where the level does not change"
    t = np.arange(0, 150 * SR, 7) / SR
    g = contour.gain_db(t)
    assert np.all(np.diff(g) <= 1e-12), "only ever turned down in this arc"
    slope = np.abs(np.diff(g)) / np.diff(t)
    assert slope.max() <= np.pi / 2 * 3.0 / 8.0 * 1.001, "raised cosine: no faster than pi/2 x step / ramp"
    assert contour.gain_db(80.0) == pytest.approx(-1.5), "half way at the boundary"


def test_a_short_phase_shortens_its_ramps_so_they_never_overlap():
    phases = (PhaseSpan("peak", "", 0.0, 30.0), PhaseSpan("floor", "", 30.0, 34.0),
              PhaseSpan("stillness", "", 34.0, 60.0))
    contour = level_contour(phases, DEFAULT_OFFSETS, ramp=8.0)
    (a0, b0), (a1, _) = contour.ramps
    assert b0 <= a1 and (b0 - a0) == pytest.approx(4.0)
    assert contour.gain_db(60.0) == -4.0


def test_blocks_follow_the_contour_and_flat_blocks_are_scalars():
    contour = level_contour(PHASES, DEFAULT_OFFSETS)
    assert isinstance(contour.gain_block(10 * SR, 4096, SR), float)
    n = 130 * SR
    blocks = []
    for n0 in range(70 * SR, n, 4096):
        g = contour.gain_block(n0, min(4096, n - n0), SR)
        blocks.append(np.full(min(4096, n - n0), g, np.float32) if isinstance(g, float) else g)
    got = np.concatenate(blocks)
    want = 10 ** (contour.gain_db(np.arange(70 * SR, n) / SR) / 20)
    assert np.abs(got - want).max() < 1e-6


def test_stillness_renders_4_db_below_the_peak_with_ramps_between():
    """The music is the same steady groove throughout; only the contour changes its level."""
    rng = np.random.default_rng(0)
    phases = (PhaseSpan("peak", "", 0.0, 20.0), PhaseSpan("stillness", "", 20.0, 40.0))
    contour = level_contour(phases, DEFAULT_OFFSETS, ramp=8.0)
    n = 40 * SR
    t = np.arange(n) / SR
    beat = (np.sin(2 * np.pi * 2 * t) > 0.9).astype(np.float64)
    music = 0.1 * rng.standard_normal(n) * (0.3 + beat) + 0.1 * np.sin(2 * np.pi * 110 * t)
    out = np.empty(n, np.float32)
    for n0 in range(0, n, 4096):
        k = min(4096, n - n0)
        out[n0:n0 + k] = music[n0:n0 + k] * contour.gain_block(n0, k, SR)
    stereo = np.stack([out, out], axis=1)
    peak = integrated_loudness(stereo[2 * SR:15 * SR], SR)
    still = integrated_loudness(stereo[25 * SR:38 * SR], SR)
    assert peak - still == pytest.approx(4.0, abs=0.5)
    ramp = [integrated_loudness(stereo[round(a * SR):round((a + 1) * SR)], SR) for a in (16.0, 19.5, 23.0)]
    assert peak > ramp[0] > ramp[1] > ramp[2] > still, "the level moves down in steps across the ramp"


def test_the_mixer_renders_the_built_in_stillness_4_db_under_the_peak(tmp_path):
    """Through the mixer, with the levels the built-in arc sets: two tracks at different loudness
    (matched exactly inside their phase), the stillness 4 dB under the peak, a ramp between."""
    from synth import render, synth_track

    from dancer.audio.timeline import MixSettings, Timeline
    from dancer.model import PlanEntry
    from dancer.plan.arcs import load_arc

    levels = {p.name: p.level_db for p in load_arc("quick").phases}
    assert levels["peak"] == 0.0 and levels["stillness"] == -4.0 and levels["arrive"] < 0.0
    loud = synth_track(tmp_path / "loud.wav", seconds=45.0, click=0.2, tone=0.3, bpm=124.0)
    soft = synth_track(tmp_path / "soft.wav", seconds=45.0, click=0.05, tone=0.05, tone_hz=150.0, bpm=None)
    entries = [PlanEntry(loud, "peak", 0.0, 0.0, 42.0, 0.0, 2.0, "start"),
               PlanEntry(soft, "stillness", 40.0, 0.0, 44.0, 2.0, 0.0, "fade")]
    phases = (PhaseSpan("peak", "Peak", 0.0, 40.0, levels["peak"]),
              PhaseSpan("stillness", "Stillness", 40.0, 84.0, levels["stillness"]))
    y = render(Timeline(entries, sample_rate=SR, settings=MixSettings(target_lufs=-20.0, end_fade=0.0),
                        phases=phases))

    def lufs(t0: float, t1: float) -> float:
        return integrated_loudness(y[round(t0 * SR):round(t1 * SR)], SR)

    peak, still = lufs(5.0, 34.0), lufs(46.0, 80.0)
    assert peak == pytest.approx(-20.0, abs=0.5), "loudness matching inside the peak is untouched"
    assert peak - still == pytest.approx(4.0, abs=0.5)
    assert lufs(50.0, 65.0) == pytest.approx(lufs(65.0, 80.0), abs=0.1), "flat inside the phase"
    gain = level_contour(phases).gain_db(np.array([35.0, 38.0, 40.0, 42.0, 45.0]))
    assert np.all(np.diff(gain) < 0) and gain[0] == 0.0 and gain[-1] == -4.0, "a ramp, not a step"
