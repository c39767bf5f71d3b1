"""Accompaniment grooves written by musicians, at a known tempo, for the tempo benchmark
(`tempo_accuracy.py`): a held-out set across the styles issue #12's unseen recordings span.

Debian's ``mma`` (Musical MIDI Accompaniment, GPL-2) ships a library of grooves that its
authors wrote by hand for dozens of styles: ballroom (waltz, Viennese waltz, tango, foxtrot,
quickstep, rumba, cha-cha, samba, jive), Latin (bossa nova, mambo, salsa, son, bolero),
rock, pop and soul, ballads, blues and shuffles, country and bluegrass, jazz from ballads to
bebop, jazz and musette waltzes, a 5/4, 12/8 and 6/8 grooves, disco and trance. `GROOVES`
picks one groove of each style; MMA plays it over a plain chord progression at the tempo given
there, and fluidsynth renders the MIDI with the FluidR3 SoundFont (the renderer of the
synthetic banks and OpenMSX).
The sound is synthetic; the patterns, their instruments and their accents are MMA's authors',
which no constant of dancer was fitted or chosen on.

The label is the tempo MMA plays, the rate of its beat unit (the quarter note, but in the
6/8 grooves): that is exactly the render's grid, whatever tempo is chosen in `GROOVES`. As
with OpenMSX and LMMS it is the notated beat, and the felt beat may be half or double it.
Several of MMA's styles are notated at double speed: their documentation says to "double up
the tempo" (quickstep, samba, polka, ska, merengue), and the 6/8 grooves count eighths or a
four-beat grid, not the dotted-quarter beat. Acc2 (which counts a third of the label too) and
the beatless flag do not depend on those conventions. Acc1 does.

Run ``python benchmarks/mma_set.py [CACHE_DIR]`` to render and list the set.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mido
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tempo_set import LabelledItem, default_cache_dir, print_items, render_trimmed  # noqa: E402

MMA_LIBRARY = Path("/usr/share/mma/lib/stdlib")
#: (groove, file in `MMA_LIBRARY`, MMA's beats a minute, its beats a bar, style). The tempos
#: are the styles' usual ones (the ballroom dances at the WDSF's bars per minute times the
#: beats of a bar), doubled where the groove's documentation says to double them.
GROOVES: tuple[tuple[str, str, float, int, str], ...] = (
    # ballroom
    ("Waltz", "waltz", 87, 3, "ballroom"),
    ("VieneseWaltz", "vienesewaltz", 177, 3, "ballroom"),
    ("Tango", "tango", 128, 4, "ballroom"),
    ("Foxtrot", "foxtrot", 116, 4, "ballroom"),
    ("QuickStep", "quickstep", 204, 4, "ballroom"),
    ("Rhumba", "rhumba", 104, 4, "ballroom"),
    ("ChaCha", "chacha", 124, 4, "ballroom"),
    ("Samba", "samba", 200, 4, "ballroom"),
    ("Jive", "jive", 172, 4, "ballroom"),
    # Latin
    ("BossaNova", "bossanova", 132, 4, "latin"),
    ("Mambo", "mambo", 184, 4, "latin"),
    ("Salsa", "salsa", 180, 4, "latin"),
    ("Son", "son", 100, 4, "latin"),
    ("Bolero", "bolero", 100, 4, "latin"),
    ("Beguine", "beguine", 120, 4, "latin"),
    ("Merengue", "merengue", 260, 4, "latin"),
    ("Calypso", "calypso", 120, 4, "latin"),
    # rock, pop, soul, dance
    ("50sRock", "50srock", 160, 4, "rock"),
    ("60sRock", "60srock", 130, 4, "rock"),
    ("8Beat", "8beat", 120, 4, "rock"),
    ("SoftRock", "softrock", 100, 4, "rock"),
    ("FolkRock", "folkrock", 120, 4, "rock"),
    ("Twist", "twist", 160, 4, "rock"),
    ("Ska", "ska", 300, 4, "rock"),
    ("BoneyM", "boneym", 128, 4, "disco"),
    ("Trance", "trance", 138, 4, "electronic"),
    ("R&B", "rb", 100, 4, "soul"),
    ("DSoul", "dsoul", 96, 4, "soul"),
    ("BVFunk", "bvfunk", 100, 4, "soul"),
    # ballads
    ("Ballad", "ballad", 70, 4, "ballad"),
    ("PianoBallad", "pianoballad", 66, 4, "ballad"),
    ("PopBallad", "popballad", 72, 4, "ballad"),
    ("RockBallad", "rockballad", 70, 4, "ballad"),
    ("GuitarBallad", "guitarballad", 68, 4, "ballad"),
    ("FolkBallad", "folkballad", 80, 4, "ballad"),
    ("R&B-Ballad", "rb-ballad", 66, 4, "ballad"),
    # blues
    ("Blues", "blues", 100, 4, "blues"),
    ("SlowBlues", "slowblues", 60, 4, "blues"),
    ("FastBlues", "fastblues", 160, 4, "blues"),
    ("ShuffleBoggie", "shuffleboggie", 130, 4, "blues"),
    ("BoggieWoggie", "boggiewoggie", 150, 4, "blues"),
    # country and folk
    ("CountrySwing", "countryswing", 150, 4, "country"),
    ("CountryWaltz", "countrywaltz", 100, 3, "country"),
    ("SlowCountry", "slowcountry", 72, 4, "country"),
    ("WesternSwing", "westernswing", 170, 4, "country"),
    ("BlueGrass", "bluegrass", 120, 4, "country"),
    ("Zydeco", "zydeco", 130, 4, "country"),
    ("Folk", "folk", 110, 4, "folk"),
    ("Polka", "polka", 240, 4, "folk"),
    # jazz
    ("Swing", "swing", 140, 4, "jazz"),
    ("FastSwing", "fastswing", 220, 4, "jazz"),
    ("Bebop", "bebop", 140, 4, "jazz"),
    ("EasySwing", "easyswing", 110, 4, "jazz"),
    ("SlowJazz", "slowjazz", 70, 4, "jazz"),
    ("MellowJazz", "mellowjazz", 90, 4, "jazz"),
    ("JazzCombo", "jazzcombo", 150, 4, "jazz"),
    ("GypsyJazz", "gypsyjazz", 200, 4, "jazz"),
    ("Charleston", "charleston", 220, 4, "jazz"),
    ("JazzWaltz", "jazzwaltz", 150, 3, "jazz"),
    ("Jazz54", "jazz-54", 170, 5, "jazz"),
    ("FrenchWaltz", "frenchwaltz", 160, 3, "waltz"),
    ("RockWaltz", "rockwaltz", 100, 3, "waltz"),
    # other
    # compound time: 12/8 notated in 4/4 (the quarter is the dotted-quarter beat), 6/8 in six
    # (the label is the eighth, a third of the beat) or in four (the label is half the beat)
    ("Blues128", "blues128", 60, 4, "blues"),
    ("Ballad128", "ballad128", 58, 4, "ballad"),
    ("Rock128", "rock-128", 70, 4, "rock"),
    ("Ballad68", "ballad68", 100, 4, "ballad"),
    ("Blues68", "blues68", 165, 6, "blues"),
    ("68Swing", "68swing", 240, 6, "jazz"),
    ("68March", "68march", 116, 2, "march"),
    ("Spiritual", "spiritual", 100, 4, "gospel"),
    ("ShowTune", "showtune", 120, 4, "broadway"),
)
#: Chords of the progression MMA plays, one a bar, repeated: I–vi–IV–V and ii–V–I turns.
PROGRESSION = ("C", "Am", "F", "G7", "C", "Am", "Dm7", "G7", "Em", "Am", "Dm7", "G7", "C", "F", "G7", "C")
#: At least this long (seconds) and this many bars.
MIN_SECONDS = 45.0
MIN_BARS = 16


def mma_source(groove: str, bpm: float, beats: int) -> str:
    """An MMA file that plays ``groove`` at ``bpm`` over `PROGRESSION` for `MIN_SECONDS` or
    more, with MMA's random humanising seeded so a render is repeatable."""
    bars = max(MIN_BARS, math.ceil(MIN_SECONDS * bpm / 60.0 / beats))
    lines = ["RndSeed 1", f"Tempo {bpm:g}", f"Groove {groove}"]
    lines += [f"{n + 1} {PROGRESSION[n % len(PROGRESSION)]}" for n in range(bars)]
    return "\n".join(lines) + "\n"


