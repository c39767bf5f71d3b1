"""Beat phase from what the tracker does not follow: the harmony, the kick and the swing.

Public API
----------
harmonic_shift
    Half a beat, when the chords change between the tracked beats rather than on them.
kick_grid
    Whether a four-on-the-floor kick strikes the tracked beats or the midpoints between them.
swing_shift
    The beats moved a third of a beat later when they sit on a shuffle's swung upbeat.
one_grid
    The beats of a steady track back on one grid where the tracker slipped onto the "and"s
    for a stretch.

`tempo` applies `one_grid` to the tracked beats first and the rest after
`beats.sixteenth_shift`, which reads the kick and bass against the sixteenths; `kick_grid`
decides before `beats.backbeat_shift`, which reads the snare's swing. librosa's tracker places
beats on the onsets it follows and has no notion of which of a beat's onsets is the beat, nor
of one grid for a whole steady track; these are dancer's.
"""

from __future__ import annotations

import numpy as np

from dancer.analysis.beats import beat_strengths, chord_changes, keep_inside, on_and_between

__all__ = ["FLOOR_KICK", "FLOOR_MISS", "FLOOR_SHARE", "GRID_COHERENCE", "HARMONIC_MARGIN",
           "HARMONIC_QUANTILE", "SLIP_BEATS", "SLIP_MAX", "harmonic_shift", "kick_grid", "one_grid",
           "swing_shift"]

#: `harmonic_shift` moves the beats half a period only when the harmony's largest changes
#: (`HARMONIC_QUANTILE`) between the tracked beats are this many times those at them.
HARMONIC_MARGIN = 2.0
#: The percentile of the per-position chord changes that stands for "the chord changes" in
#: `harmonic_shift`: chords change once or twice a bar, on an eighth or less of the positions.
HARMONIC_QUANTILE = 95.0
#: `kick_grid`: the kick band must strike this share of one grid's positions (a kick on every
#: beat, a fill or a break aside) ...
FLOOR_SHARE = 0.9
#: ... each at least this share of its loud strokes (the 90th percentile of its strength at
#: the beats and midpoints together) ...
FLOOR_KICK = 0.25
#: ... and leave a tenth of the other grid's below this share of them (nearly silent).
FLOOR_MISS = 0.1
#: `swing_shift`: the onset a third of a beat after the tracked beats must reach this share of
#: their strength for them to be a shuffle's swung "and"s (a quarter: clearly struck).
SWING_SHARE = 0.25
#: `one_grid`: the tracked beats' coherence on a grid of half beats (the length of the mean of
#: ``exp(4πi · beat / period)``) at which a track is steady enough to have one beat grid ...
GRID_COHERENCE = 0.8
#: ... and the fewest beats in a row (two bars) half a beat off it that are a slip, not a fill,
#: and the most (32 bars: a slip lasts a section; longer, the music itself has moved, as where
#: two songs at one tempo follow each other in one file).
SLIP_BEATS = 8
SLIP_MAX = 128


