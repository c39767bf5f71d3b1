"""The far end of `alsa_device`'s ALSA ``file`` plugin: reads the played audio from stdin at a
device's pace and keeps it. Standard library only (it runs as ``python -I -S``).

    alsa_pacer.py OUT BYTES_PER_SECOND [--limit BYTES] [--times] [--late-after S] [--discard]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import time

F_SETPIPE_SZ = 1031
CHUNK = 4096


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("byte_rate", type=float)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--times", action="store_true")
    ap.add_argument("--late-after", type=float, default=None)
    ap.add_argument("--discard", action="store_true")
    args = ap.parse_args()
    fd = sys.stdin.fileno()
    try:
        # A pipe's default 64 KiB would add ~190 ms of buffering between ALSA and the pacer.
        fcntl.fcntl(fd, F_SETPIPE_SZ, CHUNK)
    except OSError:
        pass
    catch_up = 0.03 if args.late_after is None else args.late_after
    audio = open(os.devnull if args.discard else args.out, "wb")
    times = open(args.out + ".times", "w") if args.times else None
    t0, n = time.monotonic(), 0
    first, max_wait, late = None, 0.0, 0
    try:
        while True:
            delay = t0 + n / args.byte_rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            asked = time.monotonic()
            chunk = os.read(fd, CHUNK)
            now = time.monotonic()
            if not chunk:
                break
            audio.write(chunk)
            audio.flush()
            if times is not None:
                times.write(f"{n} {time.time():.6f}\n")
                times.flush()
            if args.late_after is not None:
                if first is None and chunk.strip(b"\0"):
                    first = now
                    with open(args.out + ".first", "w") as f:
                        f.write(repr(first))
                if first is not None:
                    # How long the device waited for audio it was due; the pacer's own lateness
                    # is not the player's.
                    waited = now - asked
                    max_wait = max(max_wait, waited)
                    late += waited > args.late_after
            if delay < -catch_up:
                t0 -= delay  # the pacer itself was descheduled: do not rush to catch up
            n += len(chunk)
            if args.limit and n >= args.limit:
                break
    finally:
        audio.close()
        if times is not None:
            times.close()
    if args.late_after is not None:
        with open(args.out + ".json", "w") as f:
            json.dump({"bytes": n, "first": first, "max_wait": max_wait, "late": late}, f)


if __name__ == "__main__":
    main()
