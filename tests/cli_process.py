"""Running the installed CLI in a subprocess: real start-up, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_dancer(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300,
               input: str | None = None):
    """Run the installed CLI in a subprocess (real start-up, real exit codes)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "dancer", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout, input=input)


