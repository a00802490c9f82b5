"""Score bug reading: what it finds in a file and what it costs against ffmpeg's own decode.

    .venv/bin/python benchmarks/scorebug.py VIDEO [--set signals.scorebug.every_s=10] [--json]

Prints whether a bug was found (and where: each bug's stretches of the file, several in a
montage of clips or where the overlay moves), the score changes and clock reads, the OCR cost
(model import and load, ms per text-detection call and per recognised line), the seconds
per match-minute of the whole read (`signals.scorebug.read_video`: seeks, decodes, OCR) and
its ratio to ffmpeg's full decode of the same file, measured in the same run (best of
`--repeat`). The ratio is the share of a full decode the bug costs: the analysis of a 720p
match costs about one full decode (README, cascade), so 0.1 is the 10% budget.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pipeline import media
from pipeline.bench import ffmpeg_decode
from pipeline.config import load_config
from pipeline.signals import scorebug


class TimedOcr:
    """The RapidOCR engine with the time of each call kept."""

    def __init__(self, inner: scorebug.RapidOcr):
        self.inner = inner
        self.detect_s: list[float] = []
        self.recognise_s: list[float] = []
        self.lines = 0

    def detect(self, image):
        t = time.perf_counter()
        out = self.inner.detect(image)
        self.detect_s.append(time.perf_counter() - t)
        return out

    def recognise(self, crops):
        t = time.perf_counter()
        out = self.inner.recognise(crops)
        self.recognise_s.append(time.perf_counter() - t)
        self.lines += len(crops)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", type=Path)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--repeat", type=int, default=2, help="ffmpeg decodes; the fastest is kept")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args()
    cfg = load_config(overrides=args.overrides).signals.scorebug

    t = time.perf_counter()
    import rapidocr_onnxruntime  # noqa: F401  (the import cost, on its own)
    import_s = time.perf_counter() - t
    engine = scorebug.RapidOcr(cfg.ocr_threads)
    t = time.perf_counter()
    engine._get()
    load_s = time.perf_counter() - t
    ocr = TimedOcr(engine)

    info = media.probe(args.video)
    t = time.perf_counter()
    result = scorebug.read_video(args.video, cfg, info=info, ocr=ocr)
    seconds = time.perf_counter() - t
    ff = min((ffmpeg_decode(args.video) for _ in range(max(args.repeat, 1))), key=lambda r: r["seconds"])
    minutes = info.duration_s / 60.0
    reads = max(len(result.reads), 1)
    out = {
        "video": str(args.video),
        "size": [info.width, info.height],
        "duration_s": round(info.duration_s, 2),
        "found": result.found,
        "region": result.region,
        "stretches": result.stretches,
        "changes": result.changes,
        "clock_reads": len(result.clock),
        "clock_first": [result.clock[0][0], scorebug.minute_label(result.clock[0][1])] if result.clock else None,
        "notes": result.notes,
        "reads": len(result.reads),
        "stats": result.stats,
        "ocr_import_s": round(import_s, 3),
        "ocr_load_s": round(load_s, 3),
        "ocr_detect_ms": round(1000 * sum(ocr.detect_s) / max(len(ocr.detect_s), 1), 1),
        "ocr_line_ms": round(1000 * sum(ocr.recognise_s) / max(ocr.lines, 1), 1),
        "ocr_ms_per_read": round(1000 * sum(ocr.recognise_s[-reads:]) / reads, 1) if result.found else None,
        "seconds": round(seconds, 3),
        "s_per_match_minute": round(seconds / minutes, 3),
        "ffmpeg_decode_s": round(ff["seconds"], 3),
        "ffmpeg_s_per_match_minute": round(ff["seconds"] / minutes, 3),
        "ratio_vs_decode": round(seconds / ff["seconds"], 3),
    }
    if args.json:
        print(json.dumps(out))
        return
    print(f"{out['video']}  {info.width}x{info.height}  {info.duration_s:.1f} s")
    print(f"  found: {result.found}  region x,y,w,h: {result.region}")
    if len(result.stretches) > 1:
        for st in result.stretches:
            print(f"  bug {st['bug']} at {tuple(st['region'])} {'/'.join(st['teams'])}: "
                  f"{st['from_s']:.1f}-{st['to_s']:.1f} s, {st['reads']} reads")
    for c in result.changes:
        print(f"  change at {c['t_s']:.1f} s ({c['t_before_s']:.1f}-{c['t_after_s']:.1f}): "
              f"{c['score_from']} -> {c['score_to']} (team {c['team']})")
    if result.clock:
        print(f"  clock: {len(result.clock)} reads, first {out['clock_first'][1]} at {result.clock[0][0]:.1f} s")
    for n in result.notes:
        print(f"  note: {n}")
    print(f"  OCR: import {import_s:.2f} s, models {load_s:.2f} s, detect {out['ocr_detect_ms']} ms/frame, "
          f"recognise {out['ocr_line_ms']} ms/line")
    print(f"  {len(result.reads)} reads, {result.stats}")
    print(f"  scorebug {seconds:.2f} s = {out['s_per_match_minute']:.3f} s per match-minute; ffmpeg full decode "
          f"{ff['seconds']:.2f} s ({out['ffmpeg_s_per_match_minute']:.3f} s per match-minute); "
          f"ratio {out['ratio_vs_decode']:.3f}")


if __name__ == "__main__":
    main()
