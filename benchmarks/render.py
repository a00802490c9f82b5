"""Reel render throughput: moviepy (our frame-exact path) against ffmpeg alone.

    .venv/bin/python benchmarks/render.py OUT_DIR [--repeat 2]

Renders the selected segments of an output dir (from `highlights run`) three ways with the
same codec settings: moviepy (render.mode=moviepy), ffmpeg trim+concat filters re-encoding
(the yardstick), and stream copy (render.mode=copy). Prints reel seconds per wall second
and the moviepy/ffmpeg ratio, measured in one run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from pipeline.config import load_config
from pipeline.render import render_copy, render_ffmpeg, render_moviepy
from pipeline.report.files import read_segments, segments_from_document


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    doc = read_segments(args.out)
    analysis = json.loads((args.out / "analysis.json").read_text())
    source = analysis["input"]
    segs = sorted([s for s in segments_from_document(doc) if s.selected], key=lambda s: s.start)
    reel_s = sum(s.duration for s in segs)
    cfg = load_config(args.out / "config.yaml" if (args.out / "config.yaml").exists() else None).render
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("ffmpeg", lambda p: render_ffmpeg(source, segs, p, cfg)),
                         ("moviepy", lambda p: render_moviepy(source, segs, p, cfg)),
                         ("copy", lambda p: render_copy(source, segs, p))):
            best = None
            for i in range(args.repeat):
                t0 = time.perf_counter()
                fn(Path(tmp) / f"{name}{i}.mp4")
                dt = time.perf_counter() - t0
                best = dt if best is None else min(best, dt)
            results[name] = best
    print(f"source {source}; {len(segs)} segments, reel {reel_s:.1f} s; codec {cfg.codec} preset {cfg.preset} crf {cfg.crf}")
    for name, dt in results.items():
        print(f"{name:8s} {dt:7.2f} s   {reel_s / dt:6.2f} reel-s per s")
    print(f"moviepy / ffmpeg throughput ratio: {results['ffmpeg'] / results['moviepy']:.2f}")


if __name__ == "__main__":
    main()
