"""LMMS demo songs, rendered headless, for the tempo-accuracy benchmark.

Debian's ``lmms-common`` ships demo projects under ``/usr/share/lmms/projects/demos/``: produced
electronic music whose true tempo is the ``bpm`` attribute of the project's ``<head>``, the grid
the author set (the felt beat may be half or double it). `load_lmms_set` renders the songs listed
in `LMMS_SONGS` with ``lmms render`` and caches them as 44.1 kHz FLAC, keyed by the project file's
content, the LMMS version and the render command, so a rerun only reads the cache.

Run ``python benchmarks/lmms_set.py [CACHE_DIR]`` to build the set and print a table.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tempo_set import LabelledItem, default_cache_dir, keep_render, print_items, tool_version  # noqa: E402

LMMS_DEMOS = Path("/usr/share/lmms/projects/demos")
#: The demo songs of issue #12 (some live in a subfolder named after the author).
LMMS_SONGS = (
    "Alf42red-Mauiwowi", "EsoXLB-CPU", "Impulslogik-Zen", "Jousboxx-BuzzerBeater", "Momo64-esp",
    "Oglsdl-Dr8v2", "Oglsdl-PpTrip", "Saber-FinalStep", "Settel-InnerRecreation",
    "Shovon-ProgressiveHousePluckDemo", "Skiessi-C64", "Skiessi-Onion", "Socceroos-Progress",
    "StrictProduction-DearJonDoe", "TameAnderson-MakeMe", "Thomasso-AxeFromThe80s",
)
#: Every other song LMMS ships (demos and "shorties"; not the tutorial): a held-out check that no
#: constant was fitted or chosen on. Their ``bpm`` is the author's grid, as for `LMMS_SONGS`.
LMMS_MORE_ROOT = Path("/usr/share/lmms/projects")
LMMS_MORE = (
    "CapDan-ReggaeTry", "CapDan-ReggaetonTry", "CapDan-TwilightArea-OriginalByAlf42red",
    "CapDan-ZeroSumGame-OriginalByZakarra", "Crunk(Demo)", "DirtyLove", "Greshz-CoolSnip",
    "Skiessi-222", "Surrender-Main",
)
RENDER_TIMEOUT = 180.0
#: No oversampling (``-x 1``): LMMS's default 2× doubles the render time (Jousboxx-BuzzerBeater takes
#: 83 s at 1×, over 180 s at 2× beside a second render) and changes nothing a tempo estimate sees.
_RENDER_ARGS = ("-f", "wav", "-s", "44100", "-x", "1", "-i", "sincfastest")


@dataclass(frozen=True)
class LmmsProject:
    """What a project's XML says about its tempo.

    ``bpm`` is the ``<head bpm>``; ``meter`` the beats a bar, from ``timesig_numerator`` (and the
    denominator: quarter notes a bar, folded by halves into 2–4, so 8/4 gives 4 and 1/1 gives 4);
    ``timesig`` the raw signature; ``tempo_automated`` whether an automation pattern or a
    controller drives the tempo (LMMS then writes ``<bpm id=…>`` inside ``<head>``).
    """

    path: Path
    bpm: float
    meter: int
    timesig: str
    tempo_automated: bool
    note: str = ""


def read_project_xml(path: Path) -> bytes:
    """The XML of an ``.mmp`` (plain) or ``.mmpz`` project (Qt ``qCompress``: a 4-byte big-endian
    length, then a zlib stream)."""
    data = Path(path).read_bytes()
    if Path(path).suffix.lower() != ".mmpz":
        return data
    size = struct.unpack(">I", data[:4])[0]
    xml = zlib.decompress(data[4:])
    if len(xml) != size:
        raise ValueError(f"{path}: qCompress header says {size} bytes, zlib gave {len(xml)}")
    return xml


def parse_project(path: Path) -> LmmsProject:
    """Tempo, meter and tempo automation of an LMMS project file."""
    root = ET.fromstring(read_project_xml(path))
    head = root.find("head")
    if head is None:
        raise ValueError(f"{path}: no <head> element")
    bpm_child = head.find("bpm")
    # An automated or controlled model is saved as a child element (id, value) instead of an attribute.
    bpm_text = head.get("bpm") if bpm_child is None else bpm_child.get("value", head.get("bpm"))
    if bpm_text is None:
        raise ValueError(f"{path}: <head> carries no bpm")
    bpm = float(bpm_text)
    num = int(head.get("timesig_numerator", "4") or 4)
    den = int(head.get("timesig_denominator", "4") or 4)
    quarters = num * 4 / den if den else 4.0
    meter = int(quarters) if quarters == int(quarters) and quarters >= 2 else 4
    while meter > 4 and meter % 2 == 0:
        meter //= 2
    notes = []
    if meter != num:
        notes.append(f"time signature {num}/{den} read as {meter}/4")
    automated = False
    if bpm_child is not None:
        model_id = bpm_child.get("id")
        targets = {o.get("id") for pattern in root.iter("automationpattern") for o in pattern.iter("object")}
        by_pattern = model_id is not None and model_id in targets
        by_controller = bpm_child.find("connection") is not None
        automated = by_pattern or by_controller
        if automated:
            how = "an automation pattern" if by_pattern else "a controller"
            notes.append(f"tempo driven by {how}; label is the project bpm {bpm:g}")
    return LmmsProject(Path(path), bpm, meter, f"{num}/{den}", automated, "; ".join(notes))


def find_project(name: str, root: Path = LMMS_DEMOS) -> Path | None:
    """``root/**/NAME.mmpz`` or ``.mmp``."""
    for suffix in (".mmpz", ".mmp"):
        found = sorted(Path(root).rglob(name + suffix))
        if found:
            return found[0]
    return None


@functools.lru_cache(maxsize=1)
def lmms_version() -> str:
    """``lmms --version``'s first line, e.g. ``LMMS 1.2.2``; "" when lmms is missing."""
    return tool_version(["lmms", "--allowroot", "--version"], _lmms_env(tempfile.gettempdir()))


