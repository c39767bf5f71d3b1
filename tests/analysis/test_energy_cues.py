"""Energy is level-free and follows the music; cue points find the music inside the silence."""

from __future__ import annotations

import numpy as np
import pytest
from synth import click_signal

from dancer.analysis.cues import find_cues
from dancer.analysis.energy import _onset_peaks, energy_profile
from dancer.analysis.features import FeatureExtractor
from dancer.analysis.tempo import estimate_tempo
from dancer.demo import render_pattern
from dancer.model import ENERGY_STEP

SR = 22050


def pad(seconds: float, sr: int = SR) -> np.ndarray:
    """Slow sustained chord with a soft swell: no pulse."""
    t = np.arange(int(seconds * sr)) / sr
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * 0.05 * t)
    tone = sum(np.sin(2 * np.pi * f * t + i) for i, f in enumerate((220.0, 277.2, 329.6, 440.0)))
    return (0.1 * swell * tone).astype(np.float32)


def groove(bpm: float, seconds: float) -> np.ndarray:
    pattern = {"kick": "X...x...X...x...", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."}
    y = render_pattern(pattern, bpm, seconds, SR)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def analyse(y: np.ndarray):
    fx = FeatureExtractor(SR, 1)
    for i in range(0, len(y), 40000):
        fx.add(y[i:i + 40000, None])
    feats = fx.finish()
    tempo = estimate_tempo(feats)
    return feats, tempo


def energy(y: np.ndarray) -> tuple[float, np.ndarray]:
    feats, tempo = analyse(y)
    return energy_profile(feats, None, tempo)


def test_energy_orders_calm_groove_and_peak():
    calm, _ = energy(pad(30))
    mid, _ = energy(groove(95, 30))
    high, _ = energy(groove(130, 30))
    assert 0.0 <= calm < mid < high <= 1.0
    assert calm < 0.35 and high > 0.5


@pytest.mark.parametrize("gain_db", [-30.0, -12.0, +6.0])
def test_energy_does_not_follow_mastering_level(gain_db):
    y = groove(120, 30)
    ref, _ = energy(y)
    scaled = np.clip(y * 10 ** (gain_db / 20), -1, 1).astype(np.float32)
    other, _ = energy(scaled)
    # Quiet masters are raised to a reference level before the flux's log compression (features).
    assert other == pytest.approx(ref, abs=0.03)
    quiet_wild, _ = energy(groove(130, 30) * np.float32(0.03))
    loud_calm, _ = energy(np.clip(pad(30) * 8, -1, 1).astype(np.float32))
    assert quiet_wild > loud_calm + 0.2


@pytest.mark.parametrize("rate", [1.5, 4.0, 8.0])
def test_density_counts_each_click_once_and_nothing_in_a_pad(rate):
    feats, _ = analyse(click_signal(60.0 * rate, 20.0, SR, offset=0.1)[:, 0])
    seconds = feats.onset.size / feats.frame_rate
    assert np.count_nonzero(_onset_peaks(feats.onset)) / seconds == pytest.approx(rate, rel=0.02)
    calm, _ = analyse(pad(20.0))
    assert np.count_nonzero(_onset_peaks(calm.onset)) == 0


def test_energy_curve_follows_a_build():
    y = np.concatenate([pad(20), groove(128, 20)])
    e, curve = energy(y)
    assert len(curve) == int(np.ceil(40 / ENERGY_STEP))
    assert curve[-2:].mean() > curve[:3].mean() + 0.2


def test_cues_trim_leading_and_trailing_silence():
    music = groove(120, 20)
    y = np.concatenate([np.zeros(int(1.5 * SR), np.float32), music, np.zeros(3 * SR, np.float32)])
    feats, tempo = analyse(y)
    c = find_cues(feats, tempo)
    assert c.cue_in == pytest.approx(1.5, abs=0.06)
    assert c.cue_out == pytest.approx(21.5, abs=0.15)


def test_cue_out_skips_a_long_fade():
    music = groove(120, 30)
    fade_len = 10 * SR
    music[-fade_len:] *= np.linspace(1.0, 0.0, fade_len, dtype=np.float32) ** 3
    feats, tempo = analyse(music)
    c = find_cues(feats, tempo)
    assert 20.0 < c.cue_out < 27.0


def test_intro_beats_count_a_quiet_intro():
    intro = groove(120, 8) * np.float32(0.2)
    y = np.concatenate([intro, groove(120, 20)])
    feats, tempo = analyse(y)
    c = find_cues(feats, tempo)
    assert 12 <= c.intro_beats <= 18


def test_silence_gives_the_whole_file_and_no_energy():
    feats, tempo = analyse(np.zeros(5 * SR, np.float32))
    c = find_cues(feats, tempo)
    assert (c.cue_in, c.cue_out) == (0.0, pytest.approx(5.0, abs=0.05))
    e, curve = energy_profile(feats, None, tempo)
    assert e == pytest.approx(0.0, abs=0.05)
