"""Beat phase from what the tracker does not follow: the harmony and the swing.

Public API
----------
harmonic_shift
    Half a beat, when the chords change between the tracked beats rather than on them.
swing_shift
    The beats moved a third of a beat later when they sit on a shuffle's swung upbeat.

`tempo` applies them after `beats.sixteenth_shift` and `beats.backbeat_shift`, which read the
kick and the snare. librosa's tracker places beats on the onsets it follows and has no notion
of which of a beat's onsets is the beat; these are dancer's.
"""

from __future__ import annotations

import numpy as np

from dancer.analysis.beats import beat_strengths, chord_changes, keep_inside

__all__ = ["HARMONIC_MARGIN", "HARMONIC_QUANTILE", "harmonic_shift", "swing_shift"]

#: `harmonic_shift` moves the beats half a period only when the harmony's largest changes
#: (`HARMONIC_QUANTILE`) between the tracked beats are this many times those at them.
HARMONIC_MARGIN = 2.0
#: The percentile of the per-position chord changes that stands for "the chord changes" in
#: `harmonic_shift`: chords change once or twice a bar, on an eighth or less of the positions.
HARMONIC_QUANTILE = 95.0


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


def swing_shift(beats: np.ndarray, *, period: float, envelope: np.ndarray) -> np.ndarray:
    """``beats`` moved a third of a beat later when they sit on a shuffle's swung upbeat.

    In a shuffle each beat is long–short: the beat, then the swung "and" about two thirds of
    the way to the next beat. A tracker can lock onto the "and"s, a third of a beat early; both
    dancer's and librosa's did on OpenMSX's redfarn shuffles, whose MIDI puts every note on the
    beat or 11/16 of the way through it. From a swung "and" the next onset comes a third of a
    beat later and then nothing until the next "and"; from the beat the next onset is two thirds
    away. So ``envelope`` (the one the tracker followed) is read at 24 offsets across the beat
    from the tracked beats; the beats move when its strongest offset past the first is a
    third of a beat or a little more (0.29–0.40), at least half as strong as the tracked beats,
    and nothing stands at 0.55–0.8 of the beat at half of that (which would be a triplet feel,
    or the beats already on a swung grid).

    ``benchmarks/tempo_accuracy.py``: OpenMSX on the beat 13 -> 15 of 24, every other source
    unchanged. In a scratch count it moved 8 of the 859 cached benchmark items: redfarn
    shuffles, one excerpt of another redfarn song, and the synthetic Viennese waltz, which is
    read at a third of its tempo anyway. librosa's tracker has no notion of swing; this is dancer's.
    """
    beats = np.asarray(beats, dtype=np.float64)
    envelope = np.asarray(envelope, dtype=np.float64)
    n = envelope.shape[0]
    if beats.size < 16 or period < 8 or n < 3:
        return beats
    offsets = np.arange(24) / 24.0
    at = np.minimum(beats[:-1, None] + offsets[None, :] * period, n - 1)  # each beat up to the next
    profile = beat_strengths(envelope, at.ravel(), radius=1).reshape(at.shape).mean(axis=0)
    rest = profile.copy()
    rest[[0, 1, 23]] = -np.inf  # the tracked beat itself
    k = int(np.argmax(rest))
    later = float(profile[(offsets >= 0.55) & (offsets <= 0.8)].max())
    if not (0.29 <= offsets[k] <= 0.40 and profile[k] > 0.5 * profile[0] and later < 0.5 * profile[k]):
        return beats
    return keep_inside(beats + offsets[k] * period, period=period, n_frames=n)