def harmonic_shift(
    beats: np.ndarray, *, period: float, chroma: np.ndarray, margin: float = HARMONIC_MARGIN
) -> int:
    """2 when the chords change between the tracked beats rather than on them, else 0
    (sixteenths, for `shift_beats`).

    Where the bass and an open hi-hat play every "and" (house, disco) they can outweigh the
    kick in every band, the snare-crack band too when there is no clap, and the tracker keeps
    the tempo but counts the "and"s; `backbeat_shift` finds no two-beat swing to go by. The
    harmony still changes on the beat: chords change at the bar line and on strong beats
    (Goto 2001; `chord_changes`). So the change of pitch classes is measured at the tracked
    beats and halfway between them (`chord_changes` over the positions interleaved: each
    half-beat's median pitch classes against the half-beat's before), and the beats move when
    the large changes (their `HARMONIC_QUANTILE`-th percentile) between them are ``margin``
    times those at them.

    The median pitch classes leave out a drum's attack, and the margin is wide. Over the tempo
    benchmark's renders and scores read at their tempo (`benchmarks/tempo_accuracy.py`, its
    ``on-beat`` column; the ratios from a scratch run over its cached renders), the largest
    ratio on the 386 items whose beats were right was 1.90 (a cajon, whose strokes have pitch)
    and the next 1.36; the six it moved, on the offbeats before (four synthetic house grooves,
    an offbeat piano, MMA's salsa), had 2.04 to 2.79. A part that anticipates the bar (a
    pushed chord, a salsa bass) moves some changes half a beat early, not most.
    librosa's tracker has no notion of the beat's phase against the harmony; that is dancer's.

    Parameters
    ----------
    beats : ndarray
        Beat positions in frames, at least 17 of them (four bars and the next one).
    period : float
        Beat period in frames.
    chroma : ndarray, shape (n_frames, 12)
        Pitch-class energies per frame (``Features.chroma``).
    """
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size < 17 or period < 4:
        return 0
    positions = np.empty(2 * beats.size - 1)
    positions[0::2] = beats
    positions[1::2] = beats[:-1] + period / 2
    changes = chord_changes(chroma, positions)  # 0 at the first and last position
    at, between = changes[2:-1:2], changes[1:-1:2]
    here = float(np.percentile(at, HARMONIC_QUANTILE))
    there = float(np.percentile(between, HARMONIC_QUANTILE))
    return 2 if there > margin * here and there > 0 else 0


def kick_grid(beats: np.ndarray, *, period: float, kick: np.ndarray) -> int:
    """1 when a kick strikes every tracked beat and leaves the midpoints between them, -1 when it
    strikes every midpoint and leaves the beats, else 0: where a four-on-the-floor kick says
    the beat is.

    A kick on every beat is the plainest mark of the beat there is, and the other cues of the
    beat's phase can be fooled where it is heard. In a dembow (reggaeton, dancehall) the
    snare's 3-3-2 figure falls on the "and" of two and of four, and on the grid of the "and"s
    it alternates like a backbeat; in a house groove a chord stab on every other "and" does
    the same in the snare band. `beats.backbeat_shift` reads that alternation and, on the
    demo's own dembow, house and techno tracks (`dancer.demo`), moved beats the tracker had
    right onto the "and"s; on three synthetic dembows of the tempo benchmark the tracker
    itself had settled there. The verdict now keeps the demo's dembow and techno on the beat
    (`tests/test_demo.py`); its house track, whose bass strikes every "and" as hard as the
    kick strikes the beats, gets none and is still moved. So the kick band's strength (``kick``,
    `pulse.PulseEvidence.kick`) is read at the tracked beats and at their midpoints, each
    against its loud strokes (the 90th percentile of both): one grid is the kick's when
    `FLOOR_SHARE` of its positions are struck at `FLOOR_KICK` or more and a tenth of the
    other's fall below `FLOOR_MISS`, nearly silent. `tempo` lets that verdict decide the
    half-beat phase before the backbeat and the chords are asked.

    A house groove with its bass on every "and" has its kick on the beats as well, so its
    "and"s are not left silent and it gets no verdict. The thresholds come from a scratch run
    over the tempo benchmark's cached items (``benchmarks/tempo_accuracy.py``'s sources, all of
    them, held-out sets included, at analyser version 27) and the demo: of the items whose
    beats left a tenth of them unstruck, those whose beats were right had their midpoints
    struck at 0.13 of the loud strokes at most (a djembe), and at 0.29 and above were only
    items whose beats sat on the "and"s (three synthetic dembows, MMA's FastBlues, an OpenMSX
    song) or were read at half tempo (MMA's Samba-200 and Ska-300). `FLOOR_KICK` was 0.4 at
    first; the demo's dembow strikes a tenth of its beats at 0.27 of its loud strokes or less
    (its kick is humanised and its bass joins on some beats), so it is 0.25. On the benchmark
    (analyser version 27 -> 28) seven items of 535 change: the three dembows, FastBlues and
    OpenMSX's modern_motion move onto the beat, and MMA's Samba-200 and Ska-300, read at half
    tempo, onto their other half.
    librosa's tracker places beats on the onsets it follows and has no notion of which of
    them are the beat; this is dancer's.

    Parameters
    ----------
    beats : ndarray
        Beat positions in frames, at least 16 of them.
    period : float
        Beat period in frames.
    kick : ndarray
        Onset strength per frame of the kick band.
    """
    beats = np.asarray(beats, dtype=np.float64)
    kick = np.asarray(kick, dtype=np.float64)
    if beats.size < 16 or period < 4:
        return 0
    here, there = on_and_between(kick, beats, period=period)
    if here.size < 15:
        return 0
    loud = float(np.percentile(np.concatenate([here, there]), 90))
    if loud <= 0:
        return 0
    low = 100 * (1 - FLOOR_SHARE)
    struck_here, struck_there = (float(np.percentile(x, low)) / loud for x in (here, there))
    if struck_here >= FLOOR_KICK and struck_there < FLOOR_MISS:
        return 1
    if struck_there >= FLOOR_KICK and struck_here < FLOOR_MISS:
        return -1
    return 0


