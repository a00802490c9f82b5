"""Time and peak memory against match length: generated matches of 5, 15 and 45 minutes.

    .venv/bin/python benchmarks/scaling.py [--minutes 5 15 45] [--set key=value ...]

Each match is generated once under bench/ (seed 301, 640x360) and reused; each bench runs in
its own process (`highlights bench --json`), so peak memory is that run's own.
"""

from __future__ import annotations

import argparse
import json

from cli import ROOT, hl  # benchmarks/cli.py (the script's own folder is on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=int, nargs="+", default=[5, 15, 45])
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    (ROOT / "bench").mkdir(exist_ok=True)
    sets = [x for o in args.overrides for x in ("--set", o)]
    print(f"{'minutes':>7s} {'analysis s':>10s} {'s per min':>9s} {'x realtime':>10s} {'ratio vs decode':>15s} {'peak RSS MB':>11s}")
    for m in args.minutes:
        video = ROOT / "bench" / f"scale_{m}min.mp4"
        if not video.exists():
            r = hl("synth", "-o", str(video), "--duration", str(m * 60), "--seed", "301")
            if r.returncode:
                raise SystemExit(r.stderr)
        r = hl("bench", str(video), "--json", *sets)
        if r.returncode:
            raise SystemExit(r.stderr)
        res = json.loads(r.stdout)
        print(f"{m:7d} {res['analysis_s']:10.1f} {res['analysis_s'] / m:9.1f} {res['x_realtime']:10.1f} "
              f"{res['ratio_vs_decode']:15.2f} {res['peak_rss_mb']:11.0f}", flush=True)


if __name__ == "__main__":
    main()
