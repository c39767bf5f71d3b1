"""Analysis results may only change together with `dancer.model.ANALYSER_VERSION`: a library
re-analyses its tracks when the version moves, and keeps stale results when it does not.

`analysis_fingerprint.json` holds a small fingerprint of `analyse_blocks` on a synthesised groove
and the analyser version it belongs to. When an analysis change is meant, bump ANALYSER_VERSION
and update the fingerprint with ``python tests/test_analyser_version.py --update``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from synth import groove

from dancer.analysis import analyse_blocks
from dancer.model import ANALYSER_VERSION

STORED = Path(__file__).with_name("analysis_fingerprint.json")
SR = 22050
HOW = ("bump ANALYSER_VERSION in dancer/model.py and update the fingerprint: "
       "python tests/test_analyser_version.py --update")


def fingerprint() -> dict:
    """What `analyse_blocks` says of a 40 s, 122 BPM four-on-the-floor groove, rounded so that only
    a change of result (not float noise) shows."""
    y = groove(122.0, 40.0, SR)
    blocks = (y[i:i + 8192] for i in range(0, len(y), 8192))
    a = analyse_blocks(blocks, sample_rate=SR, channels=y.shape[1], name="fingerprint")

    def r(x: float | None, nd: int) -> float | None:
        return None if x is None or not math.isfinite(x) else round(float(x), nd)

    return {
        "bpm": r(a.bpm, 1),
        "beatless": a.beatless,
        "meter": a.meter,
        "beats": len(a.beats),
        "first_beats": [r(b, 2) for b in a.beats[:4]],
        "downbeats": len(a.downbeats),
        "phrases": len(a.phrases),
        "loudness_lufs": r(a.loudness_lufs, 1),
        "true_peak_db": r(a.true_peak_db, 1),
        "energy": r(a.energy, 2),
        "energy_curve": [r(e, 2) for e in a.energy_curve],
        "cue_in": r(a.cue_in, 1),
        "cue_out": r(a.cue_out, 1),
    }


def test_analysis_output_changes_only_with_the_analyser_version() -> None:
    stored = json.loads(STORED.read_text(encoding="utf-8"))
    assert stored["analyser_version"] == ANALYSER_VERSION, (
        f"ANALYSER_VERSION is {ANALYSER_VERSION} but {STORED.name} belongs to version "
        f"{stored['analyser_version']}: update the fingerprint "
        "(python tests/test_analyser_version.py --update)"
    )
    now = fingerprint()
    then = stored["fingerprint"]
    changed = {k: (then.get(k), v) for k, v in now.items() if then.get(k) != v}
    assert not changed, f"analysis output changed ({changed}, stored → now): {HOW}"


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: python {sys.argv[0]} --update   (writes {STORED.name} for version "
                 f"{ANALYSER_VERSION})")
    STORED.write_text(
        json.dumps({"analyser_version": ANALYSER_VERSION, "fingerprint": fingerprint()}, indent=1) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {STORED} for analyser version {ANALYSER_VERSION}")
