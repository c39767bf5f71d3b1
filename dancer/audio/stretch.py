"""Tempo-matched sources: render a track through a `RateCurve`, block by block.

Public: `TempoMatchedSource`, `ArrayReader`, `open_file_source`, `snapped`; the curves are in
`dancer.timemap`.

Rendering is varispeed (pitch moves with the rate, as on a DJ's turntable): each output sample is
a Kaiser-windowed sinc interpolation of the source at the exact position the curve gives for that
sample. Every output sample depends only on its own timeline index, so rendering in blocks of any
size gives the same samples as rendering in one piece, and the beats land where the curve says to
within the interpolator's precision. Where the curve has returned to rate 1.0 at a whole-sample
offset (`dancer.timemap.match_curve` or `snapped` puts it there), samples are copied, so the rest of the track
costs nothing and is bit-identical to unstretched playback. ``benchmarks/stretch.py`` compares
this with soxr's variable-rate resampler and with Rubber Band (pedalboard) on speed, transients,
timing and seams.

This module imports neither the mixer nor the planner.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dancer.timemap import RateCurve

__all__ = ["ArrayReader", "TempoMatchedSource", "open_file_source", "snapped"]

#: Interpolator half-length in source samples: 32 taps (see benchmarks/stretch.py for the error).
HALF_TAPS = 16
#: Kernel table resolution: fractional positions between table rows are interpolated linearly.
PHASES = 1024
#: Pass band edge as a fraction of the Nyquist frequency: leaves room for rates up to +8 %.
CUTOFF = 0.90
KAISER_BETA = 9.0


class ArrayReader:
    """``read(n)`` over an in-memory ``(frames, channels)`` signal, zeros past its end."""

    def __init__(self, samples: np.ndarray, start: int = 0) -> None:
        x = np.asarray(samples, dtype=np.float32)
        self._x = x[:, None] if x.ndim == 1 else x
        self._at = start
        self.channels = self._x.shape[1]

    def read(self, n: int) -> np.ndarray:
        lo = min(max(self._at, 0), len(self._x))
        hi = min(max(self._at + n, 0), len(self._x))
        out = np.zeros((n, self.channels), dtype=np.float32)
        out[lo - self._at:hi - self._at] = self._x[lo:hi]
        self._at += n
        return out


def _copy_window(curve: RateCurve, sample_rate: int) -> tuple[int, int, int]:
    """``(first, end, lag)``: timeline samples ``[first, end)`` play source sample ``n + lag``
    exactly (the first stretch where the rate is 1.0 at a whole-sample lag); ``(0, 0, 0)`` if none."""
    times, rates = curve.times, curve.rates
    for i, rate in enumerate(rates):
        if rate != 1.0 or (i + 1 < len(rates) and rates[i + 1] != 1.0):
            continue
        first = math.ceil(times[i] * sample_rate) if i or len(times) > 1 else -(2 ** 62)
        end = math.floor(times[i + 1] * sample_rate) if i + 1 < len(times) else 2 ** 62
        probe = max(first, math.ceil(times[i] * sample_rate))
        lag = float(curve.source_time(probe / sample_rate)) * sample_rate - probe
        if abs(lag - round(lag)) < 1e-6 and end > first:
            return first, end, round(lag)
        return 0, 0, 0
    return 0, 0, 0


def snapped(curve: RateCurve, sample_rate: int) -> RateCurve:
    """``curve`` moved by less than half a sample so that its first stretch at rate 1.0 runs at a
    whole-sample lag, where `TempoMatchedSource` copies instead of interpolating; unchanged when it
    never plays at 1.0."""
    for i, rate in enumerate(curve.rates):
        if rate == 1.0 and (i + 1 == len(curve.rates) or curve.rates[i + 1] == 1.0):
            t = curve.times[i]
            lag = (float(curve.source_time(t)) - t) * sample_rate
            return curve.shifted((round(lag) - lag) / sample_rate)
    return curve


def _kernel_table(half: int = HALF_TAPS, phases: int = PHASES, cutoff: float = CUTOFF,
                  beta: float = KAISER_BETA) -> np.ndarray:
    """Rows ``j = 0..phases``: weights of source samples ``i - half + 1 .. i + half`` for the
    position ``i + j / phases``.

    Each row sums to 1, so a constant passes unchanged.
    """
    frac = np.arange(phases + 1)[:, None] / phases
    d = (np.arange(2 * half) - half + 1)[None, :] - frac
    window = np.i0(beta * np.sqrt(np.clip(1.0 - (d / half) ** 2, 0.0, None))) / np.i0(beta)
    w = cutoff * np.sinc(cutoff * d) * window
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


_TABLE = _kernel_table()
_SLOPE = np.diff(_TABLE, axis=0)


def _windows(buf: np.ndarray) -> np.ndarray:
    """``(frames - taps + 1, channels, taps)`` view: row ``k`` is the interpolator's input for
    source sample ``k``."""
    from numpy.lib.stride_tricks import sliding_window_view

    return sliding_window_view(buf, 2 * HALF_TAPS, axis=0)


class TempoMatchedSource:
    """A source rendered through a `RateCurve`, in timeline samples, block by block.

    Parameters
    ----------
    read : callable
        ``read(n)`` returns the next ``n`` source frames, float32 ``(n, channels)``, zeros past the
        end, starting at source sample ``origin``: the `_Reader` of the mixer, an `ArrayReader`,
        or `open_file_source`. The source must be at ``sample_rate`` already.
    curve : RateCurve
        Source time as a function of timeline time (both in seconds).
    sample_rate : int
        Timeline and source rate.
    origin : int
        Source sample index of the first frame ``read`` returns; `origin_for` gives the right one.
    channels : int
        Channels ``read`` returns.

    `render(n0, n)` must be called for increasing, non-overlapping spans (the usual case is
    consecutive blocks); any split of a span into blocks gives identical samples.
    """

    def __init__(self, read: Callable[[int], np.ndarray], curve: RateCurve, *, sample_rate: int,
                 origin: int, channels: int) -> None:
        self._read = read
        self.curve = curve
        self.sample_rate = sample_rate
        self.channels = channels
        self._buf = np.zeros((0, channels), dtype=np.float32)
        self._buf_start = origin
        # Timeline samples in [`_copy_from`, `_copy_to`) are plain copies at a whole-sample lag.
        self._copy_from, self._copy_to, self._copy_lag = _copy_window(curve, sample_rate)

    @staticmethod
    def origin_for(curve: RateCurve, first_sample: int, sample_rate: int) -> int:
        """Source sample to start reading at so that timeline sample ``first_sample`` has its full context."""
        p = float(curve.source_time(first_sample / sample_rate)) * sample_rate
        return math.floor(p) - HALF_TAPS + 1

    def render(self, n0: int, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """Timeline samples ``[n0, n0 + n)`` as float32 ``(n, channels)``, written into ``out`` if given."""
        if out is None:
            out = np.empty((n, self.channels), dtype=np.float32)
        if n <= 0:
            return out
        a = min(max(self._copy_from - n0, 0), n)
        b = min(max(self._copy_to - n0, a), n)
        if a:
            self._interpolate(n0, a, out[:a])
        if b > a:
            lo = n0 + a + self._copy_lag
            self._ensure(lo, lo + b - a)
            out[a:b] = self._buf[lo - self._buf_start:lo - self._buf_start + b - a]
            # Keep the interpolator's context: a glide may follow the copied stretch.
            self._drop(lo + b - a - 2 * HALF_TAPS)
        if b < n:
            self._interpolate(n0 + b, n - b, out[b:])
        return out

    def _interpolate(self, n0: int, n: int, out: np.ndarray) -> None:
        sr = self.sample_rate
        p = self.curve.source_time((n0 + np.arange(n)) / sr) * sr
        i = np.floor(p)
        x = (p - i) * PHASES
        j = x.astype(np.int64)
        mix = (x - j).astype(np.float32)
        i = i.astype(np.int64)
        first = int(i[0]) - HALF_TAPS + 1
        self._ensure(first, int(i[-1]) + HALF_TAPS + 1)
        # One gathered (n, channels, taps) window per output sample; the kernel row for the
        # fractional position is linear between two table rows, applied as two batched matmuls.
        windows = _windows(self._buf)[i - HALF_TAPS + 1 - self._buf_start]
        y = np.matmul(windows, _TABLE[j][:, :, None])[:, :, 0]
        y += mix[:, None] * np.matmul(windows, _SLOPE[j][:, :, None])[:, :, 0]
        out[:] = y
        self._drop(int(i[-1]) - HALF_TAPS + 1)

    def _ensure(self, lo: int, hi: int) -> None:
        """Hold source samples ``[lo, hi)`` in the buffer (reading forward; zeros before the origin)."""
        if lo < self._buf_start:
            pad = np.zeros((self._buf_start - lo, self.channels), dtype=np.float32)
            self._buf = np.concatenate([pad, self._buf])
            self._buf_start = lo
        have = self._buf_start + len(self._buf)
        if hi > have:
            more = self._read(hi - have)
            self._buf = more if not len(self._buf) else np.concatenate([self._buf, more])

    def _drop(self, keep_from: int) -> None:
        k = keep_from - self._buf_start
        if k > 0:
            self._buf = self._buf[k:]
            self._buf_start = keep_from


def open_file_source(path: Path, curve: RateCurve, *, first_sample: int, sample_rate: int,
                     channels: int = 2) -> TempoMatchedSource:
    """A `TempoMatchedSource` streaming ``path`` from where timeline sample ``first_sample`` needs it.

    Decodes with `dancer.decode.open_stream`; a file at another sample rate is resampled to
    ``sample_rate`` first (soxr), mono is doubled and extra channels are dropped. The mixer, which
    has its own channel map, passes its reader to `TempoMatchedSource` instead.
    """
    from dancer.decode import open_stream

    origin = TempoMatchedSource.origin_for(curve, first_sample, sample_rate)
    info, blocks = open_stream(Path(path), start=max(origin, 0) / sample_rate)
    resampler = None
    if info.sample_rate != sample_rate:
        import soxr

        resampler = soxr.ResampleStream(info.sample_rate, sample_rate, info.channels, dtype="float32")
    pending = [np.zeros((max(-origin, 0), channels), dtype=np.float32)]
    state = {"have": len(pending[0]), "eof": False}

    def shape(block: np.ndarray) -> np.ndarray:
        block = block[:, None] if block.ndim == 1 else block
        if block.shape[1] == channels:
            return block
        if block.shape[1] == 1:
            return np.repeat(block, channels, axis=1)
        return block[:, :channels]

    def read(n: int) -> np.ndarray:
        while state["have"] < n and not state["eof"]:
            block = next(blocks, None)
            if block is None:
                state["eof"] = True
                if resampler is not None:
                    block = resampler.resample_chunk(np.zeros((0, info.channels), np.float32), last=True)
                else:
                    break
            elif resampler is not None:
                block = resampler.resample_chunk(np.ascontiguousarray(block))
            pending.append(shape(block))
            state["have"] += len(pending[-1])
        data = np.concatenate(pending) if len(pending) > 1 else pending[0]
        out = data[:n]
        if len(out) < n:
            out = np.concatenate([out, np.zeros((n - len(out), channels), dtype=np.float32)])
        pending[:] = [data[n:]]
        state["have"] = len(pending[0])
        return out

    return TempoMatchedSource(read, curve, sample_rate=sample_rate, origin=origin, channels=channels)
