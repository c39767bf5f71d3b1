"""Run a scan over the hostile corpus in a subprocess and hold its results against the corpus.

Public: `run_hostile_scan`, `HostileRun`, `judge`, `Verdict`, `reads_can_be_denied`,
`drop_read_override`, `library_rows`, `duplicate_keys`, `integrity`.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from hostile_corpus import BAD, EITHER, GOOD, IGNORED, SKIPPED, Specimen

ROOT = Path(__file__).resolve().parents[2]

# -- running a scan over it --------------------------------------------------------------------

_DRIVER = """
import json, os, resource, sys, time
from dancer.library import scan
from dancer.library.store import Library
folder, library, floor, jobs = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
scan.TASK_FLOOR_SECONDS = floor
with Library.open(library) as lib:
    report = scan.scan_folder(folder, lib, jobs=jobs)
print(json.dumps({
    "failed": report.failed, "skipped": report.skipped, "added": report.added, "seconds": report.seconds,
    "self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""


def drop_read_override() -> None:
    """``preexec_fn``: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH so ``chmod 000`` stops root too.

    Removing them from the bounding set means the ``exec`` that follows (and every worker the
    scan spawns) starts without them, while staying uid 0 and owning the test's files.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def reads_can_be_denied() -> tuple[bool, str]:
    """Whether a scan subprocess can be made unable to read a ``chmod 000`` file, and why not."""
    if os.geteuid() != 0:
        return True, ""
    if not sys.platform.startswith("linux"):
        return False, "running as root on a system without Linux capabilities"
    with tempfile.TemporaryDirectory() as d:
        probe = os.path.join(d, "probe")
        with open(probe, "w") as f:
            f.write("x")
        os.chmod(probe, 0)
        try:
            res = subprocess.run([sys.executable, "-c", f"open({probe!r}).read()"],
                                 preexec_fn=drop_read_override, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"running as root and cannot drop CAP_DAC_OVERRIDE ({exc})"
    if res.returncode == 0:
        return False, "running as root and dropping CAP_DAC_OVERRIDE did not stop reads"
    return True, ""


@dataclass
class HostileRun:
    returncode: int | None
    stderr: str
    wall: float
    timed_out: bool
    report: dict = field(default_factory=dict)


def run_hostile_scan(folder: Path, library: Path, *, jobs: int = 2, floor: float = 20.0,
                     timeout: float = 180.0, deny_reads: bool = False) -> HostileRun:
    """Scan ``folder`` in a subprocess (a crash there cannot take the caller down) and collect its report."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, str(folder), str(library), str(floor), str(jobs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
                            preexec_fn=drop_read_override if deny_reads and os.geteuid() == 0 else None)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    run = HostileRun(proc.returncode, err.decode("utf-8", "replace"), time.monotonic() - t0, timed_out)
    lines = out.decode().strip().splitlines()
    if lines and proc.returncode == 0:
        run.report = json.loads(lines[-1])
    return run


def library_rows(library: Path) -> dict[bytes, tuple[str | None, float | None]]:
    """path_key → (error, duration) for every row, read with plain sqlite3."""
    conn = sqlite3.connect(library)
    try:
        return {bytes(k): (e, d) for k, e, d in conn.execute("SELECT path_key, error, duration FROM tracks")}
    finally:
        conn.close()


def duplicate_keys(library: Path) -> list[bytes]:
    conn = sqlite3.connect(library)
    try:
        return [bytes(k) for (k,) in
                conn.execute("SELECT path_key FROM tracks GROUP BY path_key HAVING COUNT(*) > 1")]
    finally:
        conn.close()


def integrity(library: Path) -> str:
    conn = sqlite3.connect(library)
    try:
        return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


@dataclass
class Verdict:
    """What went wrong in one hostile scan; `clean` when nothing did."""

    tried: int = 0
    analysed: int = 0
    failed: int = 0
    skipped: int = 0
    crashes: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    unreported: list[str] = field(default_factory=list)
    misjudged: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.crashes or self.hangs or self.lost or self.unreported or self.misjudged)


def judge(root: Path, specimens: list[Specimen], run: HostileRun, library: Path) -> Verdict:
    """Hold a scan's report and library against what each specimen must become."""
    v = Verdict(tried=len(specimens))
    if run.timed_out:
        v.hangs.append(f"the scan did not finish in time ({run.wall:.0f} s)")
    if run.returncode != 0 or "Traceback" in run.stderr:
        tail = run.stderr.strip().splitlines()[-3:]
        v.crashes.append(f"scan process exit {run.returncode}: {' | '.join(tail)}")
    if not run.report:
        return v
    base = os.fsencode(root)
    failed = {os.fsencode(p): reason for p, reason in run.report["failed"]}
    skipped = {os.fsencode(p): reason for p, reason in run.report["skipped"]}
    rows = library_rows(library)
    for path, reason in failed.items():
        if "crashed" in reason or "could not start" in reason:
            v.crashes.append(f"{os.fsdecode(path)}: {reason}")
        if "too long" in reason:
            v.hangs.append(f"{os.fsdecode(path)}: {reason}")
    for s in specimens:
        path = os.path.join(base, s.name)
        label = f"{s.name.decode('utf-8', 'replace')} ({s.kind})"
        row = rows.get(path)
        ok = row is not None and row[0] is None
        if ok:
            v.analysed += 1
        elif row is not None:
            v.failed += 1
        if path in skipped:
            v.skipped += 1
        if s.expect == GOOD and not ok:
            v.lost.append(f"{label}: {row[0] if row else 'no row'}")
        elif s.expect == BAD and ok:
            v.misjudged.append(f"{label}: analysed, but it should have failed")
        elif s.expect == BAD and (row is None or path not in failed):
            v.unreported.append(f"{label}: failure not reported")
        elif s.expect == EITHER and row is None:
            v.unreported.append(f"{label}: neither analysed nor reported")
        elif s.expect == EITHER and not ok and path not in failed:
            v.unreported.append(f"{label}: failure not reported")
        elif s.expect == SKIPPED and path not in skipped:
            v.unreported.append(f"{label}: not in the skipped list")
        elif s.expect == IGNORED and (row is not None or path in failed):
            v.misjudged.append(f"{label}: should not be in the library")
    return v


