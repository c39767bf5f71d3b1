"""Pulse envelopes and their periodicity: what every tempo decision in `tempo` reads.

Public API
----------
PulseEvidence
    The accent, kick, snare and hat envelopes of one track, the periodicity of the accent and
    kick, and the accent's onset rate, computed once.
pulse_evidence
    Build it from the onset envelopes of `features.Features`.
pulse_envelope
    One onset envelope minus its one-second running mean, half-wave rectified.
periodicity
    Time-averaged autocorrelation tempogram of an envelope (``librosa.autocorrelate``).
onset_rate
    Typical onsets per second of an envelope (``librosa.util.peak_pick``).
pitch_change
    How much of the pitch-class content is new at each frame: the onsets of notes that change
    without an attack (a legato melody).
melodic_evidence
    The `PulseEvidence` of a track read from its pitch changes instead of its onsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dancer.analysis.numba_lock import import_librosa

__all__ = ["PulseEvidence", "melodic_evidence", "onset_rate", "periodicity", "pitch_change", "pulse_envelope",
           "pulse_evidence"]

#: The slowest pulse the periodicity must cover (BPM), and how many multiples of its period:
#: `tempo.comb_salience` sums the periodicity at that many multiples of each lag.
COMB_MIN_BPM = 30.0
COMB_HARMONICS = 4
WINDOW_SECONDS = 12.0
WINDOW_HOP_SECONDS = 3.0
#: Onset bands (of `features.BAND_EDGES`) that make up the accent: everything below 3.5 kHz.
ACCENT_BANDS = 4
#: In the accent, a band whose mean onset strength is below this share of the busiest band's
#: is weighed as if it had that share (`_balanced_accent`).
QUIET_BAND = 0.1
#: Band pulses are capped at the value this share of their positive frames reach, counted
#: over at least `SPIKE_FRAMES` frames (`pulse_envelope`).
SPIKE_SHARE = 0.01
SPIKE_FRAMES = 3
#: `onset_rate`: an onset is a local maximum that stands above the mean of
#: ±`PEAK_MEAN_SECONDS` by `PEAK_FLOOR` of the envelope's 95th percentile (ripples smaller than
#: a tenth of a clear onset are not onsets). Onsets as close as `SIXTEENTH_SECONDS` are two
#: (`_peak_frames`).
SIXTEENTH_SECONDS = 60.0 / 200.0 / 4
PEAK_MEAN_SECONDS = 0.23
PEAK_FLOOR = 0.1
#: Frames this far (dB) below a track's loud level are silence to its statistics (`sounding_frames`).
SOUNDING_DB = 50.0
#: ... and a rest shorter than this (seconds) between sounds is no silence.
SOUNDING_HOLD_SECONDS = 2.0
#: The attack (`_attack`) is the onset strength that the most struck section this long reaches.
ATTACK_SECONDS = 24.0
#: `pitch_change` compares the pitch classes of the ``PITCH_FRAMES`` frames (93 ms) from each
#: frame on with those of the ``PITCH_FRAMES`` frames that end ``PITCH_GAP`` frames before it.
PITCH_FRAMES = 4
PITCH_GAP = 1


@dataclass(frozen=True)
class PulseEvidence:
    """The envelopes and periodicity every tempo decision reads, computed once per track.

    ``accent`` is the sum of the onset bands below 3.5 kHz (or ``onset`` plus ``onset_low``
    without bands), ``kick`` the kick band and ``hats`` the top band, each minus its one-second
    running mean and half-wave rectified (`pulse_envelope`); the beat tracker follows the
    kick and snare bands (`drum_envelope`). ``acf`` and ``kick_acf`` are the `periodicity` of
    the accent and of the kick band; ``presence_acf`` that of the bands summed as they are
    mixed, loud bands counting more, which decides whether there is a pulse at all (a faint
    band's slow swells, which the balanced accent raises to the others, are no beat);
    ``snare`` the snare-crack band (1.2–3.5 kHz) treated like the others (None without the
    five bands);
    ``attack`` the 95th percentile of the accent's raw onset strength in its most struck
    section (`_attack`; see `tempo._confidence`);
    ``onset_rate`` the accent's typical onsets per second (`onset_rate`), 0 when it has none;
    both over the frames that sound (``sounding``, a boolean mask; None: every frame);
    ``backbeat_acf`` how strongly the snare band follows the kick band at each lag
    (`cross_periodicity`; None without the snare band).
    """

    frame_rate: float
    accent: np.ndarray
    kick: np.ndarray
    hats: np.ndarray
    acf: np.ndarray
    kick_acf: np.ndarray
    snare: np.ndarray | None = None
    attack: float = 1.0
    presence_acf: np.ndarray | None = None
    onset_rate: float = 0.0
    sounding: np.ndarray | None = None
    backbeat_acf: np.ndarray | None = None


def pulse_evidence(
    *, onset: np.ndarray, onset_low: np.ndarray, onset_bands: np.ndarray | None, frame_rate: float,
    sounding: np.ndarray | None = None,
) -> PulseEvidence:
    """Build the `PulseEvidence` of one track from its onset envelopes; ``sounding`` (a boolean
    mask, `sounding_frames`) marks the frames whose onsets the track-wide statistics count."""
    onset = np.asarray(onset, dtype=np.float64)
    kick = pulse_envelope(np.asarray(onset_low, dtype=np.float64), frame_rate)
    if onset_bands is None or onset_bands.shape[1] < 5:
        raw = onset + np.asarray(onset_low, dtype=np.float64)
        accent = pulse_envelope(onset, frame_rate) + kick
        hats, snare, mixed = pulse_envelope(onset, frame_rate), None, None
    else:
        raw = onset_bands[:, :ACCENT_BANDS].sum(axis=1, dtype=np.float64)
        accent = _balanced_accent(
            [pulse_envelope(onset_bands[:, b], frame_rate) for b in range(ACCENT_BANDS)]
        )
        hats = pulse_envelope(onset_bands[:, -1], frame_rate)
        snare = pulse_envelope(onset_bands[:, 3], frame_rate)
        mixed = pulse_envelope(raw, frame_rate)
    max_lag = _max_lag(frame_rate)
    acf = periodicity(accent, frame_rate=frame_rate, max_lag=max_lag)
    return PulseEvidence(
        frame_rate=frame_rate,
        accent=accent,
        kick=kick,
        hats=hats,
        acf=acf,
        kick_acf=periodicity(kick, frame_rate=frame_rate, max_lag=max_lag),
        snare=snare,
        attack=_attack(raw, sounding, frame_rate),
        presence_acf=acf if mixed is None else periodicity(mixed, frame_rate=frame_rate, max_lag=max_lag),
        onset_rate=onset_rate(accent, frame_rate=frame_rate, sounding=sounding),
        sounding=sounding,
        backbeat_acf=None if snare is None else cross_periodicity(kick, snare, frame_rate=frame_rate,
                                                                   max_lag=max_lag),
    )


def drum_envelope(evidence: PulseEvidence) -> np.ndarray:
    """The kick band and the snare-crack band summed, each in units of its own mean
    (`_balanced_accent`): where the drums strike. The accent without the five bands.

    The beat tracker follows it where it recurs at the beat (`tempo._followed`), not the
    accent. The accent also holds the bass and the low mids, and in much dance music the bass
    and the chords play the offbeat eighths: a disco octave bass, a house bass between the
    kicks, guitar upstrokes. There they outweigh the kick, and the tracker kept the tempo but
    counted the "and"s; the kick and the snare or clap mark the beat itself.

    ``python benchmarks/tempo_accuracy.py`` counts the items read at their tempo whose beats
    sit on their score's, chart's or render's beats (column ``on-beat``). Following the
    accent, then this (analyser version 22): synthetic grooves 46 -> 51 of 63, Frets on Fire
    4 -> 5 of 8, LMMS 11 -> 12 of 16, MMA 43 -> 45 of 49, OpenMSX 13 -> 14 of 25, hand
    percussion 7 -> 6 of 7; no tempo changed. librosa's tracker follows its own onset
    strength; what to follow is dancer's choice.
    """
    if evidence.snare is None:
        return evidence.accent
    return _balanced_accent([evidence.kick, evidence.snare])


def sounding_frames(rms: np.ndarray, *, floor: float, frame_rate: float) -> np.ndarray:
    """Frames that sound: within ``SOUNDING_HOLD_SECONDS / 2`` of a frame whose RMS is above
    ``floor`` (linear, the caller's silence) and no more than `SOUNDING_DB` below the track's
    loud level (the 95th percentile of the frames above ``floor``).

    What librosa lacks: its onset and tempo functions take every frame as evidence, so a
    statistic over a whole file is one over its silence too. A song followed by minutes of
    silence (a CD's hidden track comes after them) has its onsets in a fraction of its frames:
    the 95th percentile of its onset strength (the attack, `tempo._confidence`) and of its
    accent (`onset_rate`'s peak floor) fell to nothing. Before analyser version 20 a 30 s
    ballad, soft drum or click track with 90 s of silence after it was called beatless
    (``test_silence_around_music_is_no_evidence_against_its_beat``), and a 120 BPM click
    track after 30 s of silence counted half its onsets and was read at 60 with confidence
    0.95. `periodicity` needs no mask: it weights its windows by their energy.
    """
    rms = np.asarray(rms, dtype=np.float64)
    above = rms > floor
    if not above.any():
        return above
    loud = float(np.percentile(rms[above], 95))
    heard = above & (rms > loud * 10 ** (-SOUNDING_DB / 20))
    # A rest is part of the music: a frame within half a hold of a sounding one sounds too.
    half = int(round(0.5 * SOUNDING_HOLD_SECONDS * frame_rate))
    count = np.concatenate(([0], np.cumsum(heard)))
    index = np.arange(heard.shape[0])
    return count[np.minimum(index + half + 1, heard.shape[0])] > count[np.maximum(index - half, 0)]


def _attack(raw: np.ndarray, sounding: np.ndarray | None, frame_rate: float) -> float:
    """How hard the music's most struck section strikes: the 95th percentile of ``raw`` over
    the sounding frames of each `periodicity` window at least half of whose frames sound,
    taken in the `ATTACK_SECONDS` of such windows where it is highest (the k-th largest, for
    the k windows that span that long; the smallest if there are fewer; every frame and
    window without a mask, or when none sounds).

    librosa gives the onset strength this reads, not how struck a track is, which is what
    tells a pad from a played beat (`tempo._confidence`). One percentile over the whole track
    was one over its intro too: a 30 s ballad after a
    90 s pad had its onsets in a quarter of the frames, its attack fell below
    `tempo.STILL_ATTACK` and it was called beatless
    (``test_a_beat_after_a_long_pad_intro_is_a_beat``). A pad struck at random (60 kick and
    snare hits in two minutes) stays beatless: a few frames in a window do not move its 95th
    percentile (``test_a_pad_struck_at_random_stays_beatless``).
    """
    n = raw.shape[0]
    if n == 0:
        return 0.0
    if sounding is None or not sounding.any():
        sounding = np.ones(n, dtype=bool)
    window, starts = _windows(n, frame_rate)
    values = [float(np.percentile(raw[s : s + window][sounding[s : s + window]], 95))
              for s in starts[_half_sounding(sounding, starts, window)]]
    if not values:
        return float(np.percentile(raw, 95))
    span = 1 + max(0, int(round((ATTACK_SECONDS - WINDOW_SECONDS) / WINDOW_HOP_SECONDS)))
    return sorted(values, reverse=True)[min(span, len(values)) - 1]


def _windows(n: int, frame_rate: float, *, shortest: int = 1) -> tuple[int, np.ndarray]:
    """The length (frames) and first frames of the ``WINDOW_SECONDS`` windows every
    ``WINDOW_HOP_SECONDS`` over ``n`` frames that `periodicity`, `onset_rate` and `_attack`
    read; one window, at least ``shortest`` long, over a shorter signal."""
    window = max(shortest, min(n, int(round(WINDOW_SECONDS * frame_rate))))
    hop = max(1, int(round(WINDOW_HOP_SECONDS * frame_rate)))
    return window, np.arange(0, max(1, n - window + 1), hop)


def _half_sounding(sounding: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Which of the windows (first frames ``starts``, ``window`` long) have at least half their
    frames sounding (``sounding``, `sounding_frames`)."""
    sounded = np.concatenate(([0], np.cumsum(sounding)))
    return sounded[np.minimum(starts + window, sounding.shape[0])] - sounded[starts] >= 0.5 * window


def _max_lag(frame_rate: float) -> int:
    return int(np.ceil(frame_rate * 60.0 / COMB_MIN_BPM * COMB_HARMONICS)) + 2


def melodic_evidence(evidence: PulseEvidence, chroma: np.ndarray) -> PulseEvidence:
    """``evidence`` with the pitch changes (`pitch_change` of ``chroma``, shape (n, 12)) in
    place of the onsets: the accent, the kick (which places the beats on the eighth-note grid,
    `beats.sixteenth_shift`), their periodicity and the onset rate; no snare, and no separate
    kick periodicity (the kick is the accent). ``attack`` stays the onsets': a track read
    this way has soft attacks, and its confidence says so.
    """
    fr = evidence.frame_rate
    pitch = pulse_envelope(pitch_change(chroma), fr)
    acf = periodicity(pitch, frame_rate=fr, max_lag=_max_lag(fr))
    return PulseEvidence(
        frame_rate=fr, accent=pitch, kick=pitch, hats=evidence.hats, acf=acf, kick_acf=np.zeros_like(acf),
        snare=None, attack=evidence.attack, presence_acf=acf,
        onset_rate=onset_rate(pitch, frame_rate=fr, sounding=evidence.sounding), sounding=evidence.sounding,
    )


def pitch_change(chroma: np.ndarray) -> np.ndarray:
    """How much of the pitch-class distribution is new at each frame, 0..1: the half-wave
    rectified difference between the L1-normalised ``chroma`` (shape (n, 12)) summed over the
    `PITCH_FRAMES` frames from this one on and over the `PITCH_FRAMES` frames ending
    `PITCH_GAP` frames before it; 0 where either span runs off the signal.

    What librosa lacks: an onset function for notes that change without being struck. A flute
    or violin melody held note into note over sustained strings has next to no spectral flux
    (the log-mel bands are a few semitones wide, and nothing rises from silence), yet where its
    pitch moves on the beat a listener hears the beat. librosa computes the chroma
    (`features.Features.chroma`); it has no novelty on it. Normalising each span makes a
    loudness swell no change at all; comparing 93-ms spans, not frames, keeps vibrato and
    bow noise from reading as changes.
    """
    chroma = np.asarray(chroma, dtype=np.float64)
    n = chroma.shape[0]
    change = np.zeros(n)
    w, gap = PITCH_FRAMES, PITCH_GAP
    if chroma.ndim != 2 or n < 2 * w + gap:
        return change
    running = np.vstack([np.zeros((1, chroma.shape[1])), np.cumsum(chroma, axis=0)])
    spans = running[w:] - running[:-w]  # spans[t]: chroma summed over frames t .. t + w - 1
    t = np.arange(w + gap, n - w + 1)
    after, before = spans[t], spans[t - w - gap]
    after = after / np.maximum(after.sum(axis=1, keepdims=True), 1e-12)
    before = before / np.maximum(before.sum(axis=1, keepdims=True), 1e-12)
    change[t] = np.maximum(after - before, 0.0).sum(axis=1)
    return change


def _balanced_accent(pulses: list[np.ndarray]) -> np.ndarray:
    """Sum of band pulse envelopes, each divided by its own mean (then scaled back by their
    average mean, so the accent keeps the envelopes' size).

    An onset counts as an event whatever band it is in and however loud that band is mixed:
    in a raw sum the kick band's flux outweighs a snare or a strummed chord, and a boom-chick
    (kick on one, snare on two) recurs every two beats instead of every beat. The mean, not
    the deviation, is the unit: a band that is busy all the time (hats leaking into the snare
    band on every eighth) keeps the weight of its typical onset rather than of its peaks.
    """
    level = np.array([float(p.mean()) for p in pulses])
    if not np.any(level > 0):
        return np.sum(pulses, axis=0)
    # A band with next to nothing in it (no bass in a string pad) is not raised to the others:
    # its unit would be its noise.
    unit = np.maximum(level, QUIET_BAND * level.max())
    # Summed band by band into one array (the same additions, in the same order, as summing the
    # stacked bands), so hours of audio hold no stack of scaled copies.
    total = pulses[0] / unit[0]
    for pulse, scale in zip(pulses[1:], unit[1:]):
        total += pulse / scale
    total *= float(level.mean())
    return total


def pulse_envelope(onset: np.ndarray, frame_rate: float) -> np.ndarray:
    """``onset`` minus its one-second running mean, half-wave rectified, with lone spikes
    capped at the value that its top 1% of positive frames (and at least three) reach.

    The cap is for a recording that starts in the middle of a sound (an excerpt, a song cut
    from a mix): its first frame rises from the silence before the file, dozens of times
    higher than any onset in the music, and in a short excerpt that one frame would swamp the
    autocorrelation and read as no pulse at all.
    """
    onset = np.asarray(onset, dtype=np.float64)
    width = max(1, int(round(frame_rate)))
    kernel = np.full(width, 1.0 / width)
    trend = np.convolve(onset, kernel, mode="same")
    pulse = np.maximum(onset - trend, 0.0)
    positive = pulse[pulse > 0]
    if positive.size:
        top = min(positive.size, max(SPIKE_FRAMES, int(np.ceil(SPIKE_SHARE * positive.size))))
        np.minimum(pulse, np.partition(positive, positive.size - top)[positive.size - top], out=pulse)
    return pulse


def periodicity(envelope: np.ndarray, *, frame_rate: float, max_lag: int) -> np.ndarray:
    """Time-averaged, energy-normalised autocorrelation of ``envelope`` for lags 0..max_lag.

    The envelope is cut into ``WINDOW_SECONDS`` windows every ``WINDOW_HOP_SECONDS``
    (``librosa.util.frame``), and each window's mean-removed ``librosa.autocorrelate`` is
    divided by the overlap length (unbiased, which librosa's tempogram is not: long lags must
    not be penalised, or the comb would favour fast levels) and by its lag-0 value. Windows are
    averaged weighted by the square root of their energy, so quiet passages count less. Only
    the windows are held, never a frame-by-frame tempogram, so memory stays bounded for hours
    of audio. A signal shorter than one window is one window.

    Returns
    -------
    ndarray, shape (max_lag + 1,)
        1 at lag 0; near 0 at every lag for noise; near 1 at the period of a steady pulse.
    """
    librosa = import_librosa()

    envelope = np.asarray(envelope, dtype=np.float64)

    def correlate(starts: np.ndarray, window: int, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
        segments = np.stack([envelope[s : s + window] for s in starts])
        segments -= segments.mean(axis=1, keepdims=True)
        acf = librosa.autocorrelate(segments, max_size=max_lag + 1, axis=1)
        return acf, acf[:, 0]

    return _windowed_average(envelope.shape[0], frame_rate, max_lag, correlate)


def _windowed_average(n: int, frame_rate: float, max_lag: int, correlate) -> np.ndarray:
    """The frame `periodicity` and `cross_periodicity` share: ``correlate(starts, window,
    max_lag)`` gives each window's correlation at lags 0..max_lag and its energy, for a batch
    of windows at a time (batches keep the transient arrays small for a long file); each is
    divided by the overlap length (unbiased) and by its energy, and the windows are averaged
    weighted by the square root of their energy. Lags past half the window rest on less than
    half of it, too noisy to compare, so ``max_lag`` is at most half a window."""
    window, starts = _windows(n, frame_rate, shortest=2)
    max_lag = min(max_lag, window // 2)
    total = np.zeros(max_lag + 1)
    weight = 0.0
    overlap = (window - np.arange(max_lag + 1)) / window
    if starts[-1] + window < n:
        starts = np.append(starts, n - window)
    for first in range(0, starts.size, 64):
        corr, energy = correlate(starts[first : first + 64], window, max_lag)
        good = energy > 1e-12
        if not good.any():
            continue
        w = np.sqrt(energy[good])
        total += (w[:, None] * corr[good] / energy[good, None] / overlap[None, :]).sum(axis=0)
        weight += float(w.sum())
    return total / weight if weight > 0 else np.zeros(max_lag + 1)


def cross_periodicity(lead: np.ndarray, follow: np.ndarray, *, frame_rate: float, max_lag: int) -> np.ndarray:
    """How strongly ``follow`` recurs ``lag`` frames after ``lead``, for lags 0..max_lag: their
    cross-correlation, windowed, normalised and averaged as `periodicity` is (each window's
    mean-removed correlation over the overlap length and the geometric mean of the two
    energies, windows weighted by the square root of that mean).

    The tempo reads the kick and the snare band with it (`PulseEvidence.backbeat_acf`): in a
    backbeat the snare follows the kick by one beat, not by half of one. librosa has
    autocorrelation (``librosa.autocorrelate``) but no cross-correlation; this is numpy's FFT,
    a batch of windows at a time, so memory stays bounded as in `periodicity`.
    """
    lead = np.asarray(lead, dtype=np.float64)
    follow = np.asarray(follow, dtype=np.float64)

    def correlate(starts: np.ndarray, window: int, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
        a = np.stack([lead[s : s + window] for s in starts])
        b = np.stack([follow[s : s + window] for s in starts])
        a -= a.mean(axis=1, keepdims=True)
        b -= b.mean(axis=1, keepdims=True)
        size = 2 * window
        spectrum = np.conj(np.fft.rfft(a, size, axis=1)) * np.fft.rfft(b, size, axis=1)
        corr = np.fft.irfft(spectrum, size, axis=1)
        return corr[:, : max_lag + 1], np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1))

    return _windowed_average(min(lead.shape[0], follow.shape[0]), frame_rate, max_lag, correlate)


def _peak_frames(frame_rate: float) -> int:
    """Half-width (frames) of `onset_rate`'s peak picking: its peaks are at least one frame
    more than this apart, and that spacing may not exceed `SIXTEENTH_SECONDS`, a sixteenth
    note at 200 BPM (2 frames at 43 frames a second: peaks 70 ms apart, sixteenths up to
    215 BPM).

    It was ±70 ms (3 frames: peaks 93 ms apart, sixteenths up to 161 BPM), and the rate of
    fast music collapsed as it sped up: sixteenth-note clicks (``tests/synth.clicks(4 * bpm)``,
    as in ``test_onset_rate_counts_the_sixteenths_of_fast_music...``) at 170, 185 and 224 BPM
    counted 9.1, 6.1 and 3.5 a second (11.3, 11.5 and 11.4 now; above ~185 BPM a 93-ms frame
    holds two sixteenths, so the envelope itself stops resolving them). On the tempo
    benchmark's ×1.12 copies the three thrash songs then sounded less busy than at their own
    speed, or hardly busier (its equivariance table's rate column: −1.43, 0.48 and −0.48), and
    were read at half their tempo. One frame (any local maximum) did as well on them but counted an LMMS
    song's ornaments (StrictProduction at 174 for 87).
    """
    return max(1, int(SIXTEENTH_SECONDS * frame_rate) - 1)


def onset_rate(envelope: np.ndarray, *, frame_rate: float, sounding: np.ndarray | None = None) -> float:
    """Typical onsets per second of ``envelope``: the median, over the `periodicity` windows
    (``WINDOW_SECONDS`` every ``WINDOW_HOP_SECONDS``), of each window's onset count per second,
    each window weighted by the square root of its energy as `periodicity` weights it. Given
    ``sounding`` (`sounding_frames`), only the windows at least half of whose frames sound are
    counted (all of them if none is): silence is no evidence of sparse music.

    The weights came in with analyser version 20. Unweighted, a pad intro three times as long
    as the music counted its few onsets into the rate of the whole track: after a 90 s pad, a
    190 BPM thrash beat was read at 95 (``test_a_beat_after_a_long_pad_intro_is_a_beat``),
    and 7 of the tempo benchmark's 24 real recordings behind a pad at their own loudness went
    to half tempo (``--sets degraded``, condition ``pad-intro``: Acc1 0.625, now 0.917, as on
    the clean cuts).

    librosa picks the peaks (``librosa.util.peak_pick``; the constants are above `onset_rate`'s
    definition). What librosa lacks is the rate as a tempo cue: how busy music sounds is what
    decides whether a listener counts its fast or its slow level (Elowsson & Friberg 2015,
    "Modeling the perception of tempo", JASA 137(6)), and `tempo.onset_prior` reads it. The
    median keeps an intro, a breakdown or a fill from setting the rate of a whole song. The
    rate should scale with playback speed, and only partly does: on ×0.90 / ×1.12 copies it
    moved a median of 0.50 as far as the speed (log terms; 0.40 and 0.41 on two machines'
    renders before the windows were weighted, 0.34 before `_peak_frames`) on the benchmark's
    24 labelled songs, the wrong way
    on some of their copies, and the wrong way on most of Wesnoth's orchestral music
    (``python benchmarks/tempo_accuracy.py --sets equivariance,wesnoth``): how many peaks a
    picker finds in a dense mix depends on its thresholds as much as on the music.
    """
    librosa = import_librosa()

    envelope = np.asarray(envelope, dtype=np.float64)
    n = envelope.shape[0]
    if sounding is not None and sounding.shape[0] != n:
        sounding = None
    played = envelope if sounding is None or not sounding.any() else envelope[sounding]
    top = float(np.percentile(played, 95)) if n else 0.0
    if n == 0 or top <= 0:
        return 0.0
    near = _peak_frames(frame_rate)
    mean = max(1, int(round(PEAK_MEAN_SECONDS * frame_rate)))
    peaks = librosa.util.peak_pick(envelope, pre_max=near, post_max=near, pre_avg=mean, post_avg=mean,
                                   delta=PEAK_FLOOR * top, wait=near)
    window, starts = _windows(n, frame_rate)
    counts = np.searchsorted(peaks, starts + window) - np.searchsorted(peaks, starts)
    if sounding is not None:
        full = _half_sounding(sounding, starts, window)
        if full.any():
            counts, starts = counts[full], starts[full]
    # Each window weighs the square root of its energy, as in `periodicity`.
    squares = np.concatenate(([0.0], np.cumsum(envelope**2)))
    weight = np.sqrt(squares[np.minimum(starts + window, n)] - squares[starts])
    if not weight.sum() > 0:
        return float(np.median(counts)) * frame_rate / window
    order = np.argsort(counts, kind="stable")
    share = np.cumsum(weight[order])
    return float(counts[order][np.searchsorted(share, 0.5 * share[-1])]) * frame_rate / window
