"""Hydrogen's demo songs, rendered headless, for the tempo-accuracy benchmark.

Debian's ``hydrogen-data`` ships demo songs for the Hydrogen drum machine under
``/usr/share/hydrogen/data/demo_songs/``: drum grooves (rock, a Bo Diddley beat, a jazz ride,
an 808 pattern) with a song tempo (``<song>``'s ``<bpm>``) and no tempo changes. Six play
``GMRockKit``, an acoustic kit sampled at several velocities; one plays ``TR808EmulationKit``.
`load_hydrogen_set` renders each with ``h2cli`` and caches it as 44.1 kHz FLAC, keyed by the
song file's content, Hydrogen's version and the render command.

The set is held out: no constant of the analysis was fitted or chosen on it, and it stays out
of the benchmark's fits and targets. Its material is the one the issue's plain groove
describes, played on other samples than fluidsynth's General MIDI kit.

Run ``python benchmarks/hydrogen_set.py [CACHE_DIR]`` to build the set and print a table.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tempo_set import LabelledItem, default_cache_dir, keep_render, print_items, tool_version  # noqa: E402

HYDROGEN_DEMOS = Path("/usr/share/hydrogen/data/demo_songs")
RENDER_TIMEOUT = 300.0
_RENDER_ARGS = ("-r", "44100", "-b", "16")


def song_tempo(path: Path) -> tuple[float, int]:
    """The song's ``<bpm>`` and its beats a bar (a pattern's ``<size>`` in 48ths of a quarter
    note, the longest pattern's, folded by halves into 2–4)."""
    root = ET.parse(path).getroot()
    bpm_text = root.findtext("bpm")
    if bpm_text is None:
        raise ValueError(f"{path}: no <bpm>")
    sizes = [int(s.text) for s in root.iter("size") if s.text and s.text.strip().isdigit()]
    quarters = max(sizes) // 48 if sizes and max(sizes) % 48 == 0 else 4
    while quarters > 4 and quarters % 2 == 0:
        quarters //= 2
    return float(bpm_text), quarters if quarters >= 2 else 4


@functools.lru_cache(maxsize=1)
def hydrogen_version() -> str:
    """``h2cli --version``'s last line, e.g. ``1.2.0-beta``; "" when h2cli is missing."""
    return tool_version(["h2cli", "--version"], dict(os.environ, HOME=tempfile.gettempdir()), last=True)


def _render_path(song: Path, out_dir: Path) -> Path:
    stamp = Path(song).read_bytes() + hydrogen_version().encode() + " ".join(_RENDER_ARGS).encode()
    return Path(out_dir) / f"{Path(song).stem}-{hashlib.sha1(stamp).hexdigest()[:12]}.flac"


def _unprivileged(folder: str) -> list[str]:
    """The command prefix that runs h2cli as ``nobody`` when we are root (and ``folder``
    writable for it); [] otherwise.

    At start-up h2cli upgrades every installed drum kit in an older format in place and leaves
    a ``drumkit.xml.<date>.bak`` beside it: as root, in ``/usr/share/hydrogen`` (all twelve of
    ``hydrogen-drumkits``' kits, at every render). A benchmark must not rewrite the system's
    packages; as ``nobody`` the upgrade fails harmlessly and the render is the same.
    """
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        return []
    os.chmod(folder, 0o777)
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def render_song(song: Path, out_dir: Path, *, timeout: float = RENDER_TIMEOUT) -> Path:
    """Render ``song`` to ``out_dir/NAME-KEY.flac`` unless it is cached; h2cli runs with a private
    temporary ``HOME`` (it writes its settings there). Raises RuntimeError when it fails."""
    out = _render_path(song, out_dir)
    if out.exists():
        return out
    if not hydrogen_version():
        raise RuntimeError("rendering Hydrogen demos needs h2cli (apt-get install hydrogen)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dancer-h2-") as tmp:
        wav = Path(tmp) / "out.wav"
        command = [*_unprivileged(tmp), "h2cli", "-s", str(song), "-o", str(wav), *_RENDER_ARGS]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                    env=dict(os.environ, HOME=tmp), cwd=tmp)
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"h2cli took over {timeout:.0f} s on {song}") from error
        keep_render(result, wav, out, tool="h2cli", what=song)
    return out


def load_hydrogen_set(cache_dir: Path | None = None, *, root: Path = HYDROGEN_DEMOS,
                      jobs: int = 4) -> list[LabelledItem]:
    """Every ``*.h2song`` under ``root``, rendered into ``cache_dir/hydrogen`` and labelled by
    its ``<bpm>``; ``source="hydrogen"``, ``genre="drums"``. A song that will not parse or
    render is skipped with a warning on stderr; without the demos, returns []. Without h2cli,
    earlier renders in the cache are used. ``jobs`` songs render at once."""
    out_dir = Path(cache_dir or default_cache_dir()) / "hydrogen"
    songs = sorted(Path(root).glob("*.h2song")) if Path(root).is_dir() else []
    if not songs:
        print(f"warning: no Hydrogen demo songs under {root} (apt-get install hydrogen-data)",
              file=sys.stderr)
        return []

    def load(song: Path) -> LabelledItem | None:
        try:
            bpm, meter = song_tempo(song)
            if hydrogen_version():
                path = render_song(song, out_dir)
            else:
                earlier = sorted(out_dir.glob(f"{song.stem}-" + "?" * 12 + ".flac"), key=os.path.getmtime)
                if not earlier:
                    raise RuntimeError(f"{song.name} needs rendering and h2cli is not installed "
                                       "(apt-get install hydrogen)")
                path = earlier[-1]
        except (RuntimeError, OSError, ValueError, ET.ParseError, sf.LibsndfileError) as error:
            print(f"warning: {error}; skipped", file=sys.stderr)
            return None
        return LabelledItem(path, bpm, meter, "drums", "hydrogen", song.stem, sf.info(str(path)).duration)

    # h2cli spends most of a render waiting (~25 s for a 20 s song, little CPU): several at once.
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return [item for item in pool.map(load, songs) if item is not None]


def main(argv: Sequence[str]) -> None:
    cache = Path(argv[0]) if argv else default_cache_dir()
    items = load_hydrogen_set(cache)
    print_items(items, f"{len(items)} Hydrogen demo songs ({hydrogen_version()}) under {cache / 'hydrogen'}")


if __name__ == "__main__":
    main(sys.argv[1:])
