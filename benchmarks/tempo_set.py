"""Labelled recordings for the tempo-accuracy benchmark (`benchmarks/tempo_accuracy.py`).

Public functions
----------------
build_synthetic_set       GM arrangements written with mido and rendered by fluidsynth with the
                          FluidR3 SoundFont: eight genres, known tempo (and meter), humanised timing.
build_hard_set            a harder fluidsynth bank: issue #12's plain groove, tempo drift and timing
                          jitter, guitar and piano without drums, waltz, rumba, samba, bossa, swing,
                          very fast and very slow material, MP3s, short excerpts, beatless pads,
                          drones, rubato and speech (`hard_kind` names each item's kind).
load_fretsonfire_set      the songs of Debian's ``fretsonfire-songs-muldjord``: real band recordings
                          whose ``notes.mid`` chart carries the tempo map.
load_lmms_set             LMMS demo songs rendered headless (`benchmarks/lmms_set.py`), labelled by
                          their project's tempo.
tempo_equivariance_pairs  exact speed changes of one recording (tempo and pitch scale together).
excerpts                  short excerpts cut from the middle of recordings.

Run ``python benchmarks/tempo_set.py [CACHE_DIR]`` to build everything and print a table.
Rendered and mixed files are cached by content, so a rerun only reads the cache.
"""

from __future__ import annotations

import configparser
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FOF_ROOT = Path("/usr/share/games/fretsonfire/data/songs")
#: Debian's ``wesnoth-1.16-music`` (the version is in the path): orchestral and folk game music.
WESNOTH_MUSIC = "/usr/share/games/wesnoth/*/data/core/music/*.ogg"
RENDER_RATE = 22050
#: Whether fluidsynth renders with its chorus on (its own default; off here since stop 34).
#: The chorus sends most GM programs through a wide stereo effect whose left and right outputs
#: are nearly opposite: a drum'n'bass groove of the held-out bank rendered with it has a
#: left-right correlation of -0.79, one of its pads -0.90, and with the chorus off +0.99 and
#: +0.99. No real recording in the benchmark is below 0 (a mix whose channels disagree
#: vanishes on a mono speaker), and dancer analyses the channels' sum, so with the chorus on
#: much of every render cancelled before the analysis saw it, and the synthetic bank read 0.903
#: where it now reads 0.882 (`benchmarks/stereo_image.py` prints the correlation per source).
#: ``benchmarks/tempo_accuracy.py --chorus`` renders as before; the cache keys are the command,
#: so both sets of renders can stay cached side by side.
FLUIDSYNTH_CHORUS = False
TICKS = 480
DRUMS = 9  # GM percussion is MIDI channel 10, zero-based 9
_VELOCITY = {"X": 120, "x": 100, "o": 62}
#: Frets on Fire audio: the backing track first, then the stems the game plays alongside it.
_STEMS = ("song.ogg", "guitar.ogg", "rhythm.ogg", "drums.ogg")


