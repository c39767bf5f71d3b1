"""Beat phase: what the tracker follows (`pulse.drum_envelope`), and the offsets of the tracked
grid (`beats.sixteenth_shift`, `beats.backbeat_shift`, `phase.harmonic_shift`,
`phase.swing_shift`); downbeats from the chord changes (`beats.chord_changes`, `beats.bar_phase`)."""

from __future__ import annotations

import numpy as np
import pytest
from synth import drum_render

from dancer.analysis.beats import backbeat_shift, bar_phase, shift_beats, sixteenth_shift
from dancer.analysis.features import extract_features
from dancer.analysis.phase import harmonic_shift, kick_grid, one_grid, swing_shift
from dancer.analysis.tempo import estimate_tempo

SR = 22050


def _sound(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.12 * SR)) / SR
    if kind == "kick":
        return np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 30)) * t) * np.exp(-t * 25)
    if kind == "snare":
        return (0.6 * rng.standard_normal(t.size) + np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 30) * 0.7
    # A keyboard stab: a C major chord two octaves up, no low end.
    return sum(np.sin(2 * np.pi * f * t) for f in (523.3, 659.3, 784.0, 1046.5)) / 3 * np.exp(-t * 40)


def on_beat_share(beats: np.ndarray, bpm: float, *, offset: float = 0.25) -> float:
    """Share of ``beats`` within a tenth of a beat of the grid from ``offset``: a sixteenth is a
    quarter of a beat, so on the beat means well inside ±1/8."""
    phase = ((beats - offset) * bpm / 60.0 + 0.5) % 1.0 - 0.5
    return float(np.mean(np.abs(phase) < 0.1))


def pickup_groove(bpm: float, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    """Kick on 1, the "and" of 2 and the "and" of 3 (sixteenths 0, 6, 10 of 16), snare on 2 and 4,
    and loud stabs on the last sixteenth of every beat: the loudest onsets, a sixteenth early."""
    step = 60.0 / bpm / 4
    events = []
    for s in range(int(seconds / step) + 1):
        i, at = s % 16, offset + s * step
        events += [(at, "kick", 1.0)] if i in (0, 6, 10) else []
        events += [(at, "snare", 0.8)] if i in (4, 12) else []
        events += [(at, "stab", 1.5)] if i % 4 == 3 else []
    return drum_render(events, seconds, seed=0, sound=_sound, level=0.4)


@pytest.mark.parametrize("bpm", [100.0, 104.0])
def test_beats_follow_the_kick_grid_not_the_pickup_stabs(bpm: float) -> None:
    r = estimate_tempo(extract_features(pickup_groove(bpm), sample_rate=SR))
    assert r.bpm == pytest.approx(bpm, rel=0.01)
    assert on_beat_share(r.beats, bpm) > 0.9


def test_downbeats_of_the_pickup_groove_are_on_its_one() -> None:
    r = estimate_tempo(extract_features(pickup_groove(104.0), sample_rate=SR))
    bar = 4 * 60.0 / 104.0
    phase = ((r.downbeats - 0.25) / bar + 0.5) % 1.0 - 0.5
    assert np.mean(np.abs(phase) < 0.05) > 0.9


def _house_sound(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.25 * SR)) / SR
    if kind == "kick":
        return np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 30)) * t) * np.exp(-t * 25)
    if kind == "clap":
        noise = 0.8 * rng.standard_normal(t.size) * np.exp(-t * 35)
        return noise + 0.3 * np.sin(2 * np.pi * 1800 * t) * np.exp(-t * 40)
    if kind == "bass":  # a sustained 55 Hz note with a fast attack
        tone = np.sin(2 * np.pi * 55 * t) + 0.4 * np.sin(2 * np.pi * 110 * t)
        return tone * np.minimum(1, t * 200) * np.exp(-t * 6)
    return 0.5 * np.diff(rng.standard_normal(t.size), prepend=0.0) * np.exp(-t * 10)  # open hi-hat


