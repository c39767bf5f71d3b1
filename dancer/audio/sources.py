"""Where an entry's audio comes from: its file, streamed, mapped to stereo and resampled.

Public: `SourceReader`, `downmix_matrix`, `READ_FRAMES`.

A source never loads a file whole: it decodes `READ_FRAMES` at a time from the entry's source
position on, so memory stays flat whatever the session's length. Every stage that changes an
entry's samples before the mix (channel map, sample rate) belongs here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

#: Frames decoded per read from a file.
READ_FRAMES = 16384


def downmix_matrix(channels: int) -> np.ndarray | None:
    """(channels, 2) matrix to stereo; None when the file is already mono or stereo.

    5.1 (WAV/SMPTE order L R C LFE Ls Rs) uses the ITU-R BS.775 coefficients with the LFE dropped,
    unnormalised: that keeps the loudness near what BS.1770 measured on the six channels, and the
    limiter catches the peaks. Other layouts send channel 0 left, 1 right and share the rest.
    """
    if channels <= 2:
        return None
    m = np.zeros((channels, 2), dtype=np.float32)
    m[0, 0] = m[1, 1] = 1.0
    if channels == 6:
        m[2] = m[4, 0] = m[5, 1] = math.sqrt(0.5)
    else:
        m[2:] = math.sqrt(0.5 / (channels - 2))
    return m


class SourceReader:
    """One entry's audio from a source position on: decoded, mapped to stereo, resampled, in pieces."""

    def __init__(self, path: str, source_seconds: float, out_rate: int) -> None:
        from dancer.decode import open_stream

        info, self._blocks = open_stream(Path(path), block_frames=READ_FRAMES, start=max(0.0, source_seconds))
        self._mono = info.channels == 1
        self._matrix = downmix_matrix(info.channels)
        self._resampler = None
        if info.sample_rate != out_rate:
            import soxr

            self._resampler = soxr.ResampleStream(info.sample_rate, out_rate, 1 if self._mono else 2,
                                                  dtype="float32", quality="HQ")
        self._buf = np.zeros((0, 1 if self._mono else 2), dtype=np.float32)
        self._at = 0
        self._eof = False

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` frames, ``(n, 1)`` for mono sources or ``(n, 2)``; zeros past the end."""
        while len(self._buf) - self._at < n and not self._eof:
            self._pull()
        out = self._buf[self._at:self._at + n]
        self._at += len(out)
        if len(out) < n:
            out = np.concatenate([out, np.zeros((n - len(out), out.shape[1]), dtype=np.float32)])
        return out

    def _pull(self) -> None:
        block = next(self._blocks, None)
        if block is None:
            self._eof = True
            if self._resampler is None:
                return
            x = self._resampler.resample_chunk(np.zeros_like(self._buf[:0]), last=True)
        else:
            if self._matrix is not None:
                block = block @ self._matrix
            if self._resampler is not None:
                block = self._resampler.resample_chunk(np.ascontiguousarray(block))
            x = block
        if x.ndim == 1:
            x = x[:, None]
        rest = self._buf[self._at:]
        self._buf = x if not len(rest) else np.concatenate([rest, x])
        self._at = 0

    def close(self) -> None:
        close = getattr(self._blocks, "close", None)
        if close is not None:
            close()
