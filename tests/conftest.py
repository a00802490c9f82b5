"""Shared fixtures: small generated matches (cached per session) and the ../shared data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL = SHARED / "data" / "real"
FRAMES_DFL = SHARED / "data" / "frames" / "dfl-bundesliga" / "valid"
COCO_ONNX = SHARED / "models" / "yolov8n_int8.onnx"

needs_shared = pytest.mark.skipif(not REAL.is_dir(), reason=f"real clips not found at {REAL} (../shared absent)")


def real_clip(rel: str) -> Path:
    p = REAL / rel
    if not p.exists():
        pytest.skip(f"real clip {p} not found (../shared absent)")
    return p


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `highlights` as a user would: a subprocess, exit code and both streams captured."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="120")
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *map(str, args)],
        capture_output=True, text=True, cwd=cwd or REPO, env=env, timeout=timeout,
    )


@pytest.fixture(scope="session", autouse=True)
def model_cache_dir(tmp_path_factory) -> Path:
    """Rewritten .onnx models (detect/onnx_prep.py) go to a temp folder, not ~/.cache;
    CLI subprocesses inherit it."""
    path = tmp_path_factory.mktemp("highlights-cache")
    old = os.environ.get("HIGHLIGHTS_CACHE")
    os.environ["HIGHLIGHTS_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("HIGHLIGHTS_CACHE", None)
    else:
        os.environ["HIGHLIGHTS_CACHE"] = old


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("synth")


@pytest.fixture(scope="session")
def short_match(synth_dir) -> Path:
    """A 20 s 640x360 generated match with one goal (seed 11)."""
    from pipeline import synth

    out = synth_dir / "short.mp4"
    synth.generate(out, duration_s=20.0, seed=11, size=(640, 360))
    return out


@pytest.fixture(scope="session")
def small_match(synth_dir) -> Path:
    """An 8 s 320x180 generated clip: the cheapest real h264 + aac file for I/O tests."""
    from pipeline import synth

    out = synth_dir / "small.mp4"
    synth.generate(out, duration_s=8.0, seed=5, size=(320, 180))
    return out


@pytest.fixture(scope="session")
def bad_inputs(synth_dir, small_match) -> dict[str, Path]:
    """Broken and awkward inputs, each made the way a user ends up with one."""
    d = synth_dir / "bad"
    d.mkdir()
    files: dict[str, Path] = {}
    files["missing"] = d / "does_not_exist.mp4"
    files["directory"] = d / "a_folder.mp4"
    files["directory"].mkdir()
    files["empty"] = d / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["text"] = d / "notes.mp4"
    files["text"].write_text("this is not a video\n" * 50)
    data = small_match.read_bytes()
    files["truncated"] = d / "truncated.mp4"
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["audio_only"] = d / "audio_only.m4a"
    ffmpeg("-i", str(small_match), "-vn", "-c:a", "copy", str(files["audio_only"]))
    return files


@pytest.fixture(scope="session")
def video_only(synth_dir, small_match) -> Path:
    out = synth_dir / "video_only.mp4"
    ffmpeg("-i", str(small_match), "-an", "-c:v", "copy", str(out))
    return out


def tone(sr: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
