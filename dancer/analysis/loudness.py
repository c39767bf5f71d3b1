"""Loudness and peaks after ITU-R BS.1770-4 and EBU R 128, measured in one streaming pass.

Public API
----------
LoudnessMeter
    ``add(block)`` any number of blocks of any size, then ``result()`` → `Loudness`. Memory is
    one float per 100 ms of audio plus a few kilobytes of filter state (and, while a block is
    measured, temporaries of a few times min(block, 65536 frames)).
Loudness
    Integrated (gated) loudness, momentary maximum, short-term series, sample and true peak.
loudness_of, integrated_loudness
    Convenience wrappers for one in-memory signal.
k_weighting, channel_weights
    The K-weighting filter for any sample rate and the BS.1770 channel weights.

Signal path
-----------
Each channel is K-weighted (a high shelf and a high pass, ITU-R BS.1770-4 Annex 1), squared and
summed per 100 ms step, weighted by channel (`channel_weights`). Everything else is computed
from those step energies when the result is asked for:

- gating blocks are 400 ms (4 steps) every 100 ms (75 % overlap); integrated loudness averages
  the blocks above the absolute gate (-70 LUFS) and then above the relative gate (-10 LU below
  the absolute-gated average), BS.1770-4 eqs. 1-7;
- momentary loudness (EBU Tech 3341) is the ungated 400 ms block loudness; its maximum is kept;
- short-term loudness is the ungated loudness of 3 s windows, one value per second.

The sample peak is the largest absolute sample; the true peak (BS.1770-4 Annex 2) the largest
absolute value of the signal interpolated 4x (2x from 96 kHz, none from 192 kHz). Both are the
maximum over all channels, the LFE included. Non-finite samples (NaN, ±inf) are measured as 0:
one bad sample must not turn a whole track's loudness into NaN; callers that need to reject
damaged files count them themselves.

Speed: see ``benchmarks/loudness.py`` (× real time for 44.1 kHz stereo on one core). The
true-peak search ends in float32 BLAS matrix products small enough that OpenBLAS keeps them on
the calling thread (`_TruePeak`), so its thread pool never contends with other processes.
librosa has no K-weighting nor a streaming BS.1770 meter, which is why this module exists. The
K-weighting, squaring and step sums are one numba loop (`_k_weighted_energy`, compiled once
per machine under `numba_lock.jit_once`) rather than ``scipy.signal.sosfilt`` with the copies,
squares and sums around it: that was the largest part of a scan after decoding, and held the
GIL, so the feature thread waited on it. ``benchmarks/loudness.py`` measured the whole meter at
~850x real time with sosfilt and ~3100x with the loop, on the same machine.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dancer.analysis.numba_lock import jit_once

__all__ = [
    "ABSOLUTE_GATE_LUFS",
    "RELATIVE_GATE_LU",
    "Loudness",
    "LoudnessMeter",
    "channel_weights",
    "integrated_loudness",
    "k_weighting",
    "loudness_of",
]

#: BS.1770-4 eq. 2: block loudness is ``-0.691 + 10 log10(sum_i G_i z_i)``; the constant makes a
#: 997 Hz sine at 0 dBFS read -3.01 LUFS in one front channel.
LOUDNESS_OFFSET = -0.691
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
#: Steps per second: energies are kept per 100 ms, the hop of the gating blocks.
STEPS_PER_SECOND = 10
BLOCK_STEPS = 4
SHORT_TERM_STEPS = 30
SURROUND_WEIGHT = 1.41

# ITU-R BS.1770-4 Table 1 and Table 2: the K-weighting stages as published, for 48 kHz only.
_SHELF_48K = ((1.53512485958697, -2.69169618940638, 1.19839281085285), (-1.69065929318241, 0.73248077421585))
_HIGH_PASS_48K = ((1.0, -2.0, 1.0), (-1.99004745483398, 0.99007225036621))

#: True-peak interpolator: taps per phase and Kaiser window beta (see `_interpolation_kernel`).
_TP_TAPS = 16
_TP_BETA = 5.0
#: Interpolator outputs are screened and computed in segments of this many input positions.
_TP_SEGMENT = 16
#: Segments per GEMM: rows x 48 x 32 stays under OpenBLAS's 2**18 limit for a single-threaded GEMM.
_TP_GEMM_ROWS = 160
#: Blocks are processed in chunks of at most this many frames (bounded temporaries, L2-sized),
#: and smaller blocks are pooled up to `_MIN_CHUNK` frames (per-call overhead).
_CHUNK = 65536
_MIN_CHUNK = 16384


@dataclass(frozen=True)
class Loudness:
    """What `LoudnessMeter` measured on one signal.

    Attributes
    ----------
    integrated_lufs : float
        Gated integrated loudness (LUFS), ITU-R BS.1770-4. ``-inf`` when no 400 ms block passes
        the absolute gate: digital silence, near-silence, or a signal shorter than 400 ms.
    peak_db : float
        Sample peak (dBFS), largest absolute sample over all channels; ``-inf`` for silence.
    true_peak_db : float
        True peak (dBTP), BS.1770-4 Annex 2; ``-inf`` for digital silence.
    short_term : ndarray, float32, shape (ceil(duration),)
        Short-term loudness (LUFS, 3 s window, ungated) once per second: value ``k`` is the
        window centred on the middle of second ``k``, i.e. ``[k - 1, k + 2)`` s clipped to the
        signal (so the curve has no lag; the first and last values average 2 s or less).
        ``-inf`` where the window is digitally silent after K-weighting. Read-only.
    duration : float
        Seconds of audio measured.
    momentary_max_lufs : float
        Largest momentary (400 ms, ungated) loudness; ``-inf`` when there is no full block.
    """

    integrated_lufs: float
    peak_db: float
    true_peak_db: float
    short_term: np.ndarray = field(compare=False)
    duration: float
    momentary_max_lufs: float


def k_weighting(sample_rate: float) -> np.ndarray:
    """K-weighting filter (ITU-R BS.1770-4 Annex 1) for ``sample_rate``, as second-order sections.

    The standard publishes the two biquads for 48 kHz only. Each is mapped back to the analogue
    prototype it is the bilinear transform of (corner prewarped), and that prototype is
    discretised again at ``sample_rate``. At 48 kHz the standard's coefficients come back to
    within rounding; the shelf is at 1681.97 Hz (+4.00 dB), the high pass at 38.14 Hz, Q 0.50,
    with the +0.043 dB pass-band gain of the standard's high pass kept at every rate (the -0.691
    offset of eq. 2 assumes it).

    Parameters
    ----------
    sample_rate : float
        Hz; must exceed twice the shelf's corner (3364 Hz). BS.1770 covers 8 to 192 kHz.

    Returns
    -------
    sos : ndarray, shape (2, 6)
        ``[b0, b1, b2, 1, a1, a2]`` per stage: the shelf, then the high pass (scipy's layout).
    """
    sections = []
    for b, a in (_SHELF_48K, _HIGH_PASS_48K):
        f0, q, numerator = _analogue_prototype(b, a, 48000.0)
        if not 2.0 * f0 < sample_rate:
            raise ValueError(f"sample rate {sample_rate} Hz is too low for K-weighting (> {2 * f0:.0f} Hz)")
        sections.append(_bilinear_biquad(f0, q, numerator, float(sample_rate)))
    return np.array(sections)


def _analogue_prototype(b: tuple, a: tuple, sample_rate: float) -> tuple[float, float, tuple[float, ...]]:
    """Invert the prewarped bilinear transform of a biquad.

    The prototype is ``H(s) = (n0 s^2 + n1 s + n2) / (s^2 + s / q + 1)`` with ``s`` normalised
    to the corner ``f0``; returns ``f0`` (Hz), ``q`` and ``(n0, n1, n2)``.
    """
    a1, a2 = a
    k2 = (1.0 + a1 + a2) / (1.0 - a1 + a2)
    k = np.sqrt(k2)
    a0 = 4.0 / (1.0 - a1 + a2)
    k_over_q = (1.0 - a2) * a0 / 2.0
    c0, c1, c2 = (coef * a0 for coef in b)
    numerator = ((c0 - c1 + c2) / 4.0, (c0 - c2) / (2.0 * k), (c0 + c1 + c2) / (4.0 * k2))
    return float(sample_rate * np.arctan(k) / np.pi), float(k / k_over_q), numerator


def _bilinear_biquad(f0: float, q: float, numerator: tuple[float, ...], sample_rate: float) -> np.ndarray:
    """One second-order section: the prototype of `_analogue_prototype` at ``sample_rate``."""
    n0, n1, n2 = numerator
    k = np.tan(np.pi * f0 / sample_rate)
    a0 = 1.0 + k / q + k * k
    b = np.array([n0 + n1 * k + n2 * k * k, 2.0 * (n2 * k * k - n0), n0 - n1 * k + n2 * k * k]) / a0
    a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    return np.concatenate([b, a])


def channel_weights(channels: int) -> np.ndarray:
    """BS.1770-4 channel weights ``G_i`` for an interleaving of ``channels`` channels.

    1 and 2 channels: 1.0 each. 5 channels: L, R, C, Ls, Rs → 1, 1, 1, 1.41, 1.41.
    6 channels (5.1, SMPTE/WAV order): L, R, C, LFE, Ls, Rs → 1, 1, 1, 0, 1.41, 1.41 (the LFE is
    not measured). Any other count: 1.0 each, as the layout is unknown.

    Returns
    -------
    weights : ndarray, float64, shape (channels,)
    """
    if channels < 1:
        raise ValueError(f"channels must be at least 1, got {channels}")
    if channels == 5:
        return np.array([1.0, 1.0, 1.0, SURROUND_WEIGHT, SURROUND_WEIGHT])
    if channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, SURROUND_WEIGHT, SURROUND_WEIGHT])
    return np.ones(channels)


def _interpolation_kernel(factor: int, taps: int, beta: float) -> np.ndarray:
    """Polyphase kernel of a ``factor``-times interpolator, phase 0 (the samples) left out.

    Kaiser-windowed sinc, ``taps`` input samples per output, centred on the interval between
    the two middle taps; each phase is then nudged (least-norm) to pass DC at unity and delay a
    straight line by exactly its fraction. With 16 taps and beta 5 the interpolation error is
    below -60 dB up to fs/4 and -47 dB up to 0.4 fs (17.6 kHz at 44.1 kHz), but -12 dB at
    0.45 fs: content within 10 % of Nyquist is interpolated roughly.

    Returns
    -------
    kernel : ndarray, shape (taps, factor - 1)
        Column ``p - 1`` gives the output at ``p / factor`` of the way from tap ``taps/2 - 1``
        to tap ``taps/2``.
    """
    j = np.arange(taps) - (taps // 2 - 1)
    constraints = np.vstack([np.ones(taps), j.astype(np.float64)])
    columns = []
    for p in range(1, factor):
        t = p / factor
        u = t - j
        window = np.i0(beta * np.sqrt(np.clip(1.0 - (u / (taps / 2)) ** 2, 0.0, None))) / np.i0(beta)
        h = np.sinc(u) * window
        miss = np.array([1.0, t]) - constraints @ h
        h += constraints.T @ np.linalg.solve(constraints @ constraints.T, miss)
        columns.append(h)
    return np.array(columns).T


class _TruePeak:
    """Running maximum of the oversampled signal (BS.1770-4 Annex 2), evaluated only where needed.

    Outputs are computed a segment of ``S`` (`_TP_SEGMENT`) input positions at a time: the
    segment's ``2 S`` input samples times a banded ``(2 S, S * (factor - 1))`` matrix, float32
    GEMMs over the segments of a block that need it (~2 ns a sample, where a polyphase filter
    written with numpy operations costs ~15). Each GEMM covers at most `_TP_GEMM_ROWS` segments:
    OpenBLAS runs a product that small on the calling thread, while one large product is handed
    to its thread pool, which on shared cores (other scan workers, other programs) made it 30
    times slower; small products keep the speed of one thread whatever ``OPENBLAS_NUM_THREADS``
    says, for 20 % more per-call overhead.

    Only the maximum is wanted, and no output of a segment can exceed ``L1 * A`` (``A``: the
    largest absolute input sample it reads; ``L1``: the largest absolute tap sum of a phase,
    about 2). The true peak is at least the sample peak, which is known before the block is
    interpolated, so only segments reading a sample within ~6 dB of it are computed. The result
    is that of computing every output; quiet or noise-like passages cost little, a steady
    full-scale tone the most (every crest counts).

    Samples not yet covered by a whole segment stay in `history` with the ``taps - 1`` before
    them, so the outputs do not depend on block boundaries. The signal is taken to be preceded
    and followed by silence, as a DAC would play it.
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.factor = 4 if sample_rate < 96000 else 2 if sample_rate < 192000 else 1
        self.peak = 0.0
        self.taps = _TP_TAPS
        self.history = np.zeros((channels, self.taps - 1), dtype=np.float32)
        if self.factor == 1:
            return
        kernel = _interpolation_kernel(self.factor, self.taps, _TP_BETA)
        # Float32 products may exceed an exact bound by ~1e-6; the slack keeps pruning exact.
        self.bound_gain = float(np.abs(kernel).sum(axis=0).max()) * (1.0 + 1e-5)
        s, phases = _TP_SEGMENT, self.factor - 1
        assert self.taps - 1 <= s and s % 8 == 0, "a segment's windows must fit in two rows of whole words"
        banded = np.zeros((2 * s, s * phases), dtype=np.float32)
        for w in range(s):
            banded[w:w + self.taps, w * phases:(w + 1) * phases] = kernel
        self.banded = banded

    def update(self, block: np.ndarray, floor: float) -> None:
        """Raise `peak` with every whole segment of outputs that history + ``block`` cover.

        ``block`` is ``(n, channels)``, finite. ``floor`` is a value the peak is known to reach
        (the sample peak so far).
        """
        peak = max(self.peak, floor)
        if self.factor == 1:
            self.peak = peak
            return
        s = _TP_SEGMENT
        channels, kept = self.history.shape
        width = kept + block.shape[0]
        n_seg = max(0, (width - self.taps + 1) // s)
        rows = n_seg + 2  # segment i reads rows i and i + 1; taps - 1 <= s
        buf = np.empty((channels, rows * s), dtype=np.float32)
        buf[:, :kept] = self.history
        buf[:, kept:width] = block.T
        buf[:, width:] = 0.0
        if n_seg:
            flat = buf.reshape(-1)
            # Which rows of s samples hold a sample that could lift an output above the peak: the
            # mask of each row is s booleans, read as s / 8 machine words.
            above = np.abs(flat) > peak / self.bound_gain
            words = above.view(np.uint64).reshape(channels, rows, s // 8)
            loud = words[:, :, 0] != 0
            for k in range(1, s // 8):
                loud |= words[:, :, k] != 0
            channel, segment = np.nonzero(loud[:, :n_seg] | loud[:, 1:n_seg + 1])
            if channel.size:
                pairs = np.lib.stride_tricks.sliding_window_view(flat, 2 * s)[::s]
                selected = pairs[channel * rows + segment]
                out = np.empty((selected.shape[0], self.banded.shape[1]), dtype=np.float32)
                for start in range(0, selected.shape[0], _TP_GEMM_ROWS):
                    stop = start + _TP_GEMM_ROWS
                    np.matmul(selected[start:stop], self.banded, out=out[start:stop])
                peak = max(peak, float(out.max()), -float(out.min()))
        self.peak = peak
        self.history = buf[:, n_seg * s:width].copy()

    def flushed(self) -> float:
        """The peak once the interpolator has run out over trailing silence (state unchanged)."""
        if self.factor == 1:
            return self.peak
        saved = (self.peak, self.history)
        self.update(np.zeros((self.taps - 1 + _TP_SEGMENT, self.history.shape[0]), np.float32), 0.0)
        peak = self.peak
        self.peak, self.history = saved
        return peak


def _k_weighted_energy(block, a, b, wa, wb, sos, zi, starts):  # pragma: no cover - run compiled
    """K-weight channels ``a`` and ``b`` of ``block`` and sum ``wa y_a^2 + wb y_b^2`` per step.

    numba compiles this (`_energy_kernel`). ``block`` is a C-contiguous float ``(n, channels)``
    array; ``sos`` the two biquads of `k_weighting`; ``zi`` the ``(channels, 2, 2)`` state of
    each channel's transposed direct form II sections, in float64 (scipy's ``sosfilt`` layout),
    read and written back; ``starts`` the first sample of each step, ``starts[0] == 0``. Returns
    one float64 sum per step. The two channels run in one loop for instruction-level
    parallelism, the filter state in locals (in arrays, numba loads and stores it every sample); with
    ``b == a`` and ``wb == 0`` it measures one channel. numba inlines ``section``.
    """
    def section(x, c, s0, s1):
        """One biquad ``c = (b0, b1, b2, a1, a2)`` on sample ``x``: its output and new state."""
        y = c[0] * x + s0
        return y, c[1] * x - c[3] * y + s1, c[2] * x - c[4] * y

    n = block.shape[0]
    first = (sos[0, 0], sos[0, 1], sos[0, 2], sos[0, 4], sos[0, 5])
    second = (sos[1, 0], sos[1, 1], sos[1, 2], sos[1, 4], sos[1, 5])
    p0, p1, p2, p3 = zi[a, 0, 0], zi[a, 0, 1], zi[a, 1, 0], zi[a, 1, 1]
    q0, q1, q2, q3 = zi[b, 0, 0], zi[b, 0, 1], zi[b, 1, 0], zi[b, 1, 1]
    sums = np.zeros(starts.size)
    for k in range(starts.size):
        stop = starts[k + 1] if k + 1 < starts.size else n
        total = 0.0
        for t in range(starts[k], stop):
            y, p0, p1 = section(np.float64(block[t, a]), first, p0, p1)
            v, q0, q1 = section(np.float64(block[t, b]), first, q0, q1)
            z, p2, p3 = section(y, second, p2, p3)
            w, q2, q3 = section(v, second, q2, q3)
            total += wa * z * z + wb * w * w
        sums[k] = total
    zi[a, 0, 0], zi[a, 0, 1], zi[a, 1, 0], zi[a, 1, 1] = p0, p1, p2, p3
    zi[b, 0, 0], zi[b, 0, 1], zi[b, 1, 0], zi[b, 1, 1] = q0, q1, q2, q3
    return sums


@functools.cache
def _energy_kernel():
    """`_k_weighted_energy` compiled for float32 and float64 blocks (`numba_lock.jit_once`)."""
    sos, zi, starts = k_weighting(48000), np.zeros((1, 2, 2)), np.zeros(1, dtype=np.int64)
    blocks = (np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float64))
    return jit_once(_k_weighted_energy, *[(block, 0, 0, 1.0, 0.0, sos, zi, starts) for block in blocks])


class LoudnessMeter:
    """Streaming ITU-R BS.1770-4 / EBU R 128 meter: integrated, momentary, short-term, peaks.

    Feed blocks with `add` in order, then call `result` (which may be called again after more
    blocks). The result does not depend on how the signal is split into blocks, up to float
    rounding (far below 1e-6 LU and 1e-5 dB).

    Parameters
    ----------
    sample_rate : int
        Hz, above 3364 Hz (BS.1770 covers 8 to 192 kHz); need not be a multiple of 10.
    channels : int
        Interleaved channels per frame; the layout decides the weights, see `channel_weights`.
    weights : array_like of float, optional
        Per-channel weights ``G_i`` overriding `channel_weights`; 0 leaves a channel out of the
        loudness (it still counts for the peaks).

    Notes
    -----
    Channels are K-weighted two at a time (`_k_weighted_energy`): the loop is bound by the
    latency of the filter's recursion, so a second, independent channel costs little more.
    """

    def __init__(self, sample_rate: int, channels: int, *, weights: npt.ArrayLike | None = None) -> None:
        if int(sample_rate) != sample_rate or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate}")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.weights = channel_weights(self.channels) if weights is None else np.asarray(weights, np.float64)
        valid = (self.weights >= 0) & (self.weights < np.inf)
        if self.weights.shape != (self.channels,) or not np.all(valid):
            raise ValueError(f"weights must be {self.channels} finite values >= 0, one per channel")
        self._sos = k_weighting(self.sample_rate)
        self._zi = np.zeros((self.channels, len(self._sos), 2))
        self._energy = _energy_kernel()
        self._frames = 0
        self._step_energy = np.zeros(1024)
        self._partial = 0.0
        self._sample_peak = 0.0
        self._true_peak = _TruePeak(self.sample_rate, self.channels)
        self._pending: list[np.ndarray] = []
        self._pending_frames = 0

    def add(self, block: np.ndarray) -> None:
        """Measure the next ``block`` of samples.

        Parameters
        ----------
        block : ndarray, float32 or float64, shape (n, channels), or (n,) when mono
            Full scale is ±1. Any n, including 0. Non-finite samples are measured as 0.
        """
        block = np.asarray(block)
        if block.ndim == 1 and self.channels == 1:
            block = block[:, None]
        if block.ndim != 2 or block.shape[1] != self.channels:
            raise ValueError(f"expected a block of shape (n, {self.channels}), got {block.shape}")
        if block.dtype.kind != "f":
            raise TypeError(f"expected float samples (full scale ±1), got {block.dtype}")
        if block.dtype not in (np.float32, np.float64):
            block = block.astype(np.float32)
        n = block.shape[0]
        if n == 0:
            return
        if n + self._pending_frames < _MIN_CHUNK:
            self._pending.append(block.copy())
            self._pending_frames += n
            return
        if self._pending:
            block = np.concatenate([*self._pending, block], axis=0)
            self._pending, self._pending_frames = [], 0
            n = block.shape[0]
        for start in range(0, n, _CHUNK):
            self._process(np.ascontiguousarray(block[start:start + _CHUNK]))

    def _process(self, block: np.ndarray) -> None:
        """Measure a C-contiguous float ``(n, channels)`` block."""
        hi, lo = block.max(), block.min()
        if not (np.isfinite(hi) and np.isfinite(lo)):
            block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
            hi, lo = block.max(), block.min()
        self._sample_peak = max(self._sample_peak, float(hi), -float(lo))
        self._accumulate(block)
        self._true_peak.update(block, self._sample_peak)

    def _accumulate(self, block: np.ndarray) -> None:
        """K-weight ``block`` and add its weighted energy to the 100 ms steps."""
        n = block.shape[0]
        rate, first = self.sample_rate, self._frames
        done = first * STEPS_PER_SECOND // rate
        last = (first + n) * STEPS_PER_SECOND // rate
        # Step k ends at sample ceil(k * rate / 10): any rate works and every 10th step ends on a
        # whole second; ceil makes "step k has ended by sample m" exactly k <= m * 10 // rate.
        ends = -(-np.arange(done + 1, last + 1) * rate // STEPS_PER_SECOND) - first
        starts = np.concatenate([[0], ends[ends < n]])
        sums = self._step_sums(block, starts)
        self._frames += n
        if ends.size == 0:
            self._partial += float(sums[0])
            return
        sums[0] += self._partial
        self._partial = float(sums[ends.size]) if sums.size > ends.size else 0.0
        if last > self._step_energy.size:
            grown = np.zeros(max(last, 2 * self._step_energy.size))
            grown[:done] = self._step_energy[:done]
            self._step_energy = grown
        self._step_energy[done:last] = sums[:ends.size]

    def _step_sums(self, block: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """``sum_i G_i sum_t y_i(t)^2`` of the K-weighted ``block`` between consecutive ``starts``."""
        sums = np.zeros(starts.size)
        starts = starts.astype(np.int64, copy=False)
        for a in range(0, self.channels, 2):
            b = min(a + 1, self.channels - 1)  # an odd last channel is paired with itself
            wa, wb = float(self.weights[a]), float(self.weights[b]) if b != a else 0.0
            sums += self._energy(block, a, b, wa, wb, self._sos, self._zi, starts)
        return sums

    def result(self) -> Loudness:
        """The measurements over everything added so far (the meter can go on after)."""
        if self._pending:
            block = np.concatenate(self._pending, axis=0)
            self._pending, self._pending_frames = [], 0
            self._process(block)
        rate, frames = self.sample_rate, self._frames
        complete = frames * STEPS_PER_SECOND // rate
        bounds = -(-np.arange(complete + 1) * rate // STEPS_PER_SECOND)
        energy = self._step_energy[:complete]
        with np.errstate(divide="ignore"):
            blocks = np.zeros(0)
            if complete >= BLOCK_STEPS:
                cumulative = np.concatenate([[0.0], np.cumsum(energy)])
                blocks = (cumulative[BLOCK_STEPS:] - cumulative[:-BLOCK_STEPS]) / (
                    bounds[BLOCK_STEPS:] - bounds[:-BLOCK_STEPS]
                )
            integrated = _gated_loudness(blocks)
            momentary = LOUDNESS_OFFSET + 10.0 * np.log10(blocks.max()) if blocks.size else -np.inf

            # The unfinished last step counts for the short-term series, which covers every second.
            step_energy = np.append(energy, self._partial)
            step_frames = np.append(np.diff(bounds), frames - bounds[-1])
            cum_energy = np.concatenate([[0.0], np.cumsum(step_energy)])
            cum_frames = np.concatenate([[0], np.cumsum(step_frames)])
            second = np.arange(-(-frames // rate)) * STEPS_PER_SECOND  # first step of each second
            lo = np.clip(second - STEPS_PER_SECOND, 0, step_energy.size)
            hi = np.clip(second + SHORT_TERM_STEPS - STEPS_PER_SECOND, 0, step_energy.size)
            mean_square = (cum_energy[hi] - cum_energy[lo]) / (cum_frames[hi] - cum_frames[lo])
            short_term = (LOUDNESS_OFFSET + 10.0 * np.log10(mean_square)).astype(np.float32)
            short_term.setflags(write=False)

            true_peak = max(self._true_peak.flushed(), self._sample_peak)
            return Loudness(
                integrated_lufs=float(integrated),
                peak_db=float(20.0 * np.log10(self._sample_peak)),
                true_peak_db=float(20.0 * np.log10(true_peak)),
                short_term=short_term,
                duration=frames / rate,
                momentary_max_lufs=float(momentary),
            )


def _gated_loudness(blocks: np.ndarray) -> float:
    """BS.1770-4 eqs. 5-7 over weighted block mean squares ``sum_i G_i z_ij`` (shape (n_blocks,))."""
    absolute = 10.0 ** ((ABSOLUTE_GATE_LUFS - LOUDNESS_OFFSET) / 10.0)
    gated = blocks[blocks > absolute]
    if gated.size == 0:
        return -np.inf
    relative = gated.mean() * 10.0 ** (RELATIVE_GATE_LU / 10.0)
    gated = gated[gated > relative]
    return float(LOUDNESS_OFFSET + 10.0 * np.log10(gated.mean()))


def loudness_of(y: np.ndarray, sample_rate: int) -> Loudness:
    """Measure one in-memory signal.

    Parameters
    ----------
    y : ndarray, shape (n,) or (n, channels)
        Full scale ±1; channel layout as in `channel_weights`.
    sample_rate : int
        Hz.
    """
    y = np.asarray(y)
    meter = LoudnessMeter(sample_rate, 1 if y.ndim == 1 else y.shape[1])
    meter.add(y)
    return meter.result()


def integrated_loudness(y: np.ndarray, sample_rate: int) -> float:
    """Gated integrated loudness (LUFS, ITU-R BS.1770-4) of one signal; ``-inf`` for silence.

    See `loudness_of` for the parameters.
    """
    return loudness_of(y, sample_rate).integrated_lufs
