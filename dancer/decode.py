"""Open any supported audio file and stream float32 blocks.

Public: `AUDIO_EXTENSIONS`, `FFMPEG_EXTENSIONS`, `probe`, `open_stream`, `AudioInfo`.

soundfile (libsndfile 1.2) reads wav, flac, ogg/vorbis/opus, mp3, aiff, au, caf, w64 and rf64
natively; m4a/aac go through an ``ffmpeg`` subprocess when it is installed, and so does the rest
of a native file after a part-way decoding error (a FLAC cut short). Blocks are
``(frames, channels)`` float32 at the file's own sample rate: resampling is the consumer's business.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dancer.errors import DecodeError
from dancer.paths import display_path

#: What libsndfile reads by itself. ``.au``/``.snd`` (Sun/NeXT) is how the GTZAN genre collection
#: and many older sound libraries ship; CAF, W64 and RF64 are what recorders write past 4 GB.
SOUNDFILE_EXTENSIONS = frozenset({".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                                  ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64"})
FFMPEG_EXTENSIONS = frozenset({".m4a", ".aac", ".mp4", ".alac", ".wma"})
AUDIO_EXTENSIONS = SOUNDFILE_EXTENSIONS | FFMPEG_EXTENSIONS

BLOCK_FRAMES = 65536
#: Longest file we agree to analyse; a larger declared length is a corrupt or hostile header.
MAX_SECONDS = 12 * 3600
MIN_RATE, MAX_RATE = 4000, 384000
MAX_CHANNELS = 32


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _check_info(path: Path, info: AudioInfo) -> AudioInfo:
    if not MIN_RATE <= info.sample_rate <= MAX_RATE:
        raise DecodeError(f"{display_path(path)}: unsupported sample rate {info.sample_rate} Hz")
    if not 1 <= info.channels <= MAX_CHANNELS:
        raise DecodeError(f"{display_path(path)}: unsupported channel count {info.channels}")
    if info.frames > MAX_SECONDS * info.sample_rate:
        raise DecodeError(f"{display_path(path)}: declares {info.duration / 3600:.0f} hours of audio; the "
                          f"header looks corrupt")
    return info


def probe(path: Path) -> AudioInfo:
    """Sample rate, channels and length of a file without decoding it.

    Raises `DecodeError` with a message naming the file for anything that is not readable audio.
    """
    path = Path(path)
    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        return _check_info(path, _ffprobe(path))
    import soundfile as sf

    try:
        i = sf.info(_native(path))
    except (RuntimeError, sf.LibsndfileError, OSError, ValueError) as exc:
        raise DecodeError(f"{display_path(path)}: {_unreadable(path, _reason(exc))}") from None
    frames = i.frames if i.frames and i.frames > 0 else 0
    return _check_info(path, AudioInfo(int(i.samplerate), int(i.channels), int(frames)))


def open_stream(path: Path, *, block_frames: int = BLOCK_FRAMES,
                start: float = 0.0) -> tuple[AudioInfo, Iterator]:
    """Return the file's `AudioInfo` and an iterator of float32 ``(frames, channels)`` blocks.

    ``start`` seeks (seconds) before the first block. Memory stays at one block whatever the
    file's length. Decoding errors part-way raise `DecodeError`.
    """
    path = Path(path)
    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        info = probe(path)
        return info, _ffmpeg_blocks(path, info, block_frames, start)
    import soundfile as sf

    try:
        f = sf.SoundFile(_native(path))
    except (RuntimeError, sf.LibsndfileError, OSError, ValueError) as exc:
        raise DecodeError(f"{display_path(path)}: {_unreadable(path, _reason(exc))}") from None
    info = AudioInfo(int(f.samplerate), int(f.channels), max(int(f.frames), 0))
    try:
        _check_info(path, info)
    except DecodeError:
        f.close()
        raise
    return info, _soundfile_blocks(path, f, block_frames, start)


def _stopped_early(position: int, declared: int, rate: int) -> bool:
    """Whether a stream that ended at frame ``position`` stopped well short of the ``declared``
    length: more than a second and more than 1 % (an MP3's declared length is an estimate)."""
    short = declared - position
    return short > rate and short > 0.01 * declared


def _soundfile_blocks(path: Path, f, block_frames: int, start: float) -> Iterator:
    import soundfile as sf

    with f:
        rate, channels = int(f.samplerate), int(f.channels)
        position = 0
        try:
            if start > 0 and f.seekable():
                position = f.seek(min(int(round(start * f.samplerate)), f.frames))
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=True)
                if not len(block):
                    break
                position += len(block)
                yield block
            reason = None
        except (RuntimeError, sf.LibsndfileError, OSError, ValueError) as exc:
            reason = _reason(exc)
        declared = int(f.frames)
    if reason is None:
        # At a damaged MP3 frame libsndfile (libmpg123) just ends the stream, with no error,
        # seconds or minutes before the end: ffmpeg resyncs and plays on, as a player does.
        if _stopped_early(position, declared, rate) and ffmpeg_available():
            yield from _ffmpeg_blocks(path, AudioInfo(rate, channels, 0), block_frames, position / rate)
        return
    # libsndfile gives up at the first damaged or missing frame: a FLAC whose copy or download
    # was cut short "loses sync" and its whole block is lost. ffmpeg decodes what is there, so
    # the stream goes on from the last good frame, as a music player would play the file.
    if not ffmpeg_available():
        raise DecodeError(
            f"{display_path(path)}: decoding failed part-way ({reason}); "
            "the file looks cut short or damaged: "
            "replace it, or install ffmpeg (apt-get install ffmpeg) to read what is there"
        )
    yield from _ffmpeg_blocks(path, AudioInfo(rate, channels, 0), block_frames, position / rate)


