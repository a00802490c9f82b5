"""Run `highlights` on every broken or awkward input of tests/media_cases.py and print the
markdown table of docs/reliability.md (input, command, exit code, what the user saw).

    .venv/bin/python scripts/reliability_table.py > table.md

Each run is a subprocess, as a user would start it; the output is what it printed: the
one-line error, or the notes and result lines of a successful analysis.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.media_cases import CASES, command_line, make_base  # noqa: E402


def run(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=600)


def seen(r: subprocess.CompletedProcess) -> str:
    """What the user saw: the error line, or the result and note lines."""
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    if r.returncode != 0:
        text = err[-1] if err else (r.stderr.strip().splitlines() or ["(nothing)"])[-1]
        if "Traceback" in r.stderr:
            text += " **(traceback!)**"
        return text
    lines = [ln.strip() for ln in r.stdout.splitlines() if ln.startswith(("timeline", "note", "  video"))]
    return "; ".join(" ".join(ln.split()) for ln in lines)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        base = make_base(d)
        print("| input | command | exit | what the user sees |")
        print("|---|---|---|---|")
        for case in CASES:
            path = case.build(d, base)
            out = d / f"out_{case.name}"
            args = command_line(case, path, out)
            r = run(args)
            shown = " ".join(["highlights", args[0], *(["--set", case.args[1]] if case.args else [])])
            text = seen(r).replace(str(d) + "/", "").replace("|", "\\|")
            flag = "" if r.returncode == case.exit_code else f" (expected {case.exit_code})"
            print(f"| {case.what} | `{shown}` | {r.returncode}{flag} | {text} |", flush=True)


if __name__ == "__main__":
    main()
