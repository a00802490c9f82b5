"""Media I/O: probe, sampled frame stream with PTS times, aligned mono audio, bad inputs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from pipeline import media
from pipeline.errors import MediaError

from .conftest import REAL, ffmpeg, ffmpeg_exe, needs_shared, real_clip, run_cli

# ---------------------------------------------------------------- generated clips


def test_probe_generated_match(short_match):
    info = media.probe(short_match)
    assert info.has_video and info.has_audio
    assert (info.width, info.height) == (640, 360)
    assert info.fps == pytest.approx(25.0)
    assert not info.vfr
    assert info.duration_s == pytest.approx(20.0, abs=0.1)
    assert info.audio[0].sample_rate == 44100


@pytest.mark.parametrize("fps", [5.0, 2.0, 1.0])
def test_frame_times_monotonic_at_requested_rate(short_match, fps):
    stream = media.frames(short_match, fps=fps, width=320, skip_nonref=False)
    ts = np.array([f.t_s for f in stream])
    assert np.all(np.diff(ts) > 0)
    assert len(ts) == pytest.approx(20.0 * fps, abs=1)
    # On a constant 25 fps source every sample lands within half a source frame of its grid slot.
    assert np.max(np.abs(ts - np.round(ts * fps) / fps)) <= 0.5 / 25 + 1e-6


def test_frames_are_scaled_bgr_at_analysis_width(short_match):
    f = next(iter(media.frames(short_match, fps=5, width=320)))
    assert f.image.shape == (180, 320, 3) and f.image.dtype == np.uint8
    assert f.scale == pytest.approx(0.5)
    # The generated pitch is green: G is the dominant channel of a BGR frame.
    b, g, r = f.image.reshape(-1, 3).mean(0)
    assert g > r and g > b


def test_skip_nonref_keeps_times_correct(short_match):
    plain = [f.t_s for f in media.frames(short_match, fps=5, width=160, skip_nonref=False)]
    stream = media.frames(short_match, fps=5, width=160, skip_nonref=True)
    skipped = [f.t_s for f in stream]
    assert stream.stats()["skip_nonref"] is True
    assert stream.stats()["decoded"] < 500  # 20 s at 25 fps = 500 frames; B-frames were skipped
    assert np.all(np.diff(skipped) > 0)
    # Each sample is a real frame (multiple of 1/25 s) near its grid slot.
    assert np.allclose(np.round(np.array(skipped) * 25), np.array(skipped) * 25, atol=1e-3)
    assert len(skipped) >= len(plain) * 0.9


@needs_shared
def test_skipping_the_loop_filter_keeps_times_and_pictures():
    """Analysis decoding without deblocking: the same samples at the same times, pictures that
    differ by well under what the stages notice (measured: median 39 dB PSNR at 640 px)."""
    import cv2

    clip = real_clip("seriea_inter_napoli_audio/match.mp4")
    plain = list(media.frames(clip, fps=5, width=640, end_s=8.0))
    fast = list(media.frames(clip, fps=5, width=640, end_s=8.0, skip_loop_filter=True))
    assert [f.t_s for f in fast] == [f.t_s for f in plain]
    psnr = [cv2.PSNR(a.image, b.image) for a, b in zip(plain, fast)]
    assert np.median(psnr) > 33.0 and min(psnr) > 28.0
    assert max(psnr) < 99  # the option really changed the decoding


def test_start_and_end_window(short_match):
    ts = [f.t_s for f in media.frames(short_match, fps=5, width=160, start_s=10.0, end_s=12.0)]
    assert ts[0] == pytest.approx(10.0, abs=0.05)
    assert ts[-1] < 12.0 and len(ts) == pytest.approx(10, abs=1)


@pytest.mark.parametrize("rel", ["laliga_rm_sevilla_audio/soccer.mp4", "goal_benfica_porto_audio/goal.mp4", None],
                         ids=["laliga-mid-gop-start", "benfica-vfr", "generated"])
def test_seeking_gives_the_same_frame_as_decoding_from_the_start(rel, short_match):
    """After a seek the decoder skips non-reference frames until just before the target;
    the frame found must be exactly the one a decode from the start shows at that time."""
    path = short_match if rel is None else real_clip(rel)
    info = media.probe(path)
    rate = max(info.fps, 25.0)
    every = [(f.t_s, f.image) for f in media.frames(path, fps=rate, width=192, skip_nonref=False, info=info)]
    times = np.array([t for t, _ in every])
    rng = np.random.default_rng(0)
    for t in sorted(rng.uniform(0.5, info.duration_s - 1.0, 12)):
        stream = media.frames(path, fps=rate, width=192, skip_nonref=False, start_s=float(t), end_s=float(t) + 2.0,
                              info=info)
        got = next(iter(stream))
        i = int(np.argmin(np.abs(times - got.t_s)))
        assert abs(times[i] - got.t_s) < 1e-6, (t, got.t_s)
        assert t - 0.5 / rate <= got.t_s < t + 0.1
        assert np.array_equal(got.image, every[i][1]), f"frame at {got.t_s:.3f} s differs after a seek to {t:.3f} s"
        assert stream.decoded <= len(every)


def test_rotation_metadata_gives_display_size(synth_dir, small_match):
    rotated = synth_dir / "portrait.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(small_match), "-c", "copy", str(rotated))
    info = media.probe(rotated)
    assert (info.width, info.height) == (180, 320)
    assert info.rotation in (90, 270)
    f = next(iter(media.frames(rotated, fps=1, width=90)))
    assert f.image.shape[:2] == (160, 90)


@pytest.mark.parametrize("rate", ["30000/1001", "60000/1001"])
def test_ntsc_rates(synth_dir, small_match, rate):
    out = synth_dir / f"ntsc_{rate.split('/')[0]}.mp4"
    ffmpeg("-i", str(small_match), "-t", "4", "-r", rate, "-c:v", "libx264", "-preset", "ultrafast", "-an", str(out))
    info = media.probe(out)
    assert info.fps == pytest.approx(eval(rate), rel=1e-3)
    assert not info.vfr
    ts = np.array([f.t_s for f in media.frames(out, fps=5, width=160)])
    assert len(ts) == pytest.approx(20, abs=1)
    assert np.all(np.diff(ts) > 0.1)


def test_audio_is_mono_float_aligned_and_not_constant(short_match):
    track = media.audio(short_match, sr=22050, chunk_s=3.0)
    assert track.present
    chunks = list(track.chunks())
    assert all(c.dtype == np.float32 and c.ndim == 1 for _, c in chunks)
    t0s = [t for t, _ in chunks]
    assert t0s[0] == 0.0 and np.allclose(np.diff(t0s), 3.0)  # contiguous chunks
    x = np.concatenate([c for _, c in chunks])
    assert len(x) / 22050 == pytest.approx(20.0, abs=0.1)
    assert np.std(x) > 1e-3 and track.peak > 0.01


def test_audio_chunking_does_not_change_samples(short_match):
    a = media.audio(short_match, sr=16000, chunk_s=1.0).read_all()
    b = media.audio(short_match, sr=16000, chunk_s=7.0).read_all()
    assert len(a) == len(b) and np.array_equal(a, b)


def test_audio_alignment_with_delayed_audio(synth_dir, small_match):
    """Audio that starts 1 s after the video is padded so sample i stays at t = i / sr."""
    delayed = synth_dir / "delayed_audio.mp4"
    ffmpeg("-i", str(small_match), "-itsoffset", "1.0", "-i", str(small_match), "-map", "0:v", "-map", "1:a", "-c", "copy", str(delayed))
    ref = media.audio(small_match, sr=8000).read_all()
    x = media.audio(delayed, sr=8000).read_all()
    lead = x[: int(0.9 * 8000)]
    assert np.max(np.abs(lead)) < 1e-4
    # The same sound shows up 1 s later.
    env_ref = np.abs(ref[:40000]).reshape(-1, 400).mean(1)
    env_x = np.abs(x[:48000]).reshape(-1, 400).mean(1)
    lag = np.argmax(np.correlate(env_x - env_x.mean(), env_ref - env_ref.mean(), "full")) - (len(env_ref) - 1)
    assert lag * 400 / 8000 == pytest.approx(1.0, abs=0.1)


def test_no_audio_stream_is_explicit(video_only):
    track = media.audio(video_only)
    assert not track.present and "no audio" in track.reason
    assert list(track.chunks()) == []


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("kind, needle", [
    ("missing", "no such file"), ("directory", "directory"), ("empty", "empty"),
    ("text", "not a media file"), ("truncated", ""),
])
def test_bad_inputs_raise_media_error(bad_inputs, kind, needle):
    with pytest.raises(MediaError) as exc:
        media.probe(bad_inputs[kind])
    assert needle in str(exc.value)


def test_audio_only_where_video_is_needed(bad_inputs):
    info = media.probe(bad_inputs["audio_only"])
    assert not info.has_video and info.has_audio
    with pytest.raises(MediaError, match="no video stream"):
        media.frames(bad_inputs["audio_only"])


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "text", "truncated"])
def test_cli_bad_input_one_line_exit_3(bad_inputs, kind):
    r = run_cli("probe", bad_inputs[kind])
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: ")


# ---------------------------------------------------------------- real clips


REAL_VIDEOS = {
    # path: (width, height, fps, vfr, audio channels or None)
    "laliga_rm_sevilla_audio/soccer.mp4": (1280, 720, 29.97, False, 2),
    "seriea_inter_napoli_audio/match.mp4": (1280, 720, 25.0, False, 2),
    "seriea_inter_quiet_audio/football.mp4": (848, 478, 59.98, False, 2),
    "tactical_cam_crowd_only_audio/football.mp4": (1280, 720, 29.97, False, 2),
    "goal_benfica_porto_audio/goal.mp4": (1280, 576, 25.28, True, 2),
    "goal_barca_athletic_replays_audio/mesi.mp4": (426, 240, 30.0, False, 2),
    "amateur_indoor_noaudio/football4.mp4": (960, 540, 25.0, False, None),
    "amateur_indoor_noaudio/football.mp4": (540, 960, 25.0, False, 2),
}


@needs_shared
@pytest.mark.parametrize("rel", sorted(REAL_VIDEOS))
def test_probe_real_clips(rel):
    w, h, fps, vfr, ch = REAL_VIDEOS[rel]
    info = media.probe(real_clip(rel))
    assert (info.width, info.height) == (w, h)
    assert info.fps == pytest.approx(fps, abs=0.02)
    assert info.vfr == vfr
    assert (info.audio[0].channels if info.audio else None) == ch


@needs_shared
def test_vfr_clip_times_follow_pts():
    """The Benfica clip is variable frame rate: sample times come from PTS, not index / fps."""
    stream = media.frames(real_clip("goal_benfica_porto_audio/goal.mp4"), fps=5, width=320)
    ts = np.array([f.t_s for f in stream])
    assert ts[-1] == pytest.approx(11.6, abs=0.2)
    assert len(ts) == pytest.approx(11.69 * 5, abs=2)
    assert np.all(np.diff(ts) > 0.1)


@needs_shared
def test_all_zero_audio_is_present_but_silent():
    track = media.audio(real_clip("amateur_indoor_noaudio/football.mp4"))
    x = track.read_all()
    assert track.present and track.silent and len(x) > 0 and not np.any(x)


@needs_shared
def test_real_audio_is_not_constant():
    """moviepy's to_soundarray(fps=16000) returned a constant array on these clips."""
    x = media.audio(real_clip("laliga_rm_sevilla_audio/soccer.mp4"), sr=16000).read_all()
    assert len(x) / 16000 == pytest.approx(21.0, abs=0.1)
    per_s = np.sqrt(np.mean(x[: 21 * 16000].reshape(21, -1) ** 2, axis=1))
    assert per_s.std() > 0.005 and len(np.unique(np.round(x[:16000], 4))) > 100


