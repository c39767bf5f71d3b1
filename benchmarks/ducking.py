"""Ducking depth under voice cues against the music's peak-to-loudness ratio (PLR), and the fix.

Measured as tests/test_session.py does: depth = level(music alone) - level(mix - voice alone),
RMS over each cue, all three rendered by the mixer. Tracks: a steady pad with sparse hits, the hit
level setting the PLR; normalised to -16 LUFS their peaks reach -16 + PLR dBFS. Voice: the default
chain (Piper, else espeak-ng).

Then the proposed signal path, built here from the mixer's own limiter and duck envelope (the
mixer itself untouched): the limiter on the music bus only, the duck and the voice after it
(delay-matched), voice clips peak-limited offline to -4 dBTP so music + voice stays under the
ceiling.

    python benchmarks/ducking.py

Reads mixer internals (`_Limiter`, `_Program`, `_Head`): update the imports when #14 moves them.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dancer.analysis.loudness import integrated_loudness  # noqa: E402
from dancer.mixer import Mixer, MixSettings, Timeline, VoiceClip, _Head, _Limiter, _Program  # noqa: E402
from dancer.model import Analysis, PlanEntry, Tags, Track  # noqa: E402

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


def track(path: Path, plr: float, seed: int) -> tuple[Track, float]:
    rng = np.random.default_rng(seed)
    n = 60 * SR
    t = np.arange(n) / SR
    y = 2.0 * 10 ** (-plr / 20) * (0.6 * np.sin(2 * np.pi * 110 * t) + 0.4 * rng.standard_normal(n))
    tk = np.arange(int(0.15 * SR)) / SR
    hit = np.sin(2 * np.pi * (55 * tk + 3 * (1 - np.exp(-tk / 0.02)))) * np.exp(-tk / 0.006)
    for b in np.arange(0.3, 59.5, 1.0):
        i = round(b * SR)
        y[i:i + len(hit)] += 0.9 * hit
    x = np.stack([y, 0.95 * y], 1).astype(np.float32)
    x /= max(1.0, np.abs(x).max() / 0.99)
    sf.write(str(path), x, SR)
    loud, peak = integrated_loudness(x, SR), 20 * np.log10(np.abs(x).max())
    a = Analysis(duration=60, sample_rate=SR, channels=2, bpm=60, bpm_confidence=1, beatless=False, beats=(),
                 downbeats=(), phrases=(), meter=4, loudness_lufs=loud, peak_db=peak, true_peak_db=peak,
                 energy=0.5, energy_curve=(), cue_in=0, cue_out=60)
    return Track(str(path), 1, 0, Tags(path.stem), a), peak - loud


def voice_clips() -> list[VoiceClip]:
    from dancer.voice import open_voice

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


def limited(x: np.ndarray, settings: MixSettings) -> np.ndarray:
    lim = _Limiter(SR, settings)
    parts = [lim.process(np.ascontiguousarray(x[k:k + 4096])) for k in range(0, len(x), 4096)]
    parts.append(lim.process(np.zeros((lim.delay, 2), np.float32)))
    return np.concatenate(parts)[lim.delay:lim.delay + len(x)]


def peak_limited_voice(clip: VoiceClip, *, ceiling_db: float = -4.0, target: float = -18.0) -> VoiceClip:
    """The clip limited to ``ceiling_db`` true peak at the voice level, then scaled back so that
    `prepare_voice` brings it to the same level."""
    x = np.asarray(clip.samples, np.float32)
    loud = integrated_loudness(np.stack([x, x], 1), SR)
    y = x
    for _ in range(3):
        now = integrated_loudness(np.stack([y, y], 1), SR)
        y = (y * 10 ** ((target - now) / 20)).astype(np.float32)
        y = limited(np.stack([y, y], 1), MixSettings(ceiling_dbtp=ceiling_db))[:, 0].copy()
    return VoiceClip(clip.start, y * np.float32(10 ** ((loud - target) / 20)), clip.text)


def main() -> int:
    settings = MixSettings()
    bypass = replace(settings, ceiling_dbtp=60.0)
    clips = voice_clips()
    spans = windows(clips)
    safe = [peak_limited_voice(c) for c in clips]
    print(f"duck_db {settings.duck_db}; depth per cue (median [min..max]) against the music's PLR")
    print(f"{'PLR dB':>7}{'peak at -16':>12}{'today':>8}{'range':>14}{'limiter on music':>18}"
          f"{'proposed':>10}{'sum peak':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for k, plr in enumerate((10, 14, 17, 20, 23, 26)):
            t, real = track(Path(tmp) / f"p{plr}.wav", plr, k)
            entry = PlanEntry(t, "groove", 0.0, 0.0, 58.0, 0.0, 1.0)
            music = render(Timeline([entry], settings=settings))
            spoken = render(Timeline((), clips, SR, settings))
            both = render(Timeline([entry], clips, SR, settings))
            raw = render(Timeline([entry], settings=bypass))
            n = min(map(len, (music, spoken, both, raw)))
            music, spoken, both, raw = music[:n], spoken[:n], both[:n], raw[:n]
            depth = [rms_db(music[s]) - rms_db((both - spoken)[s]) for s in spans]
            taken = np.median([rms_db(raw[s]) - rms_db(music[s]) for s in spans])
            # The proposal: limit the music alone; duck it and add the (peak-limited) voice after.
            voice = render(Timeline((), safe, SR, bypass))[:n]
            duck = np.ones((n, 2), np.float32)
            _Head(_Program(Timeline((), safe, SR, settings)), 0)._speak(duck, 0, n)
            duck -= voice
            bus = limited(raw, settings)
            mix = bus * duck + voice
            fixed = [rms_db(bus[s]) - rms_db((mix - voice)[s]) for s in spans]
            print(f"{real:>7.1f}{real - 16:>+12.1f}{np.median(depth):>8.2f}"
                  f"{f'{min(depth):.2f}..{max(depth):.2f}':>14}{taken:>18.2f}{np.median(fixed):>10.2f}"
                  f"{20 * np.log10(np.abs(mix).max()):>+10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
