"""Frame-stream decode throughput against ffmpeg's own full decode of the same files.

    .venv/bin/python benchmarks/decode.py [VIDEO ...]   (default: the 1280x720 real clips)

Prints, per file, ffmpeg's full-decode fps and the frame stream's throughput (in source
frames per second, so the two are comparable): plain, with non-reference frames skipped, and
with deblocking skipped as well (the analysis default).
Each file is measured `--repeat` times and the best run kept (the machine is shared).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.bench import ffmpeg_decode, frame_stream_decode

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
DEFAULT = [REAL / "laliga_rm_sevilla_audio/soccer.mp4", REAL / "seriea_inter_napoli_audio/match.mp4",
           REAL / "tactical_cam_crowd_only_audio/football.mp4"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{'file':44s} {'ffmpeg fps':>10s} {'stream fps':>10s} {'ratio':>6s} {'+skip fps':>10s} {'ratio':>6s} "
          f"{'+no deblock':>11s} {'ratio':>6s} {'decoded/skip':>12s}")
    for v in args.videos:
        ff = max((ffmpeg_decode(v) for _ in range(args.repeat)), key=lambda r: r["fps"])
        plain = max((frame_stream_decode(v, args.fps, args.width, False) for _ in range(args.repeat)), key=lambda r: r["source_fps"])
        skip = max((frame_stream_decode(v, args.fps, args.width, True) for _ in range(args.repeat)), key=lambda r: r["source_fps"])
        fast = max((frame_stream_decode(v, args.fps, args.width, True, True) for _ in range(args.repeat)),
                   key=lambda r: r["source_fps"])
        name = "/".join(v.parts[-2:])
        print(f"{name:44s} {ff['fps']:10.0f} {plain['source_fps']:10.0f} {plain['source_fps'] / ff['fps']:6.2f} "
              f"{skip['source_fps']:10.0f} {skip['source_fps'] / ff['fps']:6.2f} "
              f"{fast['source_fps']:11.0f} {fast['source_fps'] / ff['fps']:6.2f} {plain['decoded']:>5d}/{skip['decoded']:<5d}")


if __name__ == "__main__":
    main()
