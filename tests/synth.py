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


def peaky_track(path: Path, plr: float, *, seconds: float = 40.0, seed: int = 0, sr: int = SR) -> Track:
    """A steady pad under a short low hit every second, the hits' level setting the peak-to-loudness
    ratio (``plr`` dB, roughly): at -16 LUFS a PLR of 26 peaks 10 dB over full scale, which the
    limiter must take down. Beatless to the planner; its `Track` measures the written file."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sr)
    t = np.arange(n) / sr
    y = 2.0 * 10 ** (-plr / 20) * (0.6 * np.sin(2 * np.pi * 110 * t) + 0.4 * rng.standard_normal(n))
    tk = np.arange(int(0.15 * sr)) / sr
    hit = np.sin(2 * np.pi * (55 * tk + 3 * (1 - np.exp(-tk / 0.02)))) * np.exp(-tk / 0.006)
    for b in np.arange(0.3, seconds - 0.5, 1.0):
        i = round(b * sr)
        y[i:i + len(hit)] += 0.9 * hit
    x = np.stack([y, 0.95 * y], 1).astype(np.float32)
    x /= max(1.0, np.abs(x).max() / 0.99)
    sf.write(str(path), x, sr)
    peak = float(20 * np.log10(np.abs(x).max()))
    analysis = Analysis(
        duration=n / sr, sample_rate=sr, channels=2, bpm=None, bpm_confidence=0.0, beatless=True, beats=(),
        downbeats=(), phrases=(), meter=4, loudness_lufs=float(integrated_loudness(x, sr)), peak_db=peak,
        true_peak_db=peak, energy=0.5, energy_curve=(), cue_in=0.0, cue_out=n / sr)
    stat = path.stat()
    return Track(str(path), stat.st_size, stat.st_mtime, Tags(path.stem), analysis)


def speech_like(seconds: float = 2.0, *, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Mono float32 with speech's rhythm: a voiced tone and noise, syllables at 4 Hz, a peak
    factor near real speech's (a tone alone would be too easy on the voice limiter)."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sr)) / sr
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    voiced = np.sin(2 * np.pi * 160 * t) + 0.5 * np.sin(2 * np.pi * 320 * t)
    voiced += 0.3 * rng.standard_normal(len(t))
    return (0.2 * syllables * voiced).astype(np.float32)


# -- drum patterns at 22 050 Hz for the analysis tests ------------------------------------------

DRUM_SR = 22050


def drum_sound(kind: str, rng: np.random.Generator, sr: int = DRUM_SR) -> np.ndarray:
    t = np.arange(int(0.12 * sr)) / sr
    if kind == "kick":
        return np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 30)) * t) * np.exp(-t * 25)
    if kind == "snare":
        return (0.6 * rng.standard_normal(t.size) + np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 30) * 0.7
    if kind == "hat":
        return np.diff(rng.standard_normal(t.size + 2), 2) / 4 * np.exp(-t * 120)
    if kind == "bass":
        return 0.6 * np.sin(2 * np.pi * 55 * t) * np.exp(-t * 8)
    return np.sin(2 * np.pi * 1000 * t) * np.exp(-t * 60)  # click


def drum_render(
    events: list[tuple[float, str, float]],
    seconds: float,
    sr: int = DRUM_SR,
    seed: int = 0,
    *,
    sound=None,
    level: float = 0.4,
) -> np.ndarray:
    """Sum ``sound(kind, rng) * gain`` (this module's drum sounds by default) at each (time, kind,
    gain), cut at ``seconds``, times ``level``."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(seconds * sr))
    for time, kind, gain in events:
        b = (drum_sound(kind, rng, sr) if sound is None else sound(kind, rng)) * gain
        i = int(round(time * sr))
        if i < y.size:
            y[i : i + b.size] += b[: y.size - i]
    return (level * y).astype(np.float32)


