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


def ffmpeg_decode(path: str | Path, threads: int = 0) -> dict:
    """Decode every video frame with ffmpeg (`-f null`), no audio; frames, seconds, fps."""
    cmd = [media.ffmpeg_exe(), "-hide_banner", "-nostats", "-threads", str(threads), "-nostdin", "-i", media.local_url(path),
           "-map", "0:v:0", "-f", "null", "-"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed on {path}: {proc.stderr.strip().splitlines()[-1:]}")
    found = re.findall(r"frame=\s*(\d+)", proc.stderr)
    frames = int(found[-1]) if found else 0
    return {"frames": frames, "seconds": seconds, "fps": frames / seconds if seconds else 0.0}


def frame_stream_decode(path: str | Path, fps: float, width: int | None, skip_nonref: bool,
                        skip_loop_filter: bool = False) -> dict:
    """Run the analysis frame stream over the whole file; source frames covered per second."""
    info = media.probe(path)
    t0 = time.perf_counter()
    stream = media.frames(path, fps=fps, width=width, skip_nonref=skip_nonref, info=info,
                          skip_loop_filter=skip_loop_filter)
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


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench(video: str | Path, cfg, detector=None, reporter=None, repeat_decode: int = 1) -> dict:
    """ffmpeg's own full decode of VIDEO and our analysis of it, measured in one run.

    `analysis_fps` counts source frames (duration x frame rate) per second of analysis, so
    `ratio_vs_decode` = analysis_fps / ffmpeg decode fps compares like with like. The analysis
    runs with a fresh cache (nothing reused). Stage seconds are each stage's own busy time:
    decoding, audio and detection run side by side, so they add up to more than the total.
    """
    import tempfile

    from . import run as runmod

    info = media.probe(video)
    ff = max((ffmpeg_decode(video) for _ in range(max(repeat_decode, 1))), key=lambda r: r["fps"])
    with tempfile.TemporaryDirectory(prefix="highlights-bench-") as tmp:
        t0 = time.perf_counter()
        a = runmod.analyze(video, cfg, Path(tmp), reporter=reporter, reuse_cache=False, detector=detector)
        seconds = time.perf_counter() - t0
    source_frames = info.duration_s * info.fps
    analysis_fps = source_frames / seconds if seconds else 0.0
    return {
        "input": str(video),
        "duration_s": round(info.duration_s, 3),
        "size": [info.width, info.height],
        "fps": round(info.fps, 3),
        "decode_fps": round(ff["fps"], 1),
        "analysis_fps": round(analysis_fps, 1),
        "ratio_vs_decode": round(analysis_fps / ff["fps"], 3) if ff["fps"] else None,
        "x_realtime": round(info.duration_s / seconds, 2) if seconds else None,
        "analysis_s": round(seconds, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "stages": {k: round(v, 3) for k, v in a.timings.items()},
        "detector": a.detector.get("backend"),
        "onnx_prep": a.detector.get("onnx_prep"),
        "notes": a.notes,
    }
