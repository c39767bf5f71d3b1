"""Speech made ahead of the cues, in a background thread, for the player to take without waiting.

Public: `VoiceRenderer`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Self

import numpy as np

from dancer.guide.voice import Voice
from dancer.guide.voice_cache import CachedVoice, VoiceCache
from dancer.model import Cue


class VoiceRenderer:
    """Synthesises the texts of ``cues`` in a background thread, earliest cue first.

    The player asks `ready` and `get` without blocking; a text said by several cues is
    synthesised once. `seek` moves the queue on to the cues from a time (after a skip). With
    ``sample_rate`` the audio is resampled (soxr) in the thread, off the playback path.
    A text that failed is reported in ``errors`` and its cue is printed only.

    Parameters
    ----------
    cues
        The session's cues (any order).
    voice
        Any `Voice`; wrapped in a `CachedVoice` unless ``cache`` is False.
    cache
        True for the default `VoiceCache`, a `VoiceCache`, or False for none.
    nice
        Scheduling niceness for the thread on Linux, so playback keeps priority for the CPU.
    """

    def __init__(
        self,
        cues: Sequence[Cue],
        voice: Voice,
        *,
        sample_rate: int | None = None,
        cache: bool | VoiceCache = True,
        nice: int = 5,
    ) -> None:
        if cache is not False and voice.speaks and not isinstance(voice, CachedVoice):
            voice = CachedVoice(voice, cache if isinstance(cache, VoiceCache) else None)
        self.voice = voice
        self.sample_rate = sample_rate
        self.nice = nice
        order = sorted(cues, key=lambda c: c.time)
        self._texts = list(dict.fromkeys(c.text for c in order))
        self._first_time: dict[str, float] = {}
        for cue in order:
            self._first_time.setdefault(cue.text, cue.time)
        self._audio: dict[str, tuple[np.ndarray, int]] = {}
        self.errors: dict[str, str] = {}
        self.ready_at: dict[str, float] = {}
        self._next = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stop = False
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def start(self) -> Self:
        if self._thread is None:
            self._t0 = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="dancer-voice", daemon=True)
            self._thread.start()
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ready(self, cue: Cue) -> bool:
        """True once the cue's text is synthesised (or has failed: then it is printed only)."""
        return cue.text in self._audio or cue.text in self.errors

    def get(self, cue: Cue) -> tuple[np.ndarray, int] | None:
        """The cue's audio (float32 mono, sample rate), or None if not ready, failed or silent."""
        audio = self._audio.get(cue.text)
        if audio is None or audio[0].size == 0:
            return None
        return audio

    @property
    def done(self) -> bool:
        return all(t in self._audio or t in self.errors for t in self._texts)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every text is done (True) or ``timeout`` seconds pass (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wake:
            while not self.done:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._wake.wait(remaining)
        return True

    def seek(self, session_time: float) -> None:
        """Synthesise cues from ``session_time`` on next (earlier ones later, if ever needed)."""
        with self._wake:
            taken = set(self._texts[: self._next])
            pending = [t for t in self._texts if t not in taken]
            ahead = [t for t in pending if self._first_time[t] >= session_time]
            behind = [t for t in pending if self._first_time[t] < session_time]
            done = [t for t in self._texts if t in taken]
            self._texts = done + ahead + behind
            self._next = len(done)
            self._wake.notify_all()

    def close(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        if self.nice and hasattr(os, "setpriority"):
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
            except OSError:
                pass
        while True:
            with self._wake:
                while not self._stop and self._next >= len(self._texts):
                    self._wake.wait()
                if self._stop:
                    return
                text = self._texts[self._next]
                self._next += 1
            try:
                audio, rate = self.voice.synthesize(text)
                if self.sample_rate and rate != self.sample_rate and audio.size:
                    import soxr

                    audio = soxr.resample(audio, rate, self.sample_rate).astype(np.float32)
                    rate = self.sample_rate
                result: tuple[np.ndarray, int] | None = (audio, rate)
                error = None
            except Exception as exc:  # noqa: BLE001 - one bad text must not stop the others
                result, error = None, f"{type(exc).__name__}: {exc}"
            with self._wake:
                if result is not None:
                    self._audio[text] = result
                else:
                    self.errors[text] = error or "unknown error"
                self.ready_at[text] = time.monotonic() - self._t0
                self._wake.notify_all()
