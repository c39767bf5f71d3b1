"""Labelled recordings for the tempo-accuracy benchmark (`benchmarks/tempo_accuracy.py`).

Public functions
----------------
build_synthetic_set       GM arrangements written with mido and rendered by fluidsynth with the
                          FluidR3 SoundFont: eight genres, known tempo (and meter), humanised timing.
load_fretsonfire_set      the songs of Debian's ``fretsonfire-songs-muldjord``: real band recordings
                          whose ``notes.mid`` chart carries the tempo map.
tempo_equivariance_pairs  exact speed changes of one recording (tempo and pitch scale together).

Run ``python benchmarks/tempo_set.py [CACHE_DIR]`` to build everything and print a table.
Rendered and mixed files are cached by content, so a rerun only reads the cache.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FOF_ROOT = Path("/usr/share/games/fretsonfire/data/songs")
RENDER_RATE = 22050
TICKS = 480
DRUMS = 9  # GM percussion is MIDI channel 10, zero-based 9
_VELOCITY = {"X": 120, "x": 100, "o": 62}
#: Frets on Fire audio: the backing track first, then the stems the game plays alongside it.
_STEMS = ("song.ogg", "guitar.ogg", "rhythm.ogg", "drums.ogg")


@dataclass(frozen=True)
class LabelledItem:
    """One recording with its true tempo.

    ``bpm`` is None for beatless material; ``tempo_constant`` is False when the source's tempo map
    changes (``bpm`` is then the tempo that lasts longest). ``source`` is ``"synthetic"`` or
    ``"fretsonfire/PACK"``; ``seconds`` is the file's duration; ``chart`` the MIDI file whose
    tempo map places the beats (`chart_beats`), for recordings charted by hand.
    """

    path: Path
    bpm: float | None
    meter: int
    genre: str
    source: str
    name: str = ""
    seconds: float = 0.0
    tempo_constant: bool = True
    note: str = ""
    chart: Path | None = None


@dataclass(frozen=True)
class _Genre:
    name: str
    bpm: tuple[float, float] | None
    drums: tuple[dict[int, str], ...]  # GM drum note → one bar of steps; one dict per variant
    bass: str
    chords: str
    programs: tuple[int, int, int]  # bass, chords, melody (GM programs, zero-based)
    meter: int = 4
    swing: float = 0.0  # delay of every odd step, as a fraction of a step
    chord_steps: int = 0  # chord note length in steps; 0 holds to the next chord hit
    melody: float = 0.25  # chance of a melody note on each step


_GENRES = (
    _Genre("house", (118, 128), ({36: "x...x...x...x...", 39: "....x.......x...", 46: "..x...x...x...x.",
                                  42: "oooooooooooooooo"},
                                 {36: "x...x...x...x...", 38: "....o.......o...", 42: "..x...x...x...x.",
                                  54: "o.o.o.o.o.o.o.o."}), "..x...x...x...x.", "x..x..x...x..x..",
           (38, 4, 80), chord_steps=2, melody=0.15),
    _Genre("dancehall", (90, 100), ({36: "x...x...x...x...", 38: "...x..x....x..x.", 42: "x.x.x.x.x.x.x.x."},
                                    {36: "x......x..x.....", 37: "....x.......x...", 42: "xoxoxoxoxoxoxoxo"}),
           "x..x..x.x..x..x.", "...x..x....x..x.", (33, 5, 12), chord_steps=2),
    _Genre("afrobeats", (100, 115), ({36: "x.....x...x.....", 39: "....x.......x...", 70: "xoxoxoxoxoxoxoxo",
                                      63: "..x..x....x..x.."},
                                     {36: "x..x....x.x.....", 37: "....x..x....x...", 69: "oxoooxoooxoooxoo",
                                      64: "x.......x.....x."}), "x..x...x..x.x...", ".x.x.x.x.x.x.x.x",
           (33, 27, 73), swing=0.08, chord_steps=1),
    _Genre("hiphop", (85, 95), ({36: "x......x.x......", 38: "....x.......x...", 42: "x.x.x.x.x.x.x.x."},
                                {36: "x.....x...x..x..", 38: "....x.......x...", 42: "xoxoxoxoxoxoxoxo"}),
           "x......x.x......", "x.......x.......", (33, 4, 0), swing=0.25, melody=0.12),
    _Genre("dnb", (170, 175), ({36: "x.........x.....", 38: "....x.......x...", 42: "x.x.x.x.x.x.x.x."},
                               {36: "x.........xx....", 38: "....x..o....x...", 51: "x.x.x.x.x.x.x.x."}),
           "x.......x.......", "x...............", (38, 89, 81), melody=0.1),
    _Genre("waltz", (84, 90), ({36: "x...........", 37: "....x...x...", 42: "..o...o...o."},
                               {35: "x...........", 42: "....o...o..."}), "x...........", "....x...x...",
           (32, 0, 40), meter=3, chord_steps=3, melody=0.2),
    _Genre("ballad", (60, 75), ({36: "x.......x.x.....", 37: "....x.......x...", 42: "o.o.o.o.o.o.o.o."},
                                {36: "x.........x.....", 38: "....o.......o..."}), "x.......x.......",
           "x.x.x.x.x.x.x.x.", (33, 0, 65), chord_steps=2, melody=0.1),
    _Genre("beatless", None, (), "", "", (48, 89, 52)),
)
#: New songs in the same eight styles, for held-out figures: grooves, bass and chord rhythms,
#: instruments and swing that the level weights never saw (`benchmarks/tempo_accuracy.py
#: --calibrate` fits on `_GENRES` only). Written once before any result on them was looked at,
#: and not to be tuned against those results.
_HELD_OUT_GENRES = (
    _Genre("house", (118, 128), ({36: "x...x...x...x...", 38: "....x.......x...", 44: "..x...x...x...x.",
                                  37: "......x......x..", 51: "x.x.x.x.x.x.x.x."},),
           "x.xx..x.x.xx..x.", "..x..x....x..x..", (39, 5, 81), chord_steps=2, melody=0.12),
    _Genre("dancehall", (90, 100), ({36: "x.....x.x.......", 38: "....x.......x...", 42: "x.xxx.xxx.xxx.xx",
                                     75: "x..x..x...x..x.."},),
           "x..x..x...x.x...", "..x...x...x...x.", (34, 16, 80), chord_steps=1),
    _Genre("afrobeats", (100, 115), ({36: "x.....x.x.......", 37: "...x..x....x..x.", 69: "oooooooooooooooo",
                                      62: "x..x..x...x..x.."},),
           "x.....x.x...x...", "..x..x..x..x..x.", (35, 24, 12), swing=0.12, chord_steps=1),
    _Genre("hiphop", (85, 95), ({36: "x.......xx....x.", 38: "....x.......x...", 42: "x.x.x.x.x.x.x.x.",
                                 46: "..............x."},),
           "x.......xx....x.", "x...............", (32, 48, 11), swing=0.18, melody=0.1),
    _Genre("dnb", (170, 175), ({36: "x.........x.....", 38: "....x.......x...", 42: "x.x.x.xox.x.x.xo",
                                54: "....x.......x..."},),
           "x.....x...x.....", "x.......x.......", (87, 50, 98), melody=0.1),
    _Genre("waltz", (84, 90), ({36: "x...........", 39: "....x...x...", 44: "..o...o...o."},),
           "x.......x...", "....x...x...", (43, 21, 73), meter=3, chord_steps=3, melody=0.15),
    _Genre("ballad", (60, 75), ({36: "x.....x...x.....", 38: "....x.......x...", 51: "x...x...x...x..."},),
           "x.....x...x.....", "x...x...x...x...", (33, 1, 71), chord_steps=4, melody=0.08),
    _Genre("beatless", None, (), "", "", (43, 90, 73)),
)
_PADS = (89, 88, 94, 49, 91)  # warm, new-age, halo pads, slow strings, choir
_HELD_OUT_PADS = (90, 92, 95, 48, 52)  # polysynth, bowed, sweep, strings, choir aahs
_PROGRESSIONS = (
    ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17)),
    ((0, 4, 7), (9, 12, 16), (5, 9, 12), (7, 11, 14)),
    ((0, 3, 7, 10), (5, 8, 12, 15), (10, 14, 17, 20), (3, 7, 10, 14)),
    ((0, 4, 7, 11), (2, 5, 9, 12), (4, 7, 11, 14), (5, 9, 12, 16)),
)


def default_cache_dir() -> Path:
    """``$DANCER_BENCH_CACHE``, else ``$XDG_CACHE_HOME/dancer-bench``, else ``~/.cache/dancer-bench``."""
    if os.environ.get("DANCER_BENCH_CACHE"):
        return Path(os.environ["DANCER_BENCH_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dancer-bench"


class _Song:
    """Absolute-tick note events on channels, turned into a type-1 MIDI file with one tempo."""

    def __init__(self, tempo_us: int, meter: int) -> None:
        self.tempo_us, self.meter = tempo_us, meter
        self.events: list[tuple[int, int, mido.Message]] = []

    def note(self, channel: int, pitch: int, tick: float, length: float, velocity: int) -> None:
        start, end = max(0, round(tick)), max(0, round(tick)) + max(1, round(length))
        velocity = int(np.clip(velocity, 1, 127))
        self.events.append((end, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        on = mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)
        self.events.append((start, 1, on))

    def control(self, channel: int, tick: float, number: int, value: int) -> None:
        self.events.append((round(tick), 1, mido.Message("control_change", channel=channel, control=number,
                                                         value=int(np.clip(value, 0, 127)))))

    def to_midi(self, programs: dict[int, int]) -> mido.MidiFile:
        meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=self.tempo_us),
                               mido.MetaMessage("time_signature", numerator=self.meter, denominator=4)])
        midi = mido.MidiFile(type=1, ticks_per_beat=TICKS, tracks=[meta])
        for channel in sorted({m.channel for _, _, m in self.events}):
            track = mido.MidiTrack()
            if channel in programs:
                track.append(mido.Message("program_change", channel=channel, program=programs[channel]))
            now = 0
            # note_off sorts before note_on at the same tick, so repeated pitches retrigger cleanly.
            mine = sorted((e for e in self.events if e[2].channel == channel), key=lambda e: e[:2])
            for tick, _, msg in mine:
                track.append(msg.copy(time=tick - now))
                now = tick
            midi.tracks.append(track)
        return midi


def _voice(key: int, chord: Sequence[int], low: int = 55, high: int = 77) -> list[int]:
    """Chord tones over ``key`` folded into ``[low, high]`` so voicings stay in a piano's middle."""
    notes = []
    for offset in chord:
        pitch = key + offset
        while pitch < low:
            pitch += 12
        while pitch > high:
            pitch -= 12
        notes.append(pitch)
    return sorted(set(notes))


