"""Join the real landscape broadcast clips with audio into one test file, with labels.

    .venv/bin/python scripts/make_real_montage.py -o bench/real_montage.mp4

Reads ../shared/data/real (never copied into the repo). Each clip is brought to one
loudness (EBU R128 integrated, -23 LUFS, a plain gain per clip: no compression that would
change the shape of a roar) and one frame size (1280x720 at 25 fps, scaled to cover and
centre-cropped, so no clip carries black bars that other stages would read as a different
shot). Writes the video and `<name>.labels.json` with each clip's `labels.json` events
(and replays) shifted into montage time, plus the clip spans.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
CLIPS = [
    "laliga_rm_sevilla_audio/soccer.mp4",
    "goal_benfica_porto_audio/goal.mp4",
    "seriea_inter_napoli_audio/match.mp4",
    "tactical_cam_crowd_only_audio/football.mp4",
    "goal_barca_athletic_replays_audio/mesi.mp4",
    "seriea_inter_quiet_audio/football.mp4",
]
TARGET_LUFS = -23.0
W, H, FPS, SR = 1280, 720, 25, 48000


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def integrated_lufs(path: Path) -> float:
    proc = subprocess.run([ffmpeg(), "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a:0", "-af", "ebur128", "-f", "null", "-"],
                          capture_output=True, text=True)
    found = re.findall(r"I:\s+(-?[\d.]+) LUFS", proc.stderr)
    if not found:
        raise SystemExit(f"could not measure loudness of {path}")
    return float(found[-1])


def duration(path: Path) -> float:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pipeline.media import probe

    return probe(path).duration_s


def build_montage(clips: list[str], output: Path, real: Path = REAL) -> dict:
    """Join `clips` (paths relative to `real`) in order into `output` at one loudness and one
    frame size; return the labels document (events and replays in montage time, clip spans)
    without writing it."""
    if not real.is_dir():
        raise SystemExit(f"real clips not found at {real}")
    output.parent.mkdir(parents=True, exist_ok=True)
    inputs, chains, spans, events, replays = [], [], [], [], []
    offset = 0.0
    for i, rel in enumerate(clips):
        path = real / rel
        lufs = integrated_lufs(path)
        gain = TARGET_LUFS - lufs
        dur = duration(path)
        inputs += ["-i", str(path)]
        chains.append(f"[{i}:v]scale={W}:{H}:force_original_aspect_ratio=increase,crop={W}:{H},setsar=1,fps={FPS},"
                      f"trim=duration={dur:.3f},setpts=PTS-STARTPTS[v{i}]")
        chains.append(f"[{i}:a]aresample={SR},aformat=channel_layouts=stereo,volume={gain:.2f}dB,"
                      f"atrim=duration={dur:.3f},asetpts=PTS-STARTPTS[a{i}]")
        spans.append({"clip": rel, "start": round(offset, 3), "end": round(offset + dur, 3), "lufs": lufs, "gain_db": round(gain, 2)})
        labels = path.parent / "labels.json"
        if labels.exists():
            lab = json.loads(labels.read_text())
            for e in lab.get("events", []):
                events.append({**{k: round(e[k] + offset, 3) for k in ("time", "start", "end")}, "type": e["type"], "clip": rel,
                               "note": e.get("note", "")})
            for a, b in lab.get("replays", []):
                replays.append({"start": round(a + offset, 3), "end": round(b + offset, 3), "clip": rel})
        print(f"{rel:48s} {dur:6.2f} s  {lufs:6.1f} LUFS  gain {gain:+.1f} dB  at {offset:7.2f} s")
        offset += dur
    graph = ";".join(chains) + ";" + "".join(f"[v{i}][a{i}]" for i in range(len(clips))) + f"concat=n={len(clips)}:v=1:a=1[v][a]"
    tmp = output.with_name(f".{output.name}.tmp.mp4")
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", "50", "-c:a", "aac", "-b:a", "160k", str(tmp)], check=True)
    tmp.replace(output)
    return {"events": events, "replays": replays, "clips": spans, "duration": round(offset, 3),
            "source": "labels.json of each clip, shifted into montage time"}


def labels_path(output: Path) -> Path:
    return output.with_name(output.stem + ".labels.json")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", type=Path, default=Path("bench/real_montage.mp4"))
    args = ap.parse_args()
    doc = build_montage(CLIPS, args.output)
    out_labels = labels_path(args.output)
    out_labels.write_text(json.dumps(doc, indent=2))
    print(f"wrote {args.output} ({doc['duration']:.1f} s) and {out_labels}")


if __name__ == "__main__":
    main()