@dataclass(frozen=True)
class LabelledItem:
    """One recording with its true tempo.

    ``bpm`` is None for beatless material and for unlabelled recordings (`load_wesnoth_music`);
    ``tempo_constant`` is False when the source's tempo map changes (``bpm`` is then the tempo
    that lasts longest; for ``"synthetic-hard"`` items with tempo drift, the mean tempo).
    ``source`` is ``"synthetic"``, ``"synthetic-hard"``, ``"lmms"``, ``"wesnoth"`` or
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


def _render_target(midi: mido.MidiFile, out_dir: Path, name: str) -> tuple[Path, Path, list[str]]:
    """Save ``midi`` as ``out_dir/NAME.mid``; (its path, the cached render's path, the command).

    The file is written only when its bytes change, and then under a name of this process's own
    renamed into place: two benchmark scripts loading one set at once used to rewrite it while
    the other's fluidsynth read it."""
    midi_path = out_dir / f"{name}.mid"
    buffer = io.BytesIO()
    midi.save(file=buffer)
    data = buffer.getvalue()
    if not midi_path.exists() or midi_path.read_bytes() != data:
        partial = _partial(midi_path)
        partial.write_bytes(data)
        os.replace(partial, midi_path)
    chorus = [] if FLUIDSYNTH_CHORUS else ["-o", "synth.chorus.active=0"]
    command = ["fluidsynth", "-ni", "-q", *chorus, "-F", "{out}", "-r", str(RENDER_RATE), "-g", "0.6",
               str(SOUNDFONT)]
    key = hashlib.sha1(data + " ".join(command).encode()).hexdigest()[:12]
    return midi_path, out_dir / f"{name}-{key}.wav", command


def _render(midi: mido.MidiFile, out_dir: Path, name: str) -> Path:
    """Render with fluidsynth unless a file for exactly this MIDI and command already exists."""
    midi_path, wav, command = _render_target(midi, out_dir, name)
    if wav.exists():
        return wav
    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        raise RuntimeError("rendering needs fluidsynth and fluid-soundfont-gm (apt-get install them)")
    partial = _partial(wav)
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
    choices = (style.chords, _lane(rng, steps, 0.2, first=True), ("..x." * steps)[:steps])
    chords = choices[int(rng.integers(0, 3))]
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


def load_wesnoth_music(pattern: str = WESNOTH_MUSIC, *, min_seconds: float = 30.0) -> list[LabelledItem]:
    """Battle for Wesnoth's music (Debian ``wesnoth-1.16-music``): recordings of orchestral and
    folk pieces, some with a steady pulse, some free. Nothing labels their tempo, so they serve
    only what needs no label: equivariance, and how many are called beatless. Jingles shorter
    than ``min_seconds`` are left out. ``bpm`` is None; ``source`` is ``"wesnoth"``. [] when
    the package is not installed."""
    items = []
    for path in sorted(Path("/").glob(pattern.lstrip("/"))):
        seconds = sf.info(str(path)).duration
        if seconds >= min_seconds:
            items.append(LabelledItem(path, None, 4, "orchestral", "wesnoth", path.stem, seconds))
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


def _partial(path: Path) -> Path:
    """Where to write ``path`` before renaming it into place: a name of this process's own, so
    that two runs filling one cache at once (a benchmark and a test, or two benchmarks) do not
    rename each other's half-written file away (FileNotFoundError) or cut it short."""
    return path.with_name(f"{path.stem}.{os.getpid()}.part{path.suffix}")


def keep_render(result: subprocess.CompletedProcess, wav: Path, out: Path, *, tool: str, what: Path) -> None:
    """Check what ``tool`` (``result``) rendered of ``what`` into ``wav``, and keep it as 16-bit
    FLAC at ``out``. Raises RuntimeError when it failed, wrote nothing or less than a second."""
    if result.returncode or not wav.exists() or wav.stat().st_size < 1024:
        tail = (result.stderr or result.stdout).strip()[-300:]
        raise RuntimeError(f"{tool} failed on {what} (exit {result.returncode}): {tail}")
    y, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    if len(y) < sr:
        raise RuntimeError(f"{tool} rendered only {len(y) / sr:.2f} s of {what}")
    _write(out, y, sr, "FLAC")


def tool_version(command: Sequence[str], env: dict[str, str], *, last: bool = False) -> str:
    """The first (or ``last``) line a ``--version`` ``command`` prints; "" when the tool is
    missing or fails. The render caches key on it."""
    exe = shutil.which(command[0])
    if exe is None:
        return ""
    try:
        result = subprocess.run([exe, *command[1:]], capture_output=True, text=True, timeout=60, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = (result.stdout + result.stderr).strip().splitlines()
    return (lines[-1] if last else lines[0]).strip() if lines else ""


def print_items(items: Sequence[LabelledItem], footer: str) -> None:
    """A set's items, a line each (name, tempo, meter, length, note), then ``footer``."""
    print(f"{'name':<34} {'bpm':>7} {'meter':>5} {'seconds':>8}  note")
    for item in items:
        print(f"{item.name:<34.34} {item.bpm:>7.2f} {item.meter:>5} {item.seconds:>8.1f}  {item.note}")
    print(footer)


def _write(path: Path, y: np.ndarray, sr: int, fmt: str) -> None:
    partial = _partial(path)
    # Block writes: libsndfile's Vorbis encoder crashes on one huge write, and blocks cost nothing.
    with sf.SoundFile(str(partial), "w", sr, y.shape[1], format=fmt, subtype="PCM_16") as f:
        for i in range(0, len(y), 65536):
            f.write(y[i : i + 65536])
    os.replace(partial, path)


def tempo_equivariance_pairs(item: LabelledItem, factors: Sequence[float] = (0.90, 1.12), *,
                             cache_dir: Path | None = None, max_seconds: float | None = None,
                             stretch: bool = False) -> list[tuple[Path, float]]:
    """Speed-changed copies of ``item``: tempo (and pitch) times each factor, as (path, factor).

    The samples are resampled from ``sr`` to ``sr / factor`` with soxr (very high quality) and
    written with the nominal ``sr``, i.e. played faster by ``factor``; an item at ``bpm`` becomes
    exactly ``bpm * factor``. With ``stretch`` the tempo alone changes: Rubber Band's
    time-stretch (``pedalboard.time_stretch``, high quality; ``pip install pedalboard``) keeps
    the pitch, so every band's content stays where it was and only the timing moves. A factor
    of 1 returns the item's own path. ``max_seconds`` trims the source first. Files are cached
    as WAV under ``cache_dir / "equivariance"`` (``"stretch"`` with ``stretch``).
    """
    import soxr

    out_dir = Path(cache_dir or default_cache_dir()) / ("stretch" if stretch else "equivariance")
    info = Path(item.path).stat()
    pairs, source = [], None
    for factor in factors:
        if factor <= 0:
            raise ValueError(f"speed factors must be positive, got {factor}")
        if factor == 1.0 and not max_seconds:
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
            if factor == 1.0:
                faster = source[0]
            elif stretch:
                import pedalboard

                faster = pedalboard.time_stretch(np.ascontiguousarray(source[0].T), source[1], factor,
                                                 high_quality=True).T
            else:
                faster = soxr.resample(source[0], source[1], source[1] / factor, quality="VHQ")
            _write(out, np.clip(faster, -1.0, 1.0), source[1], "WAV")
        pairs.append((out, float(factor)))
    return pairs


#: The recording conditions `degraded_copies` simulates, in order; "clean" is the unaltered cut.
#: The last three are how a whole file can differ from the music in it: minutes of silence
#: after it (a CD's hidden track comes after them), a long beatless intro, and one channel
#: wired in inverted polarity.
DEGRADATIONS = ("clean", "telephone", "noise", "reverb", "quiet", "mp3-32k", "silence-after", "pad-intro",
                "inverted")
#: Seconds of silence after the cut ("silence-after") and of pad before it ("pad-intro").
GAP_SECONDS = 90.0


def _pad(seconds: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A sustained five-note chord in slow swells (0.05–0.2 Hz), with 3-s fades: no attacks."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
            * (0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t))
            for f in (220.0, 277.2, 329.6, 440.0, 554.4))
    return y * np.minimum(1.0, t / 3.0) * np.minimum(1.0, (seconds - t) / 3.0)


def _degrade(y: np.ndarray, sr: int, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """``y`` (frames, channels) as it would reach dancer through ``kind`` (`DEGRADATIONS`)."""
    import scipy.signal

    y = y.astype(np.float64)
    if kind == "telephone":  # an old or cheap recording: 300-3400 Hz, nothing below or above
        sos = scipy.signal.butter(4, [300.0, 3400.0], btype="band", fs=sr, output="sos")
        y = scipy.signal.sosfilt(sos, y, axis=0)
    elif kind == "noise":  # pink noise (Kellet's filter) 10 dB below the music: tape hiss, a crowd
        noise = scipy.signal.lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                                     [1.0, -2.494956002, 2.017265875, -0.522189400],
                                     rng.standard_normal(y.shape), axis=0)
        y = y + noise * np.sqrt(np.mean(y**2) / np.mean(noise**2)) * 10 ** (-10 / 20)
    elif kind == "reverb":  # a hall: exponentially decaying noise, 2 s to -60 dB
        t = np.arange(int(2.0 * sr)) / sr
        tail = rng.standard_normal(t.size) * np.exp(-t * 6.91 / 2.0)
        tail[0] = 1.0
        tail /= np.sqrt(np.sum(tail**2))
        wet = np.stack([scipy.signal.fftconvolve(y[:, c], tail)[: len(y)] for c in range(y.shape[1])], axis=1)
        y = 0.5 * y + 0.8 * wet
    elif kind == "quiet":  # 20 dB down: about -31 LUFS from these songs' -11, an old or classical master
        y = y * 10 ** (-20 / 20)
    elif kind == "mp3-32k":  # a 32 kbps mono MP3 at 22.05 kHz, the lowest bit rate previews use
        with tempfile.TemporaryDirectory() as tmp:
            wav, mp3 = Path(tmp) / "in.wav", Path(tmp) / "out.mp3"
            _write(wav, np.clip(y, -1.0, 1.0).astype(np.float32), sr, "WAV")
            subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-b:a", "32k", "-ac", "1",
                            "-ar", "22050", str(mp3)], check=True)
            z, sr = sf.read(str(mp3), dtype="float32", always_2d=True)
            y = z.astype(np.float64)
    elif kind == "silence-after":
        y = np.concatenate([y, np.zeros((int(GAP_SECONDS * sr), y.shape[1]))])
    elif kind == "pad-intro":  # at the music's RMS
        pad = _pad(GAP_SECONDS, sr, rng)
        pad *= np.sqrt(np.mean(y**2) / np.mean(pad**2))
        y = np.concatenate([np.repeat(pad[:, None], y.shape[1], axis=1), y])
    elif kind == "inverted":
        y = np.concatenate([y[:, :1], -y[:, -1:]], axis=1)
    elif kind != "clean":
        raise ValueError(f"unknown degradation {kind!r}")
    return np.clip(y, -1.0, 1.0).astype(np.float32), sr


