"""Render: moviepy reel, stream-copy reel, batches, fallbacks, no half files."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import media
from pipeline.config import load_config
from pipeline.errors import OutputError
from pipeline.render import render_reel, resolve_codec
from pipeline.types import Segment

SEGS = [Segment("s001", 1.0, 3.0, 2.0, 1.0, {}), Segment("s002", 4.0, 5.5, 5.0, 1.0, {}), Segment("s003", 6.0, 7.5, 7.0, 1.0, {})]


def test_moviepy_reel_in_batches_is_frame_exact_with_sound(tmp_path, small_match):
    cfg = load_config(overrides=["render.batch_segments=2"]).render
    out = tmp_path / "reel.mp4"
    info = render_reel(small_match, SEGS, out, cfg)
    assert info["mode"] == "moviepy"
    got = media.probe(out)
    assert got.duration_s == pytest.approx(5.0, abs=0.15)
    x = media.audio(out, sr=8000).read_all()
    assert np.sqrt(np.mean(x ** 2)) > 1e-3
    assert not [p for p in tmp_path.iterdir() if p.name != "reel.mp4"]  # no temp files left


def test_copy_mode_is_fast_path_not_exact(tmp_path, small_match):
    out = tmp_path / "copy.mp4"
    info = render_reel(small_match, SEGS, out, load_config().render, mode="copy")
    assert info["mode"] == "copy" and "keyframe" in info["notes"][0]
    assert media.probe(out).duration_s >= 4.5


def test_caption_and_crossfade(tmp_path, small_match):
    cfg = load_config(overrides=["render.caption=true", "render.crossfade_s=0.3"]).render
    out = tmp_path / "fancy.mp4"
    render_reel(small_match, SEGS[:2], out, cfg)
    assert media.probe(out).duration_s == pytest.approx(3.5 - 0.3, abs=0.2)


def test_missing_gpu_encoder_falls_back_to_x264():
    codec, note = resolve_codec("h264_nvenc")
    if codec == "h264_nvenc":
        pytest.skip("this machine has a working NVENC encoder")
    assert codec == "libx264" and "h264_nvenc" in note


def test_nothing_selected_is_an_output_error(tmp_path, small_match):
    with pytest.raises(OutputError):
        render_reel(small_match, [], tmp_path / "r.mp4", load_config().render)


def test_gpu_profile_falls_back_to_cpu_here(tmp_path, small_match):
    """configs/gpu.yaml loads, and on a machine without CUDA every GPU part says so and runs."""
    from pipeline import media
    from pipeline.config import load_config
    from pipeline.detect.yolo import resolve_device

    cfg = load_config("configs/gpu.yaml")
    assert cfg.detect.backend == "yolo" and cfg.detect.half and cfg.render.codec == "h264_nvenc"
    accel, note = media.hwaccel_decoder(cfg.media.hwaccel, small_match)
    device = resolve_device(cfg.detect.device)
    if accel is not None or device.startswith("cuda"):
        pytest.skip("this machine has a GPU")
    assert accel is None and note.startswith("cpu decoding")
    assert device in ("cpu", "mps")
    # Frames still come, decoded on the CPU.
    assert len(list(media.frames(small_match, fps=2, width=160, hwaccel=accel))) >= 14