def _ffprobe(path: Path) -> AudioInfo:
    if not ffmpeg_available():
        raise DecodeError(f"{display_path(path)}: {path.suffix} needs ffmpeg; install it (apt-get install "
                          f"ffmpeg) and rescan")
    try:
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
             "stream=sample_rate,channels,duration:format=duration", "-of", "json", str(path)],
            capture_output=True, timeout=30, check=True,
        ).stdout
        data = json.loads(out)
        stream = data["streams"][0]
        duration = float(stream.get("duration") or data.get("format", {}).get("duration") or 0.0)
        rate = int(stream["sample_rate"])
        return AudioInfo(rate, int(stream["channels"]), int(duration * rate))
    except (subprocess.SubprocessError, KeyError, IndexError, ValueError, OSError):
        raise DecodeError(f"{display_path(path)}: {_unreadable(path, None)}") from None


def _ffmpeg_blocks(path: Path, info: AudioInfo, block_frames: int, start: float) -> Iterator:
    import numpy as np

    cmd = ["ffmpeg", "-v", "error", "-nostdin"]
    if start > 0:
        cmd += ["-ss", f"{start:.6f}"]
    cmd += ["-i", str(path), "-map", "a:0", "-ac", str(info.channels), "-ar", str(info.sample_rate),
            "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    frame_bytes = 4 * info.channels
    try:
        while True:
            chunk = proc.stdout.read(block_frames * frame_bytes)
            usable = len(chunk) - len(chunk) % frame_bytes
            if usable:
                yield np.frombuffer(chunk[:usable], dtype="<f4").reshape(-1, info.channels).astype(np.float32)
            if len(chunk) < block_frames * frame_bytes:
                break
        if proc.wait(timeout=30) != 0:
            err = proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
            raise DecodeError(f"{display_path(path)}: ffmpeg failed ({err[-1] if err else 'unknown error'})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _native(path: Path) -> bytes:
    """The path as bytes: soundfile encodes str paths as UTF-8 and fails on other names."""
    return os.fsencode(path)


#: What libsndfile says when it finds no audio frame in a file (an MP3 with only a header or a
#: tag): true of a pipe, misleading for a regular file that is there.
_NOT_A_FILE = "does not exist or is not a regular file"


def _unreadable(path: Path, decoder_reason: str | None) -> str:
    """Why a file would not open: the OS's reason when there is one (libsndfile says only
    "System error" for a permission problem), else the decoder's."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block us here
        try:
            os.read(fd, 1)
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"cannot read it ({exc.strerror or type(exc).__name__})"
    if decoder_reason is None:
        return "ffmpeg cannot read it as audio"
    if regular and _NOT_A_FILE in decoder_reason:
        decoder_reason = "no audio frames found in it"
    return f"not a readable audio file ({decoder_reason})"


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    # libsndfile prefixes its messages with the path we already name.
    if "': " in text:
        text = text.split("': ", 1)[1]
    return text.rstrip(".")
