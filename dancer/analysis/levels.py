"""Metrical levels: the candidate beat periods of one track, from its periodicity.

Step 3 of `tempo`'s method. Public API
--------------------------------------
pulse_seeds
    The periods of the most salient pulses (comb salience within 10% of the best), the main
    one first.
metrical_levels, candidate_levels
    Their octave families inside a BPM range, with a waltz's thirds and a five-grouping's fifths.
competing_levels
    The levels at which the accent or the kick actually recurs.
drop_groupings_of_three
    The levels less those that are three of the grid's pulses, not a beat.
odd_spans
    How many of the grid's pulses (three or five) each level off the grid groups.
comb_salience, acf_at, in_octave_family
    The comb over a lag's multiples, the periodicity read at fractional lags, and which
    periods lie a whole number of octaves from another.
backbeat_term
    At each level, how much more the snare follows the kick by it than by half of it.

librosa provides the periodicity (`pulse.periodicity`, ``librosa.autocorrelate``); it has no
notion of metrical levels: its tempo is one peak of a tempogram under a prior. Which pulses seed
the grid, which of their halvings and doublings are candidates, and which grid leads when two
pulses are about as salient, are dancer's.
"""

from __future__ import annotations

import numpy as np

from dancer.analysis.pulse import COMB_HARMONICS, COMB_MIN_BPM

__all__ = ["ODD_SPANS", "acf_at", "backbeat_term", "candidate_levels", "comb_salience", "competing_levels",
           "drop_groupings_of_three", "in_octave_family", "metrical_levels", "odd_spans", "pulse_seeds"]

#: Range searched for the most salient pulse (`pulse_seeds`).
COMB_MAX_BPM = 320.0
#: Odd numbers of pulses a grouping spans (`_binary_grid_first`).
ODD_SPANS = (3, 5)
#: `competing_levels`: the periodicity (accent or kick band) at which a level recurs at all ...
RECURS = 0.05
#: ... and the share of the strongest level's at which it competes.
COMPETES = 0.25


def acf_at(acf: np.ndarray, lag: float | np.ndarray) -> np.ndarray:
    """``acf`` read at fractional lags (linear interpolation), 0 past its end."""
    return np.interp(lag, np.arange(acf.shape[0]), acf, right=0.0)


def backbeat_term(periods: np.ndarray, backbeat_acf: np.ndarray) -> np.ndarray:
    """``b(p) - b(p/2)`` at each period, ``b`` the snare band's recurrence after the kick band
    (`pulse.cross_periodicity`): in a backbeat the snare follows the kick by one beat and not
    by half of one, so the level it marks is the beat.

    A drum'n'bass break at 172 BPM (kick on one, snare on two and four) has its kick recurring
    by the bar, which `tempo.rhythm_terms`' kick term reads as 86; a jive, a country two-step
    or a French waltz with its bass on one and its snare or chords after it likewise. Added to
    the kick band's term with weight 1 (not fitted), on the levels of the main pulse's octave
    family only (unrestricted, two 5 s excerpts went to a 4:3 or 5:4 reading),
    ``benchmarks/tempo_accuracy.py`` (analyser version 24 -> 25), items read at their tempo:
    synthetic bank 127 -> 130 of 144 (drum'n'bass), MMA's held-out grooves 49 -> 52 of 71,
    Hydrogen's kits 196 -> 214 of 216 (the plain groove at 140-170 BPM had been halved on four
    kits); equivariance 0.938 -> 0.958. It costs: lmms-more 9 -> 8 of 9 and one of the padded
    copies (both now at double), excerpts 5 s 136 -> 135 and 10 s 143 -> 141 of 162, and
    Wesnoth's unlabelled equivariance 0.808 -> 0.788; Frets on Fire, LMMS, OpenMSX, Hydrogen's
    songs and the hand percussion are unchanged.
    """
    periods = np.asarray(periods, dtype=np.float64)
    return acf_at(backbeat_acf, periods) - acf_at(backbeat_acf, periods / 2)


def in_octave_family(periods: np.ndarray | float, reference: float) -> np.ndarray:
    """Whether each period lies a whole number of octaves (within 0.03) from ``reference``."""
    octaves = np.log2(np.asarray(periods, dtype=np.float64) / reference)
    return np.abs(octaves - np.round(octaves)) < 0.03


