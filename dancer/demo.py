"""Synthesised demo music: a small library with known tempi, loudness and character.

Numpy (levels set with `dancer.analysis.loudness`) and deterministic for a seed, so a new user can
try dancer without music of their own and tests can build signals whose beats are known to the
sample. Beats sit on the exact grid ``offset + k * 60 / bpm`` (each onset rounded to its nearest
sample, so the error never accumulates).

Public functions
----------------
generate_demo   write the nine-track demo library and describe each track as a `DemoTrack`.
click_track     metronome clicks at a tempo and phase, downbeats accented.
render_pattern  a drum pattern (one step string per instrument) rendered at a tempo.
hit_times       onset times of one pattern lane; beat_times, the beat grid itself.
drum_kit        the one-shot sounds `render_pattern` uses: kick, snare, clap, hat, shaker, rim.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dancer.analysis.loudness import integrated_loudness
from dancer.audio.render import RENDER_FORMATS

#: Step characters of a pattern lane and the hit level each one means; anything else is a rest.
LEVELS: Mapping[str, float] = {"X": 1.0, "x": 0.8, "o": 0.4}
#: One invented artist per track, so the planner's no-artist-twice-in-a-row rule has room to work.
ARTISTS = (
    "Haze Choir",
    "Glass Harbour",
    "The Tidewalkers",
    "Heartbeat Club",
    "Sol de Barrio",
    "Lagos Step Crew",
    "Kingston Roll Sound",
    "Warehouse Light",
    "Night Engine Unit",
)
#: extension → (libsndfile format, subtype): what dancer renders to, and MP3 for variety.
_FORMATS = {**{suffix[1:]: fmt for suffix, fmt in RENDER_FORMATS.items()}, "mp3": ("MP3", "MPEG_LAYER_III")}
#: libsndfile's Vorbis encoder crashes on one very large write, so files are written in blocks.
_BLOCK = 65536
_TABLE_SIZE = 4096


@dataclass(frozen=True)
class DemoTrack:
    """One generated demo file and the truth about it.

    ``bpm`` is the exact rendered tempo (None for beatless pads); the first beat falls at
    ``lead_in`` seconds (mp3 decoders may add their own encoder delay on top). ``loudness_lufs`` is
    the target the mix was normalised to, measured K-weighted but ungated, so it is approximate.
    ``character`` is the intended use in a session: ``calm``, ``groove`` or ``peak``.
    """

    file: str
    path: Path
    title: str
    artist: str
    bpm: float | None
    meter: int
    genre: str
    style: str
    format: str
    duration: float
    character: str
    sample_rate: int
    channels: int
    loudness_lufs: float
    lead_in: float
    fade_out: float

    @property
    def beatless(self) -> bool:
        return self.bpm is None


def _norm(x: np.ndarray) -> np.ndarray:
    return (x / max(float(np.max(np.abs(x))), 1e-9)).astype(np.float32)


def _noise(n: int, seed: int, order: int = 1) -> np.ndarray:
    """White noise differenced ``order`` times: each difference tilts it +6 dB/octave brighter."""
    return np.diff(np.random.default_rng(seed).standard_normal(n + order), order)


def kick(sr: int, *, soft: bool = False, seed: int = 0) -> np.ndarray:
    """A synthesised kick drum: a sine swept down from ~165 Hz to ~46 Hz plus a noise click.

    The onset is at sample 0. ``soft`` gives a rounder, shorter kick with less click.
    Returns a float32 array peaking at 1.
    """
    n = int(0.45 * sr)
    t = np.arange(n) / sr
    sweep, tau = (70.0, 0.16) if soft else (120.0, 0.22)
    freq = 46.0 + sweep * np.exp(-t / 0.035)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / tau)
    click = np.random.default_rng(seed).standard_normal(n) * np.exp(-t / 0.002) * (0.08 if soft else 0.3)
    return _norm(np.tanh(1.6 * (body + click)))


def snare(sr: int, *, seed: int = 0) -> np.ndarray:
    """A noise snare: two damped body tones (185, 330 Hz) under high-passed noise."""
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    body = (np.sin(2 * np.pi * 185 * t) + 0.5 * np.sin(2 * np.pi * 330 * t)) * np.exp(-t / 0.05)
    return _norm(0.5 * body + 0.35 * _noise(n, seed) * np.exp(-t / 0.09))


def clap(sr: int, *, seed: int = 0) -> np.ndarray:
    """A hand clap: three noise bursts 11 ms apart and a short diffuse tail."""
    n = int(0.3 * sr)
    t = np.arange(n) / sr
    env = sum(np.where(t >= d, np.exp(-(t - d) / 0.004), 0.0) for d in (0.0, 0.011, 0.022))
    env = env + 0.5 * np.where(t >= 0.022, np.exp(-(t - 0.022) / 0.07), 0.0)
    return _norm(_noise(n, seed) * env)


def hat(sr: int, *, open_: bool = False, seed: int = 0) -> np.ndarray:
    """A hi-hat: twice-differenced (bright) noise, closed (15 ms decay) or open (90 ms)."""
    n = int((0.35 if open_ else 0.06) * sr)
    return _norm(_noise(n, seed, 2) * np.exp(-np.arange(n) / ((0.09 if open_ else 0.015) * sr)))


def shaker(sr: int, *, seed: int = 0) -> np.ndarray:
    """A shaker: bright noise with a 6 ms swell, so its onset is soft."""
    n = int(0.09 * sr)
    t = np.arange(n) / sr
    return _norm(_noise(n, seed, 2) * (1 - np.exp(-t / 0.006)) * np.exp(-t / 0.03))


def rim(sr: int) -> np.ndarray:
    """A rim shot / wood block: 1.7 kHz and 820 Hz tones with a 12 ms decay."""
    t = np.arange(int(0.06 * sr)) / sr
    return _norm((np.sin(2 * np.pi * 1700 * t) + 0.6 * np.sin(2 * np.pi * 820 * t)) * np.exp(-t / 0.012))


def drum_kit(sr: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Every one-shot by the lane name `render_pattern` knows it under."""
    return {"kick": kick(sr, seed=seed), "soft_kick": kick(sr, soft=True, seed=seed),
            "snare": snare(sr, seed=seed + 1), "clap": clap(sr, seed=seed + 2),
            "hat": hat(sr, seed=seed + 3), "open_hat": hat(sr, open_=True, seed=seed + 4),
            "shaker": shaker(sr, seed=seed + 5), "rim": rim(sr)}


