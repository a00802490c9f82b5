"""Render: cut the selected segments from the original video and join them into a reel.

Takes the source path, segments (start/end seconds, chronological) and the render config;
gives `reel.mp4`, written through a temp file so a killed render never leaves a file that
looks complete. `moviepy` mode is frame-exact (re-encode, audio fades at every join,
optional crossfades and captions); `copy` mode stream-copies with ffmpeg from the keyframe
at or before each start: fast, not frame-exact.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

from .config import RenderConfig
from .errors import MediaError, OutputError
from .outputs import disk_full, finalize_mode
from .types import Segment

log = logging.getLogger(__name__)

Progress = Callable[[float], None]


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@lru_cache(maxsize=8)
def encoder_works(codec: str) -> bool:
    """True when ffmpeg has `codec` and it can encode one frame here (NVENC needs a GPU)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=black:s=256x144:d=0.1",
           "-frames:v", "1", "-c:v", codec, "-f", "null", "-"]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def resolve_codec(codec: str) -> tuple[str, str | None]:
    """(codec to use, message when it fell back)."""
    if codec == "libx264" or encoder_works(codec):
        return codec, None
    return "libx264", f"encoder {codec} is not available here (no GPU encoder?); using libx264"


def _codec_params(cfg: RenderConfig, codec: str) -> list[str]:
    if codec == "libx264":
        return ["-preset", cfg.preset, "-crf", str(cfg.crf), "-pix_fmt", "yuv420p"]
    if codec.endswith("_nvenc"):
        return ["-preset", "p4", "-cq", str(cfg.crf), "-pix_fmt", "yuv420p"]
    return ["-pix_fmt", "yuv420p"]


def _tmp_near(out: Path, suffix: str) -> Path:
    # ".tmp" in the name: what outputs.clean_stale_temps removes after a killed run.
    fd, name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f".tmp{suffix}", dir=out.parent)
    os.close(fd)
    return Path(name)


def _run_ffmpeg(args: list[str], what: str) -> None:
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["unknown ffmpeg error"])[-1]
        if "No space left" in proc.stderr or disk_full(Path(args[-1]).parent):  # the output is the last argument
            raise OutputError(f"{what}: disk full")
        raise OutputError(f"{what}: ffmpeg failed: {last}")


def _concat(parts: list[Path], out: Path) -> None:
    """Join parts with identical codec settings by stream copy (ffmpeg concat demuxer)."""
    lst = _tmp_near(out, ".txt")
    try:
        # Quoted for the concat demuxer: a ' in the folder name is written as '\''.
        lst.write_text("".join("file '" + p.resolve().as_posix().replace("'", "'\\''") + "'\n" for p in parts))
        _run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(lst), "-c", "copy", "-movflags", "+faststart", str(out)], "joining reel parts")
    finally:
        lst.unlink(missing_ok=True)


def _check(segments: Sequence[Segment], out: Path) -> None:
    if not segments:
        raise OutputError("no segments to render (nothing was selected)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out.parent}: {exc.strerror}") from None
    if not os.access(out.parent, os.W_OK):
        raise OutputError(f"{out.parent} is not writable")


def render_reel(
    source: str | os.PathLike,
    segments: Sequence[Segment],
    out: str | os.PathLike,
    cfg: RenderConfig,
    progress: Progress | None = None,
    mode: str | None = None,
) -> dict:
    """Render `segments` of `source` into `out`; returns what was done (mode, codec, notes)."""
    out = Path(out)
    _check(segments, out)
    mode = mode or cfg.mode
    if mode == "copy":
        return render_copy(source, segments, out, progress)
    return render_moviepy(source, segments, out, cfg, progress)


def render_copy(source, segments: Sequence[Segment], out: Path, progress: Progress | None = None) -> dict:
    """Stream copy from the keyframe at or before each start: fast, not frame-exact."""
    parts: list[Path] = []
    tmp = _tmp_near(out, ".mp4")
    try:
        for i, seg in enumerate(segments):
            part = _tmp_near(out, f".part{i}.mp4")
            parts.append(part)
            _run_ffmpeg(["-ss", f"{seg.start:.3f}", "-i", str(source), "-t", f"{seg.duration:.3f}", "-map", "0:v:0", "-map", "0:a:0?",
                         "-c", "copy", "-avoid_negative_ts", "make_zero", str(part)], f"cutting segment {seg.id}")
            if progress:
                progress((i + 1) / (len(segments) + 1))
        _concat(parts, tmp)
        finalize_mode(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        for p in parts:
            p.unlink(missing_ok=True)
    if progress:
        progress(1.0)
    return {"mode": "copy", "codec": "copy", "notes": ["stream copy: each segment starts at the keyframe at or before its start"]}


def _caption_filter(text: str, height: int):
    import cv2

    scale = max(height / 720, 0.4)

    def draw(frame):
        img = frame.copy()
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, int(2 * scale)))
        x, y = int(img.shape[1] - tw - 24 * scale), int(img.shape[0] - 24 * scale)
        cv2.rectangle(img, (x - 8, y - th - 8), (x + tw + 8, y + 8), (0, 0, 0), -1)
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
        return img

    return draw