def swing_shift(beats: np.ndarray, *, period: float, envelope: np.ndarray) -> np.ndarray:
    """``beats`` moved a third of a beat later when they sit on a shuffle's swung upbeat.

    In a shuffle each beat is long–short: the beat, then the swung "and" about two thirds of
    the way to the next beat. A tracker can lock onto the "and"s, a third of a beat early; both
    dancer's and librosa's did on OpenMSX's redfarn shuffles, whose MIDI puts every note on the
    beat or 11/16 of the way through it. From a swung "and" the next onset comes a third of a
    beat later and then nothing until the next "and"; from the beat the next onset is two thirds
    away. So ``envelope`` (the one the tracker followed) is read at 24 offsets across the beat
    from the tracked beats; the beats move when its strongest offset away from the tracked
    beats' own peak (more than an eighth of a beat from them) is a third of a beat or a little
    more (0.29–0.40), at least `SWING_SHARE` as strong as the tracked beats, and nothing stands
    at 0.55–0.8 of the beat at half of that (which would be a triplet feel, or the beats already
    on a swung grid).

    ``benchmarks/tempo_accuracy.py``: OpenMSX on the beat 13 -> 15 of 24, every other source
    unchanged. In a scratch count it moved 8 of the 859 cached benchmark items: redfarn
    shuffles, one excerpt of another redfarn song, and the synthetic Viennese waltz, which is
    read at a third of its tempo anyway. librosa's tracker has no notion of swing; this is dancer's.

    Until analyser version 30 the tracked beats' own peak was taken as ±1/24 of a beat and the
    onset a third later had to be half as strong. Two more redfarn shuffles, whose swung "and"
    is louder than the beat in every band, stayed on their "and"s: tracking jitter spreads the
    tracked peak, whose shoulder (1/12 of a beat on) was the strongest offset, and the beat
    itself reached 0.46 and 0.49 of the "and". In a scratch count over the benchmark's cached
    labelled items the onset a third later is 0.34 of the tracked beats or more where it is a
    shuffle's beat, and 0.02 elsewhere (a backbeat piano groove). ``benchmarks/tempo_accuracy.py``:
    OpenMSX on the beat 17 -> 18 of 25 and its meter 22 -> 23 (a redfarn shuffle in three now
    counted in three); no other figure of the benchmark moved.
    """
    beats = np.asarray(beats, dtype=np.float64)
    envelope = np.asarray(envelope, dtype=np.float64)
    n = envelope.shape[0]
    if beats.size < 16 or period < 8 or n < 3:
        return beats
    offsets = np.arange(24) / 24.0
    at = np.minimum(beats[:-1, None] + offsets[None, :] * period, n - 1)  # each beat up to the next
    profile = beat_strengths(envelope, at.ravel(), radius=1).reshape(at.shape).mean(axis=0)
    rest = np.where(np.minimum(offsets, 1.0 - offsets) > 0.125, profile, -np.inf)  # not the tracked beat
    k = int(np.argmax(rest))
    later = float(profile[(offsets >= 0.55) & (offsets <= 0.8)].max())
    struck = profile[k] > SWING_SHARE * profile[0]
    if not (0.29 <= offsets[k] <= 0.40 and struck and later < 0.5 * profile[k]):
        return beats
    return keep_inside(beats + offsets[k] * period, period=period, n_frames=n)


