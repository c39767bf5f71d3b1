"""Tempo, beats, bars and phrases from the onset envelopes of `features.Features`.

Public API
----------
TempoResult
    bpm (None when beatless), confidence 0..1, beatless flag, beat / downbeat / phrase times
    (seconds) and meter.
estimate_tempo
    The whole analysis from a `Features`.
tempo_from_envelopes
    The same from bare envelopes and a frame rate (keyword-only), for callers and tests that
    build their own.
metrical_levels, candidate_levels, level_scores, rhythm_terms, pick_level
    The stages, exposed for the benchmark and for tests. The envelopes and their periodicity
    (steps 1 and 2) are `pulse`'s, the candidate levels (step 3) `levels`'.

Method
------
librosa provides the transforms: the onset envelopes (`features`), the autocorrelation
(``librosa.autocorrelate`` over ``librosa.util.frame`` windows, a tempogram) and the
dynamic-programming beat tracker (``librosa.beat.beat_track``, run at a period chosen here).
librosa's own tempo estimate is the tempogram's peak weighted by a log-normal prior; it has no
notion of which metrical level a dancer would count, and no way to say that there is no beat.
That is what this module adds:

1. Pulse envelopes: each band's onset strength minus its one-second running mean, half-wave
   rectified. The *accent* sums the four bands below 3.5 kHz (kick, bass and snare body, low
   mids, snare crack): the instruments that mark beats. Each band counts in units of its own
   mean, so a snare or a strummed chord weighs as much as a kick (`pulse._balanced_accent`).
   Hi-hats and cymbals, which mostly subdivide the beats, are left out of it.
2. Periodicity: the accent's autocorrelation in 12-s windows every 3 s, each normalised to its
   energy, averaged (Grosche & Müller 2011).
3. Metrical levels: the strongest comb-salience peaks (periodicity summed at 1–4 times a lag)
   seed octave families; their members in 40–300 BPM are the candidate beat periods, with
   the thirds of the main seed when it divides in three (a waltz's bar) and its fifths when it
   groups five pulses (a 5/4 vamp, a riff in fives; `candidate_levels`).
   A main seed that spans three or five pulses of another seed yields to it, and a level
   made of three of the grid's pulses is no candidate (all of step 3 is `levels`'). A level
   competes where the accent or the kick band recurs (`competing_levels`): in a
   dembow only the kick recurs every beat.
4. The dance beat (`level_scores`), from three principles that hold for any music:

   - *periodicity strength*: the music recurs at the beat period;
   - *the beat is not a subdivision*: the low-frequency (kick and bass) band recurs at the
     beat and not at half of it, ``acf(p) - acf(p/2)``: it says on which level the strongest
     low-frequency onsets fall; and the snare band follows the kick band by the beat and not
     by half of it (the backbeat, `backbeat_term`), where a kick on one and three alone would
     say half the tempo. The accent recurs at the beat more than at its subdivisions,
     ``acf(p) - (acf(p/2) + acf(p/4)) / 2``: its instruments (bass lines, strums, a kick on
     "three and") play the beat's eighths as often as not, while its sixteenths are the hats'
     (left out of the accent), so the eighths alone are weak evidence against a level and the
     quarter counts as much. That reads the beat dividing in two from the periodicity, scale
     free, where `onset_prior` reads it from a count that does not scale with the speed. A
     level off the grid that groups three or five of its pulses (a dotted eighth) is judged
     against the pulse it groups as well as its halves, which fall between the pulses
     (`rhythm_terms`);
   - *a tempo prior*: people count beats near 2 Hz (a log-normal prior centred on
     `priors.PRIOR_BPM`, ``PRIOR_OCTAVES`` wide; van Noorden & Moelants 1999, "Resonance in the
     perception of musical pulse", JNMR 28(1)), which decides when the rhythm does not;
   - *how busy the music is*: a beat usually holds about two onsets (it divides in two), so
     busy music is counted fast and sparse music slow (`onset_prior`, a second log-normal
     as wide, centred where the accent's onset rate gives `ONSETS_PER_BEAT` a beat). Unlike
     the fixed prior it moves with the music, if less than the speed on dense mixes.

   Two fitted constants (``RHYTHM_WEIGHT`` and the priors' width) make the whole model; the
   tempo benchmark fits them on each source in turn and reports them on the others.
5. Beats and precise tempo: librosa's tracker at the chosen period, following the kick and
   snare bands (`pulse.drum_envelope`: the drums strike the beat where a bass or chords may
   play the offbeats) where they recur at it (`_followed`), then a least-squares grid through
   the beats gives the period to a small fraction of a frame (`beats.fit_beat_grid`).
6. Confidence from pulse salience and how well a steady grid explains the beats, times how
   sure step 4 is of the octave and against a 3:2 reading (`priors.octave_certainty`). "Beatless"
   means no usable pulse at all: the accent's periodicity at the beat is at the level of
   noise and pads (`BEATLESS_SALIENCE`), or there are no beats to speak of. A weak, swung or
   drifting pulse is still a beat, with low confidence. Silence before, between or after the
   music is no evidence either way: the attack and the onset count are taken over the frames
   that sound (`pulse.sounding_frames`), and the attack in the most struck section, so a long
   pad intro does not hide the beat after it. Before a track is called beatless,
   steps 3–6 run again on its pitch changes instead of its onsets (`pulse.melodic_evidence`):
   a legato melody over held strings has no attacks, yet its notes change on the beat. It
   is a beat if the pitch changes recur at it (`MELODIC_SALIENCE`).
7. Beat phase on the kick's grid (`beats.sixteenth_shift`), on a kick that strikes every beat
   (`phase.kick_grid`) or, without one, on the backbeat (`beats.backbeat_shift`) or, where
   none marks two and four, where the chords change (`phase.harmonic_shift`), and off a
   shuffle's swung upbeat (`phase.swing_shift`); meter from
   beat-synchronous accent and kick periodicity, downbeats where kick and bass are strongest
   and, where the harmony changes with the bar, where the chords change (`beats.chord_changes`),
   phrases every 8 beats (4/4) or 12 (3/4) (`beats`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dancer.analysis.beats import (
    BeatGrid,
    backbeat_shift,
    bar_phase,
    beat_strengths,
    chord_changes,
    fit_beat_grid,
    phrase_phase,
    phrase_starts,
    shift_beats,
    sixteenth_shift,
    track_beats,
)
from dancer.analysis.features import Features
from dancer.analysis.levels import acf_at as _interp
from dancer.analysis.levels import (
    backbeat_term,
    candidate_levels,
    comb_salience,
    competing_levels,
    drop_groupings_of_three,
    in_octave_family,
    metrical_levels,
    odd_spans,
    pulse_seeds,
)
from dancer.analysis.phase import harmonic_shift, kick_grid, one_grid, swing_shift
from dancer.analysis.priors import octave_certainty, onset_prior, tempo_prior
from dancer.analysis.pulse import (
    WINDOW_SECONDS,
    PulseEvidence,
    drum_envelope,
    melodic_evidence,
    periodicity,
    pulse_envelope,
    pulse_evidence,
    sounding_frames,
)

__all__ = [
    "TempoResult", "candidate_levels", "comb_salience", "estimate_tempo", "level_scores", "metrical_levels",
    "octave_certainty", "onset_prior", "pick_level", "rhythm_terms", "tempo_prior", "tempo_from_envelopes",
]

MIN_SECONDS = 2.0
#: Frames quieter than this linear RMS (−70 dBFS) count as silence.
SILENCE_RMS = 10 ** (-70 / 20)
MIN_BPM = 40.0
MAX_BPM = 300.0
#: Weight of the rhythm term against the prior's log-density in `level_scores`.
RHYTHM_WEIGHT = 1.0
#: A level outside the octave family of the most salient pulse (a 3:2 reading: a tresillo
#: over a binary beat) must out-score that family's best level by this much.
OFF_GRID_MARGIN = 1.0
#: Beatless below this accent periodicity at one, two or four beats, or below `WEAK_SALIENCE`
#: when the accent's 95th-percentile onset strength is under `SOFT_ATTACK` and the two together
#: (the confidence's salience, weighted by the attacks) stay under `SOFT_PULSE` (see `_confidence`).
BEATLESS_SALIENCE = 0.05
WEAK_SALIENCE = 0.2
SOFT_ATTACK = 0.3
SOFT_PULSE = 0.23
STILL_ATTACK = 0.05
#: A track with no pulse in its onsets has a beat if its pitch changes recur at one or two
#: beats at least this strongly (`pulse.melodic_evidence`): legato melodies over held strings
#: reach 0.4–0.6, pads, strings, drones, rubato piano and speech at most 0.2.
MELODIC_SALIENCE = 0.3
#: Seconds by which the flux peak of an attack precedes the attack: the log spectrum of a
#: centred 93-ms Hann frame rises fastest while the attack is still ahead of the centre.
#: Measured on click tracks; added to beat times. Songs' beats still lag their labels 15–21 ms,
#: drum kits' 3–7 (tempo benchmark, ``lag ms``), yet a smaller lead put no song on the beat.
ONSET_LEAD = 0.019
#: Share of tracked beats on the fitted grid for its period to replace the autocorrelation's.
MIN_GRID_INLIERS = 0.6


@dataclass(frozen=True, eq=False)
class TempoResult:
    """Tempo and metrical grid of one track. Times in seconds from the start of the signal.

    Attributes
    ----------
    bpm : float or None
        Beats per minute of the tactus (the dance beat), None when beatless.
    confidence : float
        0..1: how steady and salient the pulse is, times how sure the level choice is of its
        octave (`priors.octave_certainty`). 0 for silence or too-short input.
    pulse_confidence : float
        The first factor alone: how steady and salient the pulse is, octave aside (for uses
        that fold octaves anyway). Defaults to ``confidence``.
    beatless : bool
        True for material without a usable pulse (ambient pads, drones, speech, silence).
    beats, downbeats, phrases : ndarray, float64
        Beat times; the first beat of each bar; phrase starts (every 8 beats from a downbeat
        in 4/4, every 4 bars in 3/4). Empty when beatless.
    meter : int
        Beats per bar, 4 or 3.
    """

    bpm: float | None
    confidence: float
    beatless: bool
    beats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    downbeats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    phrases: np.ndarray = field(default_factory=lambda: np.zeros(0))
    meter: int = 4
    pulse_confidence: float | None = None

    def __post_init__(self) -> None:
        if self.pulse_confidence is None:
            object.__setattr__(self, "pulse_confidence", self.confidence)

    @classmethod
    def nothing(cls) -> TempoResult:
        """The explicit result for silence and input too short to hold a pulse."""
        return cls(bpm=None, confidence=0.0, beatless=True)


def estimate_tempo(features: Features) -> TempoResult:
    """Tempo, confidence, beats, downbeats, phrases and meter of one analysed signal."""
    return tempo_from_envelopes(
        onset=features.onset,
        onset_low=features.onset_low,
        onset_bands=features.onset_bands if features.onset_bands.shape[0] else None,
        rms=features.rms,
        chroma=features.chroma if features.chroma.shape[0] else None,
        frame_rate=features.frame_rate,
    )


def tempo_from_envelopes(
    *,
    onset: np.ndarray,
    onset_low: np.ndarray,
    frame_rate: float,
    onset_bands: np.ndarray | None = None,
    rms: np.ndarray | None = None,
    chroma: np.ndarray | None = None,
    min_bpm: float = MIN_BPM,
    max_bpm: float = MAX_BPM,
) -> TempoResult:
    """Tempo analysis from per-frame envelopes.

    Parameters
    ----------
    onset, onset_low : ndarray, shape (n,)
        Full-band and kick-band onset strength (see `features.Features`).
    frame_rate : float
        Frames per second of the envelopes.
    onset_bands : ndarray, shape (n, 5), optional
        Band onset strengths (``Features.onset_bands``). Without them the accent is ``onset``
        plus ``onset_low``, and the kick alone places downbeats.
    rms : ndarray, shape (n,), optional
        Frame RMS, used to recognise silence; without it silence is judged from ``onset``.
    chroma : ndarray, shape (n, 12), optional
        Pitch-class energies (``Features.chroma``): where the onsets show no pulse, the pitch
        changes get their say before the track is called beatless.
    min_bpm, max_bpm : float
        Range of beat rates reported.

    Returns
    -------
    TempoResult
        `TempoResult.nothing()` when the input is shorter than 2 s or silent.
    """
    onset = np.asarray(onset, dtype=np.float64)
    onset_low = np.asarray(onset_low, dtype=np.float64)
    if onset.shape != onset_low.shape or onset.ndim != 1:
        raise ValueError("onset envelopes must be 1-D arrays of equal length")
    # Kept in the caller's dtype (float32 from `features`): each band is widened to float64 where
    # it is read (`pulse.pulse_envelope`), so hours of audio never hold a float64 copy of all five.
    bands = None if onset_bands is None else np.asarray(onset_bands)
    if bands is not None and (bands.ndim != 2 or bands.shape[0] != onset.shape[0] or bands.shape[1] < 3):
        raise ValueError("onset_bands must have shape (n_frames, >= 3)")
    if frame_rate <= 0 or not 0 < min_bpm < max_bpm:
        raise ValueError("frame_rate and the BPM range must be positive")
    n = onset.shape[0]
    loud = rms is None or np.max(rms, initial=0.0) > SILENCE_RMS
    if n < MIN_SECONDS * frame_rate or not loud or not np.any(onset > 0):
        return TempoResult.nothing()

    sounding = None
    if rms is not None and np.shape(rms) == (n,):
        sounding = sounding_frames(rms, floor=SILENCE_RMS, frame_rate=frame_rate)
    evidence = pulse_evidence(onset=onset, onset_low=onset_low, onset_bands=bands, frame_rate=frame_rate,
                              sounding=sounding)
    if chroma is not None and (np.ndim(chroma) != 2 or np.shape(chroma)[0] != n):
        raise ValueError("chroma must have shape (n_frames, 12)")
    result = _read(evidence, bands=bands, min_bpm=min_bpm, max_bpm=max_bpm, chroma=chroma)
    if result.beatless and chroma is not None and evidence.attack >= STILL_ATTACK:
        melodic = _read(melodic_evidence(evidence, np.asarray(chroma, dtype=np.float64)), bands=bands,
                        min_bpm=min_bpm, max_bpm=max_bpm, melodic=True, chroma=chroma)
        if not melodic.beatless:
            return melodic
    return result


def _read(
    evidence: PulseEvidence,
    *,
    bands: np.ndarray | None,
    min_bpm: float,
    max_bpm: float,
    melodic: bool = False,
    chroma: np.ndarray | None = None,
) -> TempoResult:
    """Steps 3–7 of the module docstring on one track's evidence. ``melodic``: the evidence is
    the pitch changes' (`pulse.melodic_evidence`), and the beat is there if they recur at one
    or two beats at `MELODIC_SALIENCE` or more. ``chroma`` (n_frames, 12), if given, tells
    where the chords change (`beats.chord_changes`) for the downbeats."""
    frame_rate = evidence.frame_rate
    n = evidence.accent.shape[0]
    acf = evidence.acf
    seeds = pulse_seeds(acf, frame_rate=frame_rate)
    levels = candidate_levels(acf, seeds, frame_rate=frame_rate, min_bpm=min_bpm, max_bpm=max_bpm,
                              kick_acf=evidence.kick_acf)
    if levels.size == 0:
        return TempoResult(bpm=None, confidence=0.0, beatless=True)
    level, pulse_level, certainty = _choose_level(levels, evidence, main_pulse=float(seeds[0]))
    refined = _refine_period(acf, level)
    follow = evidence.accent if melodic else _followed(evidence, level)
    beats = one_grid(track_beats(follow, period=refined if abs(refined / level - 1) > 0.005 else level),
                     period=refined, n_frames=n)
    period = refined
    grid = fit_beat_grid(beats, period=period)
    # Pulse or none is the periodicity's call; a wandering grid only lowers the confidence.
    presence = acf if evidence.presence_acf is None else evidence.presence_acf
    pulse_confidence, beatless = _confidence(presence, period=period, grid=grid, attack=evidence.attack,
                                             seconds=n / frame_rate)
    confidence = pulse_confidence * certainty  # a pulse read at an octave it barely preferred
    if melodic:
        multiples = np.array([k * period for k in (1, 2) if k * period <= acf.shape[0] - 1] or [period])
        beatless = float(np.max(_interp(acf, multiples))) < MELODIC_SALIENCE
    elif pulse_level != level:
        # ... judged at the level where the accent recurs, as before the kick band joined the
        # level choice: a drone's sub-bass beating, which the kick band follows, is no beat.
        _, beatless = _confidence(presence, period=_refine_period(acf, pulse_level), grid=None,
                                  attack=evidence.attack, seconds=n / frame_rate)
    if beatless or grid is None:
        return TempoResult(bpm=None, confidence=confidence, beatless=True, pulse_confidence=pulse_confidence)
    # A grid that most beats sit on pins the period to a fraction of a frame; one the tracked
    # beats wander off is no better than the autocorrelation's period.
    if grid.inliers >= MIN_GRID_INLIERS and abs(grid.period / period - 1) < 0.02:
        period = grid.period

    pulse, kick = evidence.accent, evidence.kick
    # The tracker can lock a sixteenth off the beat when offbeat stabs or shakers dominate;
    # the kick and bass say which eighth-note grid the beat is on.
    sixteenths = sixteenth_shift(beats, period=period, low=kick, accent=pulse)
    beats = shift_beats(beats, period=period, sixteenths=sixteenths, envelope=follow)
    # An offbeat bass can hold the tracker on the "and"s. A kick on every beat says where the
    # beat is; without one the backbeat says so, and where there is none to go by, the chords,
    # which change on the beat.
    floor = 0 if melodic else kick_grid(beats, period=period, kick=kick)
    if floor:
        halves = 0 if floor > 0 else 2
    else:
        halves = 0 if evidence.snare is None else backbeat_shift(beats, period=period, snare=evidence.snare)
        if not halves and chroma is not None and not melodic:
            halves = harmonic_shift(beats, period=period, chroma=chroma)
    beats = shift_beats(beats, period=period, sixteenths=halves, envelope=follow)
    # A shuffle can hold it on the swung "and"s, a third of a beat early.
    beats = swing_shift(beats, period=period, envelope=follow)
    accent = beat_strengths(pulse, beats)
    kick_at = beat_strengths(kick, beats)
    bass = () if bands is None else tuple(
        beat_strengths(pulse_envelope(bands[:, b], frame_rate), beats) for b in (0, 1)
    )
    changes = None if chroma is None else chord_changes(chroma, beats)
    meter, phase, _ = bar_phase(accent=accent, kick=kick_at, bass=bass, changes=changes)
    beat_s = beats / frame_rate + ONSET_LEAD
    per_phrase = 8 if meter == 4 else 12
    first = phrase_phase(
        _unit(accent) + _unit(beat_strengths(evidence.hats, beats)),
        first_downbeat=phase,
        meter=meter,
        beats_per_phrase=per_phrase,
    )
    downbeats = beat_s[phase::meter]
    phrases = beat_s[phrase_starts(beat_s.size, first_downbeat=first, beats_per_phrase=per_phrase)]
    return TempoResult(
        bpm=60.0 * frame_rate / period,
        confidence=confidence,
        beatless=False,
        beats=beat_s,
        downbeats=downbeats,
        phrases=phrases,
        meter=meter,
        pulse_confidence=pulse_confidence,
    )


def _followed(evidence: PulseEvidence, period: float) -> np.ndarray:
    """The envelope the beat tracker follows: the drums (`pulse.drum_envelope`: kick and snare
    bands, which strike the beat where a bass or chords may play the offbeats) where they recur
    at the beat period, else the accent, else the hats, the first that recurs there at
    `BEATLESS_SALIENCE` or more; the accent when none does.

    An intro of hats on the eighths and a stab once a bar recurs at the beat in its hats alone:
    tracked on the stab and the noise between, its grid fitted 137 BPM for 140.
    """
    lag = np.array([period])
    for envelope in (drum_envelope(evidence), evidence.accent, evidence.hats):
        acf = evidence.acf if envelope is evidence.accent else periodicity(
            envelope, frame_rate=evidence.frame_rate, max_lag=int(np.ceil(period)) + 1)
        if float(_interp(acf, lag)[0]) >= BEATLESS_SALIENCE:
            return envelope
    return evidence.accent


def _unit(x: np.ndarray) -> np.ndarray:
    scale = x.std()
    return x / scale if scale > 0 else x


def rhythm_terms(
    periods: np.ndarray, evidence: PulseEvidence, *, main_pulse: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The rhythm term's two parts at each candidate period (frames): the accent's
    ``acf(p) - (acf(p/2) + acf(p/4)) / 2`` and the kick band's ``acf(p) - acf(p/2)``, the
    latter plus `backbeat_term` (the snare follows the kick by the level, not by half of it)
    where the evidence has a snare band and, given ``main_pulse``, the level is in its octave
    family: the backbeat says which octave of the grid is the beat, not which grid.

    Given ``main_pulse``, a level off its octave family that spans three or five of the grid's
    pulses (`levels.odd_spans`: a dotted eighth over sixteenths) is also judged against the
    pulse it groups: its subdivision is the larger of its halves' periodicity and that pulse's.
    Its halves fall between the grid's pulses, where nothing recurs, so against them alone
    such a level rates as a beat with nothing between its own onsets, ahead of the true beat
    whose eighths are played (a 90 BPM song with a galloping bass was read at 120 in a 5 s
    excerpt; `benchmarks/tempo_accuracy.py --sets excerpts`). librosa's tempogram shows the
    peaks; which of them are groupings of the grid is dancer's call.
    """
    periods = np.asarray(periods, dtype=np.float64)
    accent_below = 0.5 * (_interp(evidence.acf, periods / 2) + _interp(evidence.acf, periods / 4))
    kick_below = _interp(evidence.kick_acf, periods / 2)
    if main_pulse is not None:
        spans = odd_spans(periods, main_pulse)
        grouped = spans > 0
        pulse = periods / np.where(grouped, spans, 1.0)
        accent_below = np.maximum(accent_below, np.where(grouped, _interp(evidence.acf, pulse), -np.inf))
        kick_below = np.maximum(kick_below, np.where(grouped, _interp(evidence.kick_acf, pulse), -np.inf))
    kick = _interp(evidence.kick_acf, periods) - kick_below
    if evidence.backbeat_acf is not None:
        # Which octave of the grid is the beat, not which grid: off the main pulse's octave
        # family (a 3:2 or 4:3 reading) the term does not count.
        term = backbeat_term(periods, evidence.backbeat_acf)
        if main_pulse is not None:
            term = np.where(in_octave_family(periods, main_pulse), term, 0.0)
        kick = kick + term
    return _interp(evidence.acf, periods) - accent_below, kick


