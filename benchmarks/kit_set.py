"""Issue #12's plain groove played on other drum kits than dancer's own synthesiser.

The groove: kick on every beat, snare on 2 and 4, closed hat on the off-beat eighths, and (in
the ``groove`` variant) a bass note on every beat; the ``drums`` variant leaves the bass out.
The test suite checks it on `tests/synth.py`'s drums and the synthetic bank on fluidsynth's
General MIDI kit. Here it is sequenced from the samples of Hydrogen's drum kits (Debian's
``hydrogen-data`` and ``hydrogen-drumkits``): acoustic kits sampled from real drums (Tama,
Pearl, Sabian, Paiste...) and electronic ones (an 808 emulation, a breakbeat kit). The "Lessons"
of the first build were plain grooves read at half or double tempo at confidence 0.99; a kit the
analysis never heard is the check that this does not depend on one kit's sound.

Each kit's kick, snare and closed hat are the instruments `KITS` names, at the layer a
velocity of 0.8 selects (0.5 for the hat); the bass is a decaying harmonic tone, a root a bar
(A, F, C, G). Rendered with numpy at 44.1 kHz (30 s an item) and cached as FLAC, keyed by the
samples' bytes. Held out: no constant of the analysis was fitted or chosen on it.

Run ``python benchmarks/kit_set.py [CACHE_DIR]`` to build the set and print a table.
"""

from __future__ import annotations

import hashlib
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tempo_set import LabelledItem, _write, default_cache_dir  # noqa: E402

DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")
#: Kit folder → the names (prefixes, any case) of its kick, snare and closed hat; "acoustic" or
#: "electronic".
KITS = {
    "GMRockKit": ("Kick", "Snare", "Hat Closed", "acoustic"),
    "BJA_Pacific": ("BassDrum", "Snare", "Hi Hat Closed", "acoustic"),
    "ColomboAcousticDrumkit": ("BassDrum", "Snare Rock", "Closed HH", "acoustic"),
    "ForzeeStereo": ("Kick", "Snare (", "Hi-Hat Closed", "acoustic"),
    "The Black Pearl 1.0": ("Pearl Kick", "Pearl Snare", "Sabian Hat Closed", "acoustic"),
    "Millo_MultiLayered2": ("Kick", "Snare Rock", "Closed HH", "acoustic"),
    "TR808EmulationKit": ("Kick Long", "Snare 1", "Closed Hat", "electronic"),
    "ElectricEmpireKit": ("Kick Hard 1", "Snare 1", "Hat Closed Bs", "electronic"),
    "VariBreaks": ("VariBreaks Kick 1", "VariBreaks Snare 1", "VariBreaks Hat 1 Cl", "electronic"),
}
#: Issue #12's tempos for the plain groove, and the fast ones the test suite also checks.
ISSUE_TEMPOS = (66.0, 72.0, 92.0, 98.0, 100.0, 108.0, 124.0, 132.0)
TEMPOS = (*ISSUE_TEMPOS, 140.0, 150.0, 160.0, 170.0)
SECONDS = 30.0
RATE = 44100
#: The bass's root in each bar (Hz): A1, F1, C2, G1.
BASS_ROOTS = (55.0, 43.65, 65.41, 49.0)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return child.text
    return None


def kit_sample(kit: Path, prefix: str, velocity: float) -> Path:
    """The sample file of the first instrument of ``kit/drumkit.xml`` whose name starts with
    ``prefix`` (any case), at the layer whose velocity range holds ``velocity`` (else its
    loudest layer). Raises ValueError when there is none."""
    root = ET.parse(kit / "drumkit.xml").getroot()
    for instrument in root.iter():
        if _local(instrument.tag) != "instrument":
            continue
        name = _child_text(instrument, "name") or ""
        if not name.lower().startswith(prefix.lower()):
            continue
        layers = []
        for layer in instrument.iter():
            if _local(layer.tag) == "layer" and _child_text(layer, "filename"):
                low = float(_child_text(layer, "min") or 0.0)
                high = float(_child_text(layer, "max") or 1.0)
                layers.append((low, high, _child_text(layer, "filename")))
        if not layers:
            continue
        chosen = next((f for low, high, f in layers if low <= velocity <= high), max(layers)[2])
        path = kit / chosen
        if path.exists():
            return path
    raise ValueError(f"{kit.name}: no instrument named {prefix!r} with a sample")