def _arrangement(genre: _Genre, bpm: float, seconds: float, rng: np.random.Generator, variant: int) -> _Song:
    """Drums, bass on the chord roots, chords and a pentatonic melody, humanised by a few ms."""
    steps = 4 * genre.meter  # sixteenth notes
    step = TICKS / 4
    tempo_us = round(60e6 / bpm)
    ms = TICKS * 1e3 / tempo_us  # ticks per millisecond
    bars = int(np.ceil(seconds * 1e6 / (tempo_us * genre.meter)))
    song = _Song(tempo_us, genre.meter)
    key = 45 + int(rng.integers(0, 12))
    progression = _PROGRESSIONS[int(rng.integers(0, len(_PROGRESSIONS)))]
    scale = (0, 3, 5, 7, 10) if 3 in progression[0] else (0, 2, 4, 7, 9)
    drums = genre.drums[variant % len(genre.drums)]

    def when(bar: int, i: int) -> float:
        swing = genre.swing * step if i % 2 else 0.0
        return (bar * steps + i) * step + swing + np.clip(rng.normal(0, 3.0), -8, 8) * ms

    for bar in range(bars):
        chord = progression[bar % len(progression)]
        for pitch, lane in drums.items():
            for i, c in enumerate(lane):
                if c in _VELOCITY:
                    song.note(DRUMS, pitch, when(bar, i), step, _VELOCITY[c] + rng.integers(-10, 8))
        if bar % 8 == 0:
            song.note(DRUMS, 49, when(bar, 0), step, 90)
        if bar % 8 == 7 and genre.meter == 4:
            for i in (12, 13, 14, 15):
                song.note(DRUMS, 38, when(bar, i), step, 60 + 12 * (i - 12))
        for lane, channel, pitches, hold in ((genre.bass, 0, [key - 12 + chord[0] % 12], 2),
                                             (genre.chords, 1, _voice(key, chord), genre.chord_steps)):
            hits = [i for i, c in enumerate(lane) if c != "."]
            for n, i in enumerate(hits):
                length = hold or (hits[n + 1] if n + 1 < len(hits) else steps) - i
                for pitch in pitches:
                    song.note(channel, pitch, when(bar, i), length * step * 0.9, 88 + rng.integers(-8, 8))
        if bar >= 2:
            for i in np.flatnonzero(rng.random(steps) < genre.melody):
                degree = scale[int(rng.integers(0, len(scale)))]
                song.note(2, key + 24 + degree, when(bar, int(i)), step * int(rng.integers(1, 4)), 92)
    return song