def render_moviepy(source, segments: Sequence[Segment], out: Path, cfg: RenderConfig, progress: Progress | None = None) -> dict:
    """Frame-exact reel with moviepy, in batches of `cfg.batch_segments` to bound memory."""
    from moviepy import VideoFileClip, concatenate_videoclips
    from moviepy.audio import fx as afx
    from moviepy.video import fx as vfx

    codec, note = resolve_codec(cfg.codec)
    notes = [note] if note else []
    if note:
        log.warning(note)
    params = _codec_params(cfg, codec)
    preset = params[params.index("-preset") + 1] if "-preset" in params else None
    extra = [p for i, p in enumerate(params) if p != "-preset" and (i == 0 or params[i - 1] != "-preset")]
    threads = os.cpu_count() or 2
    parts: list[Path] = []
    tmp = _tmp_near(out, ".mp4")
    audio_tmp = _tmp_near(out, ".m4a")  # moviepy's own audio temp, named so an interrupt removes it
    batches = [list(segments[i: i + cfg.batch_segments]) for i in range(0, len(segments), cfg.batch_segments)]
    done = 0
    try:
        for b, batch in enumerate(batches):
            try:
                src = VideoFileClip(str(source), audio=True)
            except (OSError, IOError) as exc:
                raise MediaError(f"{source}: cannot be read for rendering ({exc})") from None
            try:
                clips = []
                for seg in batch:
                    end = min(seg.end, src.duration)
                    c = src.subclipped(max(seg.start, 0.0), end)
                    if c.audio is not None and cfg.audio_fade_s > 0:
                        c = c.with_effects([afx.AudioFadeIn(cfg.audio_fade_s), afx.AudioFadeOut(cfg.audio_fade_s)])
                    if cfg.caption:
                        c = c.image_transform(_caption_filter(f"#{seg.rank}  {int(seg.start // 60):02d}:{int(seg.start % 60):02d}", src.h))
                    if cfg.crossfade_s > 0 and clips:
                        c = c.with_effects([vfx.CrossFadeIn(cfg.crossfade_s)])
                    clips.append(c)
                if cfg.crossfade_s > 0:
                    reel = concatenate_videoclips(clips, method="compose", padding=-cfg.crossfade_s)
                else:
                    reel = concatenate_videoclips(clips, method="chain")
                target = tmp if len(batches) == 1 else _tmp_near(out, f".part{b}.mp4")
                if len(batches) > 1:
                    parts.append(target)
                reel.write_videofile(
                    str(target), codec=codec, audio_codec="aac", preset=preset, ffmpeg_params=extra,
                    threads=threads, logger=None, fps=src.fps,
                    temp_audiofile=str(audio_tmp),
                )
                reel.close()
                for c in clips:
                    c.close()
            except OSError as exc:
                if "No space left" in str(exc) or disk_full(out.parent):
                    raise OutputError(f"writing {out}: disk full") from None
                raise
            finally:
                src.close()
            done += len(batch)
            if progress:
                progress(done / (len(segments) + (1 if len(batches) > 1 else 0)))
        if len(batches) > 1:
            _concat(parts, tmp)
        finalize_mode(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        audio_tmp.unlink(missing_ok=True)
        for p in parts:
            p.unlink(missing_ok=True)
    if progress:
        progress(1.0)
    return {"mode": "moviepy", "codec": codec, "notes": notes}


def render_ffmpeg(source, segments: Sequence[Segment], out: Path, cfg: RenderConfig) -> dict:
    """The same reel with ffmpeg alone: fast input seeking per segment (frame-exact when
    re-encoding), audio fades, concat filter, same codec settings.

    The yardstick for moviepy's throughput in `benchmarks/render.py`.
    """
    codec, _ = resolve_codec(cfg.codec)
    inputs: list[str] = []
    chains = []
    labels = []
    fade = cfg.audio_fade_s
    for i, seg in enumerate(segments):
        inputs += ["-ss", f"{seg.start:.3f}", "-t", f"{seg.duration:.3f}", "-i", str(source)]
        chains.append(f"[{i}:v]setpts=PTS-STARTPTS[v{i}]")
        chains.append(f"[{i}:a]asetpts=PTS-STARTPTS,afade=t=in:d={fade},"
                      f"afade=t=out:st={max(seg.duration - fade, 0):.3f}:d={fade}[a{i}]")
        labels.append(f"[v{i}][a{i}]")
    graph = ";".join(chains) + ";" + "".join(labels) + f"concat=n={len(segments)}:v=1:a=1[v][a]"
    _run_ffmpeg([*inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-c:v", codec,
                 *_codec_params(cfg, codec), "-c:a", "aac", str(out)], "ffmpeg reference render")
    return {"mode": "ffmpeg", "codec": codec}


def has_ffmpeg() -> bool:
    return bool(shutil.which(ffmpeg_exe()) or Path(ffmpeg_exe()).exists())
