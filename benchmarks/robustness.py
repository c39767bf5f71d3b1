"""Robustness figures (issue #8): hostile audio, kills, concurrent scans, repair, parser fuzzing.

Prints hostile inputs tried; crashes (a traceback or non-zero exit of the scan process, or a
worker crash, counted even when the scan reported it); hangs (the scan overrunning its time
limit, or a file stopped at its per-file limit); files lost (good files not analysed); kill
cycles survived (library opens, integrity ok, no worker outlives the killed scan, and the next
scan completes with no duplicates); atomic writes killed mid-write that left the previous file
whole; and fuzz examples per parser. Targets: 0 crashes, 0 hangs, 0 losses, every kill survived.

    python benchmarks/robustness.py [--seed N] [--kills N] [--jobs N] [--fuzz-examples N]

Exits 1 when a target is missed. The corpus, drivers and judgement are the ones
`tests/robustness/` asserts on (``hostile_corpus``, ``hostile_scan``, ``kills``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "robustness")]

from hostile_corpus import build_corpus  # noqa: E402
from hostile_scan import (  # noqa: E402
    duplicate_keys,
    integrity,
    judge,
    library_rows,
    reads_can_be_denied,
    run_hostile_scan,
)
from kills import kill_atomic_writes, kill_cycles, make_music  # noqa: E402
from parser_fuzz import ACCEPTED, CLEAR, FUZZERS, FuzzReport  # noqa: E402

#: Opens (creating and migrating) the library named on the command line, in a fresh process.
CREATE = "import sys; from dancer.library.store import Library; Library.open(sys.argv[1]).close()"

#: Parser name → a fuzzer ``(examples, seed) -> FuzzReport``: examples run, outcomes (clear errors,
#: accepted) and failures (an input that raised anything but a one-line `DancerError` naming the file,
#: or hung). None until the parser lands: its line prints "pending". The fuzzers are the hypothesis
#: strategies and judges of tests/robustness/parser_fuzz.py, which test_fuzz_parsers.py runs too.
PARSER_FUZZERS: dict[str, Callable[[int, int], FuzzReport] | None] = {
    "playlist (M3U8)": FUZZERS["playlist (M3U8)"],
    "arcs (TOML)": FUZZERS["arcs (TOML)"],
    "prompt packs (TOML)": FUZZERS["prompt packs (TOML)"],
    "config (TOML)": FUZZERS["config (TOML)"],
}


def line(label: str, value: str) -> None:
    print(f"{label:<28} {value}", flush=True)


def hostile(work: Path, seed: int, jobs: int) -> tuple[int, int, int]:
    deny, why = reads_can_be_denied()
    root = work / "corpus"
    specimens = build_corpus(root, seed=seed, deny_reads=deny)
    library = work / "hostile.sqlite3"
    run = run_hostile_scan(root, library, jobs=jobs, floor=20.0, timeout=300.0, deny_reads=deny)
    v = judge(root, specimens, run, library)
    for locked in ("locked-folder", "unreadable.wav"):
        os.chmod(root / "fs" / locked, 0o700)
    line("hostile inputs tried", f"{v.tried} ({v.analysed} analysed, {v.failed} failed and reported, "
                                 f"{v.skipped} skipped)")
    line("crashes", str(len(v.crashes)))
    line("hangs", str(len(v.hangs)))
    line("files lost", str(len(v.lost)))
    line("unreported / misjudged", f"{len(v.unreported)} / {len(v.misjudged)}")
    if run.report:
        line("hostile scan", f"{run.wall:.1f} s wall, worker peak {run.report['worker_mb']:.0f} MB, "
                             f"scan process peak {run.report['self_mb']:.0f} MB")
    if not deny:
        line("unreadable files", f"not exercised: {why}")
    for problem in v.crashes + v.hangs + v.lost + v.unreported + v.misjudged:
        print(f"    {problem}")
    return len(v.crashes), len(v.hangs), len(v.lost) + len(v.unreported) + len(v.misjudged)


def kills(work: Path, seed: int, cycles: int, jobs: int) -> tuple[bool, bool]:
    music = work / "music"
    files = make_music(music)
    library = work / "killed.sqlite3"
    results = kill_cycles(music, library, cycles=cycles, seed=seed, jobs=jobs)
    survived = [c for c in results if c.opened and c.integrity == "ok" and not c.orphans]
    res = subprocess.run([sys.executable, "-m", "dancer", "scan", str(music), "--library", str(library),
                          "--jobs", str(jobs)], capture_output=True, text=True, timeout=600)
    rows = library_rows(library)
    complete = (res.returncode == 0 and len(rows) == len(files) and all(e is None for e, _ in rows.values())
                and not duplicate_keys(library) and integrity(library) == "ok")
    startup = sum(c.moment.startswith("start-up") for c in results)
    line("kill cycles survived", f"{len(survived)}/{len(results)} ({startup} in start-up, "
                                 f"{len(results) - startup} after some files; "
                                 f"{sum(len(c.orphans) for c in results)} orphaned workers)")
    dups = len(duplicate_keys(library))
    line("scan after the kills", f"{len(rows)}/{len(files)} files, {dups} duplicates, "
                                 f"integrity {integrity(library)}" + ("" if complete else "  <-- FAILED"))
    for c in results:
        if c not in survived:
            print(f"    {c}")
    problems = kill_atomic_writes(work / "state.bin", cycles=cycles, seed=seed)
    stale = len(list(work.glob(".state.bin.*.tmp")))
    line("atomic writes killed", f"{cycles - len(problems)}/{cycles} left the previous file whole "
                                 f"({stale} temporary files left behind)")
    for p in problems:
        print(f"    {p}")
    return len(survived) == len(results) and complete, not problems


def concurrent(work: Path, rounds: int) -> bool:
    music = work / "music"
    library = work / "shared.sqlite3"
    cmd = [sys.executable, "-m", "dancer", "scan", str(music), "--library", str(library), "--jobs", "1"]
    subprocess.run([sys.executable, "-c", CREATE, str(library)], check=True, timeout=120)
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    ok = all(p.returncode == 0 for p in procs) and not any("Traceback" in e for e in errs)
    dups = len(duplicate_keys(library))
    check = integrity(library)
    line("concurrent scans", f"{sum(p.returncode == 0 for p in procs)}/2 finished, {dups} duplicates, "
                             f"integrity {check}")
    # Two processes creating a library at the same moment (two first scans): the open itself races.
    good = 0
    for r in range(rounds):
        fresh = work / f"fresh{r}.sqlite3"
        openers = [subprocess.Popen([sys.executable, "-c", CREATE, str(fresh)], stderr=subprocess.DEVNULL)
                   for _ in range(2)]
        good += all(p.wait(timeout=120) == 0 for p in openers) and integrity(fresh) == "ok"
    busy = "" if good == rounds else "  <-- library.py: `PRAGMA journal_mode = WAL` gets SQLITE_BUSY at once"
    line("concurrent library creation", f"{good}/{rounds} rounds both opened{busy}")
    return ok and dups == 0 and check == "ok" and good == rounds


def repair(work: Path) -> bool:
    from dancer.library.repair import repair_library

    library = work / "shared.sqlite3"
    expected = len(library_rows(library))
    library.write_bytes(os.urandom(library.stat().st_size))
    t0 = time.monotonic()
    report = repair_library(library, jobs=2)
    rows = len(library_rows(library))
    seconds = time.monotonic() - t0
    line("repair of a shredded file", f"{rows}/{expected} tracks back by rescan in {seconds:.1f} s, "
                                      f"integrity {report.integrity}")
    return rows == expected and report.integrity == "ok"


def fuzz(examples: int, seed: int) -> bool:
    parts, details, ok = [], [], True
    for name, fuzzer in PARSER_FUZZERS.items():
        if fuzzer is None:
            parts.append(f"{name} pending")
            continue
        t0 = time.monotonic()
        report = fuzzer(examples, seed)
        ok = ok and not report.failures and report.examples >= examples
        parts.append(f"{name} {report.examples} ({len(report.failures)} failures)")
        details.append(f"    {name}: {report.examples} examples, {report.outcomes[CLEAR]} clear errors, "
                       f"{report.outcomes[ACCEPTED]} accepted, {len(report.failures)} unclear failures "
                       f"({time.monotonic() - t0:.1f} s)")
        details.extend(f"        {failure}" for failure in report.failures[:10])
    line("fuzz examples per parser", "; ".join(parts))
    for detail in details:
        print(detail, flush=True)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--kills", type=int, default=10, help="kill cycles (scan and atomic write)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--fuzz-examples", type=int, default=1000)
    args = parser.parse_args()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dancer-robustness-") as d:
        work = Path(d)
        os.environ["DANCER_LIBRARY"] = str(work / "default.sqlite3")  # never the user's own library
        crashes, hangs, lost = hostile(work, args.seed, args.jobs)
        kills_ok, writes_ok = kills(work, args.seed, args.kills, args.jobs)
        concurrent_ok = concurrent(work, args.kills)
        repair_ok = repair(work)
        fuzz_ok = fuzz(args.fuzz_examples, args.seed)
    line("total time", f"{time.monotonic() - t0:.0f} s")
    ok = not (crashes or hangs or lost) and kills_ok and writes_ok and concurrent_ok and repair_ok and fuzz_ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