def _beatless(genre: _Genre, seconds: float, rng: np.random.Generator) -> _Song:
    """Sustained chords of irregular length (rubato), rolled and swelled, with a sparse high line."""
    song = _Song(1_000_000, 4)  # 60 BPM nominal: one beat is one second, 480 ticks a second
    key = 45 + int(rng.integers(0, 12))
    progression = _PROGRESSIONS[int(rng.integers(0, len(_PROGRESSIONS)))]
    now, n = 0.0, 0
    while now < seconds:
        length = float(rng.uniform(4.0, 9.0))
        for pitch in [key - 12 + progression[n % 4][0]] + _voice(key, progression[n % 4]):
            roll = rng.uniform(0, 0.6)
            velocity = int(rng.integers(45, 75))
            song.note(1, pitch, (now + roll) * TICKS, (length + 1.0 - roll) * TICKS, velocity)
        if rng.random() < 0.6:
            start = now + rng.uniform(1.0, length - 1.0)
            song.note(2, key + 24 + progression[n % 4][-1], start * TICKS, rng.uniform(2, 4) * TICKS, 50)
        now, n = now + length, n + 1
    for t in np.arange(0.0, seconds, 0.25):
        song.control(1, t * TICKS, 11, 90 + 30 * np.sin(2 * np.pi * t / 11.0))
    return song