def _load(path: Path) -> np.ndarray:
    import soxr

    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    if sr != RATE:
        y = soxr.resample(y, sr, RATE).astype(np.float32)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return y / peak if peak > 0 else y


def _bass_note(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, 7))
    envelope = np.exp(-t / 0.25) * np.minimum(1.0, t / 0.005)
    return (tone * envelope / 2.5).astype(np.float32)


def render_pattern(parts: list[tuple[np.ndarray, float, str]], bpm: float, *,
                   seconds: float = SECONDS) -> np.ndarray:
    """Each (sample, gain, steps) looped on a sixteenth-note grid at ``bpm`` ("o" at a third of
    the gain), mono float32, peak 0.9."""
    n = int(seconds * RATE)
    out = np.zeros(n + RATE * 4, dtype=np.float32)
    step = 60.0 / bpm / 4
    for sample, gain, steps in parts:
        for k in range(int(seconds / step) + 1):
            hit = steps[k % len(steps)]
            if hit == ".":
                continue
            start = int(round(k * step * RATE))
            if start < n:
                level = gain if hit == "x" else gain / 3
                out[start : start + sample.size] += level * sample[: out.size - start]
    out = out[:n]
    return (0.9 * out / max(1e-9, float(np.max(np.abs(out))))).astype(np.float32)


def render_groove(kick: np.ndarray, snare: np.ndarray, hat: np.ndarray, bpm: float, *,
                  bass: bool, seconds: float = SECONDS) -> np.ndarray:
    """The plain groove at ``bpm`` for ``seconds``, mono float32, peak 0.9 (`render_pattern`);
    the bass plays each bar's root (`BASS_ROOTS`) on every beat of that bar."""
    voices = [(kick, 1.0, "x...x...x...x..."), (snare, 0.8, "....x.......x..."),
              (hat, 0.35, "..x...x...x...x.")]
    if bass:
        bar = "x...x...x...x..."
        voices += [(_bass_note(root, 0.9 * (60.0 / bpm)), 0.6, "." * 16 * k + bar + "." * 16 * (3 - k))
                   for k, root in enumerate(BASS_ROOTS)]
    return render_pattern(voices, bpm, seconds=seconds)


def _kit_renders(out_dir: Path, root: Path, kit_name: str, wanted: Sequence[tuple[str, float]],
                 params: object, renders: Sequence[tuple[str, Callable[[list[np.ndarray]], np.ndarray]]],
                 ) -> list[Path] | None:
    """One FLAC per ``(name, render)`` in ``renders``, cached as ``out_dir/NAME-KEY.flac``: each
    ``render`` takes the samples of ``wanted`` (instrument name prefix, velocity) in kit
    ``kit_name`` under ``root``, loaded once and only if something needs rendering. KEY hashes
    the samples' bytes and ``params``. None, with a warning on stderr, when the kit or one of
    its instruments is missing."""
    kit = Path(root) / kit_name
    try:
        paths = [kit_sample(kit, name, velocity) for name, velocity in wanted]
    except (OSError, ValueError, ET.ParseError) as error:
        print(f"warning: drum kit {kit_name}: {error}; skipped (apt-get install hydrogen-drumkits)",
              file=sys.stderr)
        return None
    key = hashlib.sha1(b"".join(p.read_bytes() for p in paths) + repr(params).encode()).hexdigest()[:12]
    samples: list[np.ndarray] = []
    out = []
    for name, render in renders:
        path = out_dir / f"{name}-{key}.flac"
        if not path.exists():
            samples = samples or [_load(p) for p in paths]
            out_dir.mkdir(parents=True, exist_ok=True)
            _write(path, render(samples)[:, None], RATE, "FLAC")
        out.append(path)
    return out


