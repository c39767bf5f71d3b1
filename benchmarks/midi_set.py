"""Human-composed MIDI songs with a known tempo, for the tempo benchmark (`tempo_accuracy.py`).

Debian's ``openttd-openmsx`` (GPL-2) is a soundtrack of 31 MIDI songs written by people: blues,
boogie, swing, ragtime, marabi, country, rock, funk, pop and film-like cues, in 4/4, 3/4, 5/4 and
6/4, most with a GM drum part. They are rendered here by fluidsynth with the FluidR3 SoundFont
(the same renderer as the synthetic banks), so the sound is synthetic, but the rhythms,
arrangements and tempos were chosen by their composers: a source whose metrical structure dancer
has never been fitted to.

The label is the MIDI file's tempo, the quarter-note rate its composer set. As with LMMS projects
that is the grid, and the felt beat may be half or double it (a cut-time march, a half-time
ballad): report Acc1 and Acc2. Songs whose tempo changes for more than a tenth of their length
are left out (`MAX_OTHER_TEMPO_SHARE`).

The quarter note is the beat only if the score recurs at it. Two songs written at 96 ticks a
quarter, ``busy_schedule`` and ``the_fast_route``, place their notes on a 72-tick pulse:
their onsets recur at three sixteenths (0.84 and 0.92 of them, `onset_recurrence`) and at
the quarter only as often as any other sixteenth lag would let them (0.40, 0.47), and their
renders' periodicity is the same (nothing recurs at the labelled period). Their MIDI tempo
(134, 128) is in neither octave of any beat a listener could tap. For such a song the label
is the rate of that pulse (`score_pulse`, 178.7 and 170.7 BPM); every other song keeps its
quarter-note rate. This reads the label from the score, not from the audio or from dancer.

Run ``python benchmarks/midi_set.py [CACHE_DIR]`` to render and list the set.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mido
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tempo_set import LabelledItem, default_cache_dir, print_items, render_trimmed  # noqa: E402

OPENMSX_ROOT = Path("/usr/share/games/openttd/baseset/openmsx")
#: A song is kept when tempos other than its dominant one last at most this share of it.
MAX_OTHER_TEMPO_SHARE = 0.10
#: The score's pulse is three sixteenths, not the quarter, when its onsets recur at three
#: sixteenths and at a dotted quarter both by this much more than at the quarter (`score_pulse`).
OFF_QUARTER_MARGIN = 0.2


def tempo_shares(midi: mido.MidiFile) -> tuple[dict[float, float], int]:
    """({bpm: seconds at that tempo}, meter at the start) of a MIDI file up to its last event.

    A file without a tempo event plays at MIDI's default, 120 BPM.
    """
    changes: dict[int, int] = {0: 500_000}
    meter, end = 4, 0
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                changes[tick] = msg.tempo
            elif msg.type == "time_signature" and tick == 0:
                meter = msg.numerator
        end = max(end, tick)
    ticks = sorted(changes)
    seconds: dict[float, float] = {}
    for start, stop in zip(ticks, [*ticks[1:], max(end, ticks[-1])]):
        bpm = round(60e6 / changes[start], 2)
        seconds[bpm] = seconds.get(bpm, 0.0) + (stop - start) * changes[start] / midi.ticks_per_beat / 1e6
    return seconds, meter


def onset_recurrence(midi: mido.MidiFile, lags: Sequence[int]) -> list[float]:
    """Share of the ticks holding a note onset (any channel) that hold one again ``lag``
    ticks later, for each lag: how strongly the score itself recurs at that period."""
    ticks: set[int] = set()
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                ticks.add(tick)
    if not ticks:
        return [0.0 for _ in lags]
    return [sum(t + lag in ticks for t in ticks) / len(ticks) for lag in lags]


def score_pulse(midi: mido.MidiFile) -> float:
    """The score's beat in quarter notes: 1.0, or 0.75 when its onsets recur at three
    sixteenths and at a dotted quarter by `OFF_QUARTER_MARGIN` more than at the quarter (a
    72-tick pulse written at 96 ticks a quarter; module docstring)."""
    tpb = midi.ticks_per_beat
    if tpb % 4:
        return 1.0
    quarter, three_sixteenths, dotted = onset_recurrence(midi, (tpb, 3 * tpb // 4, 3 * tpb // 2))
    return 0.75 if min(three_sixteenths, dotted) >= quarter + OFF_QUARTER_MARGIN else 1.0


def load_openmsx_set(cache_dir: Path | None = None, *, root: Path = OPENMSX_ROOT,
                     jobs: int = 2) -> list[LabelledItem]:
    """The OpenMSX songs under ``root``, rendered into ``cache_dir/openmsx`` (default
    `tempo_set.default_cache_dir`); ``source="openmsx"``. Returns [] without the package."""
    files = sorted(Path(root).glob("*.mid"))
    if not files:
        return []
    out_dir = Path(cache_dir or default_cache_dir()) / "openmsx"
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen: list[tuple[str, mido.MidiFile, float, int, bool]] = []
    for path in files:
        try:
            midi = mido.MidiFile(str(path))
        except (OSError, ValueError, EOFError) as error:
            print(f"warning: cannot read {path}: {error}; skipped", file=sys.stderr)
            continue
        seconds, meter = tempo_shares(midi)
        total = sum(seconds.values())
        bpm = max(seconds, key=seconds.get)
        if total <= 0 or 1 - seconds[bpm] / total > MAX_OTHER_TEMPO_SHARE:
            continue
        pulse = score_pulse(midi)
        if pulse != 1.0:
            print(f"note: {path.stem} recurs at {pulse:g} of its quarter note; "
                  f"labelled {bpm / pulse:.2f} BPM, not its MIDI tempo {bpm:g}", file=sys.stderr)
        chosen.append((path.stem, midi, round(bpm / pulse, 2), meter, pulse == 1.0))

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        paths = list(pool.map(lambda job: render_trimmed(job[1], out_dir, job[0]), chosen))
    # The MIDI file's tempo map places the beats (`tempo_set.chart_beats`) where the label is its
    # quarter note.
    return [
        LabelledItem(path, bpm, meter, "midi", "openmsx", name, sf.info(str(path)).duration,
                     chart=path.with_name(f"{name}.mid") if quarter else None)
        for (name, _, bpm, meter, quarter), path in zip(chosen, paths)
        if path is not None
    ]


def main(argv: Sequence[str]) -> None:
    cache = Path(argv[0]) if argv else default_cache_dir()
    items = load_openmsx_set(cache)
    print_items(items, f"{len(items)} OpenMSX songs "
                       "(apt-get install openttd-openmsx fluidsynth fluid-soundfont-gm)")


if __name__ == "__main__":
    main(sys.argv[1:])
