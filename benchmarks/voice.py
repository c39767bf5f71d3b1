"""Voice benchmark: synthesis speed, cache hits, and cues ready before they are due.

Prints, for Piper (bundled joe voice) and espeak-ng:
- model load time and synthesis speed as a multiple of real time (audio seconds per second);
- the time a cache hit takes, against the synthesis it saves;
- for a 45-minute session: every cue's text synthesised from an empty cache by the background
  renderer while a simulated mixer renders audio in real time, with the slack between the
  moment each cue is ready and the moment it is due (playback starts with synthesis).

    .venv/bin/python benchmarks/voice.py [--minutes 45] [--backend piper|espeak|both]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from plan_factory import grid_track as make_track  # noqa: E402 - synthetic tracks on a beat grid

from dancer.guide.prompts import load_packs
from dancer.guide.schedule import PhaseGuide, schedule_cues
from dancer.guide.voice import EspeakVoice, PiperVoice, VoiceUnavailable
from dancer.guide.voice_cache import CachedVoice, VoiceCache, speech_seconds
from dancer.guide.voice_render import VoiceRenderer
from dancer.model import PhaseSpan, Plan, PlanEntry

SAMPLE_TEXTS = (
    "Five",
    "One!",
    "Breathe in.",
    "And out, slowly, for eight.",
    "Drink some water. Your body has been working hard.",
    "Hip circles. Draw a slow circle with your pelvis, as wide as feels good. Then change direction.",
    "Let the music move you. There are no steps to get right, only what feels good.",
    (
        "Pigeon. From hands and knees, bring one knee forward behind your wrist and slide the other leg "
        "long behind you. Keep the hips level. Stay a few breaths, then switch sides."
    ),
)

ARC = (  # name, share, tempo of its tracks, guide settings
    ("arrive", 0.12, None, {"density": 1.5, "breath": True, "energy": (0.1, 0.3), "impact": "low"}),
    ("warm-up", 0.2, 96, {"density": 1.5, "energy": (0.3, 0.5)}),
    ("groove", 0.33, 120, {"density": 1.2, "energy": (0.5, 0.85)}),
    ("shake", 0.15, 128, {"density": 1.5, "energy": (0.85, 0.7)}),
    (
        "floor",
        0.2,
        70,
        {"density": 1.0, "breath": True, "position": "floor", "energy": (0.2, 0.0), "impact": "low"},
    ),
)


def session_plan(minutes: float) -> tuple[Plan, list[PhaseGuide]]:
    """Four-minute tracks with 8 s crossfades, phases as in the hip-release arc."""
    length = minutes * 60.0
    entries: list[PlanEntry] = []
    spans: list[PhaseSpan] = []
    guides: list[PhaseGuide] = []
    phase_start = 0.0
    cursor = 0.0
    for name, share, bpm, settings in ARC:
        phase_end = phase_start + share * length
        spans.append(PhaseSpan(name, name.title(), phase_start, phase_end))
        guides.append(PhaseGuide(name, name.title(), phase_start, phase_end, tags=(name,), **settings))  # type: ignore[arg-type]
        while cursor < phase_end - 30.0:
            piece = min(240.0, phase_end - cursor + 8.0)
            track = make_track(bpm, piece + 20.0, first_beat=0.2, name=f"t{len(entries)}")
            start = max(0.0, cursor - 8.0) if entries else 0.0
            entries.append(PlanEntry(track, name, start, 1.0, 1.0 + piece, 8.0, 8.0))
            cursor = start + piece
        phase_start = phase_end
    plan = Plan("hip-release", minutes, 0, tuple(entries), tuple(spans))
    return plan, guides


def speed(voice: object) -> tuple[float, float, float]:
    """(load seconds, synthesis × real time, median seconds per text)."""
    started = time.perf_counter()
    voice.synthesize("Ready.")  # type: ignore[attr-defined]
    load = time.perf_counter() - started
    audio_seconds = 0.0
    spent: list[float] = []
    for text in SAMPLE_TEXTS:
        started = time.perf_counter()
        audio, rate = voice.synthesize(text)  # type: ignore[attr-defined]
        spent.append(time.perf_counter() - started)
        audio_seconds += len(audio) / rate
    return load, audio_seconds / sum(spent), statistics.median(spent)


def cache_hit(voice: object, root: Path) -> tuple[float, float]:
    """(median seconds per cache hit, median seconds per miss) over the sample texts."""
    cached = CachedVoice(voice, VoiceCache(root))  # type: ignore[arg-type]
    misses, hits = [], []
    for text in SAMPLE_TEXTS:
        started = time.perf_counter()
        cached.synthesize(text)
        misses.append(time.perf_counter() - started)
    for _ in range(20):
        for text in SAMPLE_TEXTS:
            started = time.perf_counter()
            cached.synthesize(text)
            hits.append(time.perf_counter() - started)
    return statistics.median(hits), statistics.median(misses)


class MixerLoad:
    """Stands in for playback: renders 48 kHz stereo blocks in real time (two sources, a gain ramp,
    a resample)."""

    def __init__(self, block: int = 2048, rate: int = 48000) -> None:
        self.block, self.rate = block, rate
        self.stop = threading.Event()
        self.late_blocks = 0
        self.blocks = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        import soxr

        rng = np.random.default_rng(0)
        a = rng.standard_normal((self.block * 2, 2)).astype(np.float32)
        b = rng.standard_normal((int(self.block * 44100 / self.rate) + 1, 2)).astype(np.float32)
        ramp = np.linspace(0, 1, self.block, dtype=np.float32)[:, None]
        period = self.block / self.rate
        due = time.perf_counter()
        while not self.stop.is_set():
            mixed = a[: self.block] * (1 - ramp) + soxr.resample(b, 44100, self.rate)[: self.block] * ramp
            np.clip(mixed, -1, 1, out=mixed)
            self.blocks += 1
            due += period
            wait = due - time.perf_counter()
            if wait < 0:
                self.late_blocks += 1
            else:
                time.sleep(wait)

    def __enter__(self) -> MixerLoad:  # noqa: PYI034
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def session_readiness(voice: object, minutes: float, root: Path) -> dict[str, float]:
    plan, guides = session_plan(minutes)
    cached = CachedVoice(voice, VoiceCache(root))  # type: ignore[arg-type]
    cues = schedule_cues(
        plan, guides, load_packs(include_user=False), seed=1, speech_seconds=speech_seconds(cached)
    )
    due = {}
    for cue in cues:
        due.setdefault(cue.text, cue.time)
    with MixerLoad() as mixer:
        renderer = VoiceRenderer(cues, cached, sample_rate=48000, cache=False).start()
        renderer.wait(timeout=minutes * 60)
        renderer.close()
    slack = [due[text] - renderer.ready_at[text] for text in due if text in renderer.ready_at]
    ratio = min(due[t] / renderer.ready_at[t] for t in due if t in renderer.ready_at)
    return {
        "cues": len(cues),
        "texts": len(due),
        "errors": len(renderer.errors),
        "synthesis_s": max(renderer.ready_at.values()),
        "late": sum(1 for s in slack if s < 0),
        "min_slack_s": min(slack),
        "first_due_s": min(due.values()),
        "first_ready_s": min(renderer.ready_at.values()),
        "headroom_x": ratio,
        "mixer_late_blocks": mixer.late_blocks,
        "mixer_blocks": mixer.blocks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=45.0)
    parser.add_argument("--backend", choices=("piper", "espeak", "both"), default="both")
    args = parser.parse_args()
    backends = []
    if args.backend in ("piper", "both"):
        backends.append(("Piper (joe, 1 thread)", lambda: PiperVoice()))
    if args.backend in ("espeak", "both"):
        backends.append(("espeak-ng", lambda: EspeakVoice()))
    failed = False
    for label, make in backends:
        voice = make()
        try:
            voice.check()
        except VoiceUnavailable as exc:
            print(f"{label}: skipped ({exc})")
            continue
        load, xrt, per_text = speed(voice)
        print(
            f"{label}: first synthesis (load) {load:.2f} s, {xrt:.1f}x real time, "
            f"median {per_text * 1000:.0f} ms/text"
        )
        with tempfile.TemporaryDirectory() as tmp:
            hit, miss = cache_hit(make(), Path(tmp))
            print(
                f"{label}: cache hit {hit * 1000:.2f} ms/text vs {miss * 1000:.0f} ms to synthesise "
                f"({miss / hit:.0f}x faster)"
            )
        with tempfile.TemporaryDirectory() as tmp:
            r = session_readiness(make(), args.minutes, Path(tmp))
        ok = r["late"] == 0 and r["errors"] == 0
        failed |= not ok
        print(
            f"{label}: {args.minutes:g}-minute session, {r['cues']:.0f} cues / {r['texts']:.0f} texts "
            "from an empty cache "
            f"in {r['synthesis_s']:.1f} s alongside a real-time mixer; late cues {r['late']:.0f}, "
            f"min slack {r['min_slack_s']:.1f} s (first due {r['first_due_s']:.1f} s, "
            f"ready {r['first_ready_s']:.2f} s), "
            f"all ready at up to {r['headroom_x']:.0f}x playback speed; mixer late blocks "
            f"{r['mixer_late_blocks']:.0f}/{r['mixer_blocks']:.0f} -> {'OK' if ok else 'FAIL'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
