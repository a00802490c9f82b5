"""Throughput measurements against the decode limit: ffmpeg's own decode of the same file.

Used by `highlights bench` and the benchmark scripts; every figure of a comparison comes
from one run on one machine, so ratios are meaningful even where absolute speeds are not.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from . import media


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_decode(path: str | Path, threads: int = 0) -> dict:
    """Decode every video frame with ffmpeg (`-f null`), no audio; frames, seconds, fps."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostats", "-threads", str(threads), "-i", str(path),
           "-map", "0:v:0", "-f", "null", "-"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed on {path}: {proc.stderr.strip().splitlines()[-1:]}")
    found = re.findall(r"frame=\s*(\d+)", proc.stderr)
    frames = int(found[-1]) if found else 0
    return {"frames": frames, "seconds": seconds, "fps": frames / seconds if seconds else 0.0}


def frame_stream_decode(path: str | Path, fps: float, width: int | None, skip_nonref: bool) -> dict:
    """Run the analysis frame stream over the whole file; source frames covered per second."""
    info = media.probe(path)
    t0 = time.perf_counter()
    stream = media.frames(path, fps=fps, width=width, skip_nonref=skip_nonref, info=info)
    n = sum(1 for _ in stream)
    seconds = time.perf_counter() - t0
    source_frames = info.duration_s * info.fps
    return {
        "samples": n,
        "seconds": seconds,
        "decoded": stream.stats()["decoded"],
        "source_fps": source_frames / seconds if seconds else 0.0,
        "x_realtime": info.duration_s / seconds if seconds else 0.0,
    }