def degraded_copies(items: Sequence[LabelledItem], *, cache_dir: Path | None = None,
                    seconds: float = 30.0) -> list[LabelledItem]:
    """The middle ``seconds`` of each labelled item under each of `DEGRADATIONS`: band-limited
    to a telephone's 300-3400 Hz, pink noise 10 dB down, a 2-second hall reverb, 20 dB
    quieter, a 32 kbps mono MP3 (skipped without ``ffmpeg``), followed by `GAP_SECONDS` of
    digital silence, after a pad intro as long and as loud (`_pad`), and in stereo with the
    second channel's polarity inverted (a mono item becomes ``(x, -x)``). The source becomes
    ``degraded/KIND`` and the name ``NAME@KIND``; labels stay. Cached as WAV under
    ``cache_dir / "degraded"``.
    """
    def render(kind: str, y: np.ndarray, sr: int, item: LabelledItem) -> tuple[np.ndarray, int]:
        middle = max(0, (len(y) - int(seconds * sr)) // 2)
        rng = np.random.default_rng(int(hashlib.sha1(item.name.encode()).hexdigest()[:8], 16))
        return _degrade(y[middle : middle + int(seconds * sr)], sr, kind, rng)

    kinds = [k for k in DEGRADATIONS if k != "mp3-32k" or shutil.which("ffmpeg")]
    return _derived(items, kinds, Path(cache_dir or default_cache_dir()) / "degraded", seconds=seconds,
                    stamp=str, tag=str, render=render,
                    label=lambda kind, item: (f"degraded/{kind}", f"{item.name}@{kind}"))


def excerpts(items: Sequence[LabelledItem], seconds: float, *, cache_dir: Path | None = None,
             starts: Sequence[float] = (0.3, 0.5, 0.7)) -> list[LabelledItem]:
    """``seconds``-long excerpts of each item, cut at each of ``starts`` (shares of its length)
    and labelled like it; ``source`` becomes ``excerpt/SOURCE``.

    Cut straight out of the music, as a preview or a clip is, so every excerpt starts in the
    middle of a sound. Items shorter than the excerpt are skipped. Cached as WAV under
    ``cache_dir / "excerpts"``.
    """
    def render(start: float, y: np.ndarray, sr: int, item: LabelledItem) -> tuple[np.ndarray, int]:
        first = int(start * len(y))
        return y[first : first + int(seconds * sr)], sr

    return _derived(items, starts, Path(cache_dir or default_cache_dir()) / "excerpts", seconds=seconds,
                    stamp=repr, tag=lambda start: f"{seconds:g}s-at{start:g}", render=render,
                    label=lambda start, item: (f"excerpt/{item.source}", f"{item.name}@{start:g}"))


def _derived(items: Sequence[LabelledItem], keys: Sequence, out_dir: Path, *, seconds: float,
             stamp: Callable, tag: Callable, render: Callable, label: Callable) -> list[LabelledItem]:
    """For each labelled item at least ``seconds`` long and each of ``keys``, the cached WAV
    ``render(key, y, sr, item)`` makes of the item's samples, labelled like the item with
    ``(source, name) = label(key, item)``. A file's name holds the item's stem, ``tag(key)`` and a
    digest of the item's path, size, time, ``seconds`` and ``stamp(key)``: it is made again
    when the item changes."""
    made = []
    for item in items:
        if item.bpm is None or item.seconds < seconds:
            continue
        info = Path(item.path).stat()
        source = None
        for key in keys:
            digest = hashlib.sha1(f"{item.path}:{info.st_size}:{info.st_mtime_ns}:{seconds!r}:{stamp(key)}"
                                  .encode()).hexdigest()[:10]
            out = out_dir / f"{Path(item.path).stem}-{tag(key)}-{digest}.wav"
            if not out.exists():
                if source is None:
                    source = sf.read(str(item.path), dtype="float32", always_2d=True)
                out_dir.mkdir(parents=True, exist_ok=True)
                _write(out, *render(key, *source, item), "WAV")
            origin, name = label(key, item)
            made.append(LabelledItem(out, item.bpm, item.meter, item.genre, origin, name, seconds,
                                     item.tempo_constant, item.note))
    return made


# ----------------------------------------------------------------------------------------------
# The harder synthetic bank (`build_hard_set`): what real recordings do that the grooves above do
# not. Every style is a function that writes one song into a `_Take`.


class _MapSong(_Song):
    """A `_Song` whose tempo changes on every beat: ``tempi`` holds microseconds per beat, beat by beat."""

    def __init__(self, tempi: Sequence[int], meter: int) -> None:
        super().__init__(int(tempi[0]), meter)
        self.tempi = [int(t) for t in tempi]

    def to_midi(self, programs: dict[int, int]) -> mido.MidiFile:
        midi = super().to_midi(programs)
        meta = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=self.meter, denominator=4),
                               mido.MetaMessage("set_tempo", tempo=self.tempi[0])])
        wait = 0
        for previous, tempo in zip(self.tempi, self.tempi[1:]):
            wait += TICKS
            if tempo != previous:
                meta.append(mido.MetaMessage("set_tempo", tempo=tempo, time=wait))
                wait = 0
        midi.tracks[0] = meta
        return midi