@needs_shared
def test_audio_only_real_file():
    info = media.probe(real_clip("crowd_audio_brazil_stadium/crowd.mp3"))
    assert not info.has_video and info.audio[0].sample_rate == 16000


# ---------------------------------------------------------------- awkward names, streams, headers


@contextmanager
def stdin_untouched(tmp_path):
    """fd 0 is a file of bait bytes for the duration; afterwards nothing may have read any of
    it (in this process, or in an ffmpeg child inheriting it)."""
    bait = tmp_path / "stdin.bait"
    bait.write_bytes(b"this is stdin, not a video\n" * 4096)
    saved = os.dup(0)
    fd = os.open(bait, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    try:
        yield
        assert os.lseek(0, 0, os.SEEK_CUR) == 0, "stdin was read"
    finally:
        os.dup2(saved, 0)
        os.close(saved)


URL_LIKE_NAMES = ["pipe:0", "2024-05-11T20:45.mp4"]


@pytest.mark.parametrize("name", URL_LIKE_NAMES)
def test_names_that_look_like_urls_are_local_files(tmp_path, monkeypatch, small_match, name):
    """A file named `pipe:0` is not stdin, and `2024-05-11T20:45.mp4` asks for no protocol
    "2024-05-11T20": given by a relative name, each is the file of that name."""
    shutil.copy(small_match, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    ref = media.probe(small_match)
    with stdin_untouched(tmp_path):
        info = media.probe(name)
        ts = [f.t_s for f in media.frames(name, fps=2, width=160)]
        x = media.audio(name, sr=8000).read_all()
        accel, _ = media.hwaccel_decoder("auto", name)
    assert info.duration_s == pytest.approx(ref.duration_s) and (info.width, info.height) == (ref.width, ref.height)
    assert len(ts) == pytest.approx(ref.duration_s * 2, abs=1) and ts[0] < 0.1
    assert len(x) / 8000 == pytest.approx(ref.duration_s, abs=0.1) and np.sqrt(np.mean(x ** 2)) > 1e-3


def _two_video_streams(tmp_path, small_match, ext: str, marked: bool) -> Path:
    """A 1 s 160x90 preview as the first video stream, the 8 s match second (marked default
    when `marked`; in mkv every stream is default unless told otherwise)."""
    preview = tmp_path / "preview.mp4"
    ffmpeg("-i", str(small_match), "-t", "1", "-vf", "scale=160:90", "-an", "-c:v", "libx264", "-preset", "ultrafast",
           str(preview))
    out = tmp_path / f"two_videos_{'marked' if marked else 'unmarked'}.{ext}"
    flags = ["-disposition:v:0", "0", "-disposition:v:1", "default"] if marked else []
    ffmpeg("-i", str(small_match), "-i", str(preview), "-map", "1:v", "-map", "0:v", "-map", "0:a", "-c", "copy",
           *flags, str(out))
    return out


@pytest.mark.parametrize("ext, marked", [("mp4", True), ("mkv", True), ("mkv", False)])
def test_default_or_longest_video_stream_is_analysed_not_the_first(tmp_path, small_match, ext, marked):
    path = _two_video_streams(tmp_path, small_match, ext, marked)
    info = media.probe(path)
    assert info.video_stream == 1 and info.to_dict()["video_stream"] == 1
    assert (info.width, info.height) == (320, 180) and info.duration_s == pytest.approx(8.0, abs=0.1)
    frames = list(media.frames(path, fps=2, width=None, info=info))
    assert frames[-1].t_s > 7.0 and frames[0].image.shape == (180, 320, 3)


def _silent_first_track(tmp_path, small_match, marked: str) -> Path:
    """Silence (anullsrc) as audio track 1, the match's sound as track 2; `marked`: which
    tracks carry the default mark ("second" or "both")."""
    flags = {"second": ["-disposition:a:0", "0", "-disposition:a:1", "default"],
             "both": ["-disposition:a:0", "default", "-disposition:a:1", "default"]}[marked]
    out = tmp_path / f"silent_first_{marked}.mkv"
    ffmpeg("-i", str(small_match), "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-map", "0:v", "-map", "1:a",
           "-map", "0:a", "-c:v", "copy", "-c:a", "aac", "-shortest", *flags, str(out))
    return out


@pytest.mark.parametrize("marked", ["second", "both"])
def test_a_silent_first_audio_track_is_not_analysed(tmp_path, small_match, marked):
    path = _silent_first_track(tmp_path, small_match, marked)
    info = media.probe(path)
    assert [a.index for a in info.audio] == [1, 2]
    assert info.audio_stream == 2 and info.to_dict()["audio_stream"] == 2
    track = media.audio(path, sr=8000, info=info)
    x = track.read_all()
    assert track.stream_index == 2 and not track.silent and np.sqrt(np.mean(x ** 2)) > 1e-3


def _lying_header(tmp_path, small_match, kind: str) -> Path:
    from .media_cases import mkv_with_stated_duration

    if kind == "header_3h":
        return mkv_with_stated_duration(small_match, tmp_path / "header_3h.mkv", 3 * 3600.0)
    if kind == "no_duration":
        out = tmp_path / "piped.mkv"
        with open(out, "wb") as f:
            subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(small_match), "-c", "copy",
                            "-f", "matroska", "pipe:1"], stdout=f, stdin=subprocess.DEVNULL, check=True)
        return out
    out = tmp_path / f"{kind}.{kind.split('_')[-1]}"  # offset_mkv, offset_ts
    ffmpeg("-i", str(small_match), "-c", "copy", "-output_ts_offset", "10000", str(out))
    return out


