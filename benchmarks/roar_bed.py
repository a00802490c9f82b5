"""How the roar column (the crowd's bed) reads on calm play and at labelled events.

    .venv/bin/python benchmarks/roar_bed.py VIDEO TRUTH [--widths 0 400] [--extra TYPE,T0,T1]

For each `signals.audio.bed_valley_hz` given (0 = the bed as each band's percentile of the
whole spectrum, the version before it was read between a voice's harmonics) prints the
interquartile range of the raw roar on calm play (outside every event, 10 s before its
start to 20 s after its end), the column's robust scale, and at each event the highest 2 s
mean of the raw roar in the 8 s after the event's time, as a robust z. TRUTH: a truth or
labels file (`events` with `type`, `time`, `start`, `end`); `--extra` adds an unlabelled
stretch to report (the dev set's run that is not a goal: `--extra run,114.79,125.0`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import scipy.ndimage

from pipeline import media
from pipeline.config import load_config
from pipeline.signals.audio import audio_signals


def roar_column(video: Path, valley_hz: float) -> tuple[np.ndarray, float]:
    cfg = load_config(None, [f"signals.audio.bed_valley_hz={valley_hz}"])
    info = media.probe(video)
    track = media.audio(video, sr=cfg.media.audio_sr, chunk_s=cfg.media.audio_chunk_s, info=info)
    cols, _ = audio_signals(track.chunks(), track.sr, info.duration_s, cfg.signals.audio, cfg.signals.bin_s)
    return cols["audio_roar"], cfg.signals.bin_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", type=Path)
    ap.add_argument("truth", type=Path)
    ap.add_argument("--widths", type=float, nargs="+", default=[0.0, 400.0])
    ap.add_argument("--extra", action="append", default=[], help="TYPE,T0,T1: another stretch to report")
    args = ap.parse_args()
    events = [(e["type"], float(e["time"]), float(e["start"]), float(e["end"]))
              for e in json.loads(args.truth.read_text())["events"]]
    for x in args.extra:
        kind, t0, t1 = x.split(",")
        events.append((kind, float(t0), float(t0), float(t1)))
    for width in args.widths:
        roar, bin_s = roar_column(args.video, width)
        t = np.arange(len(roar)) * bin_s
        finite = np.isfinite(roar)
        calm = finite.copy()
        for _, _, a, b in events:
            calm &= ~((t >= a - 10.0) & (t <= b + 20.0))
        q1, q3 = np.percentile(roar[calm], [25, 75])
        med = float(np.median(roar[finite]))
        scale = max(1.4826 * float(np.median(np.abs(roar[finite] - med))), 1e-9)
        sustained = scipy.ndimage.uniform_filter1d(np.where(finite, roar, med), max(int(round(2.0 / bin_s)), 1))
        zs = []
        for kind, at, _, _ in events:
            m = (t >= at) & (t <= at + 8.0)
            zs.append(f"{kind} {at:.0f}s z {(sustained[m].max() - med) / scale:.1f}" if m.any() else f"{kind} {at:.0f}s -")
        print(f"bed_valley_hz {width:5.0f}  calm IQR {q3 - q1:5.2f} dB  scale {scale:4.2f} dB  | " + "; ".join(zs), flush=True)


if __name__ == "__main__":
    main()
