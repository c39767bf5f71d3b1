"""The mixer on synthesised tracks whose beats, levels and rates are known exactly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
from synth import BEAT, SR, chain, render, synth_track

from dancer.analysis.loudness import integrated_loudness
from dancer.audio.mixer import QUANTUM, Mixer
from dancer.audio.render import render_to_file
from dancer.audio.timeline import MixSettings, Timeline, VoiceClip, entry_gain_db
from dancer.model import PlanEntry, Tags, Track

#: Low enough that the limiter never acts: renders are then linear and can be subtracted.
EXACT = MixSettings(target_lufs=-20.0, end_fade=0.0)


def onsets(y: np.ndarray, sr: int, hz: float, near: np.ndarray, window: float = 0.05) -> np.ndarray:
    """Onset time of the click band around ``hz`` nearest each time in ``near`` (NaN when none)."""
    sos = scipy.signal.butter(4, [hz / 1.3, hz * 1.3], btype="bandpass", fs=sr, output="sos")
    env = np.abs(scipy.signal.sosfiltfilt(sos, y.mean(axis=1)))
    found = []
    for t in near:
        lo, hi = int((t - window) * sr), int((t + window) * sr)
        seg = env[max(lo, 0):hi]
        if len(seg) == 0 or seg.max() < 1e-3:
            found.append(np.nan)
            continue
        found.append((max(lo, 0) + np.flatnonzero(seg >= 0.5 * seg.max())[0]) / sr)
    return np.array(found)


@pytest.fixture
def pair(tmp_path):
    a = synth_track(tmp_path / "a.wav", click_hz=800.0, offset=0.25)
    b = synth_track(tmp_path / "b.flac", click_hz=3000.0, offset=0.41, sr=48000, channels=1, tone_hz=165.0)
    return a, b


def test_crossfade_starts_on_the_outgoing_phrase_boundary(pair):
    a, b = pair
    e1, e2 = chain([a, b])
    boundary = a.analysis.phrases[3] - a.analysis.phrases[0]
    assert e2.start == pytest.approx(boundary)
    s = round(boundary * SR)
    full = render(Timeline([e1, e2], settings=EXACT))
    a_part = render(Timeline([e1], settings=EXACT), seconds=len(full) / SR)
    first_b = np.flatnonzero(np.abs(full - a_part).max(axis=1) > 0)[0]
    assert first_b in (s, s + 1)
    a_unfaded = render(Timeline([replace(e1, fade_out=0.0)], settings=EXACT), seconds=len(full) / SR)
    # The outgoing gain is cos(pi/2 (n - s) / F): recover s from the gain a quarter of the way in.
    fade = round(e1.fade_out * SR)
    probe = s + fade // 4 + int(np.argmax(np.abs(a_unfaded[s + fade // 4:s + fade // 4 + 2000, 0])))
    gain = a_part[probe, 0] / a_unfaded[probe, 0]
    assert probe - 2 * fade / np.pi * np.arccos(gain) == pytest.approx(s, abs=1.0)
    # The incoming file's first phrase (a downbeat) is its first sample on the timeline.
    assert e2.source_in == b.analysis.downbeats[0]


def test_incoming_onsets_sit_on_the_outgoing_beat_grid(pair):
    a, b = pair
    e1, e2 = chain([a, b])
    y = render(Timeline([e1, e2]))
    grid = e1.start + np.array(a.analysis.beats) - e1.source_in
    overlap = grid[(grid >= e2.start + 2 * BEAT) & (grid < e1.end - 2 * BEAT)]
    assert len(overlap) >= 4
    out_on = onsets(y, SR, 800.0, overlap)
    in_on = onsets(y, SR, 3000.0, overlap)
    assert not np.isnan(out_on).any() and not np.isnan(in_on).any()
    assert np.abs(in_on - out_on).max() < 0.010


def test_every_track_plays_at_the_target_loudness(tmp_path):
    tracks = [
        synth_track(tmp_path / "quiet.wav", gain_db=-3.0, click_hz=700.0),
        synth_track(tmp_path / "loud.flac", tone=0.35, click=0.4, click_hz=1500.0, sr=48000),
        synth_track(tmp_path / "mono.wav", gain_db=-1.0, channels=1, click_hz=2500.0),
    ]
    levels = [t.analysis.loudness_lufs for t in tracks]
    assert max(levels) - min(levels) > 10.0
    entries = chain(tracks, phrases=6)
    y = render(Timeline(entries))
    for i, e in enumerate(entries):
        solo_from = e.start + e.fade_in + 0.5
        solo_to = (entries[i + 1].start if i + 1 < len(entries) else e.end - 6.0) - 0.5
        seg = y[round(solo_from * SR):round(solo_to * SR)]
        assert integrated_loudness(seg, SR) == pytest.approx(-16.0, abs=1.0), e.track.name
    assert np.abs(y).max() <= 10 ** (-1 / 20)


def test_limiter_holds_samples_and_true_peaks_under_the_ceiling(tmp_path):
    # Quiet on average but with full-scale clicks: the boost alone would drive peaks far over the ceiling.
    t = synth_track(tmp_path / "spiky.wav", tone=0.03, click=0.95, click_hz=5000.0, bpm=30.0)
    assert entry_gain_db(t, MixSettings()) > 7.0
    y = render(Timeline([PlanEntry(t, "groove", 0.0, 0.0, 20.0, 0.0, 1.0)]))
    ceiling = 10 ** (-1 / 20)
    assert np.abs(y).max() <= ceiling
    assert np.abs(y).max() > 0.8 * ceiling, "the limiter reduces peaks, it does not squash everything"
    over = scipy.signal.resample_poly(y, 4, 1, axis=0)
    assert 20 * np.log10(np.abs(over).max()) <= -1.0 + 0.3


def test_output_does_not_depend_on_block_size_and_files_match(pair, tmp_path):
    a, b = pair
    tl = Timeline(chain([a, b], phrases=2))
    small = render(tl, block=1000)
    large = render(tl, block=3 * QUANTUM + 7)
    assert np.array_equal(small, large)
    seen = []
    seconds = render_to_file(tl, tmp_path / "out.wav", subtype="FLOAT",
                             progress=lambda d, t: seen.append((d, t)))
    written, sr = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    assert sr == SR and seconds == pytest.approx(tl.length, abs=1 / SR)
    assert np.array_equal(written, small)
    assert seen[-1][0] == pytest.approx(seen[-1][1])
    for suffix in (".flac", ".ogg"):
        render_to_file(tl, tmp_path / f"out{suffix}")
        info = sf.info(str(tmp_path / f"out{suffix}"))
        assert info.channels == 2 and info.duration == pytest.approx(tl.length, abs=0.05)
    assert not list(tmp_path.glob(".*.part"))


def test_sixteen_bit_render_is_dithered_and_close(pair, tmp_path):
    a, b = pair
    tl = Timeline(chain([a, b], phrases=2))
    render_to_file(tl, tmp_path / "out.wav")
    written, _ = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    assert sf.info(str(tmp_path / "out.wav")).subtype == "PCM_16"
    assert np.abs(written - render(tl)).max() < 3 / 32768


def test_session_ends_with_a_fade_out(pair):
    a, _ = pair
    e = PlanEntry(a, "cool", 0.0, 0.0, 20.0, 0.0, 0.0, "start")
    y = render(Timeline([e]))
    rms = [np.sqrt(np.mean(y[round(t * SR):round((t + 0.5) * SR)] ** 2)) for t in (10.0, 16.0, 18.0, 19.4)]
    assert rms[0] > rms[1] > rms[2] > rms[3]
    assert np.abs(y[-10:]).max() < 1e-3


def test_position_seek_and_finish(pair):
    a, b = pair
    tl = Timeline(chain([a, b], phrases=2), settings=EXACT)
    m = Mixer(tl, start=3.0)
    assert m.position == pytest.approx(3.0, abs=1 / SR)
    m.render_block(SR)
    assert m.position == pytest.approx(4.0, abs=1 / SR)
    reference = render(tl, seconds=3.0)
    # Sample-exact where the source needs no resampling (A, alone until 3.87 s).
    m.seek(1.0)
    assert np.array_equal(m.render_block(SR), reference[SR:2 * SR])
    m.seek(tl.length - 0.5)
    assert not m.finished
    m.render_block(SR)
    assert m.finished


def _click_bound(plain: np.ndarray) -> float:
    """Largest sample step a crossfade of two of these sines can make: any click is far above it."""
    return 2.1 * float(np.abs(np.diff(plain, axis=0)).max())


@pytest.fixture
def tones(tmp_path):
    """Tracks that are pure sines with a beat grid in their analysis: any click shows in ``diff``."""
    a = synth_track(tmp_path / "sa.wav", tone_hz=220.0, tone=0.2, click=0.0)
    b = synth_track(tmp_path / "sb.wav", tone_hz=330.0, tone=0.2, click=0.0, offset=0.33)
    c = synth_track(tmp_path / "sc.wav", tone_hz=275.0, tone=0.2, click=0.0, offset=0.1)
    return a, b, c


def test_skip_crossfades_on_the_beat_without_a_click(tones):
    a, b, c = tones
    entries = chain([a, b, c], phrases=4)
    tl = Timeline(entries)
    plain = render(tl)
    m = Mixer(tl)
    before = m.render_block(round(3.0 * SR))
    target = m.skip(1)
    assert target == 1
    at = m._pending.at
    grid = np.round((entries[0].start + np.array(a.analysis.beats) - entries[0].source_in) * SR)
    assert at in grid and at >= round(3.0 * SR)
    y = np.concatenate([before, render(tl, mixer=m, seconds=6.0)])
    assert np.array_equal(y[:at - 1], plain[:at - 1])
    assert not np.array_equal(y[at:at + SR], plain[at:at + SR])
    assert np.abs(np.diff(y, axis=0)).max() <= _click_bound(plain)
    # After the crossfade only B sounds, from its first downbeat after its planned fade-in.
    land = entries[1].start + entries[1].fade_in
    downs = entries[1].start + np.array(b.analysis.downbeats) - entries[1].source_in
    assert m.position == pytest.approx(downs[downs >= land - 1e-9][0] + (len(y) - at) / SR, abs=1 / SR)
    assert m.entry_at(m.position) == 1


def test_seek_jump_and_previous_have_no_click(tones):
    a, b, c = tones
    tl = Timeline(chain([a, b, c], phrases=4))
    plain = render(tl)
    bound = _click_bound(plain)
    m = Mixer(tl)
    parts = [m.render_block(2 * SR)]
    m.jump(m.cursor + 30.0)
    parts.append(m.render_block(SR))
    assert m.position == pytest.approx(33.0, abs=0.01)
    m.jump(m.cursor - 30.0)
    parts.append(m.render_block(SR))
    assert m.position == pytest.approx(4.0, abs=0.01)
    assert m.skip(-1) == 0
    parts.append(m.render_block(3 * SR))
    y = np.concatenate(parts)
    assert np.abs(np.diff(y, axis=0)).max() <= bound


def test_skipping_past_the_last_entry_fades_out_and_finishes(tones):
    a, b, _ = tones
    tl = Timeline(chain([a, b]))
    m = Mixer(tl, start=tl.length - 10.0)
    m.render_block(SR)
    assert m.skip(1) is None
    y = np.concatenate([m.render_block(QUANTUM) for _ in range(40)])
    assert m.finished
    assert np.abs(y[-QUANTUM:]).max() == 0.0


def test_voice_ducks_the_music_and_speaks_at_its_level(tmp_path):
    music = synth_track(tmp_path / "m.wav", click=0.0, tone=0.3, tone_hz=200.0, bpm=None)
    entry = PlanEntry(music, "groove", 0.0, 0.0, 20.0, 0.0, 1.0)
    t = np.arange(2 * SR) / SR
    speech = (0.05 * np.sin(2 * np.pi * 700 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    start = 8.0
    ducked = render(Timeline([entry], [VoiceClip(start, np.zeros_like(speech))]))
    spoken = render(Timeline([entry], [VoiceClip(start, speech)]))
    plain = render(Timeline([entry]))

    def level(y, t0, t1):
        return 20 * np.log10(np.sqrt(np.mean(y[round(t0 * SR):round(t1 * SR)] ** 2)))

    depth = level(plain, 8.5, 9.5) - level(ducked, 8.5, 9.5)
    assert depth == pytest.approx(11.0, abs=0.3)
    assert level(plain, 7.0, 7.8) - level(ducked, 7.0, 7.8) < 0.05, "no ducking well before the voice"
    assert level(plain, 7.99, 8.0) - level(ducked, 7.99, 8.0) > 10.0, "ducked within 100 ms, before the voice"
    assert 3.0 < level(plain, 10.25, 10.35) - level(ducked, 10.25, 10.35) < 8.0, "releasing"
    assert level(plain, 10.7, 11.3) - level(ducked, 10.7, 11.3) < 0.05, "released 600 ms after the voice"
    voice = spoken - ducked
    spoken_part = voice[round(start * SR):round((start + 2) * SR)]
    assert integrated_loudness(spoken_part, SR) == pytest.approx(-18.0, abs=0.5)


def test_missing_file_becomes_silence_with_a_warning(pair, tmp_path):
    a, b = pair
    ghost = Track(str(tmp_path / "gone.wav"), 1, 0.0, Tags("gone"), b.analysis)
    e1, e2 = chain([a, ghost], phrases=2)
    m = Mixer(Timeline([e1, e2]))
    y = render(Timeline([e1, e2]), mixer=m)
    assert any("gone.wav" in w for w in m.warnings)
    assert np.abs(y[round((e1.end + 0.1) * SR):]).max() == 0.0


def test_channel_mapping(tmp_path):
    mono = synth_track(tmp_path / "mono.wav", channels=1)
    y = render(Timeline([PlanEntry(mono, "groove", 0.0, 0.0, 10.0, 0.0, 1.0)]))
    assert np.array_equal(y[:, 0], y[:, 1])
    assert integrated_loudness(y[SR:3 * SR], SR) == pytest.approx(-16.0, abs=1.0)
    six = synth_track(tmp_path / "six.wav", channels=6)
    y = render(Timeline([PlanEntry(six, "groove", 0.0, 0.0, 10.0, 0.0, 1.0)]))
    assert y.shape == (10 * SR, 2) and np.abs(y).max() <= 10 ** (-1 / 20)
    assert integrated_loudness(y[SR:3 * SR], SR) == pytest.approx(-16.0, abs=4.0)


def test_entry_gain_handles_silence_and_caps_boost(pair):
    a, _ = pair
    s = MixSettings()
    silent = a.with_analysis(replace(a.analysis, loudness_lufs=float("-inf")))
    assert entry_gain_db(silent, s) == 0.0
    quiet = a.with_analysis(replace(a.analysis, loudness_lufs=-45.0))
    assert entry_gain_db(quiet, s) == 12.0
    assert entry_gain_db(Track("x", 0, 0.0, Tags("x"), None), s) == 0.0


def _speech(seconds: float = 1.5) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (0.05 * np.sin(2 * np.pi * 700 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_voice_added_while_rendering_sounds_as_if_planned(tones):
    a, b, _ = tones
    entries = chain([a, b], phrases=2)
    clip = VoiceClip(6.0, _speech())
    planned = render(Timeline(entries, [clip]))
    m = Mixer(Timeline(entries))
    head = m.render_block(3 * SR)
    m.add_voice(clip)
    live = np.concatenate([head, render(Timeline(entries), mixer=m, seconds=len(planned) / SR - 3)])
    assert np.array_equal(live, planned)


def test_voice_can_be_muted_and_brought_back(tones):
    a, b, _ = tones
    entries = chain([a, b], phrases=2)
    clips = [VoiceClip(4.0, _speech()), VoiceClip(9.0, _speech())]
    silent = render(Timeline(entries))
    m = Mixer(Timeline(entries, clips))
    m.set_voice_enabled(False)
    muted = m.render_block(7 * SR)
    m.set_voice_enabled(True)
    rest = m.render_block(len(silent) - 7 * SR)
    assert np.array_equal(muted, silent[:7 * SR]), "no voice and no ducking while muted"
    assert not np.array_equal(rest, silent[7 * SR:]), "the later clip speaks again"


def test_replanned_timeline_takes_over_without_a_seam(tones):
    a, b, c = tones
    old, new = chain([a, b], phrases=4), chain([a, c], phrases=4)
    assert old[0] == new[0] and old[1].start == new[1].start
    reference = render(Timeline(new))
    m = Mixer(Timeline(old))
    head = m.render_block(5 * SR)
    m.replace_timeline(Timeline(new))
    y = np.concatenate([head, render(Timeline(new), mixer=m, seconds=len(reference) / SR - 5)])
    assert m.timeline.entries[1].track == c
    assert np.allclose(y, reference, atol=1e-6)