def one_grid(beats: np.ndarray, *, period: float, n_frames: int) -> np.ndarray:
    """``beats`` (frames) with each stretch where the tracker slipped half a beat, or a third
    of one, off the track's grid put back on it; unchanged unless the track is steady.

    librosa's dynamic-programming tracker follows the onsets with a bounded penalty for
    changing its phase, so a section whose offbeats outweigh its beats (a breakdown of offbeat
    stabs, an outro of bass on the "and"s) can draw it onto the "and"s for a few bars, and
    another section back. The phase corrections after it (`kick_grid`, `beats.backbeat_shift`,
    ...) move every beat alike, so a track half on the beat and half off it stays half wrong:
    five LMMS songs were on the "and"s in a stretch (Jousboxx's last 20 s: where a crossfade
    starts). A steady track has one grid, which half a beat's slip leaves unchanged modulo half a
    beat: the period (within 0.6% of ``period``) that makes the beats most coherent on a grid
    of half beats, and that coherence, say whether there is one (`GRID_COHERENCE`). Most beats
    are on the beat grid (the phase corrections then decide whether that is the beat or the
    "and"); a run of `SLIP_BEATS` to `SLIP_MAX` beats close to half a beat off it, reached from
    the grid within six beats and leaving it likewise, is replaced by the grid's beats over it and
    the bends into it and out of it. Neither test alone tells a slip from a drift (scratch runs
    over the benchmark's cached features): its drifting synthetic house reaches a coherence of
    0.84 and its rubato piano 0.83, and with the coherence line at 0.5 the run test let a
    drifting waltz, a drifting guitar and a rubato piano (0.59-0.69) through; together they
    changed no drifting item. A tighter tracker (librosa's ``tightness``, `beats.TIGHTNESS`)
    slips less but cannot follow a band: without this, at 400 and 800 for 200, Frets on Fire on
    the beat fell from 6 to 5 and 3 of 8 (same scratch runs).

    ``benchmarks/tempo_accuracy.py``, items on the beat: LMMS 12 -> 14 of 16, Frets on Fire
    6 -> 8 of 8, OpenMSX 18 -> 20 of 25, Hydrogen's songs 5 -> 6 of 7; downbeats LMMS 7 -> 10
    of 16, Hydrogen's 3 -> 4 of 7. The beat grid's fit (`beats.fit_beat_grid`) counted a slip
    as a skipped beat; without them the tempo is closer to the label (median error LMMS 0.006%
    -> 0.002%, Frets on Fire 0.007% -> 0.003%). No Acc1, Acc2, beatless or equivariance figure
    moved, and no item left the beat. In a scratch count over the benchmark's cached labelled
    items it changed 16 of 295, with coherences 0.84 to 0.97.

    A shuffle's tracker can slip onto the swung "and" for a stretch, a third of a beat early,
    where `swing_shift` moves whole tracks only: the same test is then made on a grid of thirds
    (since analyser version 34; every threshold above is in units of the slip). OpenMSX on the
    beat 20 -> 22 of 25: careless_perc_redfarn sat a third early in four tenths of the song,
    boogi_marabi_redfarn in its first; a stretch of LMMS's Thomasso and of lmms-more's
    DirtyLove came back too (both counted on the beat before and after). No Acc1, Acc2 or
    beatless figure moved; in the scratch count it changed those four items.
    """
    beats = np.asarray(beats, dtype=np.float64)
    for parts in (2, 3):
        beats = _mend_slips(beats, period=period, n_frames=n_frames, parts=parts)
    return beats


