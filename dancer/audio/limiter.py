"""The master limiter: look-ahead, true-peak, smooth gain, fixed delay.

Public: `Limiter`.

True peaks are found with the interpolator of the BS.1770-4 true-peak meter in
`dancer.analysis.loudness` (4x oversampling), so a render never measures above its ceiling.
"""

from __future__ import annotations

import numpy as np

from dancer.analysis.loudness import _TP_BETA, _TP_TAPS, _interpolation_kernel
from dancer.audio.timeline import MixSettings

_TP_HALF = _TP_TAPS // 2 - 1
#: Rows: taps giving the signal at 1/4, 2/4, 3/4 of the way from sample ``m + _TP_HALF`` to the next;
#: the true-peak meter's own interpolator, so the limiter holds the peaks the analysis measures.
_TP_KERNEL = _interpolation_kernel(4, _TP_TAPS, _TP_BETA).T
_TP_KERNEL32 = _TP_KERNEL.astype(np.float32)
#: ``max |interpolated| <= _TP_BOUND * max |x|``: lets quiet blocks skip the detector exactly.
_TP_BOUND = float(max(1.0, np.abs(_TP_KERNEL).sum(axis=1).max()))


class Limiter:
    """Look-ahead true-peak limiter: never above the ceiling, gain smooth, fixed delay.

    Required reduction (dB) per sample from the 4x-interpolated peak is held over the look-ahead
    window, released at a constant dB rate, and averaged over the look-ahead, so the gain reaches
    each peak's requirement before the (delayed) peak passes. Quiet passages cost a bound check.
    """

    def __init__(self, sample_rate: int, settings: MixSettings) -> None:
        self.ceiling = 10.0 ** (settings.ceiling_dbtp / 20.0)
        self.look = max(2, round(settings.lookahead * sample_rate))
        self.delay = self.look + _TP_TAPS - 1 - _TP_HALF
        self.rate = settings.release_db_per_s / sample_rate
        self.reset()

    def reset(self) -> None:
        self._x = np.zeros((_TP_TAPS - 1, 2), dtype=np.float32)
        self._audio = np.zeros((self.delay, 2), dtype=np.float32)
        self._held = np.zeros(self.look)
        self._released = np.zeros(self.look - 1)
        self._carry_r = 0.0
        self._carry_tp = 0.0
        self._idle = True

    def process(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        audio = np.concatenate([self._audio, x])
        self._audio = audio[n:].copy()
        y = audio[:n]
        xx = np.concatenate([self._x, x])
        self._x = xx[n:].copy()
        if self._idle and float(np.abs(xx).max(initial=0.0)) * _TP_BOUND <= self.ceiling:
            self._carry_tp = 0.0
            return y
        peak = self._peaks(xx, n)
        if self._idle and float(peak.max()) <= self.ceiling:
            return y
        y = y * self._gain(peak).astype(np.float32)[:, None]
        np.clip(y, -self.ceiling, self.ceiling, out=y)
        return y

    def _peaks(self, xx: np.ndarray, n: int) -> np.ndarray:
        """Largest |sample| or |interpolated value| next to each of ``n`` samples, both channels."""
        tp = np.zeros(n, dtype=np.float32)
        for c in _TP_KERNEL32:
            acc = xx[0:n] * c[0]
            for j in range(1, _TP_TAPS):
                acc += xx[j:j + n] * c[j]
            np.abs(acc, out=acc)
            # Reductions along a length-2 axis are slow in numpy; compare the channels directly.
            phase = np.maximum(acc[:, 0], acc[:, 1])
            np.maximum(tp, phase, out=tp)
        mid = np.abs(xx[_TP_HALF:_TP_HALF + n])
        peak = np.maximum(np.maximum(mid[:, 0], mid[:, 1]), tp)
        np.maximum(peak[1:], tp[:-1], out=peak[1:])
        peak[0] = max(peak[0], self._carry_tp)
        self._carry_tp = float(tp[-1])
        return peak

    def _gain(self, peak: np.ndarray) -> np.ndarray:
        n = len(peak)
        need = np.zeros(n)
        over = peak > self.ceiling
        need[over] = 20.0 * np.log10(peak[over] / self.ceiling)

        from scipy.ndimage import maximum_filter1d

        look = self.look
        held_in = np.concatenate([self._held, need])
        self._held = held_in[n:].copy()
        held = maximum_filter1d(held_in, look + 1, mode="nearest")[(look + 1) // 2:(look + 1) // 2 + n]
        ramp = self.rate * np.arange(n)
        acc = held + ramp
        acc[0] = max(acc[0], self._carry_r - self.rate)
        released = np.maximum.accumulate(acc) - ramp
        self._carry_r = float(released[-1])
        cat = np.concatenate([self._released, released])
        self._released = cat[n:].copy()
        sums = np.concatenate([[0.0], np.cumsum(cat)])
        smooth = (sums[look:] - sums[:-look]) / look
        self._idle = self._carry_r == 0.0 and not self._held.any() and not self._released.any()
        return 10.0 ** (-smooth / 20.0)
