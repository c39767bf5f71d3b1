"""ITU-R BS.1770-4 loudness: agreement with pyloudnorm, reference levels, streaming, peaks."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dancer.analysis.loudness import (
    Loudness,
    LoudnessMeter,
    channel_weights,
    integrated_loudness,
    k_weighting,
    loudness_of,
)

RATES = [8000, 22050, 44100, 48000, 96000, 192000]
#: pyloudnorm discretises the K-weighting with the audio-EQ cookbook at 1500 Hz / 38 Hz instead
#: of the standard's filter, and its high pass has unity gain where the standard's has +0.04 dB;
#: the two meters differ by up to ~0.05 LU on these signals.
PYLOUDNORM_TOLERANCE = 0.1


def tone(freq: float, dbfs: float, seconds: float, sr: int, phase: float = 0.0) -> np.ndarray:
    """Sine with peak ``dbfs``, float64 ``(n,)``."""
    t = np.arange(int(round(seconds * sr))) / sr
    return 10.0 ** (dbfs / 20.0) * np.sin(2.0 * np.pi * freq * t + phase)


def white(rng: np.random.Generator, seconds: float, sr: int, rms_db: float = -20.0) -> np.ndarray:
    return rng.standard_normal(int(seconds * sr)) * 10.0 ** (rms_db / 20.0)


def pink(rng: np.random.Generator, seconds: float, sr: int, rms_db: float = -20.0) -> np.ndarray:
    """1/f noise shaped in the frequency domain, scaled to ``rms_db`` dBFS RMS."""
    n = int(seconds * sr)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    spectrum[1:] /= np.sqrt(f[1:])
    spectrum[0] = 0.0
    y = np.fft.irfft(spectrum, n)
    return y * 10.0 ** (rms_db / 20.0) / np.sqrt(np.mean(y**2))


def gated(sr: int) -> np.ndarray:
    """Tone bursts with digital silence between them and a quiet passage below the relative gate."""
    loud = tone(1000.0, -12.0, 1.0, sr)
    gap = np.zeros(sr)
    quiet = tone(440.0, -40.0, 4.0, sr)
    return np.concatenate([loud, gap, loud, gap, quiet, loud, gap])


SIGNALS = {
    "sine -20 dBFS": lambda rng, sr: tone(1000.0, -20.0, 6.0, sr),
    "sine -3 dBFS": lambda rng, sr: tone(1000.0, -3.0, 6.0, sr),
    "pink noise": lambda rng, sr: pink(rng, 6.0, sr),
    "white noise": lambda rng, sr: white(rng, 6.0, sr),
    "gated": lambda rng, sr: gated(sr),
    "stereo, uneven": lambda rng, sr: np.stack([tone(1000.0, -14.0, 6.0, sr), pink(rng, 6.0, sr, -30.0)], 1),
}


def reference(y: np.ndarray, sr: int) -> float:
    return pyloudnorm.Meter(sr).integrated_loudness(y)


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("name", list(SIGNALS))
def test_agrees_with_pyloudnorm(name, sr, rng):
    y = SIGNALS[name](rng, sr)
    assert integrated_loudness(y, sr) == pytest.approx(reference(y, sr), abs=PYLOUDNORM_TOLERANCE)


def test_relative_gate_is_exercised():
    """A passage 30 dB down is above the absolute gate but below the relative one: it is left out."""
    sr = 48000
    loud = tone(1000.0, -12.0, 10.0, sr)
    y = np.concatenate([loud, tone(1000.0, -42.0, 10.0, sr)])
    expected = integrated_loudness(loud, sr)
    # Only the three 400 ms blocks straddling the step pass with a lower level.
    assert integrated_loudness(y, sr) == pytest.approx(expected, abs=0.1)
    # With the absolute gate alone the quiet half would halve the mean power: -3 LU.
    assert integrated_loudness(y, sr) > expected - 0.1 > expected - 3.0


@pytest.mark.parametrize("sr", [11025, 44100])
def test_five_channels_against_pyloudnorm(sr, rng):
    y = np.stack([pink(rng, 5.0, sr, db) for db in (-20.0, -24.0, -26.0, -30.0, -33.0)], axis=1)
    assert integrated_loudness(y, sr) == pytest.approx(reference(y, sr), abs=PYLOUDNORM_TOLERANCE)


def test_six_channels_weights_and_lfe(rng):
    """5.1 in L, R, C, LFE, Ls, Rs order: surrounds at 1.41, LFE not measured.

    pyloudnorm takes at most five channels, with gains fixed to 1, 1, 1, 1.41, 1.41 for
    L, R, C, Ls, Rs (a local list, not a setting), so it measures the same mix without the LFE.
    """
    sr = 48000
    y = np.stack([pink(rng, 5.0, sr, db) for db in (-20.0, -22.0, -25.0, -10.0, -28.0, -31.0)], axis=1)
    ours = integrated_loudness(y, sr)
    assert ours == pytest.approx(reference(y[:, [0, 1, 2, 4, 5]], sr), abs=PYLOUDNORM_TOLERANCE)
    silent_lfe = y.copy()
    silent_lfe[:, 3] = 0.0
    assert integrated_loudness(silent_lfe, sr) == pytest.approx(ours, abs=1e-9)
    np.testing.assert_array_equal(channel_weights(6), [1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    np.testing.assert_array_equal(channel_weights(5), [1.0, 1.0, 1.0, 1.41, 1.41])
    np.testing.assert_array_equal(channel_weights(4), [1.0, 1.0, 1.0, 1.0])


def test_weights_override(rng):
    sr = 44100
    y = np.stack([pink(rng, 5.0, sr), pink(rng, 5.0, sr, -26.0), pink(rng, 5.0, sr, -40.0)], axis=1)
    meter = LoudnessMeter(sr, 3, weights=[1.0, 1.41, 0.0])
    meter.add(y)
    expected = reference(np.stack([y[:, 0], np.zeros(len(y)), np.zeros(len(y)), y[:, 1]], axis=1), sr)
    assert meter.result().integrated_lufs == pytest.approx(expected, abs=PYLOUDNORM_TOLERANCE)
    with pytest.raises(ValueError):
        LoudnessMeter(sr, 3, weights=[1.0, 1.0])


@pytest.mark.parametrize("sr", [44100, 48000])
def test_reference_levels(sr):
    """BS.1770-4: a 997 Hz sine at 0 dBFS in one channel reads -3.01 LUFS; EBU Tech 3341 case 1."""
    assert integrated_loudness(tone(997.0, 0.0, 5.0, sr), sr) == pytest.approx(-3.01, abs=0.01)
    assert integrated_loudness(tone(1000.0, 0.0, 5.0, sr), sr) == pytest.approx(-3.01, abs=0.02)
    both = np.stack([tone(997.0, -18.0, 5.0, sr)] * 2, axis=1)
    assert integrated_loudness(both, sr) == pytest.approx(-18.0, abs=0.01)
    both = np.stack([tone(1000.0, -23.0, 20.0, sr)] * 2, axis=1)
    assert integrated_loudness(both, sr) == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize(
    "levels",
    [
        [(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)],  # EBU Tech 3341 case 3
        [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)],  # case 4
    ],
)
def test_ebu_tech_3341_gating_cases(levels):
    sr = 8000  # the cases are level steps of a 1 kHz tone; a low rate keeps the test quick
    y = np.concatenate([tone(1000.0, db, seconds, sr) for db, seconds in levels])
    stereo = np.stack([y, y], axis=1)
    expected = integrated_loudness(np.stack([tone(1000.0, -23.0, 20.0, sr)] * 2, axis=1), sr)
    assert integrated_loudness(stereo, sr) == pytest.approx(expected, abs=0.1)


def test_k_weighting_is_the_standards_at_48k_and_consistent_elsewhere():
    standard = np.array([
        [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ])
    np.testing.assert_allclose(k_weighting(48000), standard, rtol=0, atol=1e-12)
    import scipy.signal

    def gain_db(sr: int, freq: float) -> float:
        _, h = scipy.signal.sosfreqz(k_weighting(sr), worN=[freq], fs=sr)
        return float(20 * np.log10(abs(h[0])))

    for freq in (30.0, 100.0, 997.0, 3000.0):
        for sr in (44100, 96000, 192000):
            assert gain_db(sr, freq) == pytest.approx(gain_db(48000, freq), abs=0.03), (freq, sr)
    with pytest.raises(ValueError):
        k_weighting(3000)


def test_silence_and_too_short():
    sr = 44100
    for y in (np.zeros((3 * sr, 2), np.float32), np.zeros((0, 2), np.float32)):
        r = loudness_of(y, sr)
        assert r.integrated_lufs == -np.inf
        assert r.peak_db == -np.inf
        assert r.true_peak_db == -np.inf
        assert r.momentary_max_lufs == -np.inf
        assert np.all(r.short_term == -np.inf)
        assert len(r.short_term) == len(y) // sr
    short = loudness_of(tone(1000.0, -6.0, 0.3, sr), sr)  # no complete 400 ms block
    assert short.integrated_lufs == -np.inf
    assert short.peak_db == pytest.approx(-6.0, abs=0.01)
    assert short.duration == pytest.approx(0.3)
    quiet = loudness_of(tone(1000.0, -75.0, 3.0, sr), sr)  # below the absolute gate
    assert quiet.integrated_lufs == -np.inf
    assert np.isfinite(quiet.momentary_max_lufs)


def test_non_finite_samples_count_as_zero(rng):
    sr = 22050
    y = pink(rng, 4.0, sr).astype(np.float32)
    broken = y.copy()
    broken[1000] = np.nan
    broken[5000] = np.inf
    broken[9000] = -np.inf
    clean = y.copy()
    clean[[1000, 5000, 9000]] = 0.0
    a, b = loudness_of(broken, sr), loudness_of(clean, sr)
    assert np.isfinite(a.integrated_lufs)
    assert a.integrated_lufs == b.integrated_lufs
    assert a.true_peak_db == b.true_peak_db
    np.testing.assert_array_equal(a.short_term, b.short_term)


def _feed(y: np.ndarray, sr: int, cuts: list[int]) -> Loudness:
    meter = LoudnessMeter(sr, y.shape[1])
    edges = [0, *sorted(cuts), len(y)]
    for lo, hi in zip(edges[:-1], edges[1:]):
        meter.add(y[lo:hi])
    return meter.result()


SPLIT_SIGNAL = np.concatenate(
    [
        np.random.default_rng(5).standard_normal((44100, 2)) * 0.05,
        np.stack([tone(3000.0, -1.0, 1.5, 44100, 0.3)] * 2, axis=1),
        np.zeros((3000, 2)),
        np.stack([tone(200.0, -30.0, 1.2, 44100), tone(11025.0, -3.0, 1.2, 44100, np.pi / 4)], axis=1),
    ]
).astype(np.float32)
WHOLE = _feed(SPLIT_SIGNAL, 44100, [])


def _assert_same(a: Loudness, b: Loudness) -> None:
    assert a.integrated_lufs == pytest.approx(b.integrated_lufs, abs=1e-6)
    assert a.momentary_max_lufs == pytest.approx(b.momentary_max_lufs, abs=1e-6)
    assert a.peak_db == b.peak_db
    assert a.true_peak_db == pytest.approx(b.true_peak_db, abs=1e-5)
    np.testing.assert_allclose(a.short_term, b.short_term, atol=1e-5)
    assert a.duration == b.duration


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, len(SPLIT_SIGNAL)), max_size=12))
def test_block_split_invariance(cuts):
    _assert_same(_feed(SPLIT_SIGNAL, 44100, cuts), WHOLE)


def test_tiny_and_huge_blocks():
    meter = LoudnessMeter(44100, 2)
    for i in range(20000):
        meter.add(SPLIT_SIGNAL[i:i + 1])
    meter.add(SPLIT_SIGNAL[20000:20003])
    meter.add(SPLIT_SIGNAL[20003:])
    _assert_same(meter.result(), WHOLE)


def test_result_can_be_taken_midway():
    meter = LoudnessMeter(44100, 2)
    meter.add(SPLIT_SIGNAL[:50000])
    early = meter.result()
    assert early.duration == pytest.approx(50000 / 44100)
    meter.add(SPLIT_SIGNAL[50000:])
    _assert_same(meter.result(), WHOLE)


def test_float64_and_mono_inputs(rng):
    sr = 44100
    y = pink(rng, 3.0, sr)
    as32 = loudness_of(y.astype(np.float32), sr)
    as64 = loudness_of(y, sr)
    assert as64.integrated_lufs == pytest.approx(as32.integrated_lufs, abs=1e-5)
    assert loudness_of(y[:, None], sr).integrated_lufs == as64.integrated_lufs
    with pytest.raises(ValueError):
        LoudnessMeter(sr, 2).add(y)


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
def test_true_peak_of_inter_sample_peak(sr):
    """A sine at fs/4 sampled at 45° never hits its crest: samples are 3.01 dB below it."""
    y = tone(sr / 4, -1.0, 2.0, sr, np.pi / 4)
    r = loudness_of(np.stack([y, 0.5 * y], axis=1), sr)
    assert r.peak_db == pytest.approx(-1.0 - 3.01, abs=0.01)
    assert r.true_peak_db == pytest.approx(-1.0, abs=0.5)
    # The abrupt start and end ring (+0.1 dB, as a DAC would); with 10 ms fades the reading is
    # what the interpolator achieves at fs/4.
    fade = 0.5 - 0.5 * np.cos(np.pi * np.arange(sr // 100) / (sr // 100))
    y[:fade.size] *= fade
    y[-fade.size:] *= fade[::-1]
    assert loudness_of(y, sr).true_peak_db == pytest.approx(-1.0, abs=0.02)


def test_true_peak_tracks_sample_peak_where_no_oversampling():
    sr = 192000
    y = tone(sr / 4, -1.0, 1.0, sr, np.pi / 4)
    r = loudness_of(y, sr)
    assert r.true_peak_db == r.peak_db


def test_true_peak_of_clipped_noise(rng):
    """Every inter-sample value is checked: the maximum equals a full 4x interpolation's."""
    from dancer.analysis.loudness import _TP_BETA, _TP_TAPS, _interpolation_kernel

    sr = 44100
    y = np.clip(rng.standard_normal(20000) * 0.5, -0.9, 0.9).astype(np.float32)
    kernel = _interpolation_kernel(4, _TP_TAPS, _TP_BETA)
    padded = np.concatenate([np.zeros(_TP_TAPS), y, np.zeros(_TP_TAPS)]).astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(padded, _TP_TAPS)
    brute = max(np.abs(windows @ kernel).max(), np.abs(y).max())
    assert loudness_of(y, sr).true_peak_db == pytest.approx(20 * np.log10(brute), abs=1e-5)
    assert 20 * np.log10(brute) > 20 * np.log10(0.9) + 0.5  # clipping made real inter-sample overs


