"""How the benchmark scripts run `highlights`: as a user would, in a new process, from the
repository root (where bench/ lives)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def hl(*args: str) -> subprocess.CompletedProcess:
    """`highlights ARGS...`, output captured."""
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)