def load_kit_set(cache_dir: Path | None = None, *, root: Path = DRUMKITS,
                 tempos: Sequence[float] = TEMPOS) -> list[LabelledItem]:
    """The plain groove (with and without its bass) at each of ``tempos`` on each kit in `KITS`
    found under ``root``, cached in ``cache_dir/kits``; ``source="kits"``, ``genre`` the kit's
    kind and variant ("acoustic groove", "electronic drums"...). A kit that is missing or
    lacks an instrument is skipped with a warning on stderr."""
    out_dir = Path(cache_dir or default_cache_dir()) / "kits"
    items = []
    for kit_name, (kick_name, snare_name, hat_name, kind) in KITS.items():
        slug = re.sub(r"[^A-Za-z0-9]+", "-", kit_name).strip("-")
        grooves = [(f"{slug}-{'groove' if bass else 'drums'}-{bpm:g}", bpm, bass)
                   for bpm in tempos for bass in (True, False)]
        paths = _kit_renders(
            out_dir, root, kit_name, [(kick_name, 0.8), (snare_name, 0.8), (hat_name, 0.5)],
            (SECONDS, BASS_ROOTS),
            [(name, lambda samples, bpm=bpm, bass=bass: render_groove(*samples, bpm, bass=bass))
             for name, bpm, bass in grooves])
        for path, (name, bpm, bass) in zip(paths or [], grooves):
            items.append(LabelledItem(path, bpm, 4, f"{kind} {'groove' if bass else 'drums'}", "kits", name,
                                      SECONDS))
    return items


#: Hand-percussion ensembles with no drum kit at all: kit folder, tempos, and per instrument
#: (name prefix in the kit, gain) a 16-step bar of sixteenths ("x" loud, "o" soft, "." rest),
#: or 32 steps for a two-bar figure. The label is the quarter note; a listener may count a son
#: in two, so the octave is open. What they test is that a pulse carried by hands, with no kick,
#: is a beat.
PERCUSSION = {
    "son": ("Gimme A Hand 1.0", (92.0, 104.0, 116.0), {
        ("Clave", 0.9): "x..x..x.....x...x...x..x..x.....",  # 3-2 son clave over two bars
        ("Bongo Hi", 0.7): "x.o.x.o.x.o.x.o.",  # martillo
        ("Bongo Lo", 0.6): "......x.......x.",
        ("Maraca", 0.35): "x.x.x.x.x.x.x.x.",
    }),
    "cajon": ("Gimme A Hand 1.0", (80.0, 96.0, 112.0), {
        ("Cajon Thump", 1.0): "x.....x.x.......",
        ("Cajon Slap", 0.8): "....x..o....x..o",
        ("Tambourine", 0.3): "x.x.x.x.x.x.x.x.",
    }),
    "djembe": ("circAfrique v4", (108.0, 124.0, 140.0), {
        ("Djembe1 Bass", 0.9): "x.......x.......",
        ("Djembe1 Tone", 0.7): "..x.x.....x.x...",
        ("Djembe1 Slap", 0.8): "......x.......x.",
        ("Djembe2 Slap", 0.5): ".x.x.x.x.x.x.x.x",
        ("Kenkeni1 Bell Hit", 0.5): "x...x...x...x...",
        ("Dununba1 Head Hit", 0.8): "x.........x.....",
    }),
}


def load_percussion_set(cache_dir: Path | None = None, *, root: Path = DRUMKITS) -> list[LabelledItem]:
    """The `PERCUSSION` ensembles at their tempos, cached in ``cache_dir/kits``;
    ``source="percussion"``, ``genre`` the ensemble. A missing kit or instrument is skipped
    with a warning on stderr."""
    out_dir = Path(cache_dir or default_cache_dir()) / "kits"
    items = []
    for style, (kit_name, tempos, parts) in PERCUSSION.items():
        gains_steps = [(gain, steps) for (_, gain), steps in parts.items()]
        paths = _kit_renders(
            out_dir, root, kit_name, [(name, 0.8) for name, _ in parts], (SECONDS, parts),
            [(f"{style}-{bpm:g}", lambda samples, bpm=bpm, voices=gains_steps: render_pattern(
                [(y, gain, steps) for y, (gain, steps) in zip(samples, voices)], bpm))
             for bpm in tempos])
        for path, bpm in zip(paths or [], tempos):
            items.append(LabelledItem(path, bpm, 4, style, "percussion", f"{style}-{bpm:g}", SECONDS))
    return items


def main(argv: Sequence[str]) -> None:
    cache = Path(argv[0]) if argv else default_cache_dir()
    items = load_kit_set(cache)
    kits = sorted({i.name.rsplit("-", 2)[0] for i in items})
    print(f"{len(items)} items on {len(kits)} kits under {cache / 'kits'}: {', '.join(kits)}")
    hands = load_percussion_set(cache)
    print(f"{len(hands)} hand-percussion items: {', '.join(i.name for i in hands)}")


if __name__ == "__main__":
    main(sys.argv[1:])
