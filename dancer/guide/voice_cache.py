"""Synthesised speech on disk: a cache keyed by voice and text, and a voice that uses it.

Public: `VoiceCache`, `CachedVoice`, `cache_dir`, `speech_seconds`, `CACHE_VERSION`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dancer.guide.voice import Voice

#: Bump when synthesis or post-processing changes what a cached file holds.
CACHE_VERSION = 1


def cache_dir() -> Path:
    """``$DANCER_CACHE/voice`` if set, else the platform's user cache dir for dancer."""
    root = os.environ.get("DANCER_CACHE")
    if root:
        return Path(root) / "voice"
    import platformdirs

    return Path(platformdirs.user_cache_dir("dancer")) / "voice"


class VoiceCache:
    """Synthesised cues as float WAV files named by a hash of version, voice id and text.

    Files are written to a temporary name and renamed, so a reader never sees half a file and
    two sessions may share the cache. Write failures are counted and otherwise ignored: the
    cache only saves time.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir()
        self.write_errors = 0

    @staticmethod
    def key(voice_id: str, text: str) -> str:
        return hashlib.sha256(f"{CACHE_VERSION}\n{voice_id}\n{text}".encode()).hexdigest()

    def path(self, voice_id: str, text: str) -> Path:
        key = self.key(voice_id, text)
        return self.root / key[:2] / f"{key}.wav"

    def load(self, voice_id: str, text: str) -> tuple[np.ndarray, int] | None:
        import soundfile

        path = self.path(voice_id, text)
        try:
            audio, rate = soundfile.read(str(path), dtype="float32")
        except (OSError, RuntimeError, soundfile.LibsndfileError):
            return None
        return np.asarray(audio, dtype=np.float32).reshape(-1), int(rate)

    def seconds(self, voice_id: str, text: str) -> float | None:
        import soundfile

        try:
            return float(soundfile.info(str(self.path(voice_id, text))).duration)
        except (OSError, RuntimeError, soundfile.LibsndfileError):
            return None

    def store(self, voice_id: str, text: str, audio: np.ndarray, sample_rate: int) -> None:
        import soundfile

        path = self.path(voice_id, text)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".wav")
            try:
                with os.fdopen(fd, "wb") as out:
                    soundfile.write(out, audio, sample_rate, format="WAV", subtype="FLOAT")
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except (OSError, RuntimeError):
            self.write_errors += 1


class CachedVoice:
    """``voice`` with `VoiceCache` in front of it."""

    def __init__(self, voice: Voice, cache: VoiceCache | None = None) -> None:
        self.voice = voice
        self.cache = cache if cache is not None else VoiceCache()

    @property
    def id(self) -> str:
        return str(self.voice.id)

    @property
    def name(self) -> str:
        return str(self.voice.name)

    @property
    def speaks(self) -> bool:
        return bool(self.voice.speaks)

    @property
    def fallback_reason(self) -> str | None:
        return getattr(self.voice, "fallback_reason", None) or getattr(self.voice, "reason", None)

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        if not self.voice.speaks:
            return self.voice.synthesize(text)
        hit = self.cache.load(self.voice.id, text)
        if hit is not None:
            return hit
        audio, rate = self.voice.synthesize(text)
        # A chain may have fallen back during synthesis: file the audio under who made it.
        if audio.size and self.voice.speaks:
            self.cache.store(self.voice.id, text, audio, rate)
        return audio, rate


def speech_seconds(voice: Voice) -> Callable[[str], float]:
    """Seconds ``voice`` takes to say a text: the cached audio's length, else an estimate."""
    from dancer.guide.schedule import estimate_speech_seconds

    pace = 1.15 if "espeak" in str(getattr(voice, "id", "")) else 1.0
    cache = voice.cache if isinstance(voice, CachedVoice) else None

    def seconds(text: str) -> float:
        if cache is not None and voice.speaks:
            cached = cache.seconds(voice.id, text)
            if cached is not None:
                return cached
        return pace * estimate_speech_seconds(text)

    return seconds


# --------------------------------------------------------------------------------------------
# Synthesis ahead of playback
