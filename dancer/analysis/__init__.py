"""Track analysis: pure functions on arrays, plus one streaming driver that feeds them.

Public: `analyse_blocks` (decoded blocks → `Analysis`), `warm_up`, `MIN_SECONDS`.

Modules:
- `features`: streaming STFT features (onset envelopes, RMS, brightness) at ~43 frames/s;
- `tempo`: tempo, confidence, beatless flag, beats, downbeats, phrases from the onset envelope;
- `pulse`, `levels`, `priors`, `beats`: its evidence, its candidate metrical levels, its tempo
  priors and octave certainty, its beat grid;
- `loudness`: ITU-R BS.1770-4 integrated loudness, sample and true peak, short-term loudness;
- `energy`: one 0..1 energy score and a coarse curve from loudness-normalised features;
- `cues`: cue-in/cue-out and intro/outro lengths from the level envelope and beat grid;
- `numba_lock`: one process at a time compiles librosa's numba code.

Everything is computed in one pass over the decoded signal so memory does not grow with the
track's length: only per-frame features (~43 per second) are kept. The features of each block
are computed on a thread of their own while the caller's thread decodes and K-weights the next
(`_Lane`), so one file keeps two cores busy.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable

import numpy as np

from dancer.analysis.numba_lock import compile_once, set_pipeline
from dancer.errors import DecodeError
from dancer.model import Analysis

#: Shorter material cannot carry a tempo or a place in a session.
MIN_SECONDS = 2.0
#: A file whose samples are mostly NaN/inf is broken, not quiet.
MAX_NONFINITE_SHARE = 0.5
#: Float samples beyond this magnitude (+80 dBFS) are damage, not audio.
MAX_SAMPLE = 1e4
#: Decoded blocks the loudness side may run ahead of the feature thread (~1.5 s of audio each):
#: the extractor works in batches of ~12 s, so fewer would leave the decoder waiting.
LANE_DEPTH = 8


def analyse_blocks(
    blocks: Iterable[np.ndarray], *, sample_rate: int, channels: int, name: str = "",
    reopen: Callable[[], Iterable[np.ndarray]] | None = None,
) -> Analysis:
    """Analyse a decoded signal given as float32 ``(frames, channels)`` blocks.

    ``reopen``, if given, decodes the same signal again from the start: a stereo file whose
    low end shows one channel in inverted polarity has its features taken again with that
    channel turned back (`features.turned_back`), since the channels' sum cancelled its
    centre. Loudness, which sums the channels' powers, needs no second pass.

    Raises `DecodeError` (naming ``name``) for material that cannot be analysed: shorter than
    `MIN_SECONDS`, digital silence, or mostly non-finite samples.
    """
    from dancer.analysis.cues import find_cues
    from dancer.analysis.energy import energy_profile
    from dancer.analysis.features import FeatureExtractor, turned_back
    from dancer.analysis.loudness import LoudnessMeter
    from dancer.analysis.tempo import estimate_tempo

    extractor = FeatureExtractor(sample_rate, channels)
    meter = LoudnessMeter(sample_rate, channels)
    frames = 0
    nonfinite = 0
    lane = _Lane(extractor.add)
    try:
        for block in blocks:
            block, bad = _finite(block)
            nonfinite += bad
            frames += len(block)
            lane.put(block)
            meter.add(block)
    except BaseException:
        lane.close(abort=True)
        raise
    lane.close()

    label = name or "input"
    duration = frames / sample_rate
    if frames and nonfinite > MAX_NONFINITE_SHARE * frames * channels:
        raise DecodeError(f"{label}: most samples are NaN or infinite; the file is damaged")
    if duration < MIN_SECONDS:
        raise DecodeError(
            f"{label}: too short to dance to ({duration:.2f} s; dancer needs at least {MIN_SECONDS:g} s)"
        )

    features = turned_back(extractor, extractor.finish(),
                           None if reopen is None else lambda: (_finite(block)[0] for block in reopen()))
    loud = meter.result()
    if not np.isfinite(loud.integrated_lufs):
        raise DecodeError(f"{label}: silent (nothing above -70 LUFS)")
    tempo = estimate_tempo(features)
    energy, curve = energy_profile(features, loud, tempo)
    cues = find_cues(features, tempo)

    return Analysis(
        duration=duration,
        sample_rate=int(sample_rate),
        channels=int(channels),
        bpm=None if tempo.bpm is None else float(tempo.bpm),
        bpm_confidence=float(tempo.confidence),
        pulse_confidence=float(tempo.pulse_confidence),
        beatless=bool(tempo.beatless),
        beats=tuple(float(b) for b in tempo.beats),
        downbeats=tuple(float(b) for b in tempo.downbeats),
        phrases=tuple(float(b) for b in tempo.phrases),
        meter=int(tempo.meter),
        loudness_lufs=float(loud.integrated_lufs),
        peak_db=float(loud.peak_db),
        true_peak_db=float(loud.true_peak_db),
        energy=float(energy),
        energy_curve=tuple(float(x) for x in curve),
        cue_in=float(cues.cue_in),
        cue_out=float(cues.cue_out),
        intro_beats=int(cues.intro_beats),
        outro_beats=int(cues.outro_beats),
    )


def _finite(block: np.ndarray) -> tuple[np.ndarray, int]:
    """``block`` as ``(frames, channels)`` with its damaged samples zeroed, and how many there were.

    Float files can hold absurd values (1e20) that overflow the spectra: damaged, like NaN.
    Two reductions clear a sound block without temporaries (a NaN fails both)."""
    if block.ndim == 1:
        block = block[:, None]
    if block.size and not (-MAX_SAMPLE < block.min() and block.max() < MAX_SAMPLE):
        finite = np.isfinite(block) & (np.abs(block) < MAX_SAMPLE)
        bad = int(block.size - np.count_nonzero(finite))
        return np.where(finite, block, np.float32(0.0)).astype(np.float32), bad
    return block, 0


class _Lane:
    """Runs ``work`` on each item put, in order, on a thread of its own.

    Why: a scan with one job per core leaves the decoder and the feature extractor waiting for
    each other. The feature side (librosa's STFT, numpy) and the decoder (libsndfile) release
    the GIL, so the features of one block are computed while the next is decoded and
    K-weighted (`loudness`' numba loop, which releases it too); librosa has no streaming
    pipeline to do this. Results do not change: the extractor sees the same blocks in the same order.
    """

    def __init__(self, work: Callable[[np.ndarray], None]) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=LANE_DEPTH)
        self._error: BaseException | None = None
        self._abort = False
        self._thread = threading.Thread(target=self._run, args=(work,), name="dancer-features", daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[np.ndarray], None]) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None and not self._abort:
                try:
                    work(item)
                except BaseException as exc:  # handed to the caller, which re-raises it
                    self._error = exc

    def put(self, item: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def close(self, *, abort: bool = False) -> None:
        """Wait for the items put so far (skipped with ``abort``); re-raise the thread's error."""
        self._abort = abort
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and not abort:
            raise self._error


def warm_up() -> None:
    """Load every analysis module and pay the first calls' costs (~10 ms once numba's cache is
    built; the first run on a machine compiles librosa's numba code, one process at a time:
    `numba_lock.compile_once`).

    A scan worker calls this at start-up, so that one that cannot analyse (a broken install)
    fails before it is given a file.
    """
    compile_once()


def _pulses() -> None:
    """The pipeline on four seconds of synthetic pulses: every compiled form the analysis uses."""
    sr = 22050
    t = np.arange(4 * sr) / sr
    y = (np.sin(2 * np.pi * 110.0 * t) * (np.mod(t, 0.5) < 0.06)).astype(np.float32)[:, None]
    analyse_blocks([y], sample_rate=sr, channels=1)


set_pipeline(_pulses)
