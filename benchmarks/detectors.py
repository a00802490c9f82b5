"""Detector configurations side by side: accuracy on labelled frames, cost on a real montage.

    .venv/bin/python benchmarks/detectors.py --frames FRAMES --montage VIDEO \
        --weights ONNX --pt PT [--only NAME ...] [--montage-max-ms 200]

FRAMES: labelled frames (YOLO format; `highlights eval-detector`'s --frames), e.g. the DFL
Bundesliga frames of the workspace's shared data. VIDEO: a real broadcast montage (made by
`scripts/make_real_montage.py`). ONNX / PT: the int8 ONNX and the float .pt YOLO weights.

Each configuration runs `highlights eval-detector --json` (person and ball recall and
precision, the detector's ms per frame) and, where its ms per frame on the labelled frames is
under `--montage-max-ms` (a configuration slower than that cannot be near real time at 5
analysis frames per second) or it looks for people only once a second (the default with
weights), `highlights bench --json` on the montage (analysis x real time
and the ratio to ffmpeg's own full decode of the same file, measured in the same run). Every
figure comes from this one run; the rows are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json

from cli import hl  # benchmarks/cli.py (the script's own folder is on sys.path)


def configurations(onnx: str, pt: str) -> list[tuple[str, list[str], bool]]:
    """(name, the options that make it, bench on the montage whatever its ms per still), in
    the order of the table. The default with weights looks for people once a second, so its
    ms per labelled still (each a people pass) says little about its cost on video."""
    every = ["--set", "detect.people_every_s=0"]  # people on every frame
    return [
        ("classic (default, no weights)", ["--detector", "classic"], False),
        ("classic, quality profile", ["--detector", "classic", "--config", "configs/quality.yaml"], False),
        ("yolo int8 ONNX 1280, people once a second (default with weights)", ["--detector", "yolo", "--weights", onnx], True),
        ("yolo int8 ONNX 1280, people once a second, no second look at the ball",
         ["--detector", "yolo", "--weights", onnx, "--set", "detect.ball_check=0"], True),
        ("yolo int8 ONNX 640, every frame", ["--detector", "yolo", "--weights", onnx, "--set", "detect.imgsz=640", *every], False),
        ("yolo .pt 640", ["--detector", "yolo", "--weights", pt, "--set", "detect.imgsz=640", *every], False),
        ("yolo .pt 960", ["--detector", "yolo", "--weights", pt, "--set", "detect.imgsz=960", *every], False),
        ("yolo .pt 1280", ["--detector", "yolo", "--weights", pt, "--set", "detect.imgsz=1280", *every], False),
        ("yolo .pt tiles (quality profile)", ["--detector", "yolo", "--weights", pt, "--config", "configs/quality.yaml"], False),
    ]


def _json(*args: str) -> dict:
    r = hl(*args, "--json")
    if r.returncode:
        raise SystemExit(f"highlights {' '.join(args)}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    return json.loads(r.stdout)


def _f(x, nd=3) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", required=True)
    ap.add_argument("--montage", required=True)
    ap.add_argument("--weights", required=True, help="int8 ONNX weights")
    ap.add_argument("--pt", required=True, help="float .pt weights")
    ap.add_argument("--only", nargs="+", default=None, help="names (or their first words) of the rows to run")
    ap.add_argument("--montage-max-ms", type=float, default=200.0)
    args = ap.parse_args()
    print("| configuration | person R / P | ball R / P | ms per frame | montage x real time | ratio to decode |")
    print("|---|---|---|---|---|---|")
    for name, opts, always in configurations(args.weights, args.pt):
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        # eval-detector and bench take the same detector options
        ev = _json("eval-detector", "--frames", args.frames, *opts)
        p, b = ev["person"], ev["ball"]
        xr = ratio = None
        if always or ev["ms_per_frame"] <= args.montage_max_ms:
            bench = _json("bench", args.montage, *opts)
            xr, ratio = bench["x_realtime"], bench["ratio_vs_decode"]
        print(f"| {name} | {_f(p['recall'])} / {_f(p['precision'])} | {_f(b['recall'])} / {_f(b['precision'])} | "
              f"{ev['ms_per_frame']:.0f} | {_f(xr, 2) if xr is not None else 'not run'} | {_f(ratio, 3) if ratio is not None else '-'} |",
              flush=True)


if __name__ == "__main__":
    main()