def offbeat_house(bpm: float, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    """Kick on every beat, clap on two and four, and a loud bass note and open hat on every "and":
    the offbeats carry the strongest low and full-band onsets."""
    half = 30.0 / bpm
    events = []
    for k in range(int((seconds - offset) / half) + 1):
        at = offset + k * half
        if k % 2 == 0:
            events += [(at, "kick", 0.6)] + ([(at, "clap", 0.8)] if (k // 2) % 2 else [])
        else:
            events += [(at, "bass", 1.4), (at, "hat", 1.2)]
    return drum_render(events, seconds, seed=1, sound=_house_sound, level=0.3)


@pytest.mark.parametrize("bpm", [118.0, 122.0, 124.0, 128.0])
def test_beats_of_an_offbeat_bass_groove_are_on_the_kick_and_clap(bpm: float) -> None:
    # The tracker counts the offbeats here (see `backbeat_shift`); at 124 and 128 the level
    # weights before the kick and snare cycles also halved the tempo.
    r = estimate_tempo(extract_features(offbeat_house(bpm), sample_rate=SR))
    assert r.bpm == pytest.approx(bpm, rel=0.01)
    assert on_beat_share(r.beats, bpm) > 0.9


def _band_sound(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.25 * SR)) / SR
    if kind == "closed hat":
        return 0.5 * np.diff(rng.standard_normal(t.size), prepend=0.0) * np.exp(-t * 60)
    if kind == "octave":  # the upper note of a disco octave bass
        tone = np.sin(2 * np.pi * 110 * t) + 0.4 * np.sin(2 * np.pi * 220 * t)
        return tone * np.minimum(1, t * 200) * np.exp(-t * 6)
    if kind == "chord":  # a guitar or keyboard chord, C major around middle C
        tone = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) / 3
        return tone * np.minimum(1, t * 300) * np.exp(-t * 12)
    if kind == "snare":
        return np.pad(_sound("snare", rng), (0, t.size - int(0.12 * SR)))
    return _house_sound(kind, rng)  # kick, bass, open hat ("hat")


def band_groove(bpm: float, parts: dict[str, tuple[str, float]], seconds: float = 30.0, *,
                offset: float = 0.25) -> np.ndarray:
    """Each part's 16-step pattern (``x`` plays) at its gain, one bar of sixteenths after another."""
    step = 60.0 / bpm / 4
    events = [(offset + s * step, kind, gain)
              for s in range(int((seconds - offset) / step) + 1)
              for kind, (steps, gain) in parts.items() if steps[s % 16] == "x"]
    return drum_render(events, seconds, seed=2, sound=_band_sound, level=0.3)


#: Kick on one and three, snare on two and four, and the chords on every "and", louder than
#: the drums (a reggae or ska skank), over a bass and eighth-note hats.
SKANK = {"kick": ("x.......x.......", 0.7), "snare": ("....x.......x...", 0.6),
         "chord": ("..x...x...x...x.", 1.5), "bass": ("x.....x.x.......", 0.8),
         "closed hat": ("x.x.x.x.x.x.x.x.", 0.5)}
#: Four on the floor with a snare on two and four, and an octave bass whose upper note, on
#: every "and" with an open hi-hat, is the loudest onset (disco).
DISCO = {"kick": ("x...x...x...x...", 0.6), "snare": ("....x.......x...", 0.5),
         "bass": ("x.......x.......", 0.6), "octave": ("..x...x...x...x.", 1.3),
         "hat": ("..x...x...x...x.", 1.0)}


@pytest.mark.parametrize("bpm, parts", [(96.0, SKANK), (100.0, SKANK), (96.0, DISCO)])
def test_beats_are_on_the_drums_when_the_band_plays_the_offbeats(bpm: float, parts: dict) -> None:
    # Tracked on the accent (kick, bass, low mids and snare bands), these were counted on the
    # "and"s at every beat (analyser version 21); the kick and snare bands mark the beat.
    r = estimate_tempo(extract_features(band_groove(bpm, parts), sample_rate=SR))
    assert r.bpm == pytest.approx(bpm, rel=0.01)
    assert on_beat_share(r.beats, bpm) > 0.9


def test_backbeat_shift_moves_beats_off_the_offbeats() -> None:
    period, n = 24.0, 40
    beats = 10 + period * np.arange(n)
    snare = np.zeros(int(beats[-1] + 2 * period))
    snare[beats[1::2].astype(int)] = 1.0  # two and four
    snare[(beats + period / 2).astype(int)] += 0.2  # a shaker on every "and"
    assert backbeat_shift(beats, period=period, snare=snare) == 0
    assert backbeat_shift(beats + period / 2, period=period, snare=snare) == 2
    # No backbeat (the snare on every beat, or none), or too few beats: no move.
    even = np.zeros_like(snare)
    even[beats.astype(int)] = 1.0
    assert backbeat_shift(beats + period / 2, period=period, snare=even) == 0
    assert backbeat_shift(beats + period / 2, period=period, snare=np.zeros_like(snare)) == 0
    assert backbeat_shift(beats[:6] + period / 2, period=period, snare=snare) == 0


def _envelopes(n_beats: int = 40, period: float = 24.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame envelopes of a groove on beats at 10 + k·period: the kick on each beat and on the
    eighth-note offbeat of every other beat, stabs (full band only) a sixteenth before each beat."""
    n = int(10 + (n_beats + 1) * period)
    low, full = np.zeros(n), np.zeros(n)
    beats = 10 + period * np.arange(n_beats)
    for k, b in enumerate(beats):
        low[int(round(b))] = 1.0
        if k % 2:
            low[int(round(b + period / 2))] = 0.8
        full[int(round(b - period / 4))] = 3.0
        full[int(round(b))] += 1.0
    full += low
    return beats, low, full


def test_sixteenth_shift_moves_beats_from_the_stabs_to_the_kick_grid() -> None:
    beats, low, full = _envelopes()
    tracked = beats[1:] - 6.0  # locked on the stabs, a sixteenth early
    k = sixteenth_shift(tracked, period=24.0, low=low, accent=full)
    assert k == 1
    moved = shift_beats(tracked, period=24.0, sixteenths=k, envelope=full)
    np.testing.assert_allclose(moved, beats[1:], atol=0.6)


def test_sixteenth_shift_leaves_beats_on_the_kick_grid_alone() -> None:
    beats, low, full = _envelopes()
    assert sixteenth_shift(beats, period=24.0, low=low, accent=full) == 0
    # On the offbeat eighths the kick grid is the same: which eighth is the beat is not its call.
    assert sixteenth_shift(beats[:-1] + 12.0, period=24.0, low=low, accent=full) == 0
    # Too few beats, or no low end at all: no decision.
    assert sixteenth_shift(beats[:5] - 6.0, period=24.0, low=low, accent=full) == 0
    assert sixteenth_shift(beats - 6.0, period=24.0, low=np.zeros_like(low), accent=full) == 0


def test_shift_beats_keeps_the_count_inside_the_signal() -> None:
    env = np.zeros(200)
    env[5::20] = 1.0
    beats = np.arange(0.0, 200.0, 20.0)  # last beat at 180: +15 would leave 195 inside
    moved = shift_beats(beats, period=20.0, sixteenths=3, envelope=env)
    assert moved.size == beats.size and np.all(moved <= 199)
    np.testing.assert_array_equal(shift_beats(beats, period=20.0, sixteenths=0, envelope=env), beats)


#: C, F, G and A minor triads around middle C, one a bar.
PROGRESSION = ((261.63, 329.63, 392.0), (349.23, 440.0, 523.25), (392.0, 493.88, 587.33),
               (220.0, 261.63, 329.63))


def _song_sound(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.3 * SR)) / SR
    if kind in ("kick", "snare", "closed hat"):
        return np.pad(_band_sound(kind, rng)[: t.size], (0, max(0, t.size - int(0.25 * SR))))
    notes = PROGRESSION[int(kind[-1])]
    if kind.startswith("chord"):
        return sum(np.sin(2 * np.pi * f * t) for f in notes) / 3 * np.minimum(1, t * 300) * np.exp(-t * 4)
    return np.sin(2 * np.pi * notes[0] / 4 * t) * np.minimum(1, t * 200) * np.exp(-t * 5)  # the root, low


def four_chord_song(bpm: float, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    """Kick, chord and bass on every beat alike, snare on two and four, hats between: only the
    chord, which changes every bar (C F G Am), says where the bar starts."""
    beat = 60.0 / bpm
    events = []
    for k in range(int((seconds - offset) / beat) + 1):
        at, chord = offset + k * beat, (k // 4) % 4
        events += [(at, "kick", 0.8), (at, f"chord{chord}", 0.6), (at, f"bass{chord}", 0.8),
                   (at + beat / 2, "closed hat", 0.6)]
        events += [(at, "snare", 0.6)] if k % 2 == 1 else []
    return drum_render(events, seconds, seed=3, sound=_song_sound, level=0.3)


@pytest.mark.parametrize("bpm", [100.0, 120.0, 128.0])
def test_downbeats_are_where_the_chords_change(bpm: float) -> None:
    # Analyser version 22 put them on the one at 112 BPM only of 100, 112, 120, 124 and 128.
    r = estimate_tempo(extract_features(four_chord_song(bpm), sample_rate=SR))
    assert r.bpm == pytest.approx(bpm, rel=0.01) and r.meter == 4
    bar = 4 * 60.0 / bpm
    phase = ((r.downbeats - 0.25) / bar + 0.5) % 1.0 - 0.5
    assert np.mean(np.abs(phase) < 0.05) > 0.9


def test_chord_changes_by_chance_do_not_outvote_the_kick(rng: np.random.Generator) -> None:
    n = 64
    kick = np.tile([0.6, 1.0, 0.6, 0.6], n // 4) + 0.05 * rng.random(n)  # the one is the second beat
    accent = np.ones(n)
    for seed in range(20):
        noise = np.random.default_rng(seed).random(n)  # a drum loop's "chord changes"
        assert bar_phase(accent=accent, kick=kick, changes=noise)[1] == 1
    # Four on the floor, every kick alike: chords that change on the third beat decide.
    even = 1.0 + 0.05 * rng.random(n)
    changes = np.tile([0.0, 0.0, 0.8, 0.0], n // 4) + 0.05 * rng.random(n)
    assert bar_phase(accent=accent, kick=even, changes=changes)[1] == 2


def _held_chord_sound(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Chords held for two beats and more, a bass on the chord's root, and `_band_sound`'s drums."""
    notes = PROGRESSION[int(kind[-1])] if kind[-1].isdigit() else None
    if kind.startswith("chord"):
        t = np.arange(int(1.9 * SR)) / SR
        return sum(np.sin(2 * np.pi * f * t) for f in notes) / 3 * np.minimum(1, t * 300) * np.exp(-t * 0.7)
    if kind.startswith("bass"):
        t = np.arange(int(0.25 * SR)) / SR
        return np.sin(2 * np.pi * notes[0] / 4 * t) * np.minimum(1, t * 200) * np.exp(-t * 8)
    return _band_sound(kind, rng)


def offbeat_bass_song(bpm: float, seconds: float = 30.0, *, offset: float = 0.25) -> np.ndarray:
    """A quiet kick on every beat; bass and open hi-hat on every "and", louder, and no snare or
    clap; chords struck on one and three, changing every bar (C F G Am)."""
    parts = {"kick": ("x...x...x...x...", 0.5), "bass": ("..x...x...x...x.", 1.0),
             "hat": ("..x...x...x...x.", 1.0), "chord": ("x.......x.......", 1.0)}
    step = 60.0 / bpm / 4
    events = []
    for s in range(int((seconds - offset) / step) + 1):
        chord = (s // 16) % 4
        events += [(offset + s * step, kind if kind in ("kick", "hat") else f"{kind}{chord}", gain)
                   for kind, (steps, gain) in parts.items() if steps[s % 16] == "x"]
    return drum_render(events, seconds, seed=4, sound=_held_chord_sound, level=0.3)


@pytest.mark.parametrize("bpm", [100.0, 122.0, 126.0])
def test_beats_are_where_the_chords_change_when_bass_and_hats_play_every_and(bpm: float) -> None:
    # The kick is the quietest part in every band and nothing marks two and four: analyser
    # version 23 counted every "and" (on-beat share 0.0 at each tempo).
    r = estimate_tempo(extract_features(offbeat_bass_song(bpm), sample_rate=SR))
    assert r.bpm == pytest.approx(bpm, rel=0.01)
    assert on_beat_share(r.beats, bpm) > 0.9


def _chord_chroma(n_beats: int, period: float, rng: np.random.Generator, *,
                  change_every: int = 4) -> np.ndarray:
    """Frame pitch classes of chords held from beat 10 + k·period, changing every ``change_every``
    beats, with a little noise."""
    triads = ((0, 4, 7), (5, 9, 0), (7, 11, 2), (9, 0, 4))
    n = int(10 + (n_beats + 1) * period)
    chroma = 0.05 * rng.random((n, 12))
    for k in range(n_beats + 1):
        start = int(round(10 + k * period))
        chroma[start : int(round(10 + (k + 1) * period)), triads[(k // change_every) % 4]] += 1.0
    chroma[:10, triads[0]] += 1.0
    return chroma


def test_harmonic_shift_moves_beats_to_where_the_chords_change(rng: np.random.Generator) -> None:
    period, n = 24.0, 40
    beats = 10 + period * np.arange(n)
    chroma = _chord_chroma(n, period, rng)
    assert harmonic_shift(beats, period=period, chroma=chroma) == 0
    assert harmonic_shift(beats[:-1] + period / 2, period=period, chroma=chroma) == 2
    # Too few beats to tell: no move.
    assert harmonic_shift(beats[:12] + period / 2, period=period, chroma=chroma) == 0


def test_harmonic_shift_leaves_beats_alone_without_chords_or_with_a_few_anticipated(
    rng: np.random.Generator,
) -> None:
    period, n = 24.0, 40
    beats = 10 + period * np.arange(n)
    for seed in range(20):  # pitch classes that change at random: a drum loop's "chords"
        noise = np.random.default_rng(seed).random((int(10 + (n + 1) * period), 12))
        assert harmonic_shift(beats, period=period, chroma=noise) == 0
    # Every other change anticipated by an eighth (a pushed chord): as many changes between the
    # beats as on them is no reason to move.
    chroma = _chord_chroma(n, period, rng)
    for k in range(8, n, 8):
        start = int(round(10 + k * period - period / 2))
        chroma[start : start + int(period / 2)] = chroma[start + int(period / 2)]
    assert harmonic_shift(beats, period=period, chroma=chroma) == 0


def _shuffle_envelope(n_beats: int = 40, period: float = 24.0, *, upbeat: float = 11 / 16,
                      triplets: bool = False, beat: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """An onset envelope with beats at 10 + k·period, the beat (``beat`` loud) against its
    swung "and" at ``upbeat`` of the beat (0.8 loud: a shuffle), or three equal triplets a beat
    (12/8)."""
    n = int(10 + (n_beats + 1) * period)
    env = np.zeros(n)
    beats = 10 + period * np.arange(n_beats)
    for b in beats:
        env[int(round(b))] += beat
        for at, gain in (((1 / 3, 1.0), (2 / 3, 1.0)) if triplets else ((upbeat, 0.8),)):
            env[int(round(b + at * period))] += gain
    return beats, env


def test_swing_shift_moves_beats_off_a_shuffles_upbeat() -> None:
    period = 24.0
    beats, env = _shuffle_envelope()
    tracked = beats[:-1] + 11 / 16 * period  # locked on the swung "and"s
    moved = swing_shift(tracked, period=period, envelope=env)
    on = np.min(np.abs(moved[:, None] - beats[None, :]), axis=1)
    assert moved.size >= tracked.size - 1 and np.all(on <= 1.0)
    # On the beat already, on a triplet (12/8) grid, or too few beats: left alone.
    np.testing.assert_array_equal(swing_shift(beats, period=period, envelope=env), beats)
    beats12, env12 = _shuffle_envelope(triplets=True)
    np.testing.assert_array_equal(swing_shift(beats12, period=period, envelope=env12), beats12)
    np.testing.assert_array_equal(swing_shift(tracked[:10], period=period, envelope=env), tracked[:10])


def test_swing_shift_moves_beats_off_an_upbeat_louder_than_the_beat() -> None:
    """OpenMSX's redfarn shuffles: the swung "and" louder than the beat in every band, the beat
    at under half of it, and the tracker, locked on the "and"s, a frame early or late at random.
    Until analyser version 30 both kept the beats there (the beat too weak; the tracked peak's
    jittered shoulder taken for the strongest offset). A beat that is barely there is no reason
    to move."""
    period = 17.0  # 152 BPM at 43 frames a second
    beats, env = _shuffle_envelope(period=period, beat=0.36)  # 0.45 of the "and"
    env = np.convolve(env, [0.5, 1.0, 0.5], mode="same")  # an onset spans a few frames
    jitter = np.random.default_rng(3).integers(-1, 2, beats.size - 1)
    tracked = beats[:-1] + np.round(11 / 16 * period) + jitter
    moved = swing_shift(tracked, period=period, envelope=env)
    on = np.min(np.abs(moved[:, None] - beats[None, :]), axis=1)
    assert moved.size >= tracked.size - 1 and np.median(on) <= 1.0
    _, faint = _shuffle_envelope(period=period, beat=0.08)  # 0.1 of the "and": a ghost note
    faint = np.convolve(faint, [0.5, 1.0, 0.5], mode="same")
    np.testing.assert_array_equal(swing_shift(tracked, period=period, envelope=faint), tracked)


def _strokes(n: int, at: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """An onset envelope of ``n`` frames with a three-frame stroke of each level at each frame."""
    envelope = np.zeros(n)
    for t, level in zip(np.round(at).astype(int), levels):
        envelope[t : t + 3] += level * np.array([1.0, 0.5, 0.2])
    return envelope


def test_kick_grid_says_which_grid_a_kick_on_every_beat_strikes(rng: np.random.Generator) -> None:
    period, n = 24.0, 48
    beats = 10 + period * np.arange(n)
    middles = beats + period / 2
    size = int(beats[-1] + 2 * period)
    floor = _strokes(size, beats, rng.uniform(0.5, 1.0, n))  # four on the floor, humanised levels
    assert kick_grid(beats, period=period, kick=floor) == 1
    assert kick_grid(middles[:-1], period=period, kick=floor) == -1
    # A bass on every "and" as loud as the kick: both grids struck, no verdict.
    with_bass = floor + _strokes(size, middles, rng.uniform(0.5, 1.0, n))
    assert kick_grid(beats, period=period, kick=with_bass) == 0
    # A kick on one and three only leaves beats unstruck but strikes no midpoint: no verdict.
    one_three = _strokes(size, beats[::2], np.ones(n // 2))
    assert kick_grid(beats, period=period, kick=one_three) == 0
    assert kick_grid(middles[:-1], period=period, kick=one_three) == 0
    # Silence, or too few beats to tell: no verdict.
    assert kick_grid(beats, period=period, kick=np.zeros(size)) == 0
    assert kick_grid(middles[:12], period=period, kick=floor) == 0


def test_one_grid_puts_a_stretch_of_beats_on_the_ands_back_on_the_beat() -> None:
    """A steady 128 BPM track of 200 beats whose tracker slipped onto the "and"s for 30 beats
    (bending over four beats on the way there and back) and again for its last 20: every beat
    comes back onto the grid, none is lost or doubled. A slip of a few beats (a fill) stays."""
    period = 43.066 * 60 / 128
    grid = 5.0 + period * np.arange(200)
    off = np.zeros(200)
    off[60:64] = [0.1, 0.2, 0.3, 0.4]
    off[64:94] = 0.5
    off[94:98] = [0.4, 0.3, 0.2, 0.1]
    off[180:] = -0.5
    off[120:125] = 0.5  # five beats: a fill, not a slip
    jitter = np.random.default_rng(0).normal(0, 0.3, 200)
    tracked = grid + off * period + jitter
    mended = one_grid(tracked, period=period * 1.002, n_frames=int(grid[-1] + period))
    on = (mended - 5.0) / period
    assert mended.size == 200
    assert np.all(np.abs(on[:120] - np.round(on[:120])) < 0.1)
    assert np.all(np.abs(on[125:] - np.round(on[125:])) < 0.1)
    np.testing.assert_allclose(mended[120:125], tracked[120:125])


def test_one_grid_leaves_steady_drifting_and_short_tracks_alone() -> None:
    period = 20.0
    steady = 3.0 + period * np.arange(120) + np.random.default_rng(1).normal(0, 0.3, 120)
    np.testing.assert_array_equal(one_grid(steady, period=period, n_frames=2500), steady)
    # A live band speeding up 3% and slowing down again: its phase against any one grid drifts
    # past half a beat over dozens of beats, which is no slip.
    rates = 1.0 + 0.03 * np.sin(np.linspace(0, 2 * np.pi, 160))
    drifting = 3.0 + np.concatenate([[0.0], np.cumsum(period / rates[:-1])])
    np.testing.assert_array_equal(one_grid(drifting, period=period, n_frames=3300), drifting)
    np.testing.assert_array_equal(one_grid(steady[:12], period=period, n_frames=300), steady[:12])
    # Two songs at one tempo in one file (a minute and a half each), the second half a beat
    # later: its beats are its own, no slip.
    first = 3.0 + period * np.arange(200)
    joined = np.concatenate([first, first[-1] + 1.5 * period + period * np.arange(200)])
    np.testing.assert_array_equal(one_grid(joined, period=period, n_frames=8100), joined)


def test_one_grid_puts_a_shuffle_back_where_its_tracker_slipped_onto_the_swung_and() -> None:
    """A steady 64 BPM shuffle whose tracker sat on the swung "and", a third of a beat early,
    for 40 of its 160 beats (OpenMSX's careless_perc_redfarn): the stretch comes back onto the
    beat; a slip of a third never was one of a half, so only the grid of thirds finds it."""
    period = 43.066 * 60 / 64
    grid = 8.0 + period * np.arange(160)
    off = np.zeros(160)
    off[80:82] = [-0.12, -0.24]
    off[82:122] = -1 / 3
    off[122:124] = [-0.24, -0.12]
    tracked = grid + off * period + np.random.default_rng(5).normal(0, 0.3, 160)
    mended = one_grid(tracked, period=period * 0.998, n_frames=int(grid[-1] + period))
    on = (mended - 8.0) / period
    assert mended.size == 160
    assert np.all(np.abs(on - np.round(on)) < 0.05)
