"""Synthetic analysed tracks (no audio behind them, or a tiny WAV from `synth`) for the planner,
playlist, preview and scheduler tests: beats on a grid, downbeats every bar, phrases every 8
beats from the first downbeat, a flat energy curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from synth import write_wav

from dancer.model import ENERGY_STEP, Analysis, Tags, Track


def make_analysis(
    *,
    bpm: float | None = 120.0,
    duration: float = 240.0,
    energy: float = 0.5,
    beatless: bool = False,
    confidence: float = 0.9,
    cue_in: float = 0.4,
    first_beat: float = 0.1,
) -> Analysis:
    cue_out = duration - 1.0
    if beatless or bpm is None:
        bpm, beats = None, ()
        beatless = True
    else:
        period = 60.0 / bpm
        start = cue_in + first_beat
        beats = tuple(round(start + k * period, 6) for k in range(int((cue_out - start) / period) + 1))
    return Analysis(
        duration=duration,
        sample_rate=44100,
        channels=2,
        bpm=bpm,
        bpm_confidence=0.0 if beatless else confidence,
        beatless=beatless,
        beats=beats,
        downbeats=beats[::4],
        phrases=beats[::8],
        meter=4,
        loudness_lufs=-14.0,
        peak_db=-1.0,
        true_peak_db=-0.8,
        energy=energy,
        energy_curve=tuple(energy for _ in range(int(duration / ENERGY_STEP))),
        cue_in=cue_in,
        cue_out=cue_out,
    )


def make_track(path: str, *, artist: str = "", title: str | None = None, genre: str = "", **kw) -> Track:
    title = title if title is not None else path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return Track(
        path=path,
        size=1000,
        mtime=0.0,
        tags=Tags(title=title, artist=artist, genre=genre),
        analysis=make_analysis(**kw),
    )


def make_library(
    n: int, *, seed: int = 0, folder: str = "/music", beatless_share: float = 0.15
) -> list[Track]:
    """``n`` varied tracks: tempi 60-140 BPM, energies across 0..1 (calm tracks slower), 2.5-7 min,
    some beatless, about three tracks per artist."""
    rng = np.random.default_rng(seed)
    tracks = []
    for k in range(n):
        energy = float(rng.uniform(0.02, 0.98))
        beatless = bool(rng.random() < beatless_share * (1.5 - energy))
        bpm = float(np.clip(rng.normal(70 + 70 * energy, 12), 55, 150))
        duration = float(rng.uniform(150, 420))
        artist = f"Artist {k // 3:03d}"
        tracks.append(
            make_track(
                f"{folder}/{artist}/track{k:04d}.flac",
                artist=artist,
                title=f"Track {k}",
                genre=["ambient", "house", "afro", "downtempo"][k % 4],
                bpm=None if beatless else round(bpm, 2),
                beatless=beatless,
                duration=round(duration, 1),
                energy=round(energy, 3),
                confidence=float(rng.uniform(0.5, 1.0)),
            )
        )
    return tracks


def library_on_disk(folder: Path, n: int, *, seed: int = 0) -> list[Track]:
    """`make_library` under ``folder`` with a real (tiny) audio file behind every track."""
    tracks = make_library(n, seed=seed, folder=str(folder))
    for track in tracks:
        write_wav(Path(track.path))
    return tracks


def grid_track(
    bpm: float | None, duration: float, *, first_beat: float = 0.23, meter: int = 4, name: str = "t"
) -> Track:
    beats: tuple[float, ...] = ()
    if bpm is not None:
        beats = tuple(float(b) for b in np.arange(first_beat, duration, 60.0 / bpm))
    analysis = Analysis(
        duration=duration,
        sample_rate=44100,
        channels=2,
        bpm=bpm,
        bpm_confidence=0.9 if bpm else 0.0,
        beatless=bpm is None,
        beats=beats,
        downbeats=beats[::meter],
        phrases=beats[:: 2 * meter],
        meter=meter,
        loudness_lufs=-14.0,
        peak_db=-1.0,
        true_peak_db=-1.0,
        energy=0.5,
        energy_curve=(),
        cue_in=0.0,
        cue_out=duration,
    )
    return Track(path=f"/music/{name}.flac", size=1, mtime=0.0, tags=Tags(title=name), analysis=analysis)