class _Take:
    """One performance being written: ``bars`` bars of ``meter`` beats at ``bpm`` (or a tempo that
    wanders by ``drift``, a fraction, around it), every note shifted by N(0, ``jitter_ms``) ms.

    Positions and lengths are in beats. ``true_bpm`` is the mean tempo: beats over minutes.
    """

    def __init__(self, bpm: float, meter: int, seconds: float, rng: np.random.Generator, *,
                 jitter_ms: float = 3.0, drift: float = 0.0) -> None:
        self.rng, self.meter, self.jitter_ms = rng, meter, jitter_ms
        tempo_us = round(60e6 / bpm)
        self.bars = max(1, int(np.ceil(seconds * 1e6 / (tempo_us * meter))))
        beats = self.bars * meter + meter  # one spare bar for endings
        if drift:
            # A smooth wander: three slow sines of random phase, scaled so its extremes are ±drift.
            x = np.arange(beats) / beats
            wave = sum(rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * (f * x + rng.random()))
                       for f in (rng.uniform(0.4, 0.8), rng.uniform(1.0, 1.8), rng.uniform(2.0, 3.5)))
            wave = wave / np.max(np.abs(wave))
            tempi = np.round(60e6 / (bpm * (1.0 + drift * wave))).astype(int)
            self.song: _Song = _MapSong(tempi, meter)
            played = tempi[: self.bars * meter]
            self.true_bpm = len(played) * 60e6 / float(np.sum(played))
            self.span = (60e6 / played.max(), 60e6 / played.min())
        else:
            self.song = _Song(tempo_us, meter)
            self.true_bpm = 60e6 / tempo_us
            self.span = (self.true_bpm, self.true_bpm)
        self.ms = TICKS * 1e3 / tempo_us  # ticks per millisecond at the nominal tempo
        self.key = 45 + int(rng.integers(0, 12))
        self.progression = _PROGRESSIONS[int(rng.integers(0, len(_PROGRESSIONS)))]
        self.minor = 3 in self.progression[0]

    def chord(self, bar: int, per: int = 1) -> tuple[int, ...]:
        """The chord of ``bar`` (one chord every ``per`` bars)."""
        return self.progression[(bar // per) % len(self.progression)]

    def root(self, bar: int, per: int = 1, octave: int = -1) -> int:
        return self.key + 12 * octave + self.chord(bar, per)[0] % 12

    def hit(self, channel: int, pitch: int, beat: float, length: float, velocity: float,
            jitter: float | None = None) -> None:
        sigma = self.jitter_ms if jitter is None else jitter
        shift = float(np.clip(self.rng.normal(0.0, sigma), -2.5 * sigma, 2.5 * sigma)) if sigma else 0.0
        self.song.note(channel, pitch, beat * TICKS + shift * self.ms, max(0.02, length) * TICKS,
                       int(velocity + self.rng.integers(-6, 6)))

    def lane(self, channel: int, pitch: int, pattern: str, bar: int, per_beat: int,
             swing: float = 0.0, length: float = 0.25, scale: float = 1.0) -> None:
        """Hits of a step pattern (``X`` ``x`` ``o``) over bar ``bar`` (or the bars the pattern spans);
        ``swing`` delays odd steps by that fraction of a step."""
        for i, c in enumerate(pattern):
            if c in _VELOCITY:
                beat = bar * self.meter + (i + (swing if i % 2 else 0.0)) / per_beat
                self.hit(channel, pitch, beat, length, _VELOCITY[c] * scale)

    def strum(self, channel: int, pitches: Sequence[int], beat: float, length: float, velocity: float,
              up: bool = False, spread_ms: float = 12.0) -> None:
        """A guitar stroke: strings one after another, low to high (down) or high to low (up)."""
        start = float(np.clip(self.rng.normal(0.0, self.jitter_ms), -2.5 * self.jitter_ms,
                              2.5 * self.jitter_ms)) if self.jitter_ms else 0.0
        order = sorted(pitches, reverse=up)
        for n, pitch in enumerate(order):
            at = beat + (start + n * spread_ms * self.rng.uniform(0.7, 1.3)) * self.ms / TICKS
            self.hit(channel, pitch, at, length, velocity * (0.85 if up else 1.0) - 2 * n, jitter=0.0)


def _guitar_voicing(take: _Take, bar: int, per: int = 1) -> list[int]:
    chord = take.chord(bar, per)
    return [take.root(bar, per, -1) if take.key >= 52 else take.root(bar, per, 0),
            *_voice(take.key, chord, 48, 67), *_voice(take.key + 12, chord[:2], 62, 71)]


def _style_plain(take: _Take) -> None:
    """Issue #12's plain groove: kick on every beat, snare on 2 and 4, closed hat on the off-beat
    eighths, a bass note on every beat."""
    for bar in range(take.bars):
        for b in range(4):
            beat = bar * 4 + b
            take.hit(DRUMS, 36, beat, 0.25, 112)
            if b % 2:
                take.hit(DRUMS, 38, beat, 0.25, 104)
            take.hit(DRUMS, 42, beat + 0.5, 0.2, 84)
            take.hit(0, take.root(bar, 2), beat, 0.45, 96)


def _style_rock(take: _Take) -> None:
    for bar in range(take.bars):
        take.lane(DRUMS, 36, "x.......x.x.....", bar, 4)
        take.lane(DRUMS, 38, "....x.......x...", bar, 4)
        take.lane(DRUMS, 42, "x.o.x.o.x.o.x.o.", bar, 4)
        if bar % 4 == 0:
            take.hit(DRUMS, 49, bar * 4, 1, 96)
        for e in range(8):
            take.hit(0, take.root(bar), bar * 4 + e / 2, 0.4, 90 if e % 2 == 0 else 76)
        take.strum(1, _guitar_voicing(take, bar), bar * 4, 1.8, 90)
        take.strum(1, _guitar_voicing(take, bar), bar * 4 + 2, 1.8, 84)


def _style_house(take: _Take) -> None:
    for bar in range(take.bars):
        take.lane(DRUMS, 36, "x...x...x...x...", bar, 4)
        take.lane(DRUMS, 39, "....x.......x...", bar, 4)
        take.lane(DRUMS, 46, "..x...x...x...x.", bar, 4)
        take.lane(DRUMS, 42, "o.o.o.o.o.o.o.o.", bar, 4, scale=0.8)
        for b in range(4):
            take.hit(0, take.root(bar, 2), bar * 4 + b + 0.5, 0.35, 96)
        for pos in (0.5, 1.75, 3.0):
            for pitch in _voice(take.key, take.chord(bar, 2)):
                take.hit(1, pitch, bar * 4 + pos, 0.4, 80)


def _style_funk(take: _Take) -> None:
    for bar in range(take.bars):
        take.lane(DRUMS, 36, "x.....x...x..x..", bar, 4)
        take.lane(DRUMS, 38, "....x..o.o..x..o", bar, 4)
        take.lane(DRUMS, 42, "xoxoxoxoxoxoxoxo", bar, 4)
        bass = "x..x..x.x.....x."
        for i, c in enumerate(bass):
            if c == "x":
                take.hit(0, take.root(bar) + (7 if i == 8 else 0), bar * 4 + i / 4, 0.2, 100)
        for i, c in enumerate(".x.x.x.x.xx..x.x"):
            if c == "x":
                for pitch in _voice(take.key, take.chord(bar)):
                    take.hit(1, pitch, bar * 4 + i / 4, 0.12, 78)


def _style_guitar(take: _Take, eighths: bool) -> None:
    """Strummed acoustic guitar, no drums: down strokes on the beats (accent on 1), with
    ``eighths`` up strokes on the off-beats too."""
    for bar in range(take.bars):
        voicing = _guitar_voicing(take, bar)
        for b in range(take.meter):
            beat = bar * take.meter + b
            accent = 100 if b == 0 else 86
            take.strum(0, voicing, beat, 0.5 if eighths else 0.95, accent, spread_ms=take.rng.uniform(9, 16))
            if eighths:
                take.strum(0, voicing[-4:], beat + 0.5, 0.45, 70, up=True, spread_ms=8)


def _style_piano(take: _Take, right: str) -> None:
    """Piano, no drums: left-hand bass on every beat (root, fifth), right-hand chords on ``right``:
    "backbeat" (2 and 4), "offbeat" (every off-beat eighth) or "waltz" (2 and 3 of 3/4)."""
    for bar in range(take.bars):
        chord = take.chord(bar)
        for b in range(take.meter):
            beat = bar * take.meter + b
            if right == "waltz" and b:
                for pitch in _voice(take.key, chord, 57, 76):
                    take.hit(0, pitch, beat, 0.7, 70)
                continue
            bass = take.root(bar, octave=-2 if take.key > 50 else -1) + (7 if b % 2 else 0)
            take.hit(0, bass, beat, 0.9, 92 if b == 0 else 82)
            if right == "backbeat" and b % 2:
                for pitch in _voice(take.key, chord, 57, 76):
                    take.hit(0, pitch, beat, 0.8, 72)
            if right == "offbeat":
                for pitch in _voice(take.key, chord, 57, 76):
                    take.hit(0, pitch, beat + 0.5, 0.35, 70)
        take.song.control(0, bar * take.meter * TICKS, 64, 0)
        take.song.control(0, bar * take.meter * TICKS + 10, 64, 100)


def _style_waltz_band(take: _Take) -> None:
    """Slow waltz: bass on 1, chords on 2 and 3, brushed snare and hat."""
    for bar in range(take.bars):
        take.lane(DRUMS, 36, "x...........", bar, 4, scale=0.8)
        take.lane(DRUMS, 38, "....o...o...", bar, 4)
        take.lane(DRUMS, 42, "x...x...x...", bar, 4, scale=0.7)
        take.hit(0, take.root(bar), bar * 3, 0.9, 96)
        for b in (1, 2):
            for pitch in _voice(take.key, take.chord(bar)):
                take.hit(1, pitch, bar * 3 + b, 0.6, 74)
        if take.rng.random() < 0.7:
            take.hit(2, take.key + 24 + take.chord(bar)[int(take.rng.integers(0, 3))], bar * 3, 2.5, 84)


def _style_viennese(take: _Take) -> None:
    """Orchestral Viennese waltz, no drums: pizzicato bass on 1, short string chords on 2 and 3,
    a legato melody over the bar."""
    for bar in range(take.bars):
        take.hit(0, take.root(bar, 2), bar * 3, 0.8, 100)
        for b in (1, 2):
            for pitch in _voice(take.key, take.chord(bar, 2)):
                take.hit(1, pitch, bar * 3 + b, 0.45, 80 if b == 1 else 72)
        if bar % 2 == 0:
            tone = take.key + 12 + take.chord(bar, 2)[int(take.rng.integers(0, 3))]
            take.hit(2, tone, bar * 3, 5.5, 82)


def _style_rumba(take: _Take, kick: bool) -> None:
    """Rumba: 2-3 son clave, conga tumbao, maracas, anticipated bass (on the "and" of 2 and on 4,
    never on 1), a piano montuno; ``kick`` adds the soft kick on 1 and 3 of ballroom rumba."""
    clave = ("..x.x...", "x..x..x.")  # 2-3 son clave over two bars of eighths
    for bar in range(take.bars):
        take.lane(DRUMS, 75, clave[bar % 2], bar, 2)
        take.lane(DRUMS, 70, "xoxoxoxo", bar, 2, scale=0.7)
        take.lane(DRUMS, 62, "..x.....", bar, 2)
        take.lane(DRUMS, 63, "......xx", bar, 2)
        take.lane(DRUMS, 64, "x...x...", bar, 2, scale=0.7)
        if kick:
            take.lane(DRUMS, 36, "x...x...", bar, 2, scale=0.75)
        root = take.root(bar)
        take.hit(0, root + 7, bar * 4 + 1.5, 1.4, 96)
        take.hit(0, take.root(bar + 1), bar * 4 + 3, 1.0, 92)
        for i, c in enumerate("x.xx.xx." if bar % 2 else ".xx.x.xx"):  # montuno, in eighths
            if c == "x":
                for pitch in _voice(take.key, take.chord(bar), 60, 79):
                    take.hit(1, pitch, bar * 4 + i / 2, 0.3, 70)


def _style_samba(take: _Take) -> None:
    """Samba in 2/4: surdo muted on 1 and open on 2, caixa and ganzá sixteenths, tamborim
    teleco-teco, agogô, bass on 1 and 2 with a pickup, cavaquinho-like chords."""
    tamborim = ("x.x..x.x", ".x..x.x.")
    for bar in range(take.bars):
        take.lane(DRUMS, 41, "o.......", bar, 4)
        take.lane(DRUMS, 43, "....X...", bar, 4)
        take.lane(DRUMS, 41, "...o....", bar, 4, scale=0.7)
        take.lane(DRUMS, 38, "xoox" * 2, bar, 4, scale=0.55)
        take.lane(DRUMS, 82, "oxox" * 2, bar, 4, scale=0.8)
        take.lane(DRUMS, 76, tamborim[bar % 2], bar, 4)
        take.lane(DRUMS, 67 if bar % 2 else 68, "x.x...x.", bar, 4, scale=0.7)
        take.hit(0, take.root(bar, 2), bar * 2, 0.5, 96)
        take.hit(0, take.root(bar, 2) - 5, bar * 2 + 0.75, 0.25, 80)
        take.hit(0, take.root(bar, 2) + 7 - 12, bar * 2 + 1, 0.5, 100)
        for i, c in enumerate("x.xx.x.x"):
            if c == "x":
                for pitch in _voice(take.key + 12, take.chord(bar, 2), 62, 79):
                    take.hit(1, pitch, bar * 2 + i / 4, 0.15, 72)


def _style_bossa(take: _Take, unit: float) -> None:
    """Bossa nova: rim clicks on the bossa clave, shaker on every unit, kick and bass on the
    dotted pattern (1, the "a", 3 …), nylon guitar chord stabs, a strings pad. ``unit`` is the
    pattern's step in beats: 0.5 (fast count, eighths) or 0.25 (slow count, sixteenths)."""
    clave = "x..x..x...x..x.."  # one 16-unit cycle: two bars at the fast count, one at the slow
    kick = "x..xx..xx..xx..x"
    stabs = "x.xx.x..x.x.xx.."
    for u in range(int(round(take.bars * take.meter / unit))):
        i, beat = u % 16, u * unit
        bar = int(beat // take.meter)
        take.hit(DRUMS, 70, beat, unit, 64 if i % 2 else 78)
        if clave[i] == "x":
            take.hit(DRUMS, 37, beat, unit, 86)
        if kick[i] == "x":
            take.hit(DRUMS, 36, beat, unit, 70)
            root = take.root(bar) + (7 if i % 8 in (3, 4) else 0)
            take.hit(0, root, beat, 2 * unit if i % 4 == 0 else unit, 88)
        if stabs[i] == "x":
            for pitch in _voice(take.key, take.chord(bar), 55, 72):
                take.hit(1, pitch, beat, unit * 1.5, 66)
    for bar in range(take.bars):
        for pitch in _voice(take.key + 12, take.chord(bar)[:2], 67, 84):
            take.hit(2, pitch, bar * take.meter, take.meter * 0.95, 52, jitter=0.0)


def _swing_ratio(bpm: float) -> float:
    """Where the swung off-beat eighth falls in the beat: a triplet (2/3) at medium tempi,
    straighter when fast."""
    return float(np.interp(bpm, (120, 200, 300), (0.67, 0.62, 0.56)))


def _style_swing(take: _Take, bpm: float) -> None:
    """Jazz swing: ride "ding ding-a ding ding-a", hi-hat pedal on 2 and 4, walking bass on every
    quarter, sparse piano comping and snare off-beats, feathered kick."""
    late = _swing_ratio(bpm)
    scale = (0, 2, 3, 5, 7, 9, 10) if take.minor else (0, 2, 4, 5, 7, 9, 11)
    walk = take.root(0)
    for bar in range(take.bars):
        for b in range(4):
            beat = bar * 4 + b
            take.hit(DRUMS, 51, beat, 0.3, 96 if b % 2 else 84)
            if b % 2:
                take.hit(DRUMS, 51, beat + late, 0.2, 66)
                take.hit(DRUMS, 44, beat, 0.2, 84)
            take.hit(DRUMS, 36, beat, 0.2, 40)
            if take.rng.random() < 0.15:
                take.hit(DRUMS, 38, beat + late, 0.2, 50)
            target = take.root(bar + 1) if b == 3 else None
            if b == 0:
                walk = take.root(bar)
            elif target is not None:
                walk = target + (1 if take.rng.random() < 0.5 else -1)
            else:
                step = scale[int(take.rng.integers(0, len(scale)))]
                walk = take.root(bar) + step
            take.hit(0, walk, beat, 0.9, 96 if b == 0 else 88)
        pattern = ((0.0, late + 1.0), (late, 2.0 + late), (1.0 + late, 3.0))[int(take.rng.integers(0, 3))]
        if take.rng.random() < 0.75:
            for pos in pattern:
                for pitch in _voice(take.key, take.chord(bar), 57, 74):
                    take.hit(1, pitch, bar * 4 + pos, 0.25, 62)


def _style_dnb(take: _Take) -> None:
    """Drum & bass with a breakbeat (after the Amen break), reese bass, a pad."""
    kicks = ("x.x.......xx....", "x.x.......x.....")
    snares = ("....x..o.o..x..o", "....x..o.o....x.")
    for bar in range(take.bars):
        take.lane(DRUMS, 36, kicks[bar % 2], bar, 4)
        take.lane(DRUMS, 38, snares[bar % 2], bar, 4)
        take.lane(DRUMS, 42, "x.x.x.xox.x.x.xo", bar, 4, scale=0.8)
        if bar % 4 == 0:
            take.hit(DRUMS, 49, bar * 4, 1, 90)
        take.hit(0, take.root(bar, 2, -2) + 12, bar * 4, 1.5, 96)
        take.hit(0, take.root(bar, 2, -2) + 12, bar * 4 + 2.5, 1.4, 88)
        if bar % 2 == 0:
            for pitch in _voice(take.key, take.chord(bar, 2)):
                take.hit(1, pitch, bar * 4, 7.8, 60, jitter=0.0)


def _style_slow(take: _Take, feel: str) -> None:
    """60–70 BPM: "soul" (kick 1 and the "a" of 2, rim on 2 and 4, eighth hats, e-piano), "trap"
    (sixteenth hats and rolls, sparse kicks: a double-time trap), "blues" (12/8: triplets on every
    beat)."""
    for bar in range(take.bars):
        chord = _voice(take.key, take.chord(bar))
        if feel == "soul":
            take.lane(DRUMS, 36, "x......x..x.....", bar, 4)
            take.lane(DRUMS, 37, "....x.......x...", bar, 4)
            take.lane(DRUMS, 42, "x.o.x.o.x.o.x.o.", bar, 4, scale=0.8)
            for b in (0, 2):
                for pitch in chord:
                    take.hit(1, pitch, bar * 4 + b, 1.9, 70)
            take.hit(0, take.root(bar), bar * 4, 1.5, 92)
            take.hit(0, take.root(bar) + 7, bar * 4 + 1.75, 0.7, 80)
            take.hit(0, take.root(bar), bar * 4 + 2.5, 1.2, 84)
        elif feel == "trap":
            take.lane(DRUMS, 36, "x.........x.....", bar, 4)
            take.lane(DRUMS, 39, "........x.......", bar, 4)
            hats = "xoxoxoxoxoxoxxxx" if bar % 2 else "xoxoxoxoxoxoxoxo"
            take.lane(DRUMS, 42, hats, bar, 4, scale=0.8)
            take.hit(0, take.root(bar, 2, -2) + 12, bar * 4, 2.5, 110)
            for pitch in chord:
                take.hit(1, pitch, bar * 4, 3.9, 56, jitter=0.0)
        else:
            for b in range(4):
                beat = bar * 4 + b
                take.hit(DRUMS, 51 if b else 49, beat, 0.3, 84)
                take.hit(DRUMS, 51, beat + 2 / 3, 0.2, 60)
                take.hit(DRUMS, 36 if b % 2 == 0 else 38, beat, 0.3, 90)
                take.hit(0, take.root(bar) + (0, 4, 7, 9)[b], beat, 0.6, 92)
                take.hit(0, take.root(bar) + (0, 4, 7, 9)[b], beat + 2 / 3, 0.3, 70)
                for t in (1 / 3, 2 / 3):
                    for pitch in chord:
                        take.hit(1, pitch, beat + t, 0.3, 60)


def _style_arpeggio(take: _Take) -> None:
    """Piano ballad without drums: left hand root on 1 and 3, right hand triplet arpeggios."""
    for bar in range(take.bars):
        chord = _voice(take.key, take.chord(bar), 57, 79)
        take.hit(0, take.root(bar), bar * 4, 1.9, 80)
        take.hit(0, take.root(bar) + 7, bar * 4 + 2, 1.9, 72)
        tones = (chord * 4)[:12]
        for n, pitch in enumerate(tones):
            take.hit(0, pitch, bar * 4 + n / 3, 0.6, 62 if n % 3 else 70)
        take.song.control(0, bar * 4 * TICKS, 64, 0)
        take.song.control(0, bar * 4 * TICKS + 10, 64, 100)


def _style_melody(take: _Take, eighths: bool) -> None:
    """A legato melody without drums (channel 0: a flute, violin, oboe or clarinet), each note
    held into the next, over a string chord held for the whole bar (channel 1): the beat is in
    the note changes alone, none of them struck. Stepwise, with a half note now and then, and
    with ``eighths`` a pair of eighths on about half the beats."""
    scale = (0, 2, 3, 5, 7, 8, 10) if take.minor else (0, 2, 4, 5, 7, 9, 11)
    degree = 7
    for bar in range(take.bars):
        for pitch in _voice(take.key, take.chord(bar), 50, 67):
            take.hit(1, pitch, bar * take.meter, take.meter, 58, jitter=0.0)
        beat = 0.0
        while beat < take.meter:
            steps = [0.5, 0.5] if eighths and take.rng.random() < 0.5 else [1.0]
            if steps == [1.0] and beat + 2 <= take.meter and take.rng.random() < 0.2:
                steps = [2.0]
            for step in steps:
                degree = int(np.clip(degree + take.rng.choice((-2, -1, -1, 1, 1, 2)), 2, 13))
                pitch = take.key + 12 + 12 * (degree // 7) + scale[degree % 7]
                take.hit(0, pitch, bar * take.meter + beat, step + 0.08, int(take.rng.integers(70, 88)))
                beat += step


def _style_pads(take: _Take, hold: bool) -> None:
    """No pulse: sustained chords that change at irregular times (``hold``: one chord for the whole
    piece, a drone) with slow expression swells that share no period with anything."""
    seconds = take.bars * take.meter  # the take runs at 60 BPM: one beat a second
    now, n = 0.0, 0
    while now < seconds:
        length = min(seconds - now, seconds if hold else float(take.rng.uniform(5.0, 11.0)))
        chord = take.chord(n)
        pitches = [take.root(n, octave=-1), take.root(n, octave=-1) + 7, *_voice(take.key, chord)]
        for pitch in pitches:
            roll = take.rng.uniform(0.0, 1.5)
            take.hit(1, pitch, now + roll, length + 1.5 - roll, int(take.rng.integers(50, 72)), jitter=0.0)
        now, n = now + length, n + 1
    t = 0.0
    while t < seconds:
        swell = 85 + 25 * np.sin(2 * np.pi * t / 13.7) + 10 * np.sin(2 * np.pi * t / 5.3 + 1)
        take.song.control(1, t * TICKS, 11, int(swell))
        t += 0.2


def _style_rubato(take: _Take) -> None:
    """Rubato piano solo: single notes and chords at irregular times (gaps drawn log-normally
    from 0.1 to 2 s), rising and falling phrases, with pedal; no two gaps alike."""
    seconds = take.bars * take.meter
    scale = (0, 2, 3, 5, 7, 8, 10) if take.minor else (0, 2, 4, 5, 7, 9, 11)
    now, degree, n = 0.3, 7, 0
    while now < seconds:
        degree = int(np.clip(degree + take.rng.integers(-3, 4), 0, 20))
        pitch = take.key + 12 + 12 * (degree // 7) + scale[degree % 7]
        take.hit(0, pitch, now, take.rng.uniform(0.3, 2.0), int(take.rng.integers(45, 95)), jitter=0.0)
        if take.rng.random() < 0.25:
            for p in _voice(take.key, take.chord(n // 6), 48, 64):
                take.hit(0, p, now + take.rng.uniform(0, 0.15), 2.0, 55, jitter=0.0)
        if n % 7 == 0:
            take.song.control(0, now * TICKS - 5, 64, 0)
            take.song.control(0, now * TICKS + 20, 64, 100)
        now += float(np.clip(take.rng.lognormal(np.log(0.45), 0.65), 0.08, 2.2))
        n += 1


@dataclass(frozen=True)
class _HardSpec:
    """One item of the hard bank before it is rendered."""

    name: str
    kind: str
    genre: str
    bpm: float | None
    meter: int
    seconds: float
    style: str
    programs: tuple[tuple[int, int], ...]
    note: str
    jitter_ms: float = 3.0
    drift: float = 0.0
    args: tuple = ()


_STYLES = {
    "plain": _style_plain, "rock": _style_rock, "house": _style_house, "funk": _style_funk,
    "guitar": _style_guitar, "piano": _style_piano, "waltz": _style_waltz_band, "viennese": _style_viennese,
    "rumba": _style_rumba, "samba": _style_samba, "bossa": _style_bossa, "swing": _style_swing,
    "dnb": _style_dnb, "slow": _style_slow, "arpeggio": _style_arpeggio, "pads": _style_pads,
    "rubato": _style_rubato, "melody": _style_melody,
}
#: Items of the hard bank that also come as MP3, at each of `_MP3_RATES`.
_MP3_OF = ("plain-124", "rumba-0", "bossa-fast-0", "swing-1", "guitar-8ths-0", "pads-0")
_MP3_RATES = ("128k", "64k")
#: Excerpts, (seconds, item): cut at a random point from a 40-second render of the item.
_EXCERPTS = ((5.0, "jazz-fast-2"), (5.0, "dnb-0"), (5.0, "plain-108"), (5.0, "guitar-4ths-0"),
             (10.0, "rumba-1"), (10.0, "samba-0"), (10.0, "waltz-band"), (20.0, "bossa-slow-0"),
             (20.0, "piano-offbeat-0"), (30.0, "swing-0"))
_SPEECH = (
    ("en-us", 150, "The river was quiet that morning. A heron stood in the shallows, waiting, and the "
                   "mist lifted slowly from the water. Nobody spoke for a long time. Then somebody laughed, "
                   "and the boat drifted on past the old mill, where the wheel had not turned in years. "
                   "By noon the wind had changed, and we turned for home."),
    ("en-gb", 175, "Please remember to switch off your phone before the session begins. If you need a break, "
                   "step to the side of the room and rejoin whenever you like. There is water by the door. "
                   "We will start with a few minutes of slow breathing, then move on. Listen to the room, "
                   "notice your feet on the floor, and let your shoulders drop."),
)


def _hard_specs(seed: int) -> list[_HardSpec]:
    """The bank's items: tempi, lengths and jitters drawn from ``seed``."""
    rng = np.random.default_rng([seed, 12])
    specs: list[_HardSpec] = []

    def bpm_in(low: float, high: float) -> float:
        return float(np.round(rng.uniform(low, high), 1))

    def jitter_in(low: float, high: float) -> float:
        return float(np.round(rng.uniform(low, high), 1))

    def add(name: str, kind: str, genre: str, bpm: float | None, style: str, programs: dict[int, int],
            note: str, *args: object, meter: int = 4, jitter: float = 3.0, drift: float = 0.0) -> None:
        seconds = float(np.round(rng.uniform(20.0, 30.0), 1))
        specs.append(_HardSpec(name, kind, genre, bpm, meter, seconds, style, tuple(programs.items()), note,
                               jitter, drift, args))

    for bpm in (66, 72, 92, 98, 100, 108, 124, 132):
        add(f"plain-{bpm}", "plain groove", "plain", bpm, "plain", {0: 33},
            "issue #12's plain groove: kick every beat, snare 2+4, closed hat off-beat, bass every beat")
    drifting = (("rock", (88, 132), {0: 33, 1: 25}, ()), ("house", (118, 128), {0: 38, 1: 4}, ()),
                ("funk", (96, 112), {0: 36, 1: 7}, ()), ("guitar", (80, 120), {0: 25}, (True,)),
                ("piano", (70, 110), {0: 0}, ("backbeat",)), ("waltz", (84, 96), {0: 32, 1: 0, 2: 40}, ()))
    for style, span, programs, args in drifting:
        jitter = jitter_in(10.0, 30.0)
        add(f"drift-{style}", "drift+jitter", style, bpm_in(*span), style, programs,
            f"tempo wanders ±3 %, label is the mean; jitter N(0, {jitter:g} ms)", *args,
            meter=3 if style == "waltz" else 4, jitter=jitter, drift=0.03)
    for n, (eighths, program) in enumerate(((False, 25), (False, 24), (True, 25), (True, 24))):
        jitter = jitter_in(5.0, 15.0)
        strokes = "down-up eighths" if eighths else "down strokes on the beats"
        add(f"guitar-{'8ths' if eighths else '4ths'}-{n % 2}", "acoustic", "guitar",
            bpm_in(84, 140) if eighths else bpm_in(70, 130), "guitar", {0: program},
            f"strummed GM {program} guitar, {strokes}, no drums; jitter {jitter:g} ms", eighths,
            jitter=jitter)
    for n, (right, span) in enumerate((("backbeat", (66, 96)), ("backbeat", (96, 126)),
                                       ("offbeat", (100, 140)), ("offbeat", (72, 100)))):
        jitter = jitter_in(5.0, 15.0)
        add(f"piano-{right}-{n % 2}", "acoustic", "piano", bpm_in(*span), "piano", {0: 0},
            f"solo piano, left-hand bass on the beats, chords {right}; jitter {jitter:g} ms", right,
            jitter=jitter)
    add("waltz-band", "waltz", "waltz", bpm_in(84, 90), "waltz", {0: 32, 1: 0, 2: 40},
        "3/4 slow waltz, soft kick on 1, brushed snare on 2 and 3", meter=3)
    add("waltz-viennese", "waltz", "waltz", bpm_in(172, 180), "viennese", {0: 45, 1: 48, 2: 40},
        "3/4 Viennese waltz, orchestral, no drums", meter=3)
    add("waltz-piano", "waltz", "waltz", bpm_in(120, 150), "piano", {0: 0},
        "3/4 piano oom-pah-pah, no drums; jitter 10 ms", "waltz", meter=3, jitter=10.0)
    add("waltz-guitar", "waltz", "waltz", bpm_in(132, 160), "guitar", {0: 24},
        "3/4 nylon guitar strummed on every beat, no drums; jitter 8 ms", False, meter=3, jitter=8.0)
    for n, kick in enumerate((False, True, False)):
        add(f"rumba-{n}", "latin", "rumba", bpm_in(100, 108), "rumba", {0: 32, 1: 0},
            "rumba: son clave, conga tumbao, anticipated bass (never on 1), "
            + ("soft ballroom kick" if kick else "no kick"), kick, jitter=6.0)
    for n in range(3):
        add(f"samba-{n}", "latin", "samba", bpm_in(96, 104), "samba", {0: 33, 1: 24},
            "samba in 2/4: surdo on 2, sixteenth caixa and ganzá", meter=2, jitter=5.0)
    for n, (count, span, unit) in enumerate((("fast", (130, 140), 0.5), ("fast", (130, 140), 0.5),
                                             ("slow", (70, 80), 0.25), ("slow", (70, 80), 0.25))):
        steps = "eighths" if unit == 0.5 else "sixteenths"
        add(f"bossa-{count}-{n % 2}", "latin", "bossa", bpm_in(*span), "bossa", {0: 32, 1: 24, 2: 48},
            f"bossa nova, pattern in {steps}; the label counts quarter notes (octave-ambiguous by nature)",
            unit, jitter=5.0)
    for n, span in enumerate(((120, 135), (145, 160), (170, 185), (190, 200))):
        bpm = bpm_in(*span)
        add(f"swing-{n}", "swing", "swing", bpm, "swing", {0: 32, 1: 0},
            f"jazz swing: ride, eighths swung at {_swing_ratio(bpm):.2f}, walking bass, hi-hat on 2 and 4",
            bpm, jitter=8.0)
    for n, span in enumerate(((250, 265), (265, 285), (285, 300))):
        bpm = bpm_in(*span)
        add(f"jazz-fast-{n}", "very fast", "swing", bpm, "swing", {0: 32, 1: 0},
            "up-tempo jazz: ride, walking bass, hi-hat on 2 and 4", bpm, jitter=6.0)
    for n in range(3):
        add(f"dnb-{n}", "very fast", "dnb", bpm_in(170, 180), "dnb", {0: 38, 1: 89},
            "drum & bass: Amen-like breakbeat, reese bass")
    slow = {"soul": "slow soul ballad", "trap": "slow trap, sixteenth hats (a double-time feel)",
            "blues": "slow 12/8 blues: triplets on every beat"}
    for feel, note in slow.items():
        add(f"slow-{feel}", "very slow", feel, bpm_in(60, 66 if feel == "blues" else 70), "slow",
            {0: 33, 1: 4}, note, feel, jitter=6.0)
    add("slow-arpeggio", "very slow", "ballad", bpm_in(60, 70), "arpeggio", {0: 0},
        "piano ballad, triplet arpeggios, no drums", jitter=8.0)
    beatless = [("pads", p, f"GM {p} pad chords changing at irregular times, slow swells", False)
                for p in (89, 88, 94, 95)]
    beatless += [("strings", p, f"GM {p} strings, irregular chord changes, slow swells", False)
                 for p in (49, 48)]
    beatless += [("drone", p, f"GM {p} organ drone, one chord held throughout", True) for p in (19, 16)]
    counts: dict[str, int] = {}
    for genre, program, note, hold in beatless:
        counts[genre] = counts.get(genre, -1) + 1
        add(f"{genre}-{counts[genre]}", "beatless", genre, None, "pads", {1: program}, note, hold, jitter=0.0)
    for n in range(3):
        add(f"rubato-{n}", "beatless", "rubato", None, "rubato", {0: 0},
            "rubato piano solo, notes at irregular times", jitter=0.0)
    # Last, so that the items above keep the tempi and lengths they were drawn before these.
    for n, (lead, strings, eighths) in enumerate(((73, 49, False), (40, 48, True), (68, 49, False),
                                                  (71, 48, True))):
        jitter = jitter_in(5.0, 15.0)
        rhythm = "quarters and eighths" if eighths else "quarters"
        add(f"melody-{n}", "legato", "melody", bpm_in(66, 112), "melody", {0: lead, 1: strings},
            f"GM {lead} legato melody in {rhythm} over held GM {strings} string chords, no drums; "
            f"jitter {jitter:g} ms", eighths, jitter=jitter)
    return specs


def _hard_song(spec: _HardSpec, seed: int, seconds: float) -> tuple[_Take, mido.MidiFile]:
    rng = np.random.default_rng([seed, int.from_bytes(hashlib.sha1(spec.name.encode()).digest()[:4], "big")])
    bpm = 60.0 if spec.bpm is None else spec.bpm
    take = _Take(bpm, spec.meter, seconds, rng, jitter_ms=spec.jitter_ms, drift=spec.drift)
    _STYLES[spec.style](take, *spec.args)
    return take, take.song.to_midi(dict(spec.programs))


def _trim_tail(path: Path, floor_db: float = -60.0, keep: float = 0.5) -> None:
    """Cut a fresh render's silent tail (fluidsynth renders on until every voice has died away,
    often 5–15 s under -60 dBFS) to ``keep`` seconds after the last sample above ``floor_db``."""
    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    loud = np.flatnonzero(np.max(np.abs(y), axis=1) > 10 ** (floor_db / 20))
    end = min(len(y), (int(loud[-1]) if len(loud) else 0) + int(keep * sr))
    if end < len(y) - sr // 10:
        fade = np.linspace(1.0, 0.0, min(end, int(0.05 * sr)), dtype=np.float32)[:, None]
        y = y[:end].copy()
        y[len(y) - len(fade):] *= fade
        _write(path, y, sr, "WAV")


def render_trimmed(midi: mido.MidiFile | Callable[[], mido.MidiFile], out_dir: Path,
                   name: str) -> Path | None:
    """``midi`` (or what calling it returns) rendered by `_render` with its silent tail cut
    once (`_trim_tail`); None, with a warning naming the error, when either step fails."""
    try:
        wav = _render(midi() if callable(midi) else midi, out_dir, name)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        print(f"warning: {error}; skipped", file=sys.stderr)
        return None
    trimmed = wav.with_suffix(".trimmed")
    if not trimmed.exists():
        _trim_tail(wav)
        trimmed.touch()
    return wav


def _encode_mp3(wav: Path, bitrate: str, out_dir: Path) -> Path:
    """``wav`` as a 44.1 kHz MP3 at ``bitrate`` (LAME via ffmpeg), cached by the WAV's name (which
    carries its content key) and the bitrate."""
    out = out_dir / f"{wav.stem}-{bitrate}.mp3"
    if out.exists():
        return out
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("MP3 items need ffmpeg (apt-get install ffmpeg)")
    partial = _partial(out)
    command = ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(wav), "-ar", "44100",
               "-c:a", "libmp3lame", "-b:a", bitrate, str(partial)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode or not partial.exists():
        raise RuntimeError(f"ffmpeg failed on {wav}: {result.stderr.strip()[-300:]}")
    os.replace(partial, out)
    return out


def _speak(voice: str, speed: int, text: str, out_dir: Path, name: str) -> Path | None:
    """``text`` spoken by espeak-ng (cached by voice, speed, text and espeak version); None without it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    key = hashlib.sha1(f"{voice}:{speed}:{text}:{version}".encode()).hexdigest()[:12]
    out = out_dir / f"{name}-{key}.wav"
    if out.exists():
        return out
    partial = _partial(out)
    result = subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(partial), text],
                            capture_output=True, text=True, timeout=120)
    if result.returncode or not partial.exists():
        print(f"warning: espeak-ng failed ({result.stderr.strip()[-200:]}); no speech item", file=sys.stderr)
        return None
    os.replace(partial, out)
    return out


def build_hard_set(cache_dir: Path | None = None, *, seed: int = 7, jobs: int = 2) -> list[LabelledItem]:
    """The harder synthetic bank, rendered into ``cache_dir/synthetic-hard`` (default
    `default_cache_dir`) and cached by content; ``source="synthetic-hard"``.

    What real recordings do that `build_synthetic_set` does not, each item's ``note`` says which:
    issue #12's plain groove at 66–132 BPM; grooves whose tempo wanders ±3 % (label: the mean
    tempo, ``tempo_constant=False``) with N(0, 10–30 ms) timing jitter; strummed guitar, piano
    and legato melodies (flute, violin, oboe, clarinet over held strings) without drums; 3/4
    waltzes; rumba, samba (2/4, meter 2) and bossa nova (labelled in quarter
    notes, at a fast and a slow count); swing at 120–200 and jazz at 250–300 BPM; drum & bass
    breakbeats; 60–70 BPM material; MP3s at 128 and 64 kbps (44.1 kHz, the ``.mp3`` file itself,
    which soundfile decodes); excerpts of 5–30 s cut at random points (not on a bar line) from
    40-second renders; and beatless pads, strings, organ drones, rubato piano and espeak-ng speech
    (``bpm=None``). ``meter`` is the beats a bar; labels are the tempo the MIDI file really carries.
    Deterministic from ``seed``; fluidsynth renders ``jobs`` items at once.
    """
    from concurrent.futures import ThreadPoolExecutor

    out_dir = Path(cache_dir or default_cache_dir()) / "synthetic-hard"
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = _hard_specs(seed)
    by_name = {s.name: s for s in specs}
    jobs_list: list[tuple[str, _Take, mido.MidiFile]] = []
    for spec in specs:
        take, midi = _hard_song(spec, seed, spec.seconds)
        jobs_list.append((spec.name, take, midi))
    for _seconds, source in _EXCERPTS:
        take, midi = _hard_song(by_name[source], seed + 1000, 40.0)
        jobs_list.append((f"{source}-long", take, midi))
    targets = [_render_target(midi, out_dir, name)[1] for name, _, midi in jobs_list]
    missing = sum(1 for t in targets if not t.exists())
    if missing:
        print(f"rendering {missing} hard synthetic items into {out_dir} ...", flush=True)

    def render(job: tuple[str, _Take, mido.MidiFile], target: Path) -> Path:
        fresh = not target.exists()
        path = _render(job[2], out_dir, job[0])
        if fresh:
            _trim_tail(path)
        return path

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        paths = dict(zip((n for n, _, _ in jobs_list), pool.map(render, jobs_list, targets)))
    takes = {name: take for name, take, _ in jobs_list}

    def item(spec: _HardSpec, path: Path, name: str, note: str) -> LabelledItem:
        take = takes[spec.name]
        bpm = None if spec.bpm is None else take.true_bpm
        if spec.drift:
            note += f" ({take.span[0]:.1f}–{take.span[1]:.1f} BPM)"
        return LabelledItem(path, bpm, spec.meter, spec.genre, "synthetic-hard", name,
                            sf.info(str(path)).duration, not spec.drift, note)

    items = [item(spec, paths[spec.name], spec.name, f"{spec.kind}: {spec.note}") for spec in specs]
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        encoded = list(pool.map(lambda job: _encode_mp3(paths[job[0]], job[1], out_dir),
                                [(n, r) for n in _MP3_OF for r in _MP3_RATES]))
    for (name, rate), path in zip([(n, r) for n in _MP3_OF for r in _MP3_RATES], encoded):
        spec = by_name[name]
        items.append(item(spec, path, f"{name}-{rate}", f"mp3 {rate}bps of {name}: {spec.note}"))
    for n, (seconds, source) in enumerate(_EXCERPTS):
        spec = by_name[source]
        long_path = paths[f"{source}-long"]
        info = sf.info(str(long_path))
        rng = np.random.default_rng([seed, 99, n])
        start = float(np.round(rng.uniform(1.0, 38.0 - seconds), 3))
        out = out_dir / f"{long_path.stem}-{seconds:g}s-at{start:g}.wav"
        if not out.exists():
            y, sr = sf.read(str(long_path), dtype="float32", always_2d=True,
                            start=int(start * info.samplerate), frames=int(seconds * info.samplerate))
            _write(out, y, sr, "WAV")
        take = takes[f"{source}-long"]
        items.append(LabelledItem(out, take.true_bpm, spec.meter, spec.genre, "synthetic-hard",
                                  f"{source}-{seconds:g}s", sf.info(str(out)).duration, True,
                                  f"excerpt {seconds:g} s from {start:g} s: {spec.note}"))
    for n, (voice, speed, text) in enumerate(_SPEECH):
        path = _speak(voice, speed, text, out_dir, f"speech-{n}")
        if path is not None:
            items.append(LabelledItem(path, None, 4, "speech", "synthetic-hard", f"speech-{n}",
                                      sf.info(str(path)).duration, True,
                                      f"beatless: espeak-ng {voice} speech at {speed} words/min"))
    return items


def hard_kind(item: LabelledItem) -> str:
    """The kind of a `build_hard_set` item: "plain groove", "drift+jitter", "acoustic", "waltz",
    "latin", "swing", "very fast", "very slow", "legato", "beatless", "mp3" or "excerpt"."""
    head = item.note.split(":")[0]
    return head.split(" ")[0] if head.startswith(("mp3", "excerpt")) else head


def load_lmms_set(cache_dir: Path | None = None, **options) -> list[LabelledItem]:
    """The LMMS demo songs of issue #12, rendered headless and cached (`lmms_set.load_lmms_set`)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lmms_set import load_lmms_set as load

    return load(cache_dir, **options)


def main(argv: Sequence[str]) -> None:
    import time

    cache = Path(argv[0]) if argv else default_cache_dir()
    timings = {}
    started = time.perf_counter()
    items = build_synthetic_set(cache / "synthetic")
    timings["synthetic"] = time.perf_counter() - started
    started = time.perf_counter()
    hard = build_hard_set(cache)
    timings["synthetic-hard"] = time.perf_counter() - started
    started = time.perf_counter()
    lmms = load_lmms_set(cache)
    timings["lmms"] = time.perf_counter() - started
    fof = load_fretsonfire_set(cache_dir=cache)
    if not fof:
        print(f"(no Frets on Fire songs under {FOF_ROOT}: apt-get install fretsonfire-songs-muldjord)")
    print(f"{'name':<24} {'genre':<10} {'bpm':>9} {'meter':>5} {'seconds':>8}  source")
    for item in [*items, *hard, *lmms, *fof]:
        bpm = "beatless" if item.bpm is None else f"{item.bpm:.3f}"
        print(f"{item.name:<24.24} {item.genre:<10.10} {bpm:>9} {item.meter:>5} {item.seconds:>8.1f}  "
              f"{item.source}{' (' + item.note + ')' if item.note else ''}")
    if fof:
        pairs = tempo_equivariance_pairs(fof[0], cache_dir=cache, max_seconds=60.0)
        for path, factor in pairs:
            print(f"x{factor:g}: {path.name}  (true bpm {fof[0].bpm * factor:.3f})")
    kinds: dict[str, int] = {}
    for item in hard:
        kinds[hard_kind(item)] = kinds.get(hard_kind(item), 0) + 1
    print(f"{len(items)} synthetic items in {timings['synthetic']:.1f} s")
    print(f"{len(hard)} hard synthetic items in {timings['synthetic-hard']:.1f} s: "
          + ", ".join(f"{kind} {n}" for kind, n in kinds.items()))
    print(f"{len(lmms)} LMMS demos in {timings['lmms']:.1f} s; {len(fof)} Frets on Fire songs; cache {cache}")


if __name__ == "__main__":
    main(sys.argv[1:])