def clicks(bpm: float, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    period = 60.0 / bpm
    events = [(offset + k * period, "click", 1.0) for k in range(int(seconds / period) + 1)]
    return drum_render(events, seconds)


def accented_clicks(bpm: float, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    """Clicks with every fourth one louder and lower, as a metronome marks the bar."""
    rng = np.random.default_rng(1)
    period = 60.0 / bpm
    t = np.arange(int(0.03 * DRUM_SR)) / DRUM_SR
    y = np.zeros(int(seconds * DRUM_SR))
    for k in range(int(seconds / period) + 1):
        down = k % 4 == 0
        burst = (1.0 if down else 0.6) * np.exp(-t / 0.008)
        tone = np.sin(2 * np.pi * (800 if down else 1600) * t)
        burst = burst * (0.6 * tone + 0.4 * rng.standard_normal(t.size))
        i = int(round((offset + k * period) * DRUM_SR))
        y[i : i + t.size] += burst[: max(0, y.size - i)]
    return (0.4 * y).astype(np.float32)


def pattern(bpm: float, style: str, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    """Drum patterns in beats: ``house`` four-on-the-floor with offbeat hats and a 2/4 clap,
    ``hiphop`` kick 1 & 3 / snare 2 & 4 / eighth hats, ``ballad`` kick on 1 and snare on 3 with
    quarter hats, ``waltz`` 3/4 kick on one and snares on two and three."""
    period = 60.0 / bpm
    meter = 3 if style == "waltz" else 4
    events = []
    for k in range(int(seconds / period) + 1):
        t, pos = offset + k * period, k % meter
        if style == "house":
            events += [(t, "kick", 1.0), (t + period / 2, "hat", 1.0)]
            if pos in (1, 3):
                events.append((t, "snare", 0.8))
        elif style == "hiphop":
            if pos in (0, 2):
                events.append((t, "kick", 1.0))
            if pos in (1, 3):
                events.append((t, "snare", 1.0))
            events += [(t, "hat", 0.8), (t + period / 2, "hat", 0.5)]
        elif style == "ballad":
            kind, gain = {0: ("kick", 1.0), 2: ("snare", 0.9)}.get(pos, ("hat", 0.5))
            events.append((t, kind, gain))
        elif style == "waltz":
            events.append((t, "kick", 1.0) if pos == 0 else (t, "snare", 0.5))
    return drum_render(events, seconds)


def dense_groove(bpm: float, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    """Hats on every sixteenth, kick on one, the "and" of two and three (3+3+2 sixteenths), snare
    on two and four: the contrasts look alike at the beat and at its eighth notes."""
    step = 60.0 / bpm / 4
    events = []
    for s in range(int((seconds - offset) / step) + 1):
        t, i = offset + s * step, s % 16
        if i in (0, 6, 8):
            events.append((t, "kick", 1.0))
        if i in (4, 12):
            events.append((t, "snare", 1.0))
        events.append((t, "hat", 0.9 if i % 2 == 0 else 0.7))
    return drum_render(events, seconds)


def plain_groove(bpm: float, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    """Issue #12's plain groove: kick and a bass note on every beat, snare on two and four,
    closed hat on the off-beat eighths."""
    period = 60.0 / bpm
    events = []
    for k in range(int(seconds / period) + 1):
        t = offset + k * period
        events += [(t, "kick", 1.0), (t, "bass", 1.0), (t + period / 2, "hat", 0.8)]
        if k % 4 in (1, 3):
            events.append((t, "snare", 1.0))
    return drum_render(events, seconds)


def dembow(bpm: float, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    """The dembow of reggaeton and dancehall: a kick on every beat, the snare on the last
    sixteenth of one beat and the "and" of the next, so the snare figure spans two beats."""
    period = 60.0 / bpm
    events = []
    for k in range(int(seconds / period) + 1):
        t = offset + k * period
        events += [(t, "kick", 1.0), (t + (0.75 if k % 2 == 0 else 0.5) * period, "snare", 1.0)]
    return drum_render(events, seconds)


def backbeat_ballad(bpm: float, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    """A slow ballad's beat: kick on one and three, snare on two and four, a hat on every
    eighth note. About two onsets to the beat at its tempo, one at double."""
    period = 60.0 / bpm
    events = []
    for k in range(int(seconds / period) + 1):
        t = offset + k * period
        events += [(t, "kick" if k % 2 == 0 else "snare", 1.0), (t, "hat", 0.6), (t + period / 2, "hat", 0.6)]
    return drum_render(events, seconds)


def double_bass(bpm: float, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    """A thrash-metal beat: the kick on every eighth note (two bass drums), the snare on two
    and four, a cymbal on every beat. About two onsets to the beat at its tempo, four at half."""
    period = 60.0 / bpm
    events = []
    for k in range(int(seconds / period) + 1):
        t = offset + k * period
        events += [(t, "kick", 1.0), (t + period / 2, "kick", 0.8), (t, "hat", 0.6)]
        if k % 2 == 1:
            events.append((t, "snare", 1.0))
    return drum_render(events, seconds)


def five_four_vamp(bpm: float, seconds: float = 30.0, *, offset: float = 0.25, seed: int = 0) -> np.ndarray:
    """A 5/4 jazz vamp after MMA's groove for "Take Five": a soft hat on every beat, the bass
    on 1½, 2½, 3, 4 and 5, piano stabs on 1½, 3 and 5, snares on 2, 3, 4, 4½ and 5½ and a low
    drum on one, each of those two dropped at random (seeded) as a drummer varies them."""
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    events = []
    for bar in range(int(seconds / (5 * period)) + 1):
        def at(beat: float, bar: int = bar) -> float:
            return offset + (bar * 5 + beat - 1) * period
        events += [(at(beat), "hat", 0.4) for beat in range(1, 6)]
        bass = ((1.5, 1.0), (2.5, 0.8), (3, 0.8), (4, 1.0), (5, 0.6))
        events += [(at(beat), "bass", gain) for beat, gain in bass]
        events += [(at(beat), "snare", 0.5) for beat in (2, 3, 4, 4.5, 5.5) if rng.random() > 0.4]
        if rng.random() > 0.4:
            events.append((at(1), "kick", 0.8))
        events += [(at(beat), "click", 0.5) for beat in (1.5, 3, 5)]
    return drum_render(events, seconds)


def pad(seconds: float = 30.0, *, seed: int = 0) -> np.ndarray:
    """A sustained chord with slow swells and no attacks."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * DRUM_SR)) / DRUM_SR
    y = sum(
        np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
        * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t))
        for f in (220.0, 277.2, 329.6, 440.0, 554.4)
    )
    fade = np.minimum(1, t / 3) * np.minimum(1, (seconds - t) / 3)
    return (0.1 * y * fade).astype(np.float32)


def string_section(seconds: float = 30.0, *, seed: int = 0) -> np.ndarray:
    """A held chord bowed by a section: each of its four notes played by four voices detuned by
    up to ±10 cents, six partials each, every voice swelling and fading on its own (smoothed
    noise, 0.3–3 Hz): a dense shimmer of small rises, and no attack anywhere."""
    rng = np.random.default_rng([seed, 5])
    n = int(seconds * DRUM_SR)
    t = np.arange(n) / DRUM_SR
    smooth = np.hanning(int(0.3 * DRUM_SR))
    y = np.zeros(n)
    for f in (146.8, 220.0, 293.7, 370.0):
        for _ in range(4):
            cents = rng.uniform(-10, 10)
            level = np.convolve(rng.standard_normal(n // 64 + 1), smooth[::64] / smooth[::64].sum(), "same")
            level = 1 + 2.5 * np.repeat(level, 64)[:n]
            pitch = f * 2 ** (cents / 1200)
            tone = sum(np.sin(2 * np.pi * k * pitch * t + rng.uniform(0, 6)) / k for k in range(1, 7))
            y += np.clip(level, 0.2, None) * tone
    fade = np.minimum(1, t / 3) * np.minimum(1, (seconds - t) / 3)
    return (0.02 * y * fade).astype(np.float32)


def soft_drum(bpm: float, seconds: float = 30.0, *, seed: int = 0) -> np.ndarray:
    """Timpani-like hits on every beat (73 and 110 Hz, a 30-ms rise, a slow decay), a little
    loose (15 ms of jitter, 0.7–1.0 in level): a pulse with no sharp attack."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.8 * DRUM_SR)) / DRUM_SR
    tone = np.sin(2 * np.pi * 73 * t) + 0.5 * np.sin(2 * np.pi * 110 * t)
    hit = np.minimum(1, t / 0.03) * np.exp(-t * 4) * tone
    events = [(0.5 + k * 60 / bpm + rng.normal(0, 0.015), "timpani", rng.uniform(0.7, 1.0))
              for k in range(int(seconds * bpm / 60))]
    return drum_render(events, seconds, sound=lambda kind, rng: hit, level=1.0)


def scattered_notes(rate: float, seconds: float = 30.0, *, seed: int = 0) -> np.ndarray:
    """Plucked notes of random pitch (two octaves from 220 Hz) at random times, ``rate`` a second
    on average: onsets with no period."""
    rng = np.random.default_rng([seed, 9])
    t = np.arange(int(0.5 * DRUM_SR)) / DRUM_SR
    times = np.cumsum(rng.exponential(1 / rate, int(rate * seconds * 2)))
    events = [(time, "pluck", rng.uniform(0.3, 1)) for time in times[times < seconds]]

    def pluck(kind: str, rng: np.random.Generator) -> np.ndarray:
        f = 220 * 2 ** (rng.integers(0, 24) / 12)
        return np.minimum(1, t / 0.01) * np.exp(-t * 6) * np.sin(2 * np.pi * f * t)

    return drum_render(events, seconds, seed=seed, sound=pluck, level=1.0)