def _render(midi: mido.MidiFile, out_dir: Path, name: str) -> Path:
    """Render with fluidsynth unless a file for exactly this MIDI and command already exists."""
    midi_path = out_dir / f"{name}.mid"
    midi.save(midi_path)
    command = ["fluidsynth", "-ni", "-q", "-F", "{out}", "-r", str(RENDER_RATE), "-g", "0.6", str(SOUNDFONT)]
    key = hashlib.sha1(midi_path.read_bytes() + " ".join(command).encode()).hexdigest()[:12]
    wav = out_dir / f"{name}-{key}.wav"
    if wav.exists():
        return wav
    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        raise RuntimeError("rendering needs fluidsynth and fluid-soundfont-gm (apt-get install them)")
    partial = wav.with_suffix(".part.wav")
    command[command.index("{out}")] = str(partial)
    result = subprocess.run([*command, str(midi_path)], capture_output=True, text=True, timeout=300)
    if result.returncode or not partial.exists():
        raise RuntimeError(f"fluidsynth failed on {midi_path}: {result.stderr.strip()[-300:]}")
    os.replace(partial, wav)
    return wav


_BACKBEAT = (37, 38, 39, 40)  # side stick, snares, clap
_HATS = (42, 44, 46, 51, 53, 54, 69, 70)  # hats, ride, ride bell, tambourine, cabasa, maracas
_PERCUSSION = (56, 60, 61, 62, 63, 64, 75, 76, 77)  # cowbell, bongos, congas, claves, wood blocks
_BASSES = (32, 33, 34, 35, 36, 37, 38, 39, 87)
_CHORD_PROGRAMS = (0, 1, 4, 5, 16, 19, 24, 48, 50, 88, 89)
_LEADS = (11, 12, 40, 56, 65, 71, 73, 80, 81)


def _lane(rng: np.random.Generator, steps: int, chance: float, first: bool = False) -> str:
    hits = rng.random(steps) < chance
    hits[0] = hits[0] or first
    return "".join(("x" if rng.random() < 0.6 else "o") if h else "." for h in hits)