def _peak_lags(acf: np.ndarray, *, frame_rate: float, min_bpm: float, max_bpm: float) -> np.ndarray:
    """Local maxima of the periodicity inside the BPM range, parabola-refined."""
    lo = int(np.floor(frame_rate * 60.0 / max_bpm))
    hi = min(acf.shape[0] - 2, int(np.ceil(frame_rate * 60.0 / min_bpm)))
    if hi <= lo + 1:
        return np.zeros(0)
    k = np.arange(max(lo, 1), hi + 1)
    peak = (acf[k] > acf[k - 1]) & (acf[k] >= acf[k + 1]) & (acf[k] > 0)
    k = k[peak]
    left, mid, right = acf[k - 1], acf[k], acf[k + 1]
    denom = left - 2 * mid + right
    shift = np.where(denom < 0, 0.5 * (left - right) / np.where(denom < 0, denom, -1.0), 0.0)
    return k + np.clip(shift, -0.5, 0.5)


def comb_salience(acf: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Mean periodicity at the first `COMB_HARMONICS` multiples of each lag.

    A metrical level is salient when the pulse recurs at its period and at the longer levels
    above it; scoring the comb rather than one lag keeps the search on the metrical grid of
    the music and away from 3:2 cross-rhythms (a dotted-quarter peak has no support at 2 and
    4 times its lag).
    """
    lags = np.asarray(lags, dtype=np.float64)
    harmonics = np.arange(1, COMB_HARMONICS + 1)
    return acf_at(acf, lags[:, None] * harmonics[None, :]).mean(axis=1)


def metrical_levels(acf: np.ndarray, *, frame_rate: float, min_bpm: float, max_bpm: float) -> np.ndarray:
    """Beat periods (frames) to choose from: octave families of the most salient pulses.

    The strongest comb-salience peaks (up to three, each within 10% of the best;
    `pulse_seeds`) fix the metrical grid; their halvings and doublings inside
    ``[min_bpm, max_bpm]`` are the candidate beat levels. More than one seed matters for music
    whose strongest repetition is a 3-beat figure (a 3-3-2 clave, a hemiola) over a binary
    beat. Empty when the envelope shows no periodicity.
    """
    return candidate_levels(acf, pulse_seeds(acf, frame_rate=frame_rate), frame_rate=frame_rate,
                            min_bpm=min_bpm, max_bpm=max_bpm)


def candidate_levels(
    acf: np.ndarray, seeds: np.ndarray, *, frame_rate: float, min_bpm: float, max_bpm: float,
    kick_acf: np.ndarray | None = None,
) -> np.ndarray:
    """The octave levels of every seed, plus the thirds of the main seed when its period
    divides in three (`_divides_in_three`) and the fifths when it groups five pulses
    (`_groups_five`, which reads the kick band's ``kick_acf`` too, when given), slowest first.

    Octave families alone cannot reach the beat of a waltz whose bar is the most salient
    pulse: a third of the bar is in no octave of it. Nor can they reach the beat under a
    figure that repeats every five of its eighths (a 5/4 vamp, a riff in fives over a rock
    beat): a 5/4 groove at 170 BPM in the style of "Take Five" combed best at two bars (34
    BPM), and its candidates were 68, 136 and 272, none of them a beat, read at 68 with
    confidence 0.93. The third and fifth levels lie off the main family, so
    `tempo.pick_level`'s 3:2 guard still asks them to win by `tempo.OFF_GRID_MARGIN`, and
    they are rivals in the confidence (`priors.octave_certainty`): that groove is still read
    at 68, now with confidence 0.03 (``test_a_five_four_vamp_is_read_on_its_beat_or_doubted``).
    """
    levels = _octave_levels(seeds, frame_rate=frame_rate, min_bpm=min_bpm, max_bpm=max_bpm)
    if levels.size == 0:
        return levels
    main = float(seeds[0])
    extra: list[float] = []
    for parts, divides in ((3, _divides_in_three(acf, main)), (5, _groups_five(acf, kick_acf, main))):
        if not divides:
            continue
        family = _octave_levels(np.array([main / parts]), frame_rate=frame_rate, min_bpm=min_bpm,
                                max_bpm=max_bpm)
        extra += [float(p) for p in family if all(abs(p / q - 1) > 0.02 for q in [*levels, *extra])]
    return np.array(sorted([*levels, *extra], reverse=True)) if extra else levels


def _divides_in_three(acf: np.ndarray, period: float) -> bool:
    """Whether the pulse recurs at a third of ``period`` more than at its half and quarter:
    a bar of three beats (or a beat of three eighths), not of two or four. librosa's
    tempogram shows the peaks; deciding the meter from them is dancer's."""
    third, half, quarter = acf_at(acf, np.array([period / 3, period / 2, period / 4]))
    return bool(third > max(half, quarter))


def _groups_five(acf: np.ndarray, kick_acf: np.ndarray | None, period: float) -> bool:
    """Whether the pulse, the accent's and the kick band's periodicity summed, recurs at two
    fifths of ``period`` more than at its half: ``period`` spans five pulses of a faster grid
    (or ten), not two. The kick counts because a riff in fives can fill the accent's
    periodicity while the drums' beat shows in the kick band: in a 10-s cut of a metal song
    (Frets on Fire's "Chaos God") the riff recurred every five eighths (68 BPM), the accent
    at the drums' 170 as much as at the riff's 136 (0.43 and 0.44), and the kick at 170 far
    more (0.56 against 0.08)."""
    lags = np.array([0.4 * period, 0.5 * period])
    strength = acf_at(acf, lags) + (0.0 if kick_acf is None else acf_at(kick_acf, lags))
    return bool(strength[0] > strength[1])


def _octave_levels(seeds: np.ndarray, *, frame_rate: float, min_bpm: float, max_bpm: float) -> np.ndarray:
    """The halvings and doublings of each seed period inside the BPM range, 2% apart, slowest first."""
    levels: list[float] = []
    for seed in seeds:
        for period in seed * 2.0 ** np.arange(-4, 5):
            bpm = 60.0 * frame_rate / period
            if min_bpm <= bpm <= max_bpm and all(abs(period / p - 1) > 0.02 for p in levels):
                levels.append(float(period))
    return np.array(sorted(levels, reverse=True))


def pulse_seeds(acf: np.ndarray, *, frame_rate: float) -> np.ndarray:
    """The periods (frames) of up to three comb-salience peaks within 10% of the best, the
    most salient first; empty when the envelope shows no periodicity."""
    # Widen the peaks by a frame first: a very sharp pulse (clicks, a drum machine) has
    # one-frame autocorrelation peaks, and at a period that is not a whole number of frames
    # the interpolated comb would favour slow levels whose multiples happen to fall on whole
    # frames (5 beats at 170 BPM are 152.0 frames).
    acf = np.convolve(acf, [0.25, 0.5, 0.25], mode="same")
    lags = _peak_lags(acf, frame_rate=frame_rate, min_bpm=COMB_MIN_BPM, max_bpm=COMB_MAX_BPM)
    if lags.size == 0:
        return np.zeros(0)
    salience = comb_salience(acf, lags)
    order = np.argsort(-salience)[:3]
    seeds = lags[order][salience[order] >= salience[order[0]] - 0.1 * abs(salience[order[0]])]
    return _binary_grid_first(seeds)


def _binary_grid_first(seeds: np.ndarray) -> np.ndarray:
    """``seeds`` with the first one moved behind a seed of which it spans an odd number of
    pulses (`ODD_SPANS`: three or five, times a power of two): the grid the music is on is that
    seed's octave family.

    When the beats are alike (a kick on one and three, a snare on two and four), the pulse
    recurs at every whole number of beats, and three or five beats comb as well as four: in a
    rock beat at 176 BPM the most salient peak was the three-beat span (58.7 BPM, comb
    salience 0.545 against 0.523 at 88 BPM), and the 3:2 guard (`tempo.pick_level`) held the
    beat to that family (read at 58.7 BPM); the benchmark's 280.7 BPM swing combed best at five
    beats and was read at 56.8. An odd span of pulses is a grouping (a bar of three or five, a hemiola) that
    lies on the grid of the pulse it groups, not the other way round; a waltz's bar still
    divides in three (`candidate_levels`).
    """
    if seeds.size < 2:
        return seeds
    for span in ODD_SPANS:
        for i in range(1, seeds.size):
            if in_octave_family(float(seeds[0]), span * float(seeds[i])):
                return np.concatenate([seeds[i : i + 1], seeds[:i], seeds[i + 1 :]])
    return seeds


def odd_spans(levels: np.ndarray, main_pulse: float) -> np.ndarray:
    """For each level off the octave family of ``main_pulse``, the odd number of the grid's
    pulses it spans (`ODD_SPANS`: a dotted eighth is three sixteenths, a quintuple grouping
    five), as a float; 0 for levels on the grid and for those that group no whole number of its
    pulses. `tempo.rhythm_terms` judges such a level against the pulse it groups."""
    levels = np.asarray(levels, dtype=np.float64)
    spans = np.zeros(levels.shape)
    off = ~in_octave_family(levels, main_pulse)
    for span in reversed(ODD_SPANS):
        spans = np.where(off & in_octave_family(levels / span, main_pulse), float(span), spans)
    return spans


def competing_levels(
    levels: np.ndarray, acf: np.ndarray, kick_acf: np.ndarray | None = None, *,
    main_pulse: float | None = None,
) -> np.ndarray:
    """The `metrical_levels` at which the pulse actually recurs (a level seeded by an accidental
    long-lag peak can sit between beats); all of them, for the priors to choose, when none does
    (an intro whose accent marks only the bar, the beat on hats alone).

    The accent or, given ``kick_acf``, the kick band may recur: in a dembow or a half-time
    afrobeat the snare figure spans two beats, so the accent barely recurs at the beat while the
    kick marks every one of them (a 90 BPM dancehall riddim had only its 45 BPM level to choose).

    Given ``main_pulse``, the grid's own octave family keeps its place against the levels off
    it. The 3:2 guard (`tempo.pick_level`) lets a level off that family win only by a margin
    over the family's best, and with the family's better levels left out it held against a
    worse one, or none:
    - in a 5-second excerpt the beat can recur weakly while a dotted figure recurs strongly:
      the seeds said 140 BPM (the dotted figure spans three of its eighths, `pulse_seeds`),
      only the dotted 93 BPM level and its half were left, and the excerpt read 92.5 BPM at
      confidence 0.90 (LMMS's Oglsdl-PpTrip, 5 s from 0.3 of the song); it reads 139.3 at 0.48;
    - a 20-second excerpt of a 64 BPM shuffle read 159.9 (5:2), ahead of the 64 BPM level by
      more than the margin, while 128, which recurred at 0.05 against 0.23 at 64, was left out;
      it reads 128.1 (OpenMSX's careless_perc_redfarn).
    So when a level off the family competes, every level of the family that recurs at all
    (`RECURS`) competes too, and when none of them does, the one that recurs most. (That last
    rule came first and mended the 93 BPM excerpt, whose 140 BPM level recurs at 0.11; the
    first covers it now, and without the last no tempo of the benchmark changes, only two
    confidences by 0.03 or less: it is left for a family that recurs at none of its levels.) With nothing
    off the family in the running the relative line stands: a weak octave of the grid then has
    only the priors to speak for it, and the demo's heartbeat groove (72.5 BPM, `dancer.demo`)
    was read at 145 when its octave joined (``tests/library/test_scan.py``).
    Over the tempo benchmark (``benchmarks/tempo_accuracy.py --no-librosa``, every set) the
    two rules moved three excerpts from a 3:2 or 5:2 reading to their labelled tempo or its
    octave (those two and Frets on Fire's "Escape from chaosland", 5 s) and the 60-s cut of
    LMMS's Skiessi-Onion with its 0.90x copies from 2/3 of its tempo to the tempo; nothing
    else. Its 1.12x copies still read at 2/3, so their speed-change pairs, consistent while all
    three were wrong, no longer are (equivariance 0.958 -> 0.938, time-stretch 0.938 -> 0.917).
    `tempo._choose_level` passes ``main_pulse`` for the beat only, not for its accent-only
    choice, which says where the beatless flag is judged: in a trial with the second rule there
    too, a glitch loop of Sonic Pi's that is labelled with a beat was flagged beatless
    (``--sets loops``).
    """
    levels = np.asarray(levels, dtype=np.float64)
    salience = acf_at(acf, levels)
    if kick_acf is not None:
        salience = np.maximum(salience, acf_at(kick_acf, levels))
    eligible = salience >= max(RECURS, COMPETES * float(salience.max()))
    if not eligible.any():
        return levels
    if main_pulse is not None:
        family = in_octave_family(levels, main_pulse)
        if (eligible & ~family).any():
            eligible |= family & (salience >= RECURS)
        if family.any() and not (eligible & family).any():
            eligible[np.flatnonzero(family)[np.argmax(salience[family])]] = True
    return levels[eligible]


def drop_groupings_of_three(
    levels: np.ndarray, acf: np.ndarray, kick_acf: np.ndarray, *, main_pulse: float
) -> np.ndarray:
    """``levels`` less those that span three pulses of the main grid and recur at that third at
    least as strongly as at themselves (in the accent or the kick band): a grouping of the
    grid's pulses in threes (a hemiola, a bar of three), not a beat. All of them when every
    level is such a grouping.

    A third of such a level lies in the octave family of ``main_pulse``. Judged against its
    half alone, which falls between pulses, such a level rates as highly as a true beat, and
    it out-scored the grid's own levels by more than the 3:2 guard's margin (a plain metronome
    at 240 BPM was read at 80, one at 280 at 93.3). The levels that stay are judged against
    that third as well (`tempo.rhythm_terms`, `odd_spans`). A waltz's beat is no such grouping: a third
    of it is no pulse of its grid. A shuffle's beat stays a candidate as long as it recurs more
    strongly at its own period than at its triplet eighths.
    """
    levels = np.asarray(levels, dtype=np.float64)
    third = np.maximum(acf_at(acf, levels / 3.0), acf_at(kick_acf, levels / 3.0))
    itself = np.maximum(acf_at(acf, levels), acf_at(kick_acf, levels))
    grouped = in_octave_family(levels / 3.0, main_pulse) & (third >= itself)
    return levels if grouped.all() else levels[~grouped]
