"""Voice over music: the same duck depth under every cue whatever the music's peaks, and a voice
that stays on top of loud and quiet music alike (#13)."""

from __future__ import annotations

import numpy as np
import pytest
from synth import SR, peaky_track, render, speech_like

from dancer.analysis.loudness import integrated_loudness, loudness_of
from dancer.audio.timeline import MixSettings, Timeline, VoiceClip
from dancer.model import PlanEntry

STARTS = (4.0, 11.0, 18.0, 25.0)


def true_peak_db(x: np.ndarray) -> float:
    return loudness_of(x, SR).true_peak_db


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-20))


@pytest.mark.parametrize("plr", [10.0, 18.0, 26.0], ids=["dense", "punchy", "peaky"])
@pytest.mark.parametrize("target", [-16.0, -26.0], ids=["loud", "quiet"])
def test_every_cue_ducks_the_music_by_the_same_depth(tmp_path, plr, target):
    settings = MixSettings(target_lufs=target)
    track = peaky_track(tmp_path / f"p{plr:g}.wav", plr, seed=int(plr))
    entry = PlanEntry(track, "groove", 0.0, 0.0, 34.0, 0.0, 1.0, "start")
    clips = [VoiceClip(t, speech_like(seed=k)) for k, t in enumerate(STARTS)]
    music = render(Timeline([entry], settings=settings))
    voice = render(Timeline((), clips, SR, settings))
    both = render(Timeline([entry], clips, SR, settings))
    n = min(len(music), len(voice), len(both))
    music, voice, both = music[:n], voice[:n], both[:n]
    under = both - voice
    for t in STARTS:
        s = slice(round((t + 0.2) * SR), round((t + 1.9) * SR))
        depth = rms_db(music[s]) - rms_db(under[s])
        assert 10.0 <= depth <= 12.0 and depth == pytest.approx(settings.duck_db, abs=0.05), (t, depth)
        spoken = voice[round(t * SR):round((t + 2.0) * SR)]
        ducked = under[round(t * SR):round((t + 2.0) * SR)]
        voice_lufs = integrated_loudness(spoken, SR)
        assert voice_lufs == pytest.approx(target + settings.voice_offset_lu, abs=0.6)
        assert voice_lufs - integrated_loudness(ducked, SR) >= 8.0, "the voice sits well over the music"
    assert true_peak_db(voice) <= settings.voice_ceiling_dbtp + 0.05, "voice clips are peak-limited"
    assert true_peak_db(both) <= settings.ceiling_dbtp + 0.1, "music + voice stays under the ceiling"