def _random_genre(style: _Genre, rng: np.random.Generator) -> _Genre:
    """A new groove in ``style``: its tempo range, meter, kick and backbeat placement, with random
    extra kicks, ghost notes, hat density and instrument, an optional percussion line, bass and
    chord rhythms, instruments and swing. For calibration material wider than the hand-written
    grooves."""
    steps = 4 * style.meter
    base = style.drums[0]
    kick = list(base.get(36, base.get(35, "x" + "." * (steps - 1))))
    for i in range(1, steps):
        if kick[i] == "." and i % 4 and rng.random() < 0.12:
            kick[i] = "x"
    backbeat = ["."] * steps
    for pitch, lane in base.items():
        if pitch in _BACKBEAT:
            backbeat = [b if b != "." else c if c in "xX" else "." for b, c in zip(backbeat, lane)]
    backbeat = [("o" if c == "." and rng.random() < 0.08 else c) for c in backbeat]
    quarter, eighth = "x...", "x.x."
    density = int(rng.integers(0, 4))
    unit = (quarter, eighth, "..x.", None)[density]
    hats = ("".join(("x" if i % 2 == 0 else "o") if rng.random() < 0.5 else "o" for i in range(steps))
            if unit is None else (unit * steps)[:steps])
    drums = {36: "".join(kick), int(rng.choice(_BACKBEAT)): "".join(backbeat), int(rng.choice(_HATS)): hats}
    if rng.random() < 0.5:
        drums[int(rng.choice(_PERCUSSION))] = _lane(rng, steps, 0.25)
    chords = (style.chords, _lane(rng, steps, 0.2, first=True), ("..x." * steps)[:steps])[int(rng.integers(0, 3))]
    swung = style.name in ("hiphop", "afrobeats", "dancehall")
    return _Genre(style.name, style.bpm, (drums,), _lane(rng, steps, 0.2, first=True), chords,
                  (int(rng.choice(_BASSES)), int(rng.choice(_CHORD_PROGRAMS)), int(rng.choice(_LEADS))),
                  meter=style.meter, swing=float(rng.uniform(0.0, 0.2 if swung else 0.06)),
                  chord_steps=int(rng.integers(0, 4)), melody=float(rng.uniform(0.05, 0.25)))


#: The groove banks `build_synthetic_set` renders, and the tag each puts in its item names.
BANKS = {"calibration": "", "held-out": "h", "random": "r"}


