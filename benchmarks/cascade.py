"""Two-pass cascade against one full pass: time, share of the match analysed, and what changes
in the reel.

    .venv/bin/python benchmarks/cascade.py VIDEO [VIDEO ...] [--set key=value ...]

Each VIDEO needs its truth beside it (`<stem>.truth.json` from `highlights synth`, or
`<stem>.labels.json`). In one run, per video: ffmpeg's own full decode of the file, then
`highlights run --no-render` with the cascade forced on (`cascade.min_duration_s=0`) and with it
off, each into its own output dir under bench/out/, then `highlights eval` on both. Prints
analysis seconds, x real time, the ratio to ffmpeg's decode time (as `highlights bench`
reports it), the share of the match the full video pass covered, goal recall, the goals the
single pass put in its reel that the cascade's reel lacks, and how many of the single pass's
selected segments the cascade's reel overlaps.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from cli import ROOT, hl  # benchmarks/cli.py (the script's own folder is on sys.path)

from pipeline.bench import ffmpeg_decode
from pipeline.signals.timeline import read_timeline


def _truth(video: Path) -> Path:
    for p in (video.with_name(video.stem + ".truth.json"), video.with_name(video.stem + ".labels.json"),
              video.with_name("labels.json")):
        if p.exists():
            return p
    raise SystemExit(f"{video}: no <stem>.truth.json or labels.json beside it")


def _run(video: Path, out: Path, sets: list[str]) -> tuple[dict, dict, list[dict]]:
    shutil.rmtree(out / "cache", ignore_errors=True)  # analyse afresh: the time is what is measured
    r = hl("run", str(video), "-o", str(out), "--no-render", "--force", *sets)
    if r.returncode:
        raise SystemExit(r.stderr)
    run = json.loads((out / "run.json").read_text())
    ev = json.loads(hl("eval", str(out), "--truth", str(_truth(video)), "--json").stdout)
    segs = [s for s in json.loads((out / "segments.json").read_text())["segments"] if s["selected"]]
    return run, ev, segs


def _goals_in(ev: dict) -> set[float]:
    return {e["time"] for e in ev["events"] if e["type"] == "goal" and e["in_reel"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="+", type=Path)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    sets = [x for o in args.overrides for x in ("--set", o)]
    print(f"{'video':28s} {'mode':8s} {'analysis s':>10s} {'x realtime':>10s} {'ratio vs decode':>15s} {'analysed':>8s} "
          f"{'goal recall':>11s} {'goals lost':>10s} {'segments':>8s} {'overlap single':>14s}")
    for video in args.videos:
        video = video.resolve()
        ff = ffmpeg_decode(video)
        results = {}
        for mode, extra in (("cascade", ["--set", "cascade.enabled=true", "--set", "cascade.min_duration_s=0"]),
                            ("single", ["--set", "cascade.enabled=false"])):
            out = ROOT / "bench" / "out" / f"{video.stem}.{mode}"
            results[mode] = _run(video, out, [*sets, *extra])
        single_goals = _goals_in(results["single"][1])
        for mode, (run, ev, segs) in results.items():
            analysis = run["timings_s"]["analysis"]
            state = json.loads((ROOT / "bench" / "out" / f"{video.stem}.{mode}" / "analysis.json").read_text())
            duration = state["duration"]
            windows = read_timeline(state["cache_dir"]).meta.get("windows") or [[0.0, duration]]
            share = sum(b - a for a, b in windows) / duration
            lost = len(single_goals - _goals_in(ev))
            single = results["single"][2]
            overlap = sum(any(s["start"] < c["end"] and c["start"] < s["end"] for c in segs) for s in single)
            recall = "n/a" if ev["goal_recall"] is None else f"{ev['goal_recall']:.2f}"
            print(f"{video.name[:28]:28s} {mode:8s} {analysis:10.1f} {duration / analysis:10.2f} "
                  f"{ff['seconds'] / analysis:15.2f} {share:8.2f} {recall:>11s} {lost:10d} {len(segs):8d} "
                  f"{overlap:>9d} of {len(single)}", flush=True)
        print(f"{'':28s} ffmpeg full decode {ff['seconds']:.1f} s ({ff['fps']:.0f} fps)", flush=True)


if __name__ == "__main__":
    main()
