"""Goal/chance recall and precision on generated matches (seeds the tests do not use).

    .venv/bin/python benchmarks/eval_generated.py [--seeds 101 102 103] [--duration 600]

Generates each match once under bench/ (reused when present), runs `highlights run
--no-render` with the default config, then `highlights eval`, and prints one row per match:
recall, precision, the share of goals among the top-k candidates (k = goals), and the truth
events whose kind is right.
"""

from __future__ import annotations

import argparse
import json
import time

from cli import ROOT, hl  # benchmarks/cli.py (the script's own folder is on sys.path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--target-duration", default=None)
    args = ap.parse_args()
    bench = ROOT / "bench"
    bench.mkdir(exist_ok=True)
    print(f"{'match':16s} {'goals':>5s} {'chances':>7s} {'goal_recall':>11s} {'chance_recall':>13s} {'precision':>9s} {'reel s':>6s} {'run s':>6s} {'top-k':>5s} {'kinds':>7s}  goal ranks")
    for seed in args.seeds:
        video = bench / f"gen{int(args.duration // 60)}_{seed}.mp4"
        if not video.exists():
            r = hl("synth", "-o", str(video), "--duration", str(args.duration), "--seed", str(seed))
            if r.returncode:
                raise SystemExit(r.stderr)
        out = bench / "out" / video.stem
        sets = [x for o in args.overrides for x in ("--set", o)]
        extra = ["--target-duration", args.target_duration] if args.target_duration else []
        t0 = time.perf_counter()
        r = hl("run", str(video), "-o", str(out), "--no-render", "--force", *sets, *extra)
        seconds = time.perf_counter() - t0
        if r.returncode:
            raise SystemExit(r.stderr)
        res = json.loads(hl("eval", str(out), "--truth", str(video.with_name(video.stem + ".truth.json")), "--json").stdout)
        ranks = [e["best_rank"] for e in res["events"] if e["type"] == "goal"]
        fmt = lambda v: "n/a" if v is None else f"{v:.2f}"
        conf = res["confusion"]  # truth type -> kind given (or missed); "none" = no truth event
        right = sum(conf.get(t, {}).get(t, 0) for t in ("goal", "chance"))
        truth_n = sum(sum(conf.get(t, {}).values()) for t in ("goal", "chance"))
        print(f"{video.stem:16s} {res['goals']:5d} {res['chances']:7d} {fmt(res['goal_recall']):>11s} {fmt(res['chance_recall']):>13s} "
              f"{fmt(res['precision']):>9s} {res['reel_s']:6.1f} {seconds:6.1f} {fmt(res['top_k']['share']):>5s} {right:>3d}/{truth_n:<3d}  {ranks}")


if __name__ == "__main__":
    main()