def build_synthetic_set(out_dir: Path, *, seed: int = 1, seconds: float = 30.0,
                        per_genre: int = 5, bank: str = "calibration") -> list[LabelledItem]:
    """Render ``per_genre`` items for each of eight genres into ``out_dir`` (cached by content).

    ``bank``: ``"calibration"`` plays the `_GENRES` grooves; ``"held-out"`` the `_HELD_OUT_GENRES`
    songs, the same styles and tempo ranges with grooves and instruments the calibration never saw
    (use another ``seed`` too); ``"random"`` a new `_random_genre` groove for every item.

    Tempi spread over each genre's range (house 118–128, dancehall 90–100, afrobeats 100–115,
    hip-hop 85–95, drum & bass 170–175, 3/4 waltz 84–90, ballad 60–75), one integer and the rest to
    0.1 BPM. The label is the tempo the MIDI file really carries (``60e6 / round(60e6 / bpm)``);
    fluidsynth's 64-sample event clock adds up to 3 ms of jitter but no drift. Beatless pads get
    ``bpm=None``. Onsets are humanised by N(0, 3 ms) and hip-hop/afrobeats swing.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    items = []
    if bank not in BANKS:
        raise ValueError(f"bank must be one of {', '.join(BANKS)}")
    held_out = bank == "held-out"
    for g, style in enumerate(_HELD_OUT_GENRES if held_out else _GENRES):
        tempi = [None] * per_genre
        if style.bpm:
            jitter = np.random.default_rng([seed, g]).uniform(-0.45, 0.45, per_genre)
            tempi = np.round(np.linspace(style.bpm[0] + 0.5, style.bpm[1] - 0.5, per_genre) + jitter, 1)
            tempi[0] = round(tempi[0])
        for n, bpm in enumerate(tempi):
            rng = np.random.default_rng([seed, g, n])
            genre = _random_genre(style, rng) if bank == "random" and style.bpm else style
            if bpm is None:
                song = _beatless(genre, seconds, rng)
            else:
                song = _arrangement(genre, float(bpm), seconds, rng, n)
            bass, chords, melody = genre.programs
            if bpm is None:
                chords = (_HELD_OUT_PADS if held_out else _PADS)[n % 5]
            midi = song.to_midi({0: bass, 1: chords, 2: melody})
            name = f"{genre.name}-{BANKS[bank]}{n}"
            path = _render(midi, out_dir, name)
            true_bpm = None if bpm is None else 60e6 / song.tempo_us
            items.append(LabelledItem(path, true_bpm, genre.meter, genre.name, "synthetic", name,
                                      sf.info(str(path)).duration))
    return items


def _tempo_changes(midi: mido.MidiFile) -> tuple[dict[int, int], int, int]:
    """({tick: microseconds per beat}, meter at tick 0, last event's tick) of a MIDI file."""
    changes, meter, end = {0: 500_000}, 4, 0
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                changes[tick] = msg.tempo
            elif msg.type == "time_signature" and tick == 0:
                meter = msg.numerator
        end = max(end, tick)
    return changes, meter, end


def tempo_map(midi_path: Path) -> tuple[float, bool, int]:
    """(dominant bpm, whether the tempo is constant, meter) of a MIDI file's tempo map.

    The dominant tempo is the one that lasts longest in seconds up to the last event.
    """
    midi = mido.MidiFile(str(midi_path))
    changes, meter, end = _tempo_changes(midi)
    ticks = sorted(changes)
    seconds: dict[int, float] = {}
    for start, stop in zip(ticks, [*ticks[1:], max(end, ticks[-1])]):
        tempo = changes[start]
        seconds[tempo] = seconds.get(tempo, 0.0) + (stop - start) * tempo / midi.ticks_per_beat / 1e6
    used = [t for t, s in seconds.items() if s > 0] or [changes[ticks[-1]]]
    dominant = max(used, key=lambda t: seconds.get(t, 0.0))
    return 60e6 / dominant, len({round(60e6 / t, 2) for t in used}) == 1, meter


def chart_beats(midi_path: Path) -> np.ndarray:
    """Seconds of every beat of a MIDI file's tempo map, from tick 0 through its last event.

    A Frets on Fire chart is timed by hand against its recording, so these are the song's beats
    (the game plays the chart from the start of the audio).
    """
    midi = mido.MidiFile(str(midi_path))
    changes, _, end = _tempo_changes(midi)
    beat_ticks = np.arange(0, end + 1, midi.ticks_per_beat, dtype=np.float64)
    starts = np.array(sorted(changes), dtype=np.float64)
    tempi = np.array([changes[int(t)] for t in starts], dtype=np.float64) / midi.ticks_per_beat / 1e6
    at_start = np.concatenate([[0.0], np.cumsum(np.diff(starts) * tempi[:-1])])
    segment = np.searchsorted(starts, beat_ticks, side="right") - 1
    return at_start[segment] + (beat_ticks - starts[segment]) * tempi[segment]


def load_fretsonfire_set(root: Path = FOF_ROOT, *, cache_dir: Path | None = None,
                         mix_stems: bool = True) -> list[LabelledItem]:
    """Songs under ``root`` (Debian ``fretsonfire-songs-muldjord`` and ``-sectoid``) labelled by their
    chart's tempo map; ``source`` is ``fretsonfire/PACK`` (the folder under ``root``).

    In Frets on Fire songs ``song.ogg`` is the backing track *without* the guitar, which is in
    ``guitar.ogg`` (the two are uncorrelated). With ``mix_stems`` every stem present is summed into a
    cached FLAC in ``cache_dir`` to get the full band; otherwise ``song.ogg`` is used as is.
    Returns [] when the package is not installed.
    """
    items = []
    for chart in sorted(Path(root).glob("**/notes.mid")):
        folder = chart.parent
        stems = [folder / s for s in _STEMS if (folder / s).exists()]
        if not stems:
            continue
        bpm, constant, meter = tempo_map(chart)
        ini = configparser.ConfigParser(interpolation=None)
        ini.read(folder / "song.ini")
        title = ini.get("song", "name", fallback=folder.name)
        path = stems[0]
        if mix_stems and len(stems) > 1:
            path = _mix(stems, cache_dir or default_cache_dir(), folder.name)
        note = "+".join(s.name for s in stems) if path != stems[0] else stems[0].name
        if not constant:
            note += ", tempo varies"
        # Debian's FoF song packages: Muldjord (a Danish metal band) and Sectoid (metal and rock).
        pack = folder.relative_to(root).parts[0] if folder != Path(root) else Path(root).name
        items.append(LabelledItem(path, bpm, meter, ini.get("song", "genre", fallback="metal"),
                                  f"fretsonfire/{pack}", title, sf.info(str(path)).duration, constant, note,
                                  chart))
    return items


def _mix(stems: Sequence[Path], cache_dir: Path, name: str) -> Path:
    stat = "".join(f"{s}:{s.stat().st_size}:{s.stat().st_mtime_ns}" for s in stems)
    out = Path(cache_dir) / "fretsonfire" / f"{name}-{hashlib.sha1(stat.encode()).hexdigest()[:12]}.flac"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    signals = [sf.read(str(s), dtype="float32", always_2d=True) for s in stems]
    rate = signals[0][1]
    frames = max(len(y) for y, _ in signals)
    mix = np.zeros((frames, max(y.shape[1] for y, _ in signals)), np.float32)
    for y, sr in signals:
        if sr != rate:
            raise RuntimeError(f"stems of {name} have different sample rates")
        mix[: len(y)] += y
    mix /= max(1.0, float(np.max(np.abs(mix))) / 0.99)
    _write(out, mix, rate, "FLAC")
    return out


def _write(path: Path, y: np.ndarray, sr: int, fmt: str) -> None:
    partial = path.with_name(path.name + ".part")
    # Block writes: libsndfile's Vorbis encoder crashes on one huge write, and blocks cost nothing.
    with sf.SoundFile(str(partial), "w", sr, y.shape[1], format=fmt, subtype="PCM_16") as f:
        for i in range(0, len(y), 65536):
            f.write(y[i : i + 65536])
    os.replace(partial, path)


def tempo_equivariance_pairs(item: LabelledItem, factors: Sequence[float] = (0.90, 1.12), *,
                             cache_dir: Path | None = None,
                             max_seconds: float | None = None) -> list[tuple[Path, float]]:
    """Speed-changed copies of ``item``: tempo (and pitch) times each factor, as (path, factor).

    The samples are resampled from ``sr`` to ``sr / factor`` with soxr (very high quality) and
    written with the nominal ``sr``, i.e. played faster by ``factor``; an item at ``bpm`` becomes
    exactly ``bpm * factor``. A factor of 1 returns the item's own path. ``max_seconds`` trims the
    source first. Files are cached as WAV under ``cache_dir / "equivariance"``.
    """
    import soxr

    out_dir = Path(cache_dir or default_cache_dir()) / "equivariance"
    info = Path(item.path).stat()
    pairs, source = [], None
    for factor in factors:
        if factor <= 0:
            raise ValueError(f"speed factors must be positive, got {factor}")
        if factor == 1.0:
            pairs.append((Path(item.path), 1.0))
            continue
        stamp = f"{item.path}:{info.st_size}:{info.st_mtime_ns}:{factor!r}:{max_seconds!r}"
        digest = hashlib.sha1(stamp.encode()).hexdigest()[:10]
        out = out_dir / f"{Path(item.path).stem}-x{factor:g}-{digest}.wav"
        if not out.exists():
            if source is None:
                y, sr = sf.read(str(item.path), dtype="float32", always_2d=True)
                source = (y[: int(max_seconds * sr)] if max_seconds else y), sr
            out_dir.mkdir(parents=True, exist_ok=True)
            faster = soxr.resample(source[0], source[1], source[1] / factor, quality="VHQ")
            _write(out, np.clip(faster, -1.0, 1.0), source[1], "WAV")
        pairs.append((out, float(factor)))
    return pairs


def main(argv: Sequence[str]) -> None:
    import time

    cache = Path(argv[0]) if argv else default_cache_dir()
    started = time.perf_counter()
    items = build_synthetic_set(cache / "synthetic")
    built = time.perf_counter() - started
    fof = load_fretsonfire_set(cache_dir=cache)
    if not fof:
        print(f"(no Frets on Fire songs under {FOF_ROOT}: apt-get install fretsonfire-songs-muldjord)")
    print(f"{'name':<24} {'genre':<10} {'bpm':>9} {'meter':>5} {'seconds':>8}  source")
    for item in [*items, *fof]:
        bpm = "beatless" if item.bpm is None else f"{item.bpm:.3f}"
        print(f"{item.name:<24.24} {item.genre:<10} {bpm:>9} {item.meter:>5} {item.seconds:>8.1f}  "
              f"{item.source}{' (' + item.note + ')' if item.note else ''}")
    if fof:
        pairs = tempo_equivariance_pairs(fof[0], cache_dir=cache, max_seconds=60.0)
        for path, factor in pairs:
            print(f"x{factor:g}: {path.name}  (true bpm {fof[0].bpm * factor:.3f})")
    print(f"{len(items)} synthetic items in {built:.1f} s, {len(fof)} Frets on Fire songs; cache {cache}")


if __name__ == "__main__":
    main(sys.argv[1:])
