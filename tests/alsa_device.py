"""A real output device for playback tests and benchmarks, with no sound card.

`alsa_device` writes an ``.asoundrc`` whose default PCM is ALSA's ``file`` plugin piped into
`alsa_pacer.py`, which consumes the audio at a device's pace (optionally faster) and keeps
what arrived. PortAudio, and so sounddevice and dancer's player, see an ordinary ALSA device;
the capture is exactly what was played. Used by ``tests/audio/test_player.py``,
``tests/session/test_session.py``, ``benchmarks/cli.py`` and ``benchmarks/playback.py``.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import sys
from pathlib import Path

import pytest
from synth import SR

PACER = Path(__file__).with_name("alsa_pacer.py")
#: Bytes per stereo frame of each ALSA sample format the device can be set to.
FRAME_BYTES = {"FLOAT_LE": 8, "S16_LE": 4}


def alsa_device(
    home: Path,
    *,
    rate: int,
    fmt: str = "FLOAT_LE",
    pace: float = 1.0,
    limit_frames: int = 0,
    stamp: bool = False,
    late_after: float | None = None,
    keep_audio: bool = True,
) -> tuple[dict, Path]:
    """Make ``home`` a HOME whose default ALSA device plays into a capture file.

    Parameters
    ----------
    rate, fmt : int, str
        The device's stereo format (``FLOAT_LE`` or ``S16_LE``) and sample rate; ALSA's ``plug``
        converts whatever the stream opens.
    pace : float
        How much faster than real time the device consumes audio (tests use 4 to stay short).
    limit_frames : int
        Stop reading after this many frames, which breaks the pipe like a device that vanished.
    stamp : bool
        Also write ``capture.times``: the byte offset and wall time of each chunk as it arrived.
    late_after : float, optional
        Also keep delivery statistics: ``capture.first`` (monotonic time of the first non-silent
        chunk, written at once) and, at the end, ``capture.json`` with bytes read, ``first``,
        ``max_wait`` (longest wait for audio that was due) and ``late`` (waits over ``late_after``
        seconds).
    keep_audio : bool
        False discards the audio (long benchmark runs) and keeps only the side files.

    Returns
    -------
    env : dict
        ``os.environ`` with HOME pointing at ``home`` (and no ALSA_CONFIG_PATH override).
    capture : Path
        Where the raw interleaved audio lands.
    """
    if fmt not in FRAME_BYTES:
        raise ValueError(f"fmt must be one of {', '.join(FRAME_BYTES)}")
    home.mkdir(parents=True, exist_ok=True)
    pacer = home / "pacer.py"
    shutil.copyfile(PACER, pacer)
    capture = home / "capture.raw"
    frame_bytes = FRAME_BYTES[fmt]
    command = [sys.executable, "-I", "-S", str(pacer), str(capture), f"{rate * frame_bytes * pace:g}"]
    if limit_frames:
        command += ["--limit", str(limit_frames * frame_bytes)]
    if stamp:
        command.append("--times")
    if late_after is not None:
        command += ["--late-after", f"{late_after:g}"]
    if not keep_audio:
        command.append("--discard")
    (home / ".asoundrc").write_text(
        f'pcm.!default {{ type plug; slave {{ pcm "capture"; format {fmt}; rate {rate}; channels 2 }} }}\n'
        f'pcm.capture {{ type file; slave.pcm "null"; file "|{" ".join(command)}"; format "raw" }}\n'
    )
    env = {**os.environ, "HOME": str(home)}
    env.pop("ALSA_CONFIG_PATH", None)
    return env, capture


needs_portaudio = pytest.mark.skipif(ctypes.util.find_library("portaudio") is None,
                                     reason="libportaudio2 is not installed")


#: How much faster than real time the fake device consumes audio (keeps the tests short).
PACE = 4


def alsa_home(tmp_path: Path, *, limit_frames: int = 0) -> tuple[dict, Path]:
    """An environment whose default ALSA device captures float32 stereo at ``SR`` (`alsa_device`),
    ``PACE`` times faster than real time; it vanishes after ``limit_frames`` when given."""
    return alsa_device(tmp_path / "alsa-home", rate=SR, pace=PACE, limit_frames=limit_frames)
