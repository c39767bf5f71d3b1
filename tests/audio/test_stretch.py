"""Tempo-matched sources on synthetic kick trains at known tempi: beats measured on the rendered audio."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dancer.audio.stretch import ArrayReader, TempoMatchedSource, open_file_source
from dancer.plan.transition import FOLD_COST, LIMIT, transition_ratio
from dancer.timemap import RateCurve, approach_curve, crossfade_curve, match_curve

SR = 44100
BLOCK = 4096
OVERLAP_BEATS = 16


def kick_train(bpm: float, seconds: float, *, offset: float = 0.3, sr: int = SR) -> np.ndarray:
    """Stereo kicks (a pitch-dropping sine that starts at its peak, so the onset is one sample) on
    every beat ``offset + k * 60 / bpm``, with a quiet tone under them."""
    n = round(seconds * sr)
    t = np.arange(n) / sr
    y = 0.02 * np.sin(2 * np.pi * 330 * t)
    tk = np.arange(round(0.12 * sr)) / sr
    kick = np.cos(2 * np.pi * (50 * tk + 1.2 * (1 - np.exp(-tk / 0.012)))) * np.exp(-tk / 0.04)
    for b in np.arange(offset, seconds - 0.2, 60 / bpm):
        i = round(b * sr)
        y[i:i + len(kick)] += 0.8 * kick[:n - i]
    return np.stack([y, 0.9 * y], axis=1).astype(np.float32)


def kick_onsets(y: np.ndarray, near: np.ndarray, *, sr: int = SR) -> np.ndarray:
    """Onset (s) of the kick nearest each expected time: first sample above half the window's peak."""
    x = np.abs(y[:, 0])
    w = round(0.05 * sr)
    out = []
    for t in near:
        i = round(t * sr)
        lo, hi = max(i - w, 0), min(i + w, len(x))
        seg = x[lo:hi]
        out.append((lo + int(np.argmax(seg > 0.5 * seg.max()))) / sr)
    return np.array(out)


def render(source: np.ndarray, curve: RateCurve, n0: int, total: int, *,
           block: int | list[int] = BLOCK) -> np.ndarray:
    origin = TempoMatchedSource.origin_for(curve, n0, SR)
    src = TempoMatchedSource(ArrayReader(source, origin).read, curve, sample_rate=SR, origin=origin,
                             channels=source.shape[1])
    sizes = iter(block) if isinstance(block, list) else None
    parts, at = [], n0
    while at < n0 + total:
        k = min(next(sizes) if sizes is not None else block, n0 + total - at)
        parts.append(src.render(at, k))
        at += k
    return np.concatenate(parts)


def crossfade(out_bpm: float, in_bpm: float, *, matched: bool = True, start: float = 4.0):
    """Render the outgoing kicks plainly and the incoming kicks through their curve over a 16-beat
    overlap starting at timeline ``start`` (the outgoing track's beat there is the first shared
    one). Returns (outgoing onsets, incoming onsets, fold), all measured on the rendered audio."""
    out_offset, in_offset = 0.3, 0.7
    outgoing = kick_train(out_bpm, 40.0, offset=out_offset)
    incoming = kick_train(in_bpm, 40.0, offset=in_offset)
    period = 60 / out_bpm
    first = out_offset + round((start - out_offset) / period) * period
    tr = transition_ratio(out_bpm, in_bpm)
    ratio = tr.ratio if matched else 1.0
    last = first + (OVERLAP_BEATS - 1) * period
    curve = match_curve(beat_timeline=first, beat_source=in_offset + 2 * 60 / in_bpm, ratio=ratio,
                        hold_until=last, glide=16 * period, sample_rate=SR)
    n0 = round((first - period / 2) * SR)
    total = round(OVERLAP_BEATS * period * SR)
    heard_in = render(incoming, curve, n0, total)
    heard_out = outgoing[n0:n0 + total]
    grid = first + np.arange(OVERLAP_BEATS) * period - n0 / SR
    onsets_out = kick_onsets(heard_out, grid)
    step = period / (tr.fold if matched else 1.0)
    count = int(np.floor((OVERLAP_BEATS - 1) * period / step + 1e-9)) + 1
    onsets_in = kick_onsets(heard_in, grid[0] + np.arange(count) * step)
    return onsets_out, onsets_in, tr.fold


