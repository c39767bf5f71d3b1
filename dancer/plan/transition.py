"""How two tracks can be beat-matched: the planner's side of tempo matching (#13).

Public: `TransitionRatio`, `transition_ratio`, `LIMIT`.

A pure function of two tempi, so the planner can price a pair before anything is rendered; the
audio side (`dancer.audio.stretch`) plays the incoming track at the ratio chosen here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["LIMIT", "TransitionRatio", "transition_ratio"]

#: Largest rate change (fraction) a crossfade may use: a DJ's ±8 % pitch fader.
LIMIT = 0.08
#: Cost added when the incoming track is matched at half or double time: the pulse is shared but
#: its feel changes under the dancer.
FOLD_COST = 0.25
_FOLDS = (1.0, 2.0, 0.5)


@dataclass(frozen=True)
class TransitionRatio:
    """The rate at which the incoming track plays so its beats land on the outgoing grid.

    Attributes
    ----------
    ratio : float
        Playback rate of the incoming track during the crossfade (source seconds per timeline
        second): ``out_bpm * fold / in_bpm``. 1.0 when the pair is not matched.
    fold : float
        Incoming beats heard per outgoing beat: 1, 2 (incoming at double time) or 0.5 (half time).
    matched : bool
        True when ``|ratio - 1| <= limit``: a tempo-matched crossfade. False: the planner uses a
        fade or an echo-out, never a crossfade that would drift.
    cost : float
        Stretch cost for the objective, 0 for identical tempi: ``(ln ratio / ln(1 + limit))²``
        (1.0 at the limit), plus `FOLD_COST` for a half/double-time match. 0 when not matched (the
        planner prices the fade instead).
    semitones : float
        Pitch shift at ``ratio`` if played by varispeed.
    """

    ratio: float
    fold: float
    matched: bool
    cost: float

    @property
    def semitones(self) -> float:
        return 12.0 * math.log2(self.ratio)


def transition_ratio(out_bpm: float | None, in_bpm: float | None, *, limit: float = LIMIT) -> TransitionRatio:
    """The musically right playback ratio for a crossfade from ``out_bpm`` into ``in_bpm``.

    Among the folds 1, 2 and 1/2 the one whose ratio is nearest 1 (in log terms) wins: 64 into
    128 BPM is matched at half time with ratio 1.0, not stretched by 2. Beatless or unknown tempi
    (None or <= 0) are never matched.

    Parameters
    ----------
    out_bpm, in_bpm : float or None
        Tempi of the outgoing and incoming tracks.
    limit : float, keyword-only
        Largest ``|ratio - 1|`` accepted, e.g. 0.08 (±8 %); varispeed moves pitch by one semitone
        at about ±6 %.

    Returns
    -------
    TransitionRatio
    """
    if limit < 0 or not math.isfinite(limit):
        raise ValueError("limit must be a finite fraction >= 0")
    if not out_bpm or not in_bpm or out_bpm <= 0 or in_bpm <= 0 \
            or not math.isfinite(out_bpm) or not math.isfinite(in_bpm):
        return TransitionRatio(1.0, 1.0, False, 0.0)
    fold = min(_FOLDS, key=lambda f: abs(math.log(out_bpm * f / in_bpm)))
    ratio = out_bpm * fold / in_bpm
    # A relative tolerance keeps a pair computed to sit exactly at the limit inside it.
    if abs(ratio - 1.0) > limit * (1 + 1e-9):
        return TransitionRatio(1.0, fold, False, 0.0)
    scale = math.log1p(limit) if limit > 0 else 1.0
    cost = (math.log(ratio) / scale) ** 2 + (FOLD_COST if fold != 1.0 else 0.0)
    return TransitionRatio(ratio, fold, True, cost)
