"""Rendering a timeline to an audio file, exactly as the player would play it.

Public: `render_to_file`, `RENDER_FORMATS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dancer.audio.mixer import Mixer
from dancer.audio.timeline import Timeline
from dancer.errors import DancerError

#: The file formats dancer renders to: suffix → (libsndfile format, subtype).
RENDER_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}


def render_to_file(timeline: Timeline, path: Path, *, progress: Callable[[float, float], None] | None = None,
                   start: float = 0.0, subtype: str | None = None, block_frames: int = 65536) -> float:
    """Render ``timeline`` from ``start`` to its end into ``path`` (.wav, .flac or .ogg); returns seconds.

    16-bit output is TPDF-dithered (seeded, so renders are reproducible). Written block by block
    (libsndfile's Vorbis encoder crashes on one very large write) to a hidden temporary file that
    replaces ``path`` only when complete. ``progress(done_s, total_s)`` is called after each block.
    """
    import soundfile as sf

    path = Path(path)
    fmt = RENDER_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unsupported output format; use one of {', '.join(RENDER_FORMATS)}")
    subtype = subtype or fmt[1]
    sr = timeline.sample_rate
    total = max(0, round(timeline.length * sr) - round(start * sr))
    tmp = path.with_name(f".{path.name}.part")
    rng = np.random.default_rng(0)
    lsb = 1.0 / 32768.0 if subtype == "PCM_16" else 0.0
    try:
        with Mixer(timeline, start=start) as mixer, \
                sf.SoundFile(str(tmp), "w", samplerate=sr, channels=2, format=fmt[0], subtype=subtype) as f:
            done = 0
            while done < total:
                k = min(block_frames, total - done)
                y = mixer.render_block(k)
                if lsb:
                    tpdf = rng.random(y.shape, dtype=np.float32) - rng.random(y.shape, dtype=np.float32)
                    y = y + tpdf * lsb
                f.write(y)
                done += k
                if progress is not None:
                    progress(done / sr, total / sr)
        os.replace(tmp, path)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise DancerError(f"{path}: cannot write the render ({exc})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return total / sr
