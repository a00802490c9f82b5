"""Render: moviepy reel, stream-copy reel, batches, fallbacks, no half files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from pipeline import media, render
from pipeline.config import load_config
from pipeline.errors import ConfigError, MediaError, OutputError
from pipeline.render import render_reel, resolve_codec
from pipeline.types import Segment

from .conftest import ffmpeg
from .test_media import URL_LIKE_NAMES, _silent_first_track, _two_video_streams, stdin_untouched

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


def _rms(path) -> float:
    x = media.audio(path, sr=8000).read_all()
    return float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0


@pytest.mark.parametrize("mode", ["moviepy", "copy"])
@pytest.mark.parametrize("name", URL_LIKE_NAMES)
def test_reel_from_names_that_look_like_urls(tmp_path, monkeypatch, small_match, name, mode):
    """Source `pipe:0` or `2024-05-11T20:45.mp4` by a relative name, the reel into a relative
    folder with a colon: the files of those names, stdin never read."""
    shutil.copy(small_match, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    with stdin_untouched(tmp_path):
        info = render_reel(name, SEGS[:2], "20:45 reels/reel.mp4", load_config().render, mode=mode)
    reel = tmp_path / "20:45 reels" / "reel.mp4"
    assert info["mode"] == mode
    got = media.probe(reel)
    assert got.has_video and got.duration_s >= 3.4 and _rms(reel) > 1e-3


@pytest.mark.parametrize("mode", ["moviepy", "copy"])
def test_reel_is_cut_from_the_analysed_streams(tmp_path, small_match, mode):
    """A 1 s preview as first video stream (no stream marked, so moviepy alone would size
    its frames from the preview), a silent first audio track marked default like the real
    one: the reel shows the match and has its sound."""
    two = _two_video_streams(tmp_path, small_match, "mkv", marked=False)
    silent = _silent_first_track(tmp_path, small_match, "both")
    for src in (two, silent):
        out = tmp_path / f"reel_{src.stem}_{mode}.mp4"
        done = render_reel(src, SEGS[:2], out, load_config().render, mode=mode)
        got = media.probe(out)
        assert (got.width, got.height) == (320, 180) and got.duration_s >= 3.4
        assert _rms(out) > 1e-3, f"{src.name}: the reel is silent"
        if mode == "moviepy":
            assert "analysed streams" in done["notes"][0]


def test_odd_frame_size_gets_a_playable_reel(tmp_path, small_match):
    odd = tmp_path / "odd_321x179.mp4"
    ffmpeg("-i", str(small_match), "-vf", "scale=321:179", "-c:v", "libx264", "-pix_fmt", "yuv444p",
           "-preset", "ultrafast", "-c:a", "copy", str(odd))
    out = tmp_path / "reel.mp4"
    render_reel(odd, SEGS[:2], out, load_config().render)
    got = media.probe(out)
    assert (got.width, got.height) == (322, 180) and got.duration_s == pytest.approx(3.5, abs=0.1)
    assert len(list(media.frames(out, fps=5, width=None))) >= 15


def test_segments_shorter_than_a_frame_are_left_out(tmp_path, small_match):
    """At 25 fps a frame lasts 40 ms: a 20 ms segment is dropped with a note; a selection
    of nothing else is refused (exit 2) and leaves no reel."""
    tiny = Segment("s009", 6.50, 6.52, 6.5, 1.0, {})
    out = tmp_path / "reel.mp4"
    done = render_reel(small_match, [SEGS[0], tiny], out, load_config().render)
    assert any("s009" in n and "shorter than one frame" in n for n in done["notes"])
    assert media.probe(out).duration_s == pytest.approx(2.0, abs=0.1)
    out.unlink()
    for mode in ("moviepy", "copy"):
        with pytest.raises(ConfigError, match="shorter than one frame") as exc:
            render_reel(small_match, [tiny], out, load_config().render, mode=mode)
        assert exc.value.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_a_reel_without_video_is_never_put_in_place(tmp_path, small_match, monkeypatch):
    """Should a render still come out without a video stream, it is an error, not a reel."""
    monkeypatch.setattr(render, "playable", lambda segments, info: (list(segments), []))
    out = tmp_path / "reel.mp4"
    with pytest.raises(OutputError, match="holds no video"):
        render_reel(small_match, [Segment("s009", 6.50, 6.52, 6.5, 1.0, {})], out, load_config().render)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("mode", ["moviepy", "copy"])
def test_missing_source_is_a_media_error_before_ffmpeg_runs(tmp_path, mode, monkeypatch):
    def no_ffmpeg(*a, **k):
        raise AssertionError("ffmpeg ran")

    monkeypatch.setattr(render.subprocess, "run", no_ffmpeg)
    with pytest.raises(MediaError, match="no such file") as exc:
        render_reel(tmp_path / "moved.mp4", SEGS, tmp_path / "out" / "reel.mp4", load_config().render, mode=mode)
    assert exc.value.exit_code == 3
    assert not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize("mode", ["moviepy", "copy"])
def test_newline_and_quotes_in_the_output_folder(tmp_path, small_match, mode):
    """Parts joined through the concat list (copy mode; moviepy in batches of one) in a folder
    whose name holds a newline, quotes and a colon."""
    out = tmp_path / "night\nmatch 'A' \"B\" 20:45" / "reel.mp4"
    cfg = load_config(overrides=["render.batch_segments=1"]).render
    render_reel(small_match, SEGS, out, cfg, mode=mode)
    got = media.probe(out)
    assert got.has_video and got.duration_s >= 4.9
    assert [p.name for p in out.parent.iterdir()] == ["reel.mp4"]
