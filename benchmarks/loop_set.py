"""Recorded drum and groove loops from Debian's ``sonic-pi-samples``, looped to 30 s.

Sonic Pi ships its loops as short recordings made to repeat seamlessly: the Amen break and
another breakbeat, a tabla, a "safari" hand-percussion groove, industrial and electronic drums,
melodic loops. They are recordings, not renders of a score, and nothing of dancer was fitted or
chosen on them: a held-out source of real recorded drums and percussion.

A loop of ``d`` seconds that holds ``n`` beats is at ``60 n / d`` BPM, so the loop's length fixes
its tempo up to the count of beats. The counts in `LOOPS` are not dancer's: they are how Sonic
Pi's users count them, from the public sample catalogues and tutorials that stretch each loop to
a number of beats (``sample :loop_garzul, beat_stretch: 16`` in Sonic Pi's own tutorial, at
``use_bpm 120``). That count can disagree with a listener by an octave, as any label can, so
Acc2 is the sturdier figure here; a tempo that is no octave of ``60 n / d`` is wrong under any
count.

Left out: ``loop_3d_printer`` (a machine noise with no stated beat count). ``loop_drone_g_97``
is a drone: beatless, for the recall figure. Beat phase and downbeats are not graded here: a
loop's first sample is not known to be its first beat (the two mehackit loops are read half a
beat from their start, the Amen break on it), and a loop of two beats has no bar of its own.

Each item is the loop repeated to `SECONDS` and cut there, written as FLAC under
``CACHE/loops``. Run ``python benchmarks/loop_set.py [CACHE_DIR]`` to build the set and print its
labels.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tempo_set import LabelledItem, _write, default_cache_dir  # noqa: E402

SAMPLES = Path("/usr/share/sonic-pi/samples")
SECONDS = 30.0
#: Loop → (beats in one pass of the loop, genre); None beats: no beat (a drone).
LOOPS: dict[str, tuple[int | None, str]] = {
    "loop_amen": (4, "breakbeat"),
    "loop_amen_full": (16, "breakbeat"),
    "loop_breakbeat": (4, "breakbeat"),
    "loop_compus": (16, "drums"),
    "loop_industrial": (2, "industrial"),
    "loop_mika": (16, "drums"),
    "loop_safari": (16, "percussion"),
    "loop_tabla": (16, "tabla"),
    "loop_perc1": (4, "percussion"),
    "loop_perc2": (4, "percussion"),
    "loop_electric": (4, "electronic"),
    "loop_mehackit1": (4, "electronic"),
    "loop_mehackit2": (4, "electronic"),
    "loop_garzul": (16, "electronic"),
    "loop_weirdo": (8, "glitch"),
    "loop_drone_g_97": (None, "drone"),
}


def load_loop_set(cache_dir: Path | None = None, *, root: Path = SAMPLES) -> list[LabelledItem]:
    """The `LOOPS` found under ``root``, each repeated to `SECONDS` and cached as
    ``cache_dir/loops/NAME.flac``; ``source="loops"``. Empty when ``sonic-pi-samples`` is not
    installed; a loop that is missing or will not decode is skipped with a warning on stderr."""
    out_dir = Path(cache_dir or default_cache_dir()) / "loops"
    items = []
    for name, (beats, genre) in LOOPS.items():
        source = Path(root) / f"{name}.flac"
        if not source.exists():
            continue
        try:
            info = sf.info(str(source))
            path = out_dir / f"{name}.flac"
            if not path.exists() or path.stat().st_mtime < source.stat().st_mtime:
                y, sr = sf.read(str(source), dtype="float32", always_2d=True)
                repeats = int(np.ceil(SECONDS * sr / len(y)))
                out_dir.mkdir(parents=True, exist_ok=True)
                _write(path, np.tile(y, (repeats, 1))[: int(SECONDS * sr)], sr, "FLAC")
        except (OSError, RuntimeError, ValueError) as error:
            print(f"warning: {source}: {error}; skipped", file=sys.stderr)
            continue
        bpm = None if beats is None else 60.0 * beats / info.duration
        items.append(LabelledItem(path, bpm, 4, genre, "loops", name, SECONDS))
    return items


def main(argv: list[str]) -> None:
    items = load_loop_set(Path(argv[0]) if argv else None)
    if not items:
        print(f"no loops under {SAMPLES}: apt-get install sonic-pi-samples")
    for item in items:
        label = "beatless" if item.bpm is None else f"{item.bpm:7.2f} BPM"
        print(f"{item.name:<18} {item.genre:<11} {label}")


if __name__ == "__main__":
    main(sys.argv[1:])