def compile_groove(groove: str, bpm: float, beats: int) -> mido.MidiFile:
    """The MIDI file MMA writes for `mma_source`. Raises RuntimeError when MMA fails."""
    with tempfile.TemporaryDirectory() as tmp:
        source, midi = Path(tmp) / "song.mma", Path(tmp) / "song.mid"
        source.write_text(mma_source(groove, bpm, beats))
        # Relative names: MMA writes its input's path into the MIDI file, and a render is
        # cached by the file's bytes.
        result = subprocess.run(["mma", source.name, "-f", midi.name], cwd=tmp, capture_output=True,
                                text=True, timeout=120)
        if result.returncode or not midi.exists():
            output = (result.stdout + result.stderr).strip()
            raise RuntimeError(f"mma failed on groove {groove}: {output[-300:]}")
        return mido.MidiFile(str(midi))


def load_mma_set(cache_dir: Path | None = None, *, root: Path = MMA_LIBRARY,
                 jobs: int = 2) -> list[LabelledItem]:
    """`GROOVES` whose style file is under ``root``, rendered into ``cache_dir/mma`` (default
    `tempo_set.default_cache_dir`); ``source="mma"``, ``genre`` the style. Returns [] without
    ``mma``; a groove that fails is reported and skipped."""
    if shutil.which("mma") is None or not Path(root).is_dir():
        return []
    out_dir = Path(cache_dir or default_cache_dir()) / "mma"
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = [g for g in GROOVES if (Path(root) / f"{g[1]}.mma").exists()]

    def render(job: tuple[str, str, float, int, str]) -> Path | None:
        groove, _, bpm, beats, _ = job
        return render_trimmed(lambda: compile_groove(groove, bpm, beats), out_dir, _name(groove, bpm))

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        paths = list(pool.map(render, wanted))
    return [
        LabelledItem(path, float(bpm), beats, style, "mma", _name(groove, bpm), sf.info(str(path)).duration,
                     note=f"MMA groove {groove}", chart=path.with_name(f"{_name(groove, bpm)}.mid"))
        for (groove, _, bpm, beats, style), path in zip(wanted, paths)
        if path is not None
    ]


def _name(groove: str, bpm: float) -> str:
    return f"{groove.replace('&', 'n')}-{bpm:g}"


def main(argv: Sequence[str]) -> None:
    cache = Path(argv[0]) if argv else default_cache_dir()
    items = load_mma_set(cache)
    print_items(items, f"{len(items)} MMA grooves (apt-get install mma fluidsynth fluid-soundfont-gm)")


if __name__ == "__main__":
    main(sys.argv[1:])
