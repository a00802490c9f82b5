"""`rescore --no-render` against `run` on the same match (issue: at least 20x faster).

    .venv/bin/python benchmarks/rescore.py VIDEO [--set ...]

Runs `highlights run VIDEO --no-render` with a fresh output dir (full analysis), then
`highlights rescore OUT --no-render --set weights.audio=0.8`, then `run` again on the same
output dir (analysis cache hit), each as a user would (a new process). Prints wall times
and the ratio, measured in one run.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from cli import hl  # benchmarks/cli.py (the script's own folder is on sys.path)


def timed(*args: str) -> float:
    t0 = time.perf_counter()
    r = hl(*args)
    if r.returncode:
        raise SystemExit(r.stderr)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    sets = [x for o in args.overrides for x in ("--set", o)]
    tmp = Path(tempfile.mkdtemp(prefix="rescore-bench-"))
    try:
        out = tmp / "out"
        run_s = timed("run", args.video, "-o", str(out), "--no-render", *sets)
        rescore_s = timed("rescore", str(out), "--no-render", "--set", "weights.audio=0.8")
        cached_s = timed("run", args.video, "-o", str(out), "--no-render", *sets)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"run (full analysis)      {run_s:7.2f} s")
    print(f"rescore --no-render      {rescore_s:7.2f} s   ({run_s / rescore_s:.1f}x faster than run)")
    print(f"run again (cache hit)    {cached_s:7.2f} s   ({run_s / cached_s:.1f}x faster than run)")


if __name__ == "__main__":
    main()