def grid_error(onsets_out: np.ndarray, onsets_in: np.ndarray, fold: float) -> np.ndarray:
    """|distance| (s) of each incoming kick to the outgoing pulse it should sit on: the outgoing
    kicks, and halfway between them when the incoming track runs at double time."""
    pulse = onsets_out
    if fold == 2.0:
        pulse = np.sort(np.concatenate([onsets_out, (onsets_out[1:] + onsets_out[:-1]) / 2]))
    return np.min(np.abs(onsets_in[:, None] - pulse[None, :]), axis=1)


PAIRS = [(116.0, 122.0), (122.0, 127.0), (127.0, 131.0), (131.0, 124.0), (124.0, 118.0), (118.0, 116.0),
         (124.0, 62.0), (120.0, 244.0)]


@pytest.mark.parametrize(("out_bpm", "in_bpm"), PAIRS)
def test_every_incoming_kick_lands_within_10_ms_of_the_outgoing_kick(out_bpm, in_bpm):
    onsets_out, onsets_in, fold = crossfade(out_bpm, in_bpm)
    assert len(onsets_in) >= OVERLAP_BEATS * min(fold, 1.0) - 1
    err = grid_error(onsets_out, onsets_in, fold)
    assert err.max() < 0.010, (out_bpm, in_bpm, np.round(err * 1e3, 2))
    assert err.max() < 0.001, "varispeed on an exact curve is sample-accurate; 1 ms is already a loss"


@pytest.mark.parametrize(("out_bpm", "in_bpm"), [(116.0, 122.0), (124.0, 118.0), (122.0, 127.0)])
def test_without_matching_the_same_crossfade_drifts(out_bpm, in_bpm):
    """The control: aligned on the first beat only, the incoming kicks walk off the grid."""
    onsets_out, onsets_in, _ = crossfade(out_bpm, in_bpm, matched=False)
    err = grid_error(onsets_out, onsets_in, 1.0)
    assert err[0] < 0.001, "the first shared beat is aligned either way"
    assert err.max() > 0.030


def test_blockwise_rendering_equals_one_shot():
    source = kick_train(118.0, 30.0)
    curve = match_curve(beat_timeline=2.0, beat_source=0.3, ratio=124 / 118, hold_until=9.0, glide=7.7,
                        sample_rate=SR)
    total = 22 * SR
    whole = render(source, curve, 0, total, block=total)
    rng = np.random.default_rng(7)
    assert np.array_equal(render(source, curve, 0, total), whole)
    assert np.array_equal(render(source, curve, 0, total, block=list(rng.integers(1, 9000, 400))), whole)
    assert np.array_equal(render(source, curve, 5 * SR, 3 * SR, block=1000), whole[5 * SR:8 * SR]), \
        "a source opened mid-curve renders the same samples"


def test_after_the_glide_the_track_is_copied_at_a_whole_sample_lag():
    source = kick_train(118.0, 30.0)
    curve = match_curve(beat_timeline=2.0, beat_source=0.3, ratio=0.95, hold_until=9.0, glide=7.7,
                        sample_rate=SR)
    assert curve.final_rate == 1.0
    lag = float(curve.source_time(20.0) - 20.0) * SR
    assert abs(lag - round(lag)) < 1e-6
    y = render(source, curve, 0, 24 * SR)
    k = round(lag)
    assert np.array_equal(y[18 * SR:24 * SR], source[18 * SR + k:24 * SR + k])