def level_scores(
    periods: np.ndarray, evidence: PulseEvidence, *, main_pulse: float | None = None,
    weight: float | None = None, width: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Score each candidate period (frames) as the dance beat (module docstring, step 4).

    For a level of period ``p`` the rhythm term is ``acf(p) - acf(p / 2)`` of the kick band
    (the low-frequency onsets fall on the level and not on its halves) plus
    ``acf(p) - (acf(p/2) + acf(p/4)) / 2`` of the accent (the level recurs more than its
    subdivisions, the eighths and sixteenths if the level is the beat): the level is not a
    subdivision of the beat (`rhythm_terms`; given ``main_pulse``, a level grouping three or
    five of the grid's pulses is judged against that pulse too).

    The accent's term was ``acf(p) - acf(p/2)`` until analyser version 16. Against the mean
    of the half and the quarter, ``benchmarks/tempo_accuracy.py`` on one machine's caches: the
    octave holds better under speed changes (equivariance 0.917 -> 0.958), excerpts are read
    right more often (5 s 0.765 -> 0.790, 10 s 0.815 -> 0.833, 20 s 0.840 -> 0.858; none got
    worse), Frets on Fire, LMMS, OpenMSX and Wesnoth are unchanged, and the synthetic bank
    loses two items (0.896 -> 0.882: a drum'n'bass groove halved, a slow bossa doubled). Bare
    clicks between ~140 and 170 BPM, which are also eighth notes at half the tempo, are now
    read at half, with the doubt in their confidence; a groove with a kick on the beat is not.

    The priors are `tempo_prior` and `onset_prior` (from ``evidence.onset_rate``).
    ``weight`` and ``width`` override `RHYTHM_WEIGHT` and `PRIOR_OCTAVES` (for the benchmark's
    leave-one-source-out fits).

    Returns
    -------
    scores : ndarray, shape (n_levels,)
        ``RHYTHM_WEIGHT · rhythm + tempo_prior(bpm) + onset_prior(bpm, onset_rate)``.
    rhythm : ndarray, shape (n_levels,)
        The rhythm term of each level.
    """
    periods = np.asarray(periods, dtype=np.float64)
    accent, kick = rhythm_terms(periods, evidence, main_pulse=main_pulse)
    rhythm = accent + kick
    bpm = 60.0 * evidence.frame_rate / periods
    weight = RHYTHM_WEIGHT if weight is None else weight
    prior = tempo_prior(bpm, width=width) + onset_prior(bpm, evidence.onset_rate, width=width)
    return weight * rhythm + prior, rhythm


def _choose_level(
    levels: np.ndarray, evidence: PulseEvidence, *, main_pulse: float
) -> tuple[float, float, float]:
    """The dance beat among the candidate metrical levels where the accent or the kick recurs,
    the level chosen among those where the accent recurs (whether there is a pulse at all is
    judged at that one), and the beat's `octave_certainty` against its octaves and, less
    `OFF_GRID_MARGIN`, the levels off the grid.

    A level outside the octave family of ``main_pulse`` (the period of the most salient pulse)
    wins only by `OFF_GRID_MARGIN`: a 3:2 reading is worse than an octave one (a crossfade
    beat-matched at 2/3 tempo drifts at once), and the comb salience already judged the grid.
    A level made of three of the grid's pulses is no candidate (`levels.drop_groupings_of_three`).
    """
    def best(candidates: np.ndarray) -> tuple[float, float]:
        candidates = drop_groupings_of_three(candidates, evidence.acf, evidence.kick_acf,
                                             main_pulse=main_pulse)
        if candidates.size == 1:
            return float(candidates[0]), 1.0
        scores, _ = level_scores(candidates, evidence, main_pulse=main_pulse)
        speed = onset_prior(60.0 * evidence.frame_rate / candidates, evidence.onset_rate)
        chosen = pick_level(candidates, scores, main_pulse=main_pulse, grid_scores=scores - speed)
        off_grid = ~in_octave_family(candidates, main_pulse)
        return float(candidates[chosen]), octave_certainty(
            candidates, scores, chosen, off_grid=off_grid if not off_grid.all() else None,
            penalty=OFF_GRID_MARGIN)

    with_kick = competing_levels(levels, evidence.acf, evidence.kick_acf, main_pulse=main_pulse)
    accent_only = competing_levels(levels, evidence.acf)
    beat, certainty = best(with_kick)
    return beat, beat if np.array_equal(with_kick, accent_only) else best(accent_only)[0], certainty


def pick_level(
    levels: np.ndarray, scores: np.ndarray, *, main_pulse: float, grid_scores: np.ndarray | None = None
) -> int:
    """Index of the best-scoring level, unless it lies off the octave family of ``main_pulse``
    and beats that family's best by less than `OFF_GRID_MARGIN`.

    ``grid_scores`` (default ``scores``) are what that margin is judged on. `_choose_level`
    leaves `onset_prior` out of them: how busy the music is says how fast to count, not which
    grid the beats are on, so it picks among octaves but does not carry a 3:2 reading."""
    best = int(np.argmax(scores))
    family = in_octave_family(levels, main_pulse)
    if not family[best] and family.any():
        rival = int(np.flatnonzero(family)[np.argmax(scores[family])])
        grid = scores if grid_scores is None else grid_scores
        if grid[best] - grid[rival] < OFF_GRID_MARGIN:
            best = rival
    return best


def _refine_period(acf: np.ndarray, period: float) -> float:
    """Sub-frame period: maximise the comb Σ_k acf(k·period) over ±3% around ``period``.

    Later harmonics pin the period k times more finely than the first peak alone.
    """
    harmonics = np.arange(1, 1 + max(1, int((acf.shape[0] - 2) // period)))
    harmonics = harmonics[:8]
    trial = period * np.linspace(0.97, 1.03, 241)
    comb = _interp(acf, trial[:, None] * harmonics[None, :]).sum(axis=1)
    return float(trial[np.argmax(comb)])


def _confidence(
    acf: np.ndarray, *, period: float, grid: BeatGrid | None, attack: float, seconds: float
) -> tuple[float, bool]:
    """Confidence 0..1 and the beatless flag.

    Salience is the strongest periodicity of the mixed accent (``acf``, the bands summed as
    mixed: `pulse.PulseEvidence.presence_acf`) at one, two or four beat periods (a
    breakbeat recurs by the bar more than by the beat): noise, speech and pads stay below
    0.17, steady music reaches 0.25–0.9, and a 5-second excerpt of a clear beat can fall to
    0.057 (one window of autocorrelation is noisy; see below). ``attack`` is
    the 95th percentile of the accent's onset strength in the track's most struck section
    (`pulse._attack`; log-spectral flux, so nearly
    independent of the mastering level): sustained pads, strings and drones stay near 0.1–0.25
    while anything struck or plucked reaches 0.35 and more.

    Beatless needs no usable pulse at all: salience below `BEATLESS_SALIENCE`, or a weak
    pulse (below `WEAK_SALIENCE`) made of soft swells with no attacks (below `SOFT_ATTACK`)
    whose attack-weighted salience (``salient`` below, what the confidence grows with) stays
    under `SOFT_PULSE`. The line runs between soft sounds that are no beat and soft pulses that
    are: the tempo benchmark's pads, strings and drones stay beatless (``--sets synthetic``); a
    funeral march on timpani under an orchestra, Wesnoth's "The King is Dead", which the
    weak-and-soft test alone called beatless, is a beat (``--sets wesnoth`` no longer leaves it
    out); and a legato melody whose pitch changes read its beat better than its onsets still
    goes to the pitch reading (``--sets synthetic``, melody-3 at its tempo).
    ``test_a_soft_drum_under_an_orchestra_is_a_beat_with_low_confidence`` pins the rule.
    Below `STILL_ATTACK` nothing in the signal ever rises audibly (a steady tone, whose
    partials' beating can be perfectly periodic and yet is no pulse). The first test needs
    at least one autocorrelation window (``pulse.WINDOW_SECONDS``) of
    signal: in a 5-second excerpt of a clear beat the one short window's periodicity is as
    noisy as its value, so only the missing attacks can say there is no beat.
    A drifting, swung or short excerpt with real attacks is a beat with low confidence.
    Steadiness, the share of tracked beats within 10% of a period of the fitted grid
    discounted by their RMS deviation, lowers the confidence but never flags a track; a
    beatless track gets no credit for it.
    """
    multiples = [k * period for k in (1, 2, 4) if k * period <= acf.shape[0] - 1] or [period]
    salience = float(np.max(_interp(acf, np.array(multiples))))
    # A pulse of soft swells is salient only as far as it has attacks.
    salient = float(np.clip((salience - BEATLESS_SALIENCE) / 0.4, 0.0, 1.0)) * min(1.0, attack / SOFT_ATTACK)
    no_pulse = salience < BEATLESS_SALIENCE and seconds >= WINDOW_SECONDS
    soft_swells = salience < WEAK_SALIENCE and attack < SOFT_ATTACK and salient < SOFT_PULSE
    beatless = no_pulse or attack < STILL_ATTACK or soft_swells
    steady = 0.0
    if grid is not None and not beatless:  # beats a track is said not to have earn no credit
        steady = grid.inliers * float(np.clip(1.0 - grid.residual / 0.12, 0.0, 1.0))
    confidence = float(np.clip(np.sqrt(salient) * (0.5 + 0.5 * steady), 0.0, 1.0))
    return confidence, beatless