def _mend_slips(beats: np.ndarray, *, period: float, n_frames: int, parts: int) -> np.ndarray:
    """`one_grid` for slips of ``1 / parts`` of a beat: the coherence on a grid of that many
    parts a beat, the runs off its beat grid by that much (every threshold in units of it)."""
    if beats.size < 2 * SLIP_BEATS or period <= 0:
        return beats
    slip = 1.0 / parts
    grid = period
    # Coarse steps that move the last beat a twentieth of a beat each (241 at most: past 1,000
    # beats a step can straddle the peak, which lowers the coherence found), then fine ones.
    coarse = int(np.clip(np.ceil(0.012 * beats.size / 0.05), 25, 241))
    for span, steps in ((0.006, coarse), (0.006 / (coarse - 1), 41)):
        trials = grid * (1.0 + np.linspace(-span, span, steps))
        cos, sin = np.empty(steps), np.empty(steps)
        rows = max(1, 2**18 // beats.size)  # a bounded block of trials at a time
        for i in range(0, steps, rows):
            angle = (2 * np.pi * parts) * beats[None, :] / trials[i:i + rows, None]
            cos[i:i + rows], sin[i:i + rows] = np.cos(angle).mean(axis=1), np.sin(angle).mean(axis=1)
        best = int(np.argmax(np.hypot(cos, sin)))
        grid, coherence = float(trials[best]), float(np.hypot(cos[best], sin[best]))
        origin = float(np.arctan2(sin[best], cos[best])) / (2 * np.pi * parts)
    if coherence < GRID_COHERENCE:
        return beats
    off = (beats / grid - origin + 0.5) % 1.0 - 0.5  # near a whole number of parts
    shifts = slip * np.arange(parts)
    near = [np.mean(np.abs((off - shift + 0.5) % 1.0 - 0.5) < slip / 2) for shift in shifts]
    shift = float(shifts[int(np.argmax(near))])  # the grid most beats are on
    off, origin = (off - shift + 0.5) % 1.0 - 0.5, origin + shift
    slipped = np.abs(off) > 0.7 * slip
    keep = np.ones(beats.size, dtype=bool)
    filled = []
    start = 0
    while start < beats.size:
        if not slipped[start]:
            start += 1
            continue
        end = start + int(np.argmin(slipped[start:])) if not slipped[start:].all() else beats.size
        first, last = start, end
        while first > 0 and start - first < 6 and abs(off[first - 1]) >= 0.3 * slip:
            first -= 1
        while last < beats.size and last - end < 6 and abs(off[last]) >= 0.3 * slip:
            last += 1
        turns = ((first == 0 or abs(off[first - 1]) < 0.3 * slip)
                 and (last == beats.size or abs(off[last]) < 0.3 * slip))
        plateau = np.median(np.abs(off[start:end])) >= 0.88 * slip
        if SLIP_BEATS <= end - start <= SLIP_MAX and plateau and turns:
            # The grid's beats from half a beat after the last beat on it to half a beat before
            # the next one: however the tracker bent into the slip and out, none lost or doubled.
            low = (beats[first - 1] if first else beats[0] - grid) + 0.5 * grid
            high = (beats[last] if last < beats.size else beats[-1] + grid) - 0.5 * grid
            k = np.arange(np.ceil(low / grid - origin), np.floor(high / grid - origin) + 1)
            keep[first:last] = False
            filled.append((k + origin) * grid)
        start = end
    if not filled:
        return beats
    out = np.sort(np.concatenate([beats[keep], *filled]))
    return out[(out >= 0) & (out <= n_frames - 1)]
