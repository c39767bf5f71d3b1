"""Ducking depth under voice cues against the music's peak-to-loudness ratio (PLR).

Measured as tests/audio/test_ducking.py does: depth = level(music alone) - level(mix - voice alone),
RMS over each cue, all three rendered by the mixer. Tracks: a steady pad with sparse hits, the hit
level setting the PLR; normalised to -16 LUFS their peaks reach -16 + PLR dBFS. Voice: the default
chain (Piper, else espeak-ng).

Before #13 the mixer ducked the music and added the voice before its one limiter, so the limiter
turned down loud music but not the same music ducked: depth 9.9-11 dB, shallower the peakier the
music. The mixer now limits the music bus alone and ducks it and adds the (peak-limited) voice after,
so every cue is ducked by `MixSettings.duck_db`; the last column is the mix's true peak.

    python benchmarks/ducking.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from synth import peaky_track  # noqa: E402

from dancer.analysis.loudness import loudness_of  # noqa: E402
from dancer.audio.mixer import Mixer  # noqa: E402
from dancer.audio.timeline import MixSettings, Timeline, VoiceClip  # noqa: E402
from dancer.model import PlanEntry  # noqa: E402

SR = 44100
TEXTS = ("Let your hips find the beat and circle slowly, wide and easy.",
         "Breathe in, and let the shoulders drop as you breathe out.",
         "Soften the knees. Let the pelvis rock forward and back.",
         "Shake it out now, from the hands all the way down to the feet.")


def render(timeline: Timeline) -> np.ndarray:
    with Mixer(timeline) as m:
        return m.render_block(int(timeline.length * SR) + SR)


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-20))


def voice_clips() -> list[VoiceClip]:
    from dancer.guide.voice import open_voice

    voice = open_voice(None)
    clips = []
    for k, text in enumerate(TEXTS):
        audio, rate = voice.synthesize(text)
        audio = np.asarray(audio, np.float32).reshape(-1)
        if rate != SR:
            import soxr

            audio = soxr.resample(audio, rate, SR).astype(np.float32)
        clips.append(VoiceClip(5.0 + 12 * k, audio, text))
    return clips


def windows(clips: list[VoiceClip]) -> list[slice]:
    return [slice(int((c.start + 0.3) * SR), int((c.start + len(c.samples) / SR - 0.1) * SR)) for c in clips]


def main() -> int:
    settings = MixSettings()
    clips = voice_clips()
    spans = windows(clips)
    print(f"duck_db {settings.duck_db}; depth per cue (median [min..max]) against the music's PLR")
    print(f"{'PLR dB':>7}{'peak at -16':>12}{'depth':>8}{'range':>14}{'mix true peak':>15}")
    with tempfile.TemporaryDirectory() as tmp:
        for k, plr in enumerate((10, 14, 17, 20, 23, 26)):
            t = peaky_track(Path(tmp) / f"p{plr}.wav", plr, seconds=60.0, seed=k)
            real = t.analysis.peak_db - t.analysis.loudness_lufs
            entry = PlanEntry(t, "groove", 0.0, 0.0, 58.0, 0.0, 1.0)
            music = render(Timeline([entry], settings=settings))
            spoken = render(Timeline((), clips, SR, settings))
            both = render(Timeline([entry], clips, SR, settings))
            n = min(map(len, (music, spoken, both)))
            music, spoken, both = music[:n], spoken[:n], both[:n]
            depth = [rms_db(music[s]) - rms_db((both - spoken)[s]) for s in spans]
            print(f"{real:>7.1f}{real - 16:>+12.1f}{np.median(depth):>8.2f}"
                  f"{f'{min(depth):.2f}..{max(depth):.2f}':>14}{loudness_of(both, SR).true_peak_db:>+15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
