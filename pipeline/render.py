"""Render: cut the selected segments from the original video and join them into a reel.

Takes the source path, segments (start/end seconds, chronological) and the render config;
gives `reel.mp4`, written through a temp file so a killed render never leaves a file that
looks complete. `moviepy` mode is frame-exact (re-encode, audio fades at every join,
optional crossfades and captions); `copy` mode stream-copies with ffmpeg from the keyframe
at or before each start: fast, not frame-exact.

Every path reaches ffmpeg as a local file (`file:` + absolute path: a name like `pipe:0` or
`20:45.mp4` is no URL), the streams cut are the ones `media.probe` chose for the analysis,
and a reel is only put in place once it is known to hold video.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

from . import media
from .config import RenderConfig
from .errors import ConfigError, MediaError, OutputError
from .outputs import disk_full, finalize_mode, temp_path
from .types import MediaInfo, Segment

log = logging.getLogger(__name__)

Progress = Callable[[float], None]


@lru_cache(maxsize=8)
def encoder_works(codec: str) -> bool:
    """True when ffmpeg has `codec` and it can encode one frame here (NVENC needs a GPU)."""
    cmd = [media.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=black:s=256x144:d=0.1",
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
    # Named from a plain version of out's name: the concat list names parts by their file
    # name, which must not hold a newline or a quote.
    return temp_path(out.with_name(re.sub(r"[^\w.-]", "_", out.name)), suffix)


def _run_ffmpeg(args: list[str], what: str) -> None:
    """ffmpeg with `args`, the output last (an absolute path); never reads stdin."""
    proc = subprocess.run([media.ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["unknown ffmpeg error"])[-1]
        if "No space left" in proc.stderr or disk_full(Path(args[-1]).parent):  # the output is the last argument
            raise OutputError(f"{what}: disk full")
        raise OutputError(f"{what}: ffmpeg failed: {last}")


def _concat(parts: list[Path], out: Path) -> None:
    """Join parts with identical codec settings by stream copy (ffmpeg concat demuxer).

    The list names each part by its file name alone (the parts lie beside the list), so no
    folder name, whatever it holds (a newline, quotes), is ever written into it."""
    lst = _tmp_near(out, ".txt")
    try:
        lst.write_text("".join("file '" + p.name.replace("'", "'\\''") + "'\n" for p in parts))
        _run_ffmpeg(["-f", "concat", "-safe", "0", "-i", media.local_url(lst), "-c", "copy", "-movflags", "+faststart",
                     str(out)], "joining reel parts")
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


def playable(segments: Sequence[Segment], info: MediaInfo) -> tuple[list[Segment], list[str]]:
    """The segments that hold at least one frame of the video, and a note per one left out.

    Raises ConfigError when none does: a reel needs at least one frame.
    """
    frame_s = 1.0 / (info.fps or 25.0)
    keep, notes = [], []
    for seg in segments:
        length = min(seg.end, info.duration_s) - max(seg.start, 0.0)
        if length >= frame_s - 1e-6:
            keep.append(seg)
        elif seg.start >= info.duration_s:
            notes.append(f"segment {seg.id} starts at {seg.start:.2f} s, after the video ends "
                         f"({info.duration_s:.2f} s): left out of the reel")
        else:
            notes.append(f"segment {seg.id} ({max(length, 0.0) * 1000:.0f} ms) is shorter than one frame "
                         f"({frame_s * 1000:.0f} ms at {info.fps:.3g} fps): left out of the reel")
    if not keep:
        total = sum(max(min(s.end, info.duration_s) - max(s.start, 0.0), 0.0) for s in segments)
        raise ConfigError(f"selection is shorter than one frame of {info.path} ({total * 1000:.0f} ms in "
                          f"{len(segments)} segment(s); one frame is {frame_s * 1000:.0f} ms at {info.fps:.3g} fps): "
                          "nothing to render")
    return keep, notes


def _verified(tmp: Path, out: Path) -> None:
    """Refuse a written reel that holds no video (it would look complete and play nothing)."""
    try:
        got = media.probe(tmp)
    except MediaError as exc:
        raise OutputError(f"{out}: the rendered reel is not playable ({str(exc).split(': ', 1)[-1]}); "
                          "no reel written") from None
    if not got.has_video or got.duration_s <= 0:
        raise OutputError(f"{out}: the rendered reel holds no video; no reel written")


def render_reel(
    source: str | os.PathLike,
    segments: Sequence[Segment],
    out: str | os.PathLike,
    cfg: RenderConfig,
    progress: Progress | None = None,
    mode: str | None = None,
) -> dict:
    """Render `segments` of `source` into `out`; returns what was done: mode, codec, notes,
    segments (how many were rendered) and reel_s (their length).

    The source is checked first (MediaError, exit 3, before any ffmpeg runs); segments
    holding no whole frame are left out with a note (ConfigError when that is all of them);
    the reel is put in place only once it holds video (else OutputError, and no reel).
    """
    out = Path(os.path.abspath(out))
    _check(segments, out)
    info = media.probe(source)
    if not info.has_video:
        raise MediaError(f"{info.path}: has no video stream (audio-only file?); nothing to render")
    segments, notes = playable(segments, info)
    for n in notes:
        log.warning(n)
    mode = mode or cfg.mode
    if mode == "copy":
        done = render_copy(source, segments, out, progress, info=info)
    else:
        done = render_moviepy(source, segments, out, cfg, progress, info=info)
    done["notes"] = notes + done["notes"]
    done["segments"] = len(segments)  # those rendered: sub-frame ones are left out
    done["rendered"] = list(segments)
    done["fps"] = info.fps
    done["source_s"] = info.duration_s
    done["reel_s"] = round(sum(s.duration for s in segments), 3)
    return done


def _stream_maps(info: MediaInfo) -> list[str]:
    """-map options for the streams the analysis used (by absolute index, not "first video")."""
    maps = ["-map", f"0:{info.video_stream}" if info.video_stream is not None else "0:v:0"]
    if info.audio_stream is not None:
        maps += ["-map", f"0:{info.audio_stream}"]
    return maps


def render_copy(source, segments: Sequence[Segment], out: Path, progress: Progress | None = None, *,
                info: MediaInfo | None = None) -> dict:
    """Stream copy from the keyframe at or before each start: fast, not frame-exact."""
    out = Path(os.path.abspath(out))
    info = info or media.probe(source)
    url = media.local_url(source)
    parts: list[Path] = []
    lengths: list[float] = []  # each piece as cut: from the keyframe before its start
    tmp = _tmp_near(out, ".mp4")
    try:
        for i, seg in enumerate(segments):
            part = _tmp_near(out, f".part{i}.mp4")
            parts.append(part)
            _run_ffmpeg(["-ss", f"{seg.start:.3f}", "-i", url, "-t", f"{seg.duration:.3f}", *_stream_maps(info),
                         "-c", "copy", "-avoid_negative_ts", "make_zero", str(part)], f"cutting segment {seg.id}")
            lengths.append(round(media.probe(part).duration_s, 3))
            if progress:
                progress((i + 1) / (len(segments) + 1))
        _concat(parts, tmp)
        _verified(tmp, out)
        finalize_mode(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        for p in parts:
            p.unlink(missing_ok=True)
    if progress:
        progress(1.0)
    return {"mode": "copy", "codec": "copy", "lengths_s": lengths,
            "notes": ["stream copy: each segment starts at the keyframe at or before its start"]}


_MAPPED = re.compile(r"Stream #0:(\d+)\S* -> #0:\d+")
_LISTED = re.compile(r"^Stream\s#0:(\d+)(?:\[\w+\])?\(?(\w+)?\)?:\s(\w+):")  # as moviepy parses it


def moviepy_misreads(source, info: MediaInfo) -> str | None:
    """Why moviepy would not read the analysed streams of `source` as they are; None: it would.

    moviepy takes its frame size and rate from the first default-marked stream (else the
    first), while the ffmpeg it starts decodes ffmpeg's own pick (default mark, then the
    largest picture or the most channels); both can differ from the streams probe chose, and
    a file without a stated duration (a recording that was never finished) it cannot read.
    """
    cmd = [media.ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", media.local_url(source), "-frames:v", "0", "-frames:a", "0",
           "-f", "null", "-"]
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    listing, _, mapping = proc.stderr.partition("Stream mapping:")
    if re.search(r"Duration: N/A", listing):
        return "the file states no duration"
    listed = [(m.group(3).lower(), int(m.group(1)), line.rstrip().endswith("(default)"))
              for line in listing.splitlines() if (m := _LISTED.match(line.strip()))]

    def moviepy_pick(kind: str) -> int | None:
        defaults = [i for k, i, d in listed if k == kind and d]
        return (defaults or [i for k, i, _ in listed if k == kind] or [None])[0]

    chosen = {i for i in (info.video_stream, info.audio_stream) if i is not None}
    mapped = {int(m.group(1)) for m in _MAPPED.finditer(mapping)}
    if mapped != chosen or moviepy_pick("video") != info.video_stream or (
            info.audio_stream is not None and moviepy_pick("audio") != info.audio_stream):
        return "ffmpeg on its own would read other streams"
    return None


def _chosen_streams_only(source, info: MediaInfo, out: Path) -> tuple[Path | None, str | None]:
    """A stream copy of `source` holding only the analysed video and audio stream, with the
    reason, when moviepy would not read `source` right; (None, None) when it would."""
    why = moviepy_misreads(source, info)
    if why is None:
        return None, None
    tmp = _tmp_near(out, ".src.mkv")
    _run_ffmpeg(["-i", media.local_url(source), *_stream_maps(info), "-c", "copy", str(tmp)],
                "copying the analysed streams for rendering")
    return tmp, why


def _even_size_params(w: int, h: int) -> list[str]:
    """yuv420p needs an even width and height: pad an odd one with a black line."""
    return ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"] if w % 2 or h % 2 else []


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


def _frame_logger(on_frame):
    """A proglog logger for moviepy's write_videofile that reports each video frame written
    (its `frame_index` bar), so the render bar moves with the encode."""
    import proglog

    class FrameProgress(proglog.ProgressBarLogger):
        def bars_callback(self, bar, attr, value, old_value=None):
            if bar == "frame_index" and attr == "index":
                on_frame(int(value))

    return FrameProgress()


def render_moviepy(source, segments: Sequence[Segment], out: Path, cfg: RenderConfig, progress: Progress | None = None,
                   *, info: MediaInfo | None = None) -> dict:
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
    out = Path(os.path.abspath(out))
    info = info or media.probe(source)
    parts: list[Path] = []
    tmp = _tmp_near(out, ".mp4")
    audio_tmp = _tmp_near(out, ".m4a")  # moviepy's own audio temp, named so an interrupt removes it
    batches = [list(segments[i: i + cfg.batch_segments]) for i in range(0, len(segments), cfg.batch_segments)]
    fps = info.fps or 25.0
    total_frames = max(1, sum(int(round(min(s.end, info.duration_s) * fps)) - int(round(max(s.start, 0.0) * fps))
                              for s in segments))
    share = total_frames / (total_frames + (1 if len(batches) > 1 else 0) * 0.02 * total_frames)  # the join after
    done_frames = 0
    only = None
    try:
        only, why = _chosen_streams_only(source, info, out)
        if only is not None:
            notes.append(f"rendered from a stream copy of the analysed streams (video #{info.video_stream}, "
                         f"audio #{info.audio_stream}): {why}")
        # An absolute path: ffmpeg never reads it as a URL (moviepy checks it exists as given).
        path = str(only if only is not None else Path(os.path.abspath(source)))
        for b, batch in enumerate(batches):
            try:
                src = VideoFileClip(path, audio=True)
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
                logger = None if progress is None else _frame_logger(
                    lambda i, base=done_frames: progress(min(share * (base + i) / total_frames, share)))
                reel.write_videofile(
                    str(target), codec=codec, audio_codec="aac", preset=preset,
                    ffmpeg_params=extra + _even_size_params(*reel.size),
                    threads=threads, logger=logger, fps=src.fps,
                    temp_audiofile=str(audio_tmp),
                )
                done_frames += int(round(reel.duration * src.fps))
                reel.close()
                for c in clips:
                    c.close()
            except OSError as exc:
                if "No space left" in str(exc) or disk_full(out.parent):
                    raise OutputError(f"writing {out}: disk full") from None
                raise
            finally:
                src.close()
            if progress:
                progress(min(share * done_frames / total_frames, share))
        if len(batches) > 1:
            _concat(parts, tmp)
        _verified(tmp, out)
        finalize_mode(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        audio_tmp.unlink(missing_ok=True)
        if only is not None:
            only.unlink(missing_ok=True)
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
    info = media.probe(source)
    url = media.local_url(source)
    v = f":{info.video_stream}" if info.video_stream is not None else ":v:0"
    a = f":{info.audio_stream}" if info.audio_stream is not None else ":a:0"
    pad = "".join("," + p for p in _even_size_params(info.width, info.height)[1:])
    inputs: list[str] = []
    chains = []
    labels = []
    fade = cfg.audio_fade_s
    for i, seg in enumerate(segments):
        inputs += ["-ss", f"{seg.start:.3f}", "-t", f"{seg.duration:.3f}", "-i", url]
        chains.append(f"[{i}{v}]setpts=PTS-STARTPTS{pad}[v{i}]")
        chains.append(f"[{i}{a}]asetpts=PTS-STARTPTS,afade=t=in:d={fade},"
                      f"afade=t=out:st={max(seg.duration - fade, 0):.3f}:d={fade}[a{i}]")
        labels.append(f"[v{i}][a{i}]")
    graph = ";".join(chains) + ";" + "".join(labels) + f"concat=n={len(segments)}:v=1:a=1[v][a]"
    _run_ffmpeg([*inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-c:v", codec,
                 *_codec_params(cfg, codec), "-c:a", "aac", os.path.abspath(out)], "ffmpeg reference render")
    return {"mode": "ffmpeg", "codec": codec}


def has_ffmpeg() -> bool:
    return bool(shutil.which(media.ffmpeg_exe()) or Path(media.ffmpeg_exe()).exists())