def _grid(bpm: float, seconds: float, per_beat: int, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Step indices k (k = 0 at ``offset``) and times of every step in ``[0, seconds)``."""
    if bpm <= 0 or seconds < 0:
        raise ValueError(f"need bpm > 0 and seconds >= 0, got {bpm}, {seconds}")
    step = 60.0 / bpm / per_beat
    k = np.arange(int(np.ceil(-offset / step)), int(np.floor((seconds - offset) / step)) + 1)
    t = offset + k * step
    keep = (t >= 0) & (t < seconds)
    return k[keep], t[keep]


def beat_times(bpm: float, seconds: float, *, offset: float = 0.0) -> np.ndarray:
    """Beat onsets ``offset + k * 60 / bpm`` (seconds) falling in ``[0, seconds)``."""
    return _grid(bpm, seconds, 1, offset)[1]


def _lane_hits(lane: str, bpm: float, seconds: float, meter: int, offset: float) -> tuple[np.ndarray, ...]:
    if not lane or len(lane) % meter:
        raise ValueError(f"lane {lane!r} must have a multiple of meter={meter} steps")
    k, t = _grid(bpm, seconds, len(lane) // meter, offset)
    levels = np.array([LEVELS.get(c, 0.0) for c in lane])[k % len(lane)]
    return t[levels > 0], levels[levels > 0], k[levels > 0]


def hit_times(lane: str, bpm: float, seconds: float, *, meter: int = 4, offset: float = 0.0) -> np.ndarray:
    """Onset times (s) of one lane, e.g. ``"x...x...x...x..."``: one bar, ``len(lane) // meter`` steps a beat.

    Step 0 of each bar falls on a downbeat; the bar starting at ``offset`` is bar 0.
    """
    return _lane_hits(lane, bpm, seconds, meter, offset)[0]


def _place(out: np.ndarray, sound: np.ndarray, times: np.ndarray, levels: np.ndarray, sr: int) -> None:
    for start, level in zip(np.rint(times * sr).astype(np.int64), levels):
        end = min(len(out), start + len(sound))
        if end > start:
            out[start:end] += level * sound[: end - start]


def render_pattern(pattern: Mapping[str, str], bpm: float, seconds: float, sr: int, *, meter: int = 4,
                   offset: float = 0.0, kit: Mapping[str, np.ndarray] | None = None,
                   gains: Mapping[str, float] | None = None, humanise: float = 0.0,
                   seed: int = 0) -> np.ndarray:
    """Render a one-bar drum pattern, repeated, at an exact tempo.

    Parameters
    ----------
    pattern : lane name (a key of `drum_kit`) → step string; see `hit_times`. A 3/4 waltz is
        e.g. ``{"kick": "x.....", "hat": "..x.x."}`` with ``meter=3``.
    bpm, seconds, sr : tempo, output length and sample rate.
    offset : time (s) of the first downbeat; negative offsets start mid-pattern.
    kit, gains : sounds by lane name (default `drum_kit`) and a level for each lane.
    humanise : 0..1 random loss of hit level; timing always stays exact.

    Returns
    -------
    np.ndarray, shape (round(seconds * sr),), float32, mono; not normalised.
    """
    kit = drum_kit(sr, seed=seed) if kit is None else kit
    rng = np.random.default_rng(seed)
    out = np.zeros(int(round(seconds * sr)), np.float32)
    for name, lane in pattern.items():
        if name not in kit:
            raise ValueError(f"unknown drum {name!r}; known: {', '.join(sorted(kit))}")
        t, levels, _ = _lane_hits(lane, bpm, seconds, meter, offset)
        levels = levels * (gains or {}).get(name, 1.0) * (1 - humanise * rng.random(len(levels)))
        _place(out, kit[name], t, levels, sr)
    return out


def click_track(bpm: float, seconds: float, sr: int, meter: int = 4, accent_downbeat: bool = True,
                offset: float = 0.0) -> np.ndarray:
    """Metronome clicks (30 ms decaying sines) on every beat ``offset + k * 60 / bpm``.

    With ``accent_downbeat`` beat k with ``k % meter == 0`` is a louder 1.5 kHz click, others
    1 kHz at 0.6; otherwise every click is the 1 kHz one at 0.8. Returns float32 of length
    ``round(seconds * sr)``.
    """
    t = np.arange(int(0.03 * sr)) / sr
    high = (np.sin(2 * np.pi * 1500 * t) * np.exp(-t / 0.006)).astype(np.float32)
    low = (np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.006)).astype(np.float32)
    k, times = _grid(bpm, seconds, 1, offset)
    out = np.zeros(int(round(seconds * sr)), np.float32)
    down = (k % meter == 0) & accent_downbeat
    _place(out, high, times[down], np.ones(int(down.sum())), sr)
    _place(out, low, times[~down], np.full(int((~down).sum()), 0.6 if accent_downbeat else 0.8), sr)
    return out


def _table(partials: tuple[float, ...]) -> np.ndarray:
    phase = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    return _norm(sum(a * np.sin(2 * np.pi * (h + 1) * phase) for h, a in enumerate(partials)))


# Wavetables, because a table lookup per sample is several times cheaper than a sine per partial.
_PAD, _BASS, _KEYS = _table((1, 0.35, 0.2, 0.08)), _table((1, 0.45, 0.15)), _table((1, 0.5, 0.3, 0.15, 0.1))


def _note(midi: float, seconds: float, sr: int, table: np.ndarray, *, attack: float, release: float,
          tau: float | None = None, cents: float = 0.0) -> np.ndarray:
    n = int((seconds + release) * sr)
    # Fixed-point phase: integer multiply-shift-mask is exact and much cheaper than float modulo.
    step = int(round(440.0 * 2 ** ((midi + cents / 100 - 69) / 12) / sr * _TABLE_SIZE * 65536))
    out = table[((np.arange(n, dtype=np.int64) * step) >> 16) & (_TABLE_SIZE - 1)]
    rise, fall = min(int(attack * sr), n), min(int(release * sr), n)
    out[:rise] *= np.linspace(0.0, 1.0, rise, endpoint=False, dtype=np.float32)
    out[n - fall :] *= np.linspace(1.0, 0.0, fall, dtype=np.float32)
    if tau is not None:
        out *= np.exp(-np.arange(n, dtype=np.float32) / np.float32(tau * sr))
    return out


@dataclass(frozen=True)
class _Spec:
    title: str
    style: str
    genre: str
    character: str
    bpm: float | None
    seconds: float
    ext: str
    sr: int
    channels: int
    lufs: float
    lead_in: float
    fade: float
    chords: tuple[tuple[int, ...], ...]  # per chord: bass root then the voiced tones (MIDI notes)
    drums: tuple[tuple[str, str], ...] = ()
    bass: str = ""
    stabs: str = ""
    pad: float = 0.3
    bars_per_chord: int = 1


_MINOR = ((45, 57, 60, 64), (41, 57, 60, 65), (48, 55, 60, 64), (43, 55, 59, 62))
_AFRO = ((36, 55, 59, 64), (45, 55, 60, 64), (38, 57, 60, 65), (43, 55, 59, 65))
_ISLAND = ((43, 55, 58, 62), (39, 55, 58, 63), (46, 53, 58, 62), (41, 53, 57, 60))
_DREAM = ((50, 57, 61, 64, 69), (47, 54, 59, 62, 66), (43, 55, 59, 62, 66), (45, 57, 61, 64, 69))
_FOUR = "x...x...x...x..."
_SPECS = (
    _Spec("Morning Haze", "ambient pad", "Ambient", "calm", None, 55, "flac", 48000, 2, -24, 1.5, 8, _DREAM),
    _Spec("Tidal Glass", "ambient drone", "Ambient", "calm", None, 40, "ogg", 44100, 1, -21, 0.8, 6,
          _MINOR[::-1]),
    _Spec("Slow Tide", "slow pulse", "Downtempo", "calm", 70.0, 45, "wav", 44100, 2, -20, 1.0, 4, _DREAM,
          (("soft_kick", _FOUR), ("shaker", "..o...o...o...o.")), "x.......x.......", "", 0.6, 2),
    _Spec("Heartbeat Walk", "slow pulse", "Downtempo", "calm", 72.5, 36, "mp3", 44100, 1, -18, 0.5, 0, _MINOR,
          (("soft_kick", _FOUR), ("rim", "........x......."), ("shaker", "..o...o...o...o.")),
          "x.....x.........", "x.......", 0.5, 2),
    _Spec("Dembow Sunrise", "dembow", "Reggaeton", "groove", 96.0, 50, "ogg", 44100, 2, -14, 0.5, 0, _ISLAND,
          (("kick", _FOUR), ("snare", "...x..x....x..x."), ("hat", "x.o.x.o.x.o.x.o."),
           ("shaker", "..o...o...o...o.")), "x...x..xx...x..x", "...x..x....x..x.", 0.2),
    _Spec("Lagos Steps", "afrobeat", "Afrobeats", "groove", 104.0, 42, "mp3", 44100, 2, -12, 0.0, 5, _AFRO,
          (("kick", "x.....x...x....."), ("clap", "....x.......x..."), ("rim", "x..x..x...x.x..."),
           ("shaker", "xoooxoooxoooxooo"), ("open_hat", "..o...o...o...o.")),
          "x..x...x..x.x...", ".o.x.o.x.o.x.o.x", 0.2),
    _Spec("Kingston Roll", "dancehall", "Dancehall", "groove", 92.5, 40, "wav", 44100, 1, -16, 1.2, 4,
          _ISLAND,
          (("kick", "x.....x.x......."), ("snare", "....x.......x..."), ("hat", "xoxoxoxoxoxoxoxo")),
          "x.....x.x...x...", "..x...x...x...x.", 0.15),
    _Spec("Warehouse Light", "house", "House", "peak", 124.0, 55, "wav", 44100, 2, -10, 0.6, 6, _MINOR,
          (("kick", _FOUR), ("clap", "....x.......x..."), ("open_hat", "..x...x...x...x."),
           ("hat", "oooooooooooooooo")), "..x...x...x...x.", "..x..x....x..x..", 0.3),
    _Spec("Night Engine", "techno", "Techno", "peak", 132.0, 50, "flac", 44100, 2, -9, 0.0, 3, _MINOR,
          (("kick", _FOUR), ("clap", "....x.......x..."), ("open_hat", "..x...x...x...x."),
           ("hat", "xoxoxoxoxoxoxoxo"), ("rim", "x..x..x..x..x.x.")), ".xxx.xxx.xxx.xxx", "", 0.15),
)


def _pad(spec: _Spec, seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Sustained chords, detuned left against right; bar-aligned with a tempo, drifting without."""
    if spec.bpm is None:
        starts = np.cumsum(np.concatenate([[0.0], rng.uniform(5.5, 9.0, int(seconds / 5.5) + 1)]))
        attack, release = 2.5, 3.0
    else:
        starts = np.arange(0.0, seconds + 1, 240.0 / spec.bpm * spec.bars_per_chord)
        attack, release = 0.6, 1.0
    starts = starts[starts < seconds]
    out = np.zeros((int(round(seconds * sr)), 2), np.float32)
    for i, start in enumerate(starts):
        length = (starts[i + 1] if i + 1 < len(starts) else seconds) - start
        tones = spec.chords[i % len(spec.chords)][1:]
        for ch, cents in enumerate((-6.0, 6.0)):
            voice = sum(_note(m, length, sr, _PAD, attack=attack, release=release, cents=cents)
                        for m in tones)
            _place(out[:, ch], voice / len(tones), np.array([start]), np.ones(1), sr)
    return out


def _groove(spec: _Spec, seconds: float, sr: int, seed: int) -> np.ndarray:
    """Drums, a bass line on the chord roots and chord stabs, as (frames, 2)."""
    assert spec.bpm is not None
    bpm, step, kit = spec.bpm, 15.0 / spec.bpm, drum_kit(sr, seed=seed)
    side = {"hat", "open_hat", "shaker", "rim"}
    center = render_pattern({k: v for k, v in spec.drums if k not in side}, bpm, seconds, sr, kit=kit,
                            gains={"snare": 0.5, "clap": 0.55}, humanise=0.1, seed=seed)
    sides = render_pattern({k: v for k, v in spec.drums if k in side}, bpm, seconds, sr, kit=kit,
                           gains={"hat": 0.35, "open_hat": 0.3, "shaker": 0.4, "rim": 0.3}, humanise=0.2,
                           seed=seed + 1)
    bass = np.zeros_like(center)
    stabs = np.zeros_like(center)

    def chord_of(k: int) -> tuple[int, ...]:
        return spec.chords[(k // 16 // spec.bars_per_chord) % len(spec.chords)]

    for lane, target, make in (
        (spec.bass, bass, lambda c: _note(c[0] - 12, 1.6 * step, sr, _BASS, attack=0.004, release=0.04)),
        (spec.stabs, stabs, lambda c: sum(_note(m + 12, 0.4, sr, _KEYS, attack=0.003, release=0.1, tau=0.18)
                                          for m in c[1:]) / len(c)),
    ):
        if lane:
            t, levels, k = _lane_hits(lane * (16 // len(lane)), bpm, seconds, 4, 0.0)
            for chord in set(map(chord_of, k)):
                mask = np.array([chord_of(j) == chord for j in k])
                _place(target, make(chord), t[mask], levels[mask], sr)
    bass = np.tanh(2.0 * bass) * 0.5
    echo = np.concatenate([np.zeros(int(3 * step * sr), np.float32), stabs])[: len(stabs)]
    return np.stack([center + 1.2 * sides + bass + 0.25 * stabs + 0.1 * echo,
                     center + 0.8 * sides + bass + 0.2 * stabs + 0.15 * echo], axis=1)


def _soft_clip(x: np.ndarray, knee: float = 0.6, ceiling: float = 0.97) -> np.ndarray:
    room = ceiling - knee
    return np.where(np.abs(x) <= knee, x, np.sign(x) * (knee + room * np.tanh((np.abs(x) - knee) / room)))


def _master(music: np.ndarray, gain_db: float) -> np.ndarray:
    """Apply ``gain_db``, then a soft clipper as a crude limiter, re-gained for the level it took."""
    y = music * np.float32(10 ** (gain_db / 20))
    for _ in range(4):
        ratio = np.sqrt(np.mean(y**2) / max(np.mean(_soft_clip(y) ** 2), 1e-12))
        if ratio < 1.005:
            break
        y *= np.float32(ratio)
    return _soft_clip(y)


def _render(spec: _Spec, scale: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    seconds = (spec.seconds - spec.lead_in) * scale
    music = _pad(spec, seconds, spec.sr, rng) * spec.pad if spec.pad else 0.0
    if spec.bpm is not None:
        music = music + _groove(spec, seconds, spec.sr, seed)
    if spec.channels == 1:
        music = music.mean(axis=1, keepdims=True)
    fade = int(spec.fade * spec.sr)
    if fade:
        music[-fade:] *= (0.5 * (1 + np.cos(np.pi * np.arange(fade) / fade)))[:, None]
    music = _master(music, spec.lufs - integrated_loudness(music[: len(music) - fade], spec.sr))
    return np.concatenate([np.zeros((int(round(spec.lead_in * spec.sr)), music.shape[1]), np.float32), music])


def _write(path: Path, audio: np.ndarray, sr: int, ext: str, title: str, artist: str, genre: str) -> None:
    fmt, subtype = _FORMATS[ext]
    import soundfile as sf

    with sf.SoundFile(path, "w", sr, audio.shape[1], format=fmt, subtype=subtype) as f:
        f.title, f.artist, f.genre, f.album = title, artist, genre, "Dancer Demo"
        for start in range(0, len(audio), _BLOCK):
            f.write(audio[start : start + _BLOCK])


def generate_demo(out_dir: Path, *, seed: int = 7, scale: float = 1.0) -> list[DemoTrack]:
    """Write the demo library (nine tracks, 30–60 s each times ``scale``) into ``out_dir``.

    Two beatless ambient pads, two slow pulses (70, 72.5 BPM), three grooves (dembow 96,
    afrobeat 104, dancehall 92.5) and two peaks (house 124, techno 132), in wav, flac, ogg and mp3,
    mono and stereo, 44.1 and 48 kHz, from about -24 to -9 LUFS. Tempi do not depend on ``seed``;
    only the noise and hit levels do, so the same seed gives the same bytes (wav, flac).

    Raises
    ------
    ValueError if ``scale`` is not positive; OSError or soundfile's RuntimeError if writing fails.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tracks = []
    for i, spec in enumerate(_SPECS):
        audio = _render(spec, scale, seed * 1000 + i)
        file = f"{i + 1:02d}-{spec.title.lower().replace(' ', '-')}.{spec.ext}"
        _write(out_dir / file, audio, spec.sr, spec.ext, spec.title, ARTISTS[i], spec.genre)
        tracks.append(
            DemoTrack(
                file,
                out_dir / file,
                spec.title,
                ARTISTS[i],
                spec.bpm,
                4,
                spec.genre,
                spec.style,
                spec.ext,
                len(audio) / spec.sr,
                spec.character,
                spec.sr,
                spec.channels,
                float(spec.lufs),
                spec.lead_in,
                float(spec.fade),
            )
        )
    return tracks