def test_short_term_series_on_level_steps():
    sr = 48000
    y = np.concatenate([tone(1000.0, -20.0, 10.0, sr), tone(1000.0, -30.0, 10.5, sr)])
    r = loudness_of(y, sr)
    assert r.short_term.dtype == np.float32
    assert len(r.short_term) == 21  # ceil(20.5 s)
    high = integrated_loudness(tone(1000.0, -20.0, 10.0, sr), sr)
    low = high - 10.0
    np.testing.assert_allclose(r.short_term[0:9], high, atol=0.01)  # windows [k-1, k+2) inside the -20 part
    np.testing.assert_allclose(r.short_term[11:21], low, atol=0.01)
    # Second 9 is centred on 9.5 s: its window [8, 11) holds 2 s of the loud part and 1 s of the quiet.
    def mix(loud_seconds: int) -> float:
        return 10 * np.log10((loud_seconds * 10 ** (high / 10) + (3 - loud_seconds) * 10 ** (low / 10)) / 3)

    assert r.short_term[9] == pytest.approx(mix(2), abs=0.01)
    assert r.short_term[10] == pytest.approx(mix(1), abs=0.01)
    assert r.momentary_max_lufs == pytest.approx(high, abs=0.01)
    assert not r.short_term.flags.writeable


def test_rates_not_multiple_of_ten():
    sr = 11025  # a 100 ms step is 1102.5 samples
    y = tone(1000.0, -20.0, 5.0, sr)
    r = loudness_of(y, sr)
    assert r.integrated_lufs == pytest.approx(reference(y, sr), abs=PYLOUDNORM_TOLERANCE)
    assert len(r.short_term) == 5
    np.testing.assert_allclose(r.short_term, r.integrated_lufs, atol=0.02)
