"""What the metrical-level choice believes besides the rhythm: the two tempo priors, and how
sure the choice is of its octave.

Public: `tempo_prior`, `onset_prior`, `octave_certainty`, and the priors' constants. `tempo`
adds the priors to its rhythm term (`tempo.level_scores`) and scales its confidence by the
certainty. The benchmark refits and ablates them (`benchmarks/tempo_accuracy.py`).

librosa's tempo estimate takes a prior too (``librosa.feature.tempo(prior=...)``, a
``scipy.stats`` distribution that weights its tempogram before it takes the peak). dancer does
not take librosa's peak: it scores a handful of metrical levels, so it needs the priors as
log-densities at those levels, one of them centred by the music itself (`onset_prior`), and
how sure the octave call is (`octave_certainty`), which librosa does not report.
"""

from __future__ import annotations

import numpy as np

#: Centre (BPM) and width (octaves, one standard deviation) of the log-normal tempo prior.
PRIOR_BPM = 120.0
PRIOR_OCTAVES = 0.5
#: Onsets of the accent in a typical beat: the beat divides in two (`onset_prior`).
ONSETS_PER_BEAT = 2.0


def tempo_prior(bpm: np.ndarray | float, *, width: float | None = None) -> np.ndarray:
    """Log-density (up to a constant) of the log-normal tempo prior, 0 at ``PRIOR_BPM``;
    ``width`` (octaves) overrides ``PRIOR_OCTAVES`` for the benchmark's fits."""
    width = PRIOR_OCTAVES if width is None else width
    return -0.5 * (np.log2(np.asarray(bpm, dtype=np.float64) / PRIOR_BPM) / width) ** 2


def onset_prior(bpm: np.ndarray | float, onset_rate: float, *, width: float | None = None) -> np.ndarray:
    """Log-density (up to a constant) of a log-normal prior centred where ``onset_rate``
    (onsets per second, `pulse.onset_rate`) makes `ONSETS_PER_BEAT` onsets a beat, as wide
    as `tempo_prior`; 0 everywhere when there are no onsets to count.

    Listeners count busy music fast and sparse music slow (Elowsson & Friberg 2015, "Modeling
    the perception of tempo", JASA 137(6)): a slow ballad with eighth-note hats has about two
    onsets to the beat at 65 BPM and one at 130, a thrash song at 180 BPM about two at 180 and
    four at 90. Summed with `tempo_prior`, the fixed centre moves halfway (in octaves) toward
    this one. librosa's tempo prior is fixed; it has no cue that moves with the music.
    """
    bpm = np.asarray(bpm, dtype=np.float64)
    if onset_rate <= 0:
        return np.zeros(bpm.shape)
    width = PRIOR_OCTAVES if width is None else width
    centre = 60.0 * onset_rate / ONSETS_PER_BEAT
    return -0.5 * (np.log2(bpm / centre) / width) ** 2


def octave_certainty(
    levels: np.ndarray, scores: np.ndarray, chosen: int, *,
    off_grid: np.ndarray | None = None, penalty: float = 0.0,
) -> float:
    """The chosen level's share of its rivals: ``exp(score)`` of level ``chosen`` over the sum
    of ``exp(score)`` over the levels a whole number of octaves from it or, given the mask
    ``off_grid``, over every level, those it marks (the chosen one too, if it is one) less
    ``penalty``.

    The scores add log-priors to the rhythm term, so this is the chosen level's posterior
    probability against its own half and double: near 1 when the rhythm and the priors agree,
    0.5 when the level and its octave score alike (a groove at 170 BPM that reads as well at
    85). `tempo` passes the levels off the main pulse's octave family as ``off_grid``, with
    its 3:2 guard's margin as ``penalty``, so a 3:2 reading that scored close also shows as
    doubt: a Viennese waltz read at its bar with 0.97 while its beat, a third of the bar,
    scored higher. librosa's tempo has no such figure. `tempo` scales its confidence by it.

    ``python benchmarks/tempo_accuracy.py --sets excerpts`` prints the reliability table of
    the 486 excerpts, where a 3:2 reading is likeliest. When this rule came in (analyser
    version 18) its top bin (confidence 0.8–1) held 217 items with the right tempo or an
    octave of it (Acc2) for 0.986 of them; against the octave family alone it held 243 at
    0.975, and the 0.6–0.8 bin rose from 0.860 to 0.907 (the same benchmark file run on
    analyser version 17: ``git worktree add ../v17 baa4f62``, copy
    ``benchmarks/tempo_accuracy.py`` in, run it there). Since two OpenMSX songs are labelled
    at their score's pulse and version 19's rhythm term, the top bin held 220 at 0.986; since
    version 21 a pulse grouping five beats has their family as rivals (`levels.candidate_levels`),
    and it holds 218 at 0.991.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if off_grid is None:
        octaves = np.log2(np.asarray(levels, dtype=np.float64) / levels[chosen])
        rivals = scores[np.abs(octaves - np.round(octaves)) < 0.03]
    else:
        rivals = scores = np.where(np.asarray(off_grid, dtype=bool), scores - penalty, scores)
    return float(1.0 / np.sum(np.exp(rivals - scores[chosen])))
