"""Why dancer read the tempo it read: the metrical-level choice of one or more files, term by term.

    python benchmarks/explain_tempo.py FILE[:BPM] [FILE[:BPM] ...]

For each file: the tempo, confidence and pulse confidence dancer reads (`estimate_tempo`, the
whole analysis), then the choice behind it (`dancer.analysis.tempo`, module docstring steps 3
and 4): the onset rate and where it centres `priors.onset_prior`, the comb-salience seeds and
the main pulse, and one row per candidate level with

- ``grid``: ``*`` for the main pulse's octave family, ``3:x`` or ``5:x`` for a level that
  groups three or five of its pulses, ``off`` for another level off it;
- ``run``: ``y`` where the level competes (`levels.competing_levels` with the kick band, and
  not a grouping of three dropped by `levels.drop_groupings_of_three`); ``-`` where it does not;
- the accent's and the kick band's periodicity at the level, the accent and kick terms of
  `tempo.rhythm_terms` (the kick term holds the backbeat term, shown on its own too), the fixed
  and the onset-rate prior, and the score (`tempo.level_scores`);
- ``<`` on the level chosen before the period is refined (`tempo._choose_level`, whose octave
  certainty is printed), and a line on the 3:2 guard (`tempo.pick_level`,
  `tempo.OFF_GRID_MARGIN`) when it held the choice on the grid against a better score off it.

The evidence and the levels are `tempo_accuracy.level_choice`'s, as the benchmark's ablation
reads them.

The table is the onset reading's. A track that reading calls beatless goes on to its pitch
changes (`pulse.melodic_evidence`); when those find a beat, the first line's tempo is theirs.

With ``:BPM`` the labelled tempo is marked too (``=`` on its level; ``x2``, ``x1/2``, ``x3`` and
``x1/3`` on the levels at those multiples of it). The tempo benchmark prints only the outcome
per item (`tempo_accuracy.py -v`); this is the tool for asking why one item came out as it did:
every failure that the closing notes of issue #12 describe was read off a table like this one.
Nothing here is fitted or changes the analysis.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tempo_accuracy import decode_features, level_choice  # noqa: E402

from dancer.analysis import levels as levels_model  # noqa: E402
from dancer.analysis import priors  # noqa: E402
from dancer.analysis import tempo as tempo_model  # noqa: E402


def _mark(bpm: float, truth: float | None) -> str:
    if truth is None:
        return ""
    for ratio, label in ((1.0, "="), (2.0, "x2"), (0.5, "x1/2"), (3.0, "x3"), (1 / 3, "x1/3")):
        if abs(bpm / (truth * ratio) - 1.0) <= 0.04:
            return label
    return ""


def explain(path: Path, truth: float | None = None) -> str:
    """The report for one file, as text."""
    features = decode_features(path)
    result = tempo_model.estimate_tempo(features)
    fr = features.frame_rate
    read = "beatless" if result.beatless or result.bpm is None else f"{result.bpm:.2f} BPM"
    lines = [f"{path.name}: {read}, confidence {result.confidence:.2f}"
             f" (pulse {result.pulse_confidence or 0.0:.2f})"
             + ("" if truth is None else f"; labelled {truth:g} BPM")]
    choice = level_choice(features)
    evidence, seeds, candidates, running = choice.evidence, choice.seeds, choice.candidates, choice.running
    if seeds.size == 0:
        return "\n".join(lines + ["  no periodicity: no seeds, no levels"])
    main = choice.main
    centre = 60.0 * evidence.onset_rate / priors.ONSETS_PER_BEAT
    lines.append(f"  onsets {evidence.onset_rate:.2f}/s (onset prior centred on {centre:.0f} BPM); seeds "
                 + ", ".join(f"{60 * fr / s:.1f}" for s in seeds) + f" BPM; main pulse {60 * fr / main:.1f}")
    if candidates.size == 0:
        return "\n".join(lines + ["  no candidate level in range"])
    scores, _ = tempo_model.level_scores(candidates, evidence, main_pulse=main)
    accent, kick = tempo_model.rhythm_terms(candidates, evidence, main_pulse=main)
    backbeat = (np.zeros(candidates.shape) if evidence.backbeat_acf is None
                else np.where(levels_model.in_octave_family(candidates, main),
                              levels_model.backbeat_term(candidates, evidence.backbeat_acf), 0.0))
    bpm = 60.0 * fr / candidates
    fixed = priors.tempo_prior(bpm)
    speed = priors.onset_prior(bpm, evidence.onset_rate)
    spans = levels_model.odd_spans(candidates, main)
    family = levels_model.in_octave_family(candidates, main)
    competes = np.array([np.any(np.isclose(p, running)) for p in candidates])
    chosen, _, certainty = tempo_model._choose_level(candidates, evidence, main_pulse=main)
    lines.append(f"  chosen {60 * fr / chosen:.1f} BPM before the period is refined; octave certainty "
                 f"{certainty:.2f}")
    grid_scores = scores - speed  # the 3:2 guard leaves the onset prior out (`tempo.pick_level`)
    best = int(np.argmax(np.where(competes, scores, -np.inf))) if competes.any() else None
    if best is not None and not np.isclose(candidates[best], chosen):
        rival = int(np.flatnonzero(np.isclose(candidates, chosen))[0])
        lines.append(f"  3:2 guard: {bpm[best]:.1f} scored best, off the grid, but led the grid's "
                     f"{bpm[rival]:.1f} by {grid_scores[best] - grid_scores[rival]:.2f} without the onset "
                     f"prior, under OFF_GRID_MARGIN {tempo_model.OFF_GRID_MARGIN:g}")
    lines.append("     BPM grid run  acf  kick | accent  kick(bb)  bb | fixed onset | score")
    for i in range(candidates.size):
        grid = "*" if family[i] else (f"{spans[i]:.0f}:x" if spans[i] else "off")
        pointer = " <" if np.isclose(candidates[i], chosen) else ""
        lines.append(
            f"  {bpm[i]:6.1f} {grid:>4} {'y' if competes[i] else '-':>3} "
            f"{tempo_model._interp(evidence.acf, candidates[i:i + 1])[0]:5.2f} "
            f"{tempo_model._interp(evidence.kick_acf, candidates[i:i + 1])[0]:5.2f} | "
            f"{accent[i]:6.2f} {kick[i]:8.2f} {backbeat[i]:5.2f} | {fixed[i]:5.2f} {speed[i]:5.2f} | "
            f"{scores[i]:5.2f}{pointer} {_mark(bpm[i], truth)}".rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="audio file, optionally :BPM (the labelled tempo)")
    args = parser.parse_args(argv)
    status = 0
    for arg in args.files:
        name, _, label = arg.rpartition(":")
        path, truth = (Path(name), float(label)) if name and _is_number(label) else (Path(arg), None)
        if not path.is_file():
            print(f"explain_tempo: {path}: no such file", file=sys.stderr)
            status = 1
            continue
        try:
            print(explain(path, truth) + "\n", flush=True)
        except BrokenPipeError:  # the reader stopped (`| head`): nothing more to say
            return status
        except (RuntimeError, OSError, ValueError) as error:  # soundfile's errors are RuntimeErrors
            print(f"explain_tempo: {path}: cannot be decoded ({error})", file=sys.stderr)
            status = 1
    return status


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
