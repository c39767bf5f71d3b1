"""Test audio, built here and only here: clicks on a grid, tones with beat clicks and the `Track`
that describes them, short WAVs, and rendering a timeline through the mixer.

Every test module imports its audio from this module (never from another test module).
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import soundfile as sf

from dancer.analysis.loudness import integrated_loudness
from dancer.audio.mixer import Mixer
from dancer.audio.timeline import Timeline
from dancer.model import Analysis, PlanEntry, Tags, Track


def click_signal(bpm: float, seconds: float, sr: int = 22050, *, offset: float = 0.0, meter: int = 4,
                 accent: bool = True, channels: int = 1, level: float = 0.5) -> np.ndarray:
    """Decaying noise-and-tone clicks on a sample-exact grid; downbeats louder and lower when ``accent``.

    Returns float32 ``(frames, channels)``.
    """
    n = int(round(seconds * sr))
    y = np.zeros(n, dtype=np.float64)
    period = 60.0 / bpm
    click_len = int(0.03 * sr)
    t = np.arange(click_len) / sr
    env = np.exp(-t / 0.008)
    gen = np.random.default_rng(7)
    k = 0
    while True:
        start = offset + k * period
        i = int(round(start * sr))
        if i >= n:
            break
        down = accent and k % meter == 0
        f = 800.0 if down else 1600.0
        amp = 1.0 if down else 0.6
        burst = amp * env * (0.6 * np.sin(2 * np.pi * f * t) + 0.4 * gen.standard_normal(click_len))
        m = min(click_len, n - i)
        y[i:i + m] += burst[:m]
        k += 1
    y *= level / max(1e-9, np.max(np.abs(y)))
    return np.repeat(y[:, None], channels, axis=1).astype(np.float32)


def write_audio(path: Path, y: np.ndarray, sr: int, **kwargs) -> Path:
    """Write with soundfile in blocks (libsndfile's Vorbis encoder crashes on one large write)."""
    import soundfile as sf

    y = y if y.ndim == 2 else y[:, None]
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(os.fsencode(path), "w", samplerate=sr, channels=y.shape[1], **kwargs) as f:
        for i in range(0, len(y), 32768):
            f.write(y[i:i + 32768])
    return path


SR = 44100
BPM = 124.0
BEAT = 60.0 / BPM


def synth_track(path: Path, *, seconds: float = 40.0, sr: int = SR, channels: int = 2,
                bpm: float | None = BPM,
                offset: float = 0.25, click_hz: float = 1000.0, click: float = 0.3, tone_hz: float = 110.0,
                tone: float = 0.1, gain_db: float = 0.0) -> Track:
    """A file with a steady tone and decaying clicks on every beat (downbeats louder), and its `Track`.

    Beats fall at ``offset + k * 60 / bpm`` (nearest sample); downbeats every 4 beats, phrases
    every 8; the loudness is measured on the written signal.
    """
    n = round(seconds * sr)
    t = np.arange(n) / sr
    y = tone * np.sin(2 * np.pi * tone_hz * t)
    beats: list[float] = []
    if bpm:
        period = 60.0 / bpm
        beats = [offset + k * period for k in range(int((seconds - offset) / period) + 1)]
        beats = [b for b in beats if b < seconds - 0.05]
        length = int(0.04 * sr)
        tc = np.arange(length) / sr
        burst = np.sin(2 * np.pi * click_hz * tc) * np.exp(-tc / 0.01)
        for k, b in enumerate(beats):
            i = round(b * sr)
            y[i:i + length] += click * (1.0 if k % 4 == 0 else 0.6) * burst[:n - i]
    y *= 10.0 ** (gain_db / 20.0)
    x = np.repeat(y[:, None], channels, axis=1).astype(np.float32)
    if channels > 1:
        x[:, 1] *= 0.9
    sf.write(str(path), x, sr)
    analysis = Analysis(
        duration=n / sr, sample_rate=sr, channels=channels, bpm=bpm, bpm_confidence=0.9 if bpm else 0.0,
        beatless=not bpm, beats=tuple(beats), downbeats=tuple(beats[::4]), phrases=tuple(beats[::8]), meter=4,
        loudness_lufs=float(integrated_loudness(x, sr)), peak_db=float(20 * np.log10(np.abs(x).max())),
        true_peak_db=float(20 * np.log10(np.abs(x).max())), energy=0.5, energy_curve=(), cue_in=0.0,
        cue_out=n / sr)
    stat = path.stat()
    return Track(str(path), stat.st_size, stat.st_mtime, Tags(path.stem), analysis)


def chain(tracks: list[Track], *, phrases: int = 4, fade_beats: int = 8,
          phase: str = "groove") -> list[PlanEntry]:
    """Entries the way the planner places them: each crossfade starts on a phrase boundary of the
    outgoing track and the incoming track's first phrase (a downbeat) lands on it."""
    entries: list[PlanEntry] = []
    start = 0.0
    for i, t in enumerate(tracks):
        p = t.analysis.phrases
        fade = fade_beats * BEAT
        entries.append(PlanEntry(t, phase, start, p[0], p[phrases], fade if i else 0.0, fade,
                                 "crossfade" if i else "start"))
        start = entries[-1].end - fade
    return entries


def render(timeline: Timeline, *, block: int = 8192, seconds: float | None = None,
           mixer: Mixer | None = None) -> np.ndarray:
    m = mixer or Mixer(timeline)
    total = round((seconds if seconds is not None else timeline.length) * timeline.sample_rate)
    out = np.concatenate([m.render_block(min(block, total - i)) for i in range(0, total, block)])
    return out


def write_wav(path: Path, seconds: float = 0.2, rate: int = 8000) -> None:
    """A short quiet mono WAV (what players need to open a file; the analysis above is synthetic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = (np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate) * 3000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())




def groove(bpm: float, seconds: float, sr: int = 22050) -> np.ndarray:
    """A four-on-the-floor drum groove (kick, backbeat snare, offbeat hats), float32 ``(frames, 1)``."""
    from dancer.demo import render_pattern

    pattern = {"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": "..x...x...x...x."}
    y = render_pattern(pattern, bpm, seconds, sr).astype(np.float32)
    return y.reshape(len(y), -1)