def _lmms_env(home: str) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=home)
    env.pop("DISPLAY", None)
    return env


def render_project(project: Path, out_dir: Path, name: str | None = None, *,
                   timeout: float = RENDER_TIMEOUT) -> Path:
    """Render ``project`` to ``out_dir/NAME-KEY.flac`` (44.1 kHz, 16 bit) unless it is cached.

    KEY hashes the project file, the LMMS version and the render options. LMMS runs headless
    (``QT_QPA_PLATFORM=offscreen``) with a private temporary ``HOME`` for its config, on a copy of
    the project (``lmms render`` without ``-o`` would overwrite its input). Raises RuntimeError when
    LMMS fails twice, times out (``timeout`` seconds) or writes nothing.
    """
    out = _render_path(project, out_dir, name)
    if out.exists():
        return out
    if not lmms_version():
        raise RuntimeError("rendering LMMS demos needs lmms (apt-get install lmms)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dancer-lmms-") as tmp:
        copy = Path(tmp) / Path(project).name
        shutil.copyfile(project, copy)
        wav = Path(tmp) / "out.wav"
        command = ["lmms", "--allowroot", "render", str(copy), "-o", str(wav), *_RENDER_ARGS]
        for _ in range(2):  # LMMS 1.2 now and then crashes (SIGSEGV) near the end; once more
            wav.unlink(missing_ok=True)
            try:
                result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                        env=_lmms_env(tmp), cwd=tmp)
            except subprocess.TimeoutExpired as error:
                raise RuntimeError(f"lmms took over {timeout:.0f} s on {project}") from error
            if result.returncode >= 0:
                break
        keep_render(result, wav, out, tool="lmms", what=project)
    return out