def test_the_glide_back_to_1_has_no_rate_jumps():
    ratio, hold, glide = 1.06, 8.0, 8.0
    curve = match_curve(beat_timeline=1.0, beat_source=0.5, ratio=ratio, hold_until=hold, glide=glide,
                        sample_rate=SR)
    rate = curve.rate_at(np.arange(20 * SR) / SR)
    assert rate[0] == pytest.approx(ratio) and rate[-1] == 1.0
    step = np.abs(np.diff(rate))
    assert step.max() <= (ratio - 1) / (glide * SR) * 1.001, "the rate moves at most one glide step a sample"
    # ... and so does the pitch of a tone rendered through it, measured on the audio.
    t = np.arange(30 * SR) / SR
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    y = render(np.stack([tone, tone], axis=1), curve, 0, 20 * SR)[:, 0]
    import scipy.signal

    phase = np.unwrap(np.angle(scipy.signal.hilbert(y.astype(np.float64))))
    # The source starts 0.56 s into the timeline (silence before it); 10 ms steps from 1 s on.
    freq = np.diff(phase)[SR:-SR // 10] * SR / (2 * np.pi)
    ms = freq[:len(freq) // 441 * 441].reshape(-1, 441).mean(axis=1)
    assert ms[:300].mean() == pytest.approx(440 * ratio, abs=0.05)
    assert ms[-150:].mean() == pytest.approx(440.0, abs=0.05)
    assert np.abs(np.diff(ms)).max() < 0.2, "pitch glides in steps far below a cent per 10 ms"


def test_rate_curve_maps_are_exact_inverses_and_integrate_the_rate():
    rng = np.random.default_rng(3)
    times = tuple(np.cumsum(rng.uniform(0.5, 4.0, 6)))
    rates = tuple(rng.uniform(0.9, 1.1, 6))
    curve = RateCurve(times, rates, 1.25)
    t = np.linspace(-3.0, times[-1] + 5.0, 200001)
    s = curve.source_time(t)
    assert np.abs(curve.timeline_time(s) - t).max() < 1e-9
    numeric = s[0] + np.concatenate([[0.0], np.cumsum(0.5 * (curve.rate_at(t[1:]) + curve.rate_at(t[:-1]))
                                                       * np.diff(t))])
    assert np.abs(numeric - s).max() < 1e-8
    assert np.all(np.diff(s) > 0)
    assert float(curve.source_time(times[0])) == 1.25


def test_match_curve_aligns_the_first_shared_beat_and_holds_the_ratio():
    curve = match_curve(beat_timeline=10.0, beat_source=3.0, ratio=1.04, hold_until=18.0, glide=6.0,
                        sample_rate=SR)
    assert float(curve.source_time(10.0)) == pytest.approx(3.0, abs=0.5 / SR)
    assert curve.rate_at(0.0) == pytest.approx(1.04) and curve.rate_at(18.0) == pytest.approx(1.04)
    assert curve.rate_at(24.0) == 1.0
    # Beats of the incoming track land where the inverse map says, 1.04 x faster until the glide.
    beats = 3.0 + np.arange(8) * 0.5
    assert np.allclose(np.diff(curve.timeline_time(beats)), 0.5 / 1.04)
    with pytest.raises(ValueError):
        match_curve(beat_timeline=0.0, beat_source=0.0, ratio=0.0, hold_until=1.0, glide=1.0)
    with pytest.raises(ValueError):
        RateCurve((0.0, 0.0), (1.0, 1.0), 0.0)


def test_a_file_streamed_from_disk_renders_like_the_array(tmp_path):
    source = kick_train(122.0, 20.0)
    path = tmp_path / "k.wav"
    sf.write(str(path), source, SR, subtype="FLOAT")
    curve = match_curve(beat_timeline=3.0, beat_source=1.0, ratio=127 / 122, hold_until=10.0, glide=7.0,
                        sample_rate=SR)
    n0 = 2 * SR
    src = open_file_source(path, curve, first_sample=n0, sample_rate=SR)
    streamed = np.concatenate([src.render(n0 + k, BLOCK) for k in range(0, 12 * SR, BLOCK)])[:12 * SR]
    assert np.array_equal(streamed, render(source, curve, n0, 12 * SR))


# -- the planner's ratio -----------------------------------------------------------------------------


def test_transition_ratio_matches_close_tempi():
    tr = transition_ratio(126.0, 120.0)
    assert tr.matched and tr.fold == 1.0 and tr.ratio == pytest.approx(1.05)
    assert 0 < tr.cost < 1 and tr.semitones == pytest.approx(0.845, abs=0.01)
    assert transition_ratio(120.0, 120.0).cost == 0.0


@pytest.mark.parametrize(("out_bpm", "in_bpm", "fold", "ratio"), [
    (128.0, 64.0, 0.5, 1.0), (64.0, 128.0, 2.0, 1.0), (124.0, 62.0, 0.5, 1.0), (120.0, 244.0, 2.0, 240 / 244),
    (90.0, 174.0, 2.0, 180 / 174)])
def test_transition_ratio_folds_octaves(out_bpm, in_bpm, fold, ratio):
    tr = transition_ratio(out_bpm, in_bpm)
    assert tr.matched and tr.fold == fold and tr.ratio == pytest.approx(ratio)
    assert tr.cost >= FOLD_COST, "half or double time costs more than the same tempo"


def test_transition_ratio_refuses_pairs_past_the_limit():
    assert not transition_ratio(100.0, 120.0).matched
    far = transition_ratio(100.0, 120.0)
    assert far.ratio == 1.0 and far.cost == 0.0
    edge = transition_ratio(108.0, 100.0)
    assert edge.matched and edge.cost == pytest.approx(1.0)
    assert not transition_ratio(108.5, 100.0).matched
    assert transition_ratio(104.0, 100.0, limit=0.06).matched
    assert not transition_ratio(107.0, 100.0, limit=0.06).matched
    costs = [transition_ratio(100.0 + d, 100.0).cost for d in (0, 1, 2, 4, 8)]
    assert costs == sorted(costs)
    assert LIMIT == 0.08


@pytest.mark.parametrize(("out_bpm", "in_bpm"), [(None, 120.0), (120.0, None), (0.0, 120.0), (120.0, -1.0),
                                                 (float("nan"), 120.0)])
def test_transition_ratio_never_matches_beatless_or_unknown_tempi(out_bpm, in_bpm):
    tr = transition_ratio(out_bpm, in_bpm)
    assert not tr.matched and tr.ratio == 1.0


# -- curves fitted to beat grids, and both tracks meeting halfway ------------------------------------


def test_a_curve_fitted_to_jittery_beat_grids_keeps_the_kicks_together():
    """Trackers report beats a few ms off; the ratio comes from lines fitted to both grids."""
    rng = np.random.default_rng(11)
    out_bpm, in_bpm, out_offset, in_offset = 127.0, 121.0, 0.3, 0.45
    outgoing = kick_train(out_bpm, 40.0, offset=out_offset)
    incoming = kick_train(in_bpm, 40.0, offset=in_offset)
    out_grid = out_offset + np.arange(8, 8 + OVERLAP_BEATS) * 60 / out_bpm
    in_grid = in_offset + np.arange(2, 2 + OVERLAP_BEATS) * 60 / in_bpm
    curve = crossfade_curve(out_grid + rng.normal(0, 0.003, OVERLAP_BEATS),
                            in_grid + rng.normal(0, 0.003, OVERLAP_BEATS),
                            fold=transition_ratio(out_bpm, in_bpm).fold, sample_rate=SR)
    n0 = round((out_grid[0] - 0.2) * SR)
    total = round((out_grid[-1] - out_grid[0] + 0.4) * SR)
    onsets_out = kick_onsets(outgoing[n0:n0 + total], out_grid - n0 / SR)
    onsets_in = kick_onsets(render(incoming, curve, n0, total), out_grid - n0 / SR)
    err = np.abs(onsets_in - onsets_out)
    assert err.max() < 0.004, np.round(err * 1e3, 2)


def test_both_tracks_can_meet_halfway_with_half_the_pitch_shift_each():
    out_bpm, in_bpm, out_offset, in_offset = 124.0, 116.0, 0.3, 0.45
    ratio = transition_ratio(out_bpm, in_bpm).ratio
    outgoing = kick_train(out_bpm, 40.0, offset=out_offset)
    incoming = kick_train(in_bpm, 40.0, offset=in_offset)
    out_source_beats = out_offset + np.arange(60) * 60 / out_bpm
    shared = 16.0
    lead = approach_curve(start=0.0, source_in=0.0, rate=1 / np.sqrt(ratio),
                          reach_at=float(out_source_beats[32]), glide=shared * 60 / out_bpm)
    out_timeline = lead.timeline_time(out_source_beats)
    overlap = out_timeline[32:32 + OVERLAP_BEATS]
    in_source_beats = in_offset + np.arange(2, 2 + OVERLAP_BEATS) * 60 / in_bpm
    follow = crossfade_curve(overlap, in_source_beats, sample_rate=SR)
    assert follow.rates[0] == pytest.approx(np.sqrt(ratio), rel=1e-6)
    assert lead.final_rate - 1 == pytest.approx(1 / np.sqrt(ratio) - 1)
    n0 = round((overlap[0] - 0.2) * SR)
    total = round((overlap[-1] - overlap[0] + 0.4) * SR)
    heard_out = render(outgoing, lead, n0, total)
    heard_in = render(incoming, follow, n0, total)
    onsets_out = kick_onsets(heard_out, overlap - n0 / SR)
    onsets_in = kick_onsets(heard_in, overlap - n0 / SR)
    assert np.abs(onsets_out - (overlap - n0 / SR)).max() < 0.001, "outgoing beats fall where its curve says"
    assert np.abs(onsets_in - onsets_out).max() < 0.001


@pytest.mark.parametrize("start", [0, 3 * SR, 7 * SR + 123])
def test_a_48_khz_mono_file_lands_its_beats_on_the_44_1_khz_timeline(tmp_path, start):
    """Decoded, resampled by soxr, then matched: the beats fall where the curve predicts,
    whatever timeline sample the source is opened at."""
    path = tmp_path / "k48.wav"
    sf.write(str(path), kick_train(121.0, 30.0, offset=0.4, sr=48000)[:, :1], 48000, subtype="FLOAT")
    beats = 0.4 + np.arange(50) * 60 / 121
    curve = match_curve(beat_timeline=5.0, beat_source=beats[4], ratio=1.04, hold_until=12.0, glide=6.0,
                        sample_rate=SR)
    src = open_file_source(path, curve, first_sample=start, sample_rate=SR)
    total = 15 * SR
    y = np.concatenate([src.render(start + k, BLOCK) for k in range(0, total, BLOCK)])[:total]
    predicted = curve.timeline_time(beats) - start / SR
    predicted = predicted[(predicted > 0.1) & (predicted < 14.9)]
    assert np.abs(kick_onsets(y, predicted) - predicted).max() < 0.0002


def test_an_entry_curve_can_arrive_matched_then_approach_the_next_track():
    arrive = match_curve(beat_timeline=2.0, beat_source=0.5, ratio=1.05, hold_until=9.0, glide=7.0)
    both = arrive.then_glide(0.97, start=60.0, end=68.0)
    t = np.linspace(0.0, 80.0, 8001)
    assert np.array_equal(both.source_time(t[t <= 60.0]), arrive.source_time(t[t <= 60.0]))
    assert both.rate_at(30.0) == 1.0 and both.rate_at(70.0) == pytest.approx(0.97)
    assert np.abs(np.diff(both.rate_at(np.arange(0, 80 * SR, 7) / SR))).max() < 1e-5, "no rate jumps"
    assert np.abs(both.timeline_time(both.source_time(t)) - t).max() < 1e-9
    with pytest.raises(ValueError):
        arrive.then_glide(1.0, start=5.0, end=20.0)