@pytest.mark.parametrize("kind", ["header_3h", "offset_mkv", "offset_ts", "no_duration"])
def test_length_is_the_footage_not_the_header(tmp_path, small_match, kind):
    """An 8 s clip whose header says 3 h, whose timestamps start at 10 000 s, or that states
    no length at all (a recording never finalised): 8 s, times from 0."""
    path = _lying_header(tmp_path, small_match, kind)
    info = media.probe(path)
    assert info.duration_s == pytest.approx(8.0, abs=0.1)
    if kind == "header_3h":
        assert info.to_dict()["stated_duration_s"] == pytest.approx(3 * 3600.0)
    if kind == "no_duration":
        assert info.stated_duration_s is None
    ts = [f.t_s for f in media.frames(path, fps=5, width=160, info=info)]
    assert ts[0] < 0.1 and 7.5 < ts[-1] < 8.0 and len(ts) == pytest.approx(40, abs=2)
    x = media.audio(path, sr=8000, info=info).read_all()
    assert len(x) / 8000 == pytest.approx(8.0, abs=0.1)


def test_a_cut_off_mp4_keeps_its_indexed_length(synth_dir, small_match):
    """The MP4 index lists every frame: footage ending early means lost data, so the
    indexed length stays (the run then notes where the video stops)."""
    full = synth_dir / "faststart_for_cut.mp4"
    ffmpeg("-i", str(small_match), "-c", "copy", "-movflags", "+faststart", str(full))
    data = full.read_bytes()
    cut = synth_dir / "faststart_cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    info = media.probe(cut)
    assert info.duration_s == pytest.approx(8.0, abs=0.1)
    assert [f.t_s for f in media.frames(cut, fps=2, width=160)][-1] < 6.0


def test_fifo_symlink_loop_and_broken_link_say_what_they_are(tmp_path):
    fifo = tmp_path / "feed.mp4"
    os.mkfifo(fifo)
    (tmp_path / "a.mp4").symlink_to("b.mp4")
    (tmp_path / "b.mp4").symlink_to("a.mp4")
    (tmp_path / "dangling.mp4").symlink_to("moved_away.mp4")
    for path, needle in [(fifo, "not a regular file (a FIFO)"), (tmp_path / "a.mp4", "symlink loop"),
                         (tmp_path / "dangling.mp4", "broken symlink (points to moved_away.mp4")]:
        with pytest.raises(MediaError, match=re.escape(needle)):
            media.probe(path)
    r = run_cli("probe", fifo, timeout=60)  # opening the FIFO would block: the check must come first
    assert r.returncode == 3
    assert r.stderr.strip() == f"error: {fifo}: not a regular file (a FIFO); give the path of a video file"