def load_lmms_set(cache_dir: Path | None = None, *, root: Path = LMMS_DEMOS,
                  names: Sequence[str] = LMMS_SONGS, jobs: int = 2) -> list[LabelledItem]:
    """The `LMMS_SONGS` demos under ``root``, rendered into ``cache_dir/lmms`` (default
    `default_cache_dir`) and labelled by their project's ``<head bpm>``; ``source="lmms"``,
    ``genre="electronic"``.

    ``tempo_constant`` is False when the project automates its tempo (``note`` says so); none of
    the listed demos does. A project that is missing, will not parse or will not render is skipped
    with a warning on stderr. Without lmms, earlier renders in the cache are used (whatever LMMS
    version made them); without the demos, returns []. ``jobs`` LMMS processes render at once.
    """
    out_dir = Path(cache_dir or default_cache_dir()) / "lmms"
    if not Path(root).is_dir():
        print(f"warning: no LMMS demos under {root} (apt-get install lmms-common)", file=sys.stderr)
        return []
    projects: list[tuple[str, LmmsProject]] = []
    for name in names:
        path = find_project(name, root)
        if path is None:
            print(f"warning: LMMS demo {name} not found under {root}; skipped", file=sys.stderr)
            continue
        try:
            projects.append((name, parse_project(path)))
        except (ValueError, ET.ParseError, zlib.error, struct.error) as error:
            print(f"warning: cannot read LMMS project {path}: {error}; skipped", file=sys.stderr)

    def render(job: tuple[str, LmmsProject]) -> Path | None:
        name, project = job
        try:
            return render_project(project.path, out_dir, name)
        except (RuntimeError, OSError, sf.LibsndfileError) as error:
            print(f"warning: {error}; skipped", file=sys.stderr)
            return None

    cached = sum(1 for name, p in projects if _render_path(p.path, out_dir, name).exists())
    if not lmms_version():
        # The cache key holds LMMS's version: without lmms, take any earlier render of each song.
        earlier = {name: sorted(out_dir.glob(f"{name}-" + "?" * 12 + ".flac"), key=os.path.getmtime)
                   for name, _ in projects}
        if any(not found for found in earlier.values()):
            print(f"warning: {sum(not f for f in earlier.values())} LMMS demos need rendering and lmms is "
                  "not installed (apt-get install lmms); skipped", file=sys.stderr)
        return [_item(name, project, earlier[name][-1]) for name, project in projects if earlier[name]]
    if cached < len(projects):
        print(f"rendering {len(projects) - cached} LMMS demo songs into {out_dir} ...", flush=True)
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        paths = list(pool.map(render, projects))
    return [_item(name, project, path) for (name, project), path in zip(projects, paths) if path is not None]


def _item(name: str, project: LmmsProject, path: Path) -> LabelledItem:
    return LabelledItem(path, project.bpm, project.meter, "electronic", "lmms", name,
                        sf.info(str(path)).duration, not project.tempo_automated, project.note)


def _render_path(project: Path, out_dir: Path, name: str | None = None) -> Path:
    """The cached render's path: ``NAME-KEY.flac``, KEY from project bytes, LMMS version, options."""
    name = name or Path(project).name.split(".")[0]
    stamp = Path(project).read_bytes() + lmms_version().encode() + " ".join(_RENDER_ARGS).encode()
    return Path(out_dir) / f"{name}-{hashlib.sha1(stamp).hexdigest()[:12]}.flac"


def main(argv: Sequence[str]) -> None:
    import time

    cache = Path(argv[0]) if argv else default_cache_dir()
    started = time.perf_counter()
    items = load_lmms_set(cache)
    took = time.perf_counter() - started
    print_items(items, f"{len(items)} of {len(LMMS_SONGS)} LMMS demos in {took:.1f} s ({lmms_version()}); "
                       f"cache {cache}")


if __name__ == "__main__":
    main(sys.argv[1:])
