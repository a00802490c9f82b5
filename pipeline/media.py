"""Media I/O: probe a file, stream sampled analysis frames, stream mono audio.

Takes a path; gives a `MediaInfo`, an iterator of `Frame` (time from PTS, BGR scaled right
after decoding) and an `AudioTrack` of float32 chunks. Memory stays bounded whatever the
length of the match: frames and audio are produced one at a time / one chunk at a time.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import av
import numpy as np

from .errors import MediaError
from .types import AudioStreamInfo, Frame, MediaInfo

log = logging.getLogger(__name__)

_VFR_SPREAD = 0.25  # relative spread of frame gaps above which a stream counts as variable rate
_VFR_PACKETS = 600  # packets demuxed (not decoded) to judge the frame rate


def ffmpeg_exe() -> str:
    """The ffmpeg binary the imageio-ffmpeg package ships (none is expected on the PATH)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def local_url(path: str | os.PathLike) -> str:
    """`path` as an FFmpeg input that can only mean that local file.

    FFmpeg reads a name as a URL: `pipe:0` is stdin, `2024-05-11T20:45.mp4` asks for a
    protocol "2024-05-11T20"; `file:` and the absolute path open exactly the file, in PyAV and
    on the ffmpeg command line alike.
    """
    return "file:" + os.path.abspath(os.fspath(path))


_NOT_REGULAR = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"))


def check_path(path: str | os.PathLike) -> Path:
    """`path` as a Path when it is a readable, non-empty regular file; else MediaError."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise MediaError(f"{p}: symlink loop (following its links never reaches a file)") from None
        if exc.errno == errno.ENOENT and os.path.islink(p):
            raise MediaError(f"{p}: broken symlink (points to {os.readlink(p)}, which does not exist)") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise MediaError(f"{p}: no such file") from None
        if exc.errno == errno.EACCES:
            raise MediaError(f"{p}: permission denied") from None
        raise MediaError(f"{p}: cannot read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(f"{p}: is a directory, not a video file")
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _NOT_REGULAR if test(st.st_mode)), "not a file")
        raise MediaError(f"{p}: not a regular file ({kind}); give the path of a video file")
    if st.st_size == 0:
        raise MediaError(f"{p}: file is empty (0 bytes)")
    if not os.access(p, os.R_OK):
        raise MediaError(f"{p}: permission denied")
    return p


_check_path = check_path  # the name the stages used before it was public


def hwaccel_decoder(kind: str, probe_path: str | os.PathLike) -> tuple[object | None, str]:
    """A PyAV HWAccel for GPU decoding (NVDEC via kind "cuda"), or None with the reason.

    "auto" tries CUDA and falls back quietly; "none" never tries. The check decodes one
    frame of `probe_path`, because FFmpeg lists CUDA whenever it was built with it.
    """
    if kind == "none":
        return None, "cpu decoding (media.hwaccel=none)"
    try:
        from av.codec.hwaccel import HWAccel, hwdevices_available
    except ImportError:
        return None, "cpu decoding (this PyAV has no hardware decoding)"
    device = "cuda" if kind in ("auto", "cuda") else kind
    if device not in hwdevices_available():
        return None, f"cpu decoding ({device} decoding not built into FFmpeg)"
    try:
        accel = HWAccel(device, allow_software_fallback=True)
        with av.open(local_url(probe_path), hwaccel=accel) as c:
            next(c.decode(video=0))
        return accel, f"{device} hardware decoding"
    except Exception as exc:  # no device, no driver, no permission: decode on the CPU
        return None, f"cpu decoding ({device} decoder unavailable: {type(exc).__name__})"


_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def _why_unreadable(p: Path) -> str:
    """A reason a user can act on, from the first bytes of a file ffmpeg refused."""
    try:
        with open(p, "rb") as f:
            head = f.read(12)
    except OSError:
        head = b""
    if head[4:8] in _MP4_BOXES:
        return ("MP4/MOV file without its index (moov atom): the file is truncated or the "
                "recording was never finished; copy it again from the source")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska/WebM file that is damaged or truncated"
    return "not a media file that ffmpeg can read (invalid data)"


def _open(p: Path, hwaccel=None) -> av.container.InputContainer:
    try:
        if hwaccel is not None:
            return av.open(local_url(p), mode="r", metadata_errors="ignore", hwaccel=hwaccel)
        return av.open(local_url(p), mode="r", metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise MediaError(f"{p}: {_why_unreadable(p)}") from None
    except av.error.FFmpegError as exc:
        if isinstance(exc, av.error.EOFError):
            raise MediaError(f"{p}: ends before any media data ({_why_unreadable(p)})") from None
        raise MediaError(f"{p}: cannot open as media ({exc.strerror or exc})") from None


def _origin_s(container) -> float:
    """Time zero of the file: frame and audio times are measured from here."""
    start = container.start_time
    return start / av.time_base if start is not None else 0.0


def _video_stream(container, index: int | None = None, path: Path | None = None):
    """The video stream probe chose (`MediaInfo.video_stream`), else the first decodable one."""
    if index is not None and index < len(container.streams) and container.streams[index].type == "video":
        return container.streams[index]
    for s in container.streams.video:
        if s.codec_context is not None:
            return s
    raise MediaError(f"{path or container.name}: no decodable video stream")


def _packets(container, stream, on_error: Callable[[str], None]) -> Iterator:
    """Demux `stream`; a read error ends the stream (what came before is kept) instead of
    escaping as an FFmpeg exception: a damaged tail or index stops reading, it is reported."""
    it = container.demux(stream)
    while True:
        try:
            packet = next(it)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            on_error(f"reading stopped at a damaged part of the file ({exc.strerror or exc})")
            return
        yield packet


def _stream_rotation(stream) -> int:
    """Clockwise rotation a player applies for display, from the display matrix or tag."""
    tag = stream.metadata.get("rotate") if stream.metadata else None
    if tag:
        try:
            return int(float(tag)) % 360
        except ValueError:
            pass
    return 0


def _frame_rotation(frame) -> int:
    """Clockwise display rotation of a decoded frame (PyAV reports counter-clockwise)."""
    ccw = getattr(frame, "rotation", 0) or 0
    return int(round(-ccw)) % 360


def _gap_spread(stream, container) -> tuple[bool, int]:
    """Judge variable frame rate from packet timestamps of the first packets (no decoding)."""
    pts = []
    try:
        for packet in container.demux(stream):
            if packet.pts is not None:
                pts.append(packet.pts)
            if len(pts) >= _VFR_PACKETS:
                break
    except av.error.FFmpegError:
        pass
    if len(pts) < 3:
        return False, len(pts)
    gaps = np.diff(np.sort(np.asarray(pts, np.float64)))
    gaps = gaps[gaps > 0]
    if len(gaps) < 2:
        return False, len(pts)
    med = float(np.median(gaps))
    lo, hi = np.percentile(gaps, [5, 95])
    return bool((hi - lo) / med > _VFR_SPREAD), len(pts)


def _stream_length_s(s) -> float:
    """A stream's own length: its duration field, else Matroska's DURATION tag; 0 if unknown."""
    if s.duration and s.time_base:
        return float(s.duration * s.time_base)
    tag = (s.metadata or {}).get("DURATION") or (s.metadata or {}).get("duration")
    if tag:
        try:
            h, m, sec = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec)
        except ValueError:
            pass
    return 0.0


def _is(s, flag: str) -> bool:
    return bool(s.disposition & getattr(av.stream.Disposition, flag))


def _choose_video(streams: list):
    """The video stream to analyse: real footage before cover art (an attached picture), then
    the one marked default, then the longest, then the largest picture, then the first."""
    return max(streams, key=lambda s: (not _is(s, "attached_pic"), _is(s, "default"), _stream_length_s(s),
                                       (s.codec_context.width or 0) * (s.codec_context.height or 0), -s.index))


_SOUND_PEAK = 1e-3  # -60 dBFS: below this at every sampled moment a track counts as silent
_SOUND_POINTS = (0.1, 0.5, 0.9)  # where in the file a candidate audio track is listened to


def _has_sound(container, stream, origin: float, duration_s: float) -> bool:
    """Whether `stream` holds anything above -60 dBFS in 1 s at 10%, 50% or 90% of the file."""
    for frac in _SOUND_POINTS:
        t = origin + frac * max(duration_s - 1.0, 0.0)
        try:
            container.seek(int(t / stream.time_base), stream=stream, backward=True)
            heard = 0.0
            for packet in container.demux(stream):
                for frame in packet.decode():
                    x = frame.to_ndarray()
                    if np.issubdtype(x.dtype, np.integer):
                        x = x / float(np.iinfo(x.dtype).max)
                    if x.size and float(np.max(np.abs(x))) > _SOUND_PEAK:
                        return True
                    heard += frame.samples / (frame.sample_rate or 1)
                if heard >= 1.0:
                    break
        except (av.error.FFmpegError, ValueError):
            continue
    return False


def _choose_audio(container, streams: list, origin: float, duration_s: float):
    """The audio track to analyse: by default mark, then channels, then length, the first that
    has sound (a silent commentary slot never wins over the stadium's sound); the best ranked
    when all are silent."""
    ranked = sorted(streams, key=lambda s: (_is(s, "default"), s.codec_context.channels, _stream_length_s(s), -s.index),
                    reverse=True)
    if len(ranked) > 1:
        for s in ranked:
            if _has_sound(container, s, origin, duration_s):
                return s
    return ranked[0]


_TAIL_S = 10.0  # the footage's end is read from the packets of this last stretch
_INDEXED = ("mov", "mp4")  # formats whose index itself lists every packet with its time


def _footage_end_s(container, streams: list, origin: float, stated_s: float | None) -> float | None:
    """Where the footage of `streams` ends (s from `origin`): the end of their last packet,
    demuxed from a seek to just before the stated end up to the end of the file. Nothing
    there (a header that claims hours more than the file holds): from half as far, and so on
    down to the start. None when no packet could be read at all."""
    ahead = max((stated_s or 24 * 3600.0) - _TAIL_S, 0.0)
    while True:
        end = None
        try:
            container.seek(int((origin + ahead) * av.time_base), backward=True)  # av.time_base: 1/s
            for packet in container.demux(*streams):
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None or packet.size == 0:
                    continue
                t = float((ts + (packet.duration or 0)) * packet.time_base)
                end = t if end is None else max(end, t)
        except av.error.FFmpegError:
            pass  # a damaged tail: what was read up to there counts
        if end is not None:
            return end - origin
        if ahead <= 0:
            return None
        ahead = ahead / 2 if ahead > 2 * _TAIL_S else 0.0


def _duration(fmt: str, stated: float | None, measured: float | None) -> float:
    """The length to analyse: the header's when the footage agrees with it, else the footage's.

    In MP4/MOV the index lists every packet, so footage ending early means the data is gone
    (a cut-off copy): the indexed length stays and the run reports where the video stops.
    """
    if measured is None or measured <= 0:
        return stated or 0.0
    if not stated:
        return measured
    if abs(measured - stated) <= max(1.0, 0.001 * measured):
        return stated
    if measured < stated and any(f in _INDEXED for f in fmt.split(",")):
        return stated
    return measured


def probe(path: str | os.PathLike) -> MediaInfo:
    """What the file holds: duration, frame rate (and whether variable), display size, audio.

    The analysed streams are the default (else best) video and audio stream, not the first;
    the duration is where the footage ends when the container's header says otherwise.
    Raises MediaError with a one-line reason for anything that is not readable footage
    (missing, directory, empty, not media, no decodable video frame).
    """
    p = check_path(path)
    container = _open(p)
    try:
        # A stream without a decoder (unknown or damaged codec header) cannot be used.
        audio_streams = [s for s in container.streams.audio
                         if s.codec_context is not None and s.codec_context.sample_rate and s.codec_context.channels]
        audio = tuple(
            AudioStreamInfo(
                index=s.index,
                codec=s.codec_context.name,
                channels=s.codec_context.channels,
                sample_rate=s.codec_context.sample_rate,
                duration_s=float(s.duration * s.time_base) if s.duration and s.time_base else None,
            )
            for s in audio_streams
        )
        origin = _origin_s(container)
        stated = container.duration / av.time_base if container.duration and container.duration > 0 else None
        fmt = container.format.name
        videos = [s for s in container.streams.video if s.codec_context is not None]
        if not videos:
            if container.streams.video:
                raise MediaError(f"{p}: video stream uses a codec ffmpeg cannot decode here")
            if not audio:
                raise MediaError(f"{p}: holds no video or audio stream (empty or zero-length recording)")
            a = _choose_audio(container, audio_streams, origin, stated or 0.0)
            return MediaInfo(
                path=str(p), size_bytes=p.stat().st_size, container=fmt,
                duration_s=_duration(fmt, stated, _footage_end_s(container, audio_streams, origin, stated)),
                has_video=False,
                audio=audio, audio_stream=a.index, stated_duration_s=stated,
            )
        v = _choose_video(videos)
        cc = v.codec_context
        if not stated and _stream_length_s(v):
            stated = _stream_length_s(v)
        # Decode one frame: proves the stream is readable and gives the display rotation.
        first = None
        try:
            for first in container.decode(v):
                break
        except av.error.FFmpegError as exc:
            raise MediaError(f"{p}: video stream cannot be decoded ({exc.strerror or exc})") from None
        if first is None:
            raise MediaError(f"{p}: video stream holds no decodable frame (truncated or empty)")
        rotation = _frame_rotation(first) or _stream_rotation(v)
        cw, ch = first.width, first.height
        w, h = (ch, cw) if rotation in (90, 270) else (cw, ch)
        try:
            container.seek(0)
        except av.error.FFmpegError as exc:
            raise MediaError(f"{p}: cannot seek in the file ({exc.strerror or exc}); damaged index?") from None
        vfr, _ = _gap_spread(v, container)
        fps = float(v.average_rate) if v.average_rate else (float(v.guessed_rate) if v.guessed_rate else 0.0)
        duration = _duration(fmt, stated, _footage_end_s(container, [v, *audio_streams], origin, stated))
        if duration <= 0:
            raise MediaError(f"{p}: video has zero length")
        a = _choose_audio(container, audio_streams, origin, duration) if audio_streams else None
        return MediaInfo(
            path=str(p), size_bytes=p.stat().st_size, container=fmt,
            duration_s=float(duration), has_video=True, codec=cc.name, width=w, height=h,
            coded_width=cw, coded_height=ch, rotation=rotation, fps=fps, vfr=vfr,
            n_frames=v.frames or None, has_b_frames=bool(cc.has_b_frames), audio=audio,
            video_stream=v.index, audio_stream=a.index if a is not None else None, stated_duration_s=stated,
        )
    finally:
        container.close()


def fingerprint(path: str | os.PathLike, duration_s: float | None = None) -> str:
    """sha256 of size, duration, first and last MiB: cheap, stable, changes with the content."""
    p = check_path(path)
    size = p.stat().st_size
    if duration_s is None:
        duration_s = probe(p).duration_s
    h = hashlib.sha256()
    h.update(f"{size}:{duration_s:.3f}".encode())
    mib = 1 << 20
    with open(p, "rb") as f:
        h.update(f.read(mib))
        if size > mib:
            f.seek(max(size - mib, mib))
            h.update(f.read(mib))
    return h.hexdigest()


def analysis_size(info: MediaInfo, width: int | None) -> tuple[int, int]:
    """Display size of analysis frames for a target width (even numbers, aspect kept)."""
    if not width or width >= info.width:
        return info.width, info.height
    h = int(round(info.height * width / info.width / 2)) * 2
    return int(width), max(h, 2)


APPROACH_LEAD_S = 0.5  # s before a seek target from which every frame is decoded again


@dataclass
class FrameStream:
    """Iterator of sampled `Frame`s; counts what it decoded, skipped and could not decode."""

    path: Path
    info: MediaInfo
    fps: float
    width: int | None
    skip_nonref: bool = True
    skip_nonref_min_ratio: float = 3.0
    threads: int = 0
    start_s: float | None = None
    end_s: float | None = None
    decoded: int = 0
    emitted: int = 0
    decode_errors: int = 0
    read_error: str | None = None
    hwaccel: object | None = None
    skip_loop_filter: bool = False
    skipping_nonref: bool = field(default=False, init=False)

    def _stopped(self, why: str) -> None:
        self.decode_errors += 1
        self.read_error = why

    def __iter__(self) -> Iterator[Frame]:
        container = _open(self.path, self.hwaccel)
        try:
            yield from self.read(container)
        finally:
            container.close()

    def read(self, container) -> Iterator[Frame]:
        """This stream's frames from `container`, an open file of `path`; several streams
        may take turns on one container (each seeks to its own start)."""
        info = self.info
        out_w, out_h = analysis_size(info, self.width)
        scale = out_w / info.width
        rot = info.rotation
        # The decoder scales the stored (unrotated) picture; rotation comes after.
        dec_w, dec_h = (out_h, out_w) if rot in (90, 270) else (out_w, out_h)
        step = 1.0 / self.fps
        v = _video_stream(container, info.video_stream, self.path)
        if not v.codec_context.is_open:  # threading is chosen before the decoder opens
            v.thread_type = "AUTO"
            if self.threads:
                v.codec_context.thread_count = self.threads
            if self.skip_loop_filter:
                # No deblocking: ~20% less decode work; at analysis width the picture differs
                # from the deblocked one by ~39 dB PSNR (measured on the broadcast clips).
                v.codec_context.options = {**v.codec_context.options, "skip_loop_filter": "all"}
        ratio = (info.fps or self.fps) / self.fps
        v.codec_context.skip_frame = "DEFAULT"
        if self.skip_nonref and ratio >= self.skip_nonref_min_ratio:
            v.codec_context.skip_frame = "NONREF"
            self.skipping_nonref = True
        origin = _origin_s(container)
        # Tolerance: half a source frame, so a 29.97 fps source still lands on a 5 fps grid.
        tol = 0.5 / max(info.fps, self.fps) if info.fps else 0.5 * step
        next_t = self.start_s or 0.0
        approach = None  # after a seek: skip non-reference frames until this stream time
        if self.start_s is not None:
            try:
                container.seek(int(max(self.start_s + origin, 0) / v.time_base), stream=v, backward=True)
            except av.error.FFmpegError as exc:
                raise MediaError(f"{self.path}: cannot seek to {self.start_s:.1f} s ({exc.strerror or exc})") from None
            if not self.skipping_nonref:
                # From the keyframe up to start_s only the frames others are predicted from
                # matter; decoding resumes in full APPROACH_LEAD_S before start_s, which
                # covers the reordering of B-frames (packets come in decode order).
                approach = self.start_s + origin - APPROACH_LEAD_S
                v.codec_context.skip_frame = "NONREF"
        for packet in _packets(container, v, self._stopped):
            if approach is not None:
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None or float(ts * v.time_base) >= approach:  # no time: decode all
                    v.codec_context.skip_frame = "DEFAULT"
                    approach = None
            try:
                decoded = packet.decode()
            except av.error.FFmpegError:
                self.decode_errors += 1
                continue
            for frame in decoded:
                self.decoded += 1
                if frame.pts is None:
                    continue
                t = float(frame.pts * v.time_base) - origin
                if self.end_s is not None and t >= self.end_s:
                    return
                if t < next_t - tol:
                    continue
                try:
                    img = frame.to_ndarray(width=dec_w, height=dec_h, format="bgr24", interpolation="AREA")
                except (av.error.FFmpegError, ValueError):  # a damaged picture: skip it
                    self.decode_errors += 1
                    continue
                if rot == 90:
                    img = np.ascontiguousarray(np.rot90(img, k=-1))
                elif rot == 180:
                    img = np.ascontiguousarray(img[::-1, ::-1])
                elif rot == 270:
                    img = np.ascontiguousarray(np.rot90(img, k=1))
                yield Frame(t_s=t, image=img, index=self.emitted, scale=scale)
                self.emitted += 1
                next_t = (math.floor((t + tol) / step) + 1) * step

    def stats(self) -> dict:
        return {
            "decoded": self.decoded,
            "emitted": self.emitted,
            "decode_errors": self.decode_errors,
            "skip_nonref": self.skipping_nonref,
        }


def frames(
    path: str | os.PathLike,
    fps: float = 5.0,
    width: int | None = 640,
    *,
    skip_nonref: bool = True,
    skip_nonref_min_ratio: float = 3.0,
    threads: int = 0,
    start_s: float | None = None,
    end_s: float | None = None,
    info: MediaInfo | None = None,
    hwaccel: object | None = None,
    skip_loop_filter: bool = False,
) -> FrameStream:
    """Sampled frames at `fps` and display `width` (None = native), times from PTS.

    Scaling happens in swscale right after decoding (h264 cannot decode at reduced size).
    With `skip_nonref`, non-reference frames are not decoded when the source rate is at least
    `skip_nonref_min_ratio` times `fps`; times stay exact because they come from PTS.
    `skip_loop_filter` skips the codec's deblocking (for analysis, never for the reel).
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    p = check_path(path)
    info = info or probe(p)
    if not info.has_video:
        raise MediaError(f"{p}: has no video stream (audio-only file?)")
    return FrameStream(p, info, fps, width, skip_nonref, skip_nonref_min_ratio, threads, start_s, end_s, hwaccel=hwaccel,
                       skip_loop_filter=skip_loop_filter)


def frames_at(
    path: str | os.PathLike,
    times: Iterable[float],
    width: int | None = None,
    *,
    info: MediaInfo | None = None,
) -> Iterator[tuple[float, Frame | None]]:
    """(t, the first frame shown at or after t) for each t in `times`, None where no frame
    follows within 2 s; one open file for all of them (opening a long MP4 reads its whole
    index, so thumbnails and previews should not reopen it per frame)."""
    p = check_path(path)
    info = info or probe(p)
    if not info.has_video:
        raise MediaError(f"{p}: has no video stream (audio-only file?)")
    rate = max(info.fps or 25.0, 25.0)
    container = _open(p)
    try:
        for t in times:
            reader = FrameStream(p, info, rate, width, skip_nonref=False, start_s=max(float(t), 0.0),
                                 end_s=float(t) + 2.0).read(container)
            yield float(t), next(reader, None)
            reader.close()
    finally:
        container.close()


@dataclass
class AudioTrack:
    """Mono float32 audio in chunks; sample i of the concatenation is at t = i / sr.

    `present` is False (with `reason`) for a file without an audio stream; an all-zero
    stream is present but `silent` once read (the signals treat both as gaps).
    """

    path: Path
    sr: int
    chunk_s: float
    present: bool
    reason: str = ""
    duration_s: float = 0.0
    stream_index: int | None = None
    decode_errors: int = 0
    read_error: str | None = None
    peak: float = 0.0

    @property
    def silent(self) -> bool:
        return self.present and self.peak == 0.0

    def chunks(self) -> Iterator[tuple[float, np.ndarray]]:
        """Yield (t0_s, samples) with contiguous samples from t = 0, padded or trimmed so
        that the audio lines up with the video's time zero."""
        if not self.present:
            return
        chunk_n = max(int(self.chunk_s * self.sr), 1)
        container = _open(self.path)
        try:
            stream = container.streams.audio[0] if self.stream_index is None else container.streams[self.stream_index]
            origin = _origin_s(container)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=self.sr)
            buf: list[np.ndarray] = []
            buffered = 0
            emitted = 0  # samples yielded so far
            started = False
            self.peak = 0.0

            def take(arr: np.ndarray):
                nonlocal buffered
                buf.append(arr)
                buffered += len(arr)

            def frames_out(frame_list):
                nonlocal started
                for rf in frame_list:
                    arr = rf.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    if not started:
                        started = True
                        t0 = (float(rf.pts * rf.time_base) - origin) if rf.pts is not None else 0.0
                        # A damaged timestamp must not turn into hours of padding.
                        lead = min(int(round(t0 * self.sr)), int(max(self.duration_s, 0.0) * self.sr))
                        if lead > 0:
                            take(np.zeros(lead, np.float32))
                        elif lead < 0:
                            arr = arr[-lead:]
                    take(arr)

            def stopped(why: str) -> None:
                self.decode_errors += 1
                self.read_error = why

            gap_tol = int(0.03 * self.sr)  # below one or two audio frames: resampler delay, rounding
            for packet in _packets(container, stream, stopped):
                try:
                    decoded = packet.decode()
                except av.error.FFmpegError:
                    self.decode_errors += 1
                    continue
                for frame in decoded:
                    if started and frame.pts is not None and frame.time_base is not None:
                        # Audio lost to damage is silence of the same length: the rest of the
                        # track keeps its place in time instead of sliding earlier.
                        t = float(frame.pts * frame.time_base) - origin
                        have = emitted + buffered
                        gap = min(int(round(t * self.sr)) - have, int(self.duration_s * self.sr) - have)
                        if gap > gap_tol:
                            take(np.zeros(gap, np.float32))
                    try:
                        frames_out(resampler.resample(frame))
                    except ValueError:
                        # The stream changed layout or rate mid-way (a damaged header can do
                        # that): flush and resample the rest with a fresh resampler, same output.
                        frames_out(resampler.resample(None))
                        resampler = av.AudioResampler(format="flt", layout="mono", rate=self.sr)
                        try:
                            frames_out(resampler.resample(frame))
                        except (ValueError, av.error.FFmpegError):
                            self.decode_errors += 1
                    except av.error.FFmpegError:
                        self.decode_errors += 1
                while buffered >= chunk_n:
                    whole = np.concatenate(buf)
                    out, rest = whole[:chunk_n], whole[chunk_n:]
                    buf, buffered = [rest], len(rest)
                    self.peak = max(self.peak, float(np.max(np.abs(out))) if len(out) else 0.0)
                    yield emitted / self.sr, out
                    emitted += len(out)
            try:
                frames_out(resampler.resample(None))
            except (ValueError, av.error.FFmpegError):
                self.decode_errors += 1
            if buffered:
                out = np.concatenate(buf)
                self.peak = max(self.peak, float(np.max(np.abs(out))) if len(out) else 0.0)
                yield emitted / self.sr, out
        finally:
            container.close()

    def read_all(self) -> np.ndarray:
        """The whole track in memory: for short clips and tests only."""
        parts = [c for _, c in self.chunks()]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def audio(path: str | os.PathLike, sr: int = 22050, chunk_s: float = 30.0, info: MediaInfo | None = None) -> AudioTrack:
    """The analysed audio stream (`MediaInfo.audio_stream`) as mono float32 at `sr`, or an
    explicit 'no audio' track."""
    p = check_path(path)
    info = info or probe(p)
    if not info.audio:
        return AudioTrack(p, sr, chunk_s, present=False, reason=f"no audio stream in {p.name}", duration_s=info.duration_s)
    a = next((s for s in info.audio if s.index == info.audio_stream), info.audio[0])
    # A stream's own length is only trusted as far as the footage goes (a lying header).
    length = min(a.duration_s, info.duration_s + 1.0) if a.duration_s else info.duration_s
    return AudioTrack(p, sr, chunk_s, present=True, duration_s=length, stream_index=a.index)
