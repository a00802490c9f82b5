"""Broken and awkward inputs, each made the way an analyst ends up with one, and what the
CLI must do with it. Shared by tests/test_reliability.py and scripts/reliability_table.py
(which writes the table in docs/reliability.md from real runs).

Every input is made from one small generated clip (`base`: a few seconds of 320x180 h264 +
aac with the index at the end, as ffmpeg writes it) or from ffmpeg's test sources.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def mp4_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """Top-level boxes of an MP4 file: (type, offset, size)."""
    out, i = [], 0
    while i + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[i: i + 8])
        if size == 1:
            size = struct.unpack(">Q", data[i + 8: i + 16])[0]
        elif size == 0:
            size = len(data) - i
        if size < 8:
            break
        out.append((kind, i, size))
        i += size
    return out


def _mdat(data: bytes) -> tuple[int, int]:
    for kind, off, size in mp4_boxes(data):
        if kind == b"mdat":
            return off + 8, off + size
    raise ValueError("no mdat box")


# ------------------------------------------------------------------ builders: (dir, base) -> path


def _missing(d: Path, base: Path) -> Path:
    return d / "does_not_exist.mp4"


def _directory(d: Path, base: Path) -> Path:
    p = d / "a_folder.mp4"
    p.mkdir(exist_ok=True)
    return p


def _empty(d: Path, base: Path) -> Path:
    p = d / "empty.mp4"
    p.write_bytes(b"")
    return p


def _text(d: Path, base: Path) -> Path:
    p = d / "notes.mp4"
    p.write_text("kick-off 15:30, remember the second camera\n" * 40)
    return p


def _cut_half(d: Path, base: Path) -> Path:
    data = base.read_bytes()
    p = d / "cut_half.mp4"
    p.write_bytes(data[: len(data) // 2])
    return p


def _cut_half_faststart(d: Path, base: Path) -> Path:
    full = d / "faststart_full.mp4"
    ffmpeg("-i", str(base), "-c", "copy", "-movflags", "+faststart", str(full))
    data = full.read_bytes()
    p = d / "cut_half_faststart.mp4"
    p.write_bytes(data[: len(data) // 2])
    full.unlink()
    return p


def _no_moov(d: Path, base: Path) -> Path:
    data = base.read_bytes()
    p = d / "no_moov.mp4"
    p.write_bytes(b"".join(data[off: off + size] for kind, off, size in mp4_boxes(data) if kind != b"moov"))
    return p


def _flipped(d: Path, base: Path) -> Path:
    """300 random bytes overwritten in the middle third of the media data (seeded)."""
    data = bytearray(base.read_bytes())
    lo, hi = _mdat(bytes(data))
    third = (hi - lo) // 3
    rng = random.Random(8)
    for _ in range(300):
        data[rng.randrange(lo + third, lo + 2 * third)] = rng.randrange(256)
    p = d / "flipped_bytes.mp4"
    p.write_bytes(bytes(data))
    return p


def _zeroed(d: Path, base: Path) -> Path:
    """64 KiB of zeros in the middle of the media data (a bad sector, a failed transfer)."""
    data = bytearray(base.read_bytes())
    lo, hi = _mdat(bytes(data))
    mid = (lo + hi) // 2
    data[mid - 32768: mid + 32768] = bytes(65536)
    p = d / "zeroed_range.mp4"
    p.write_bytes(bytes(data))
    return p


def _audio_only(d: Path, base: Path) -> Path:
    p = d / "audio_only.m4a"
    ffmpeg("-i", str(base), "-vn", "-c:a", "copy", str(p))
    return p


def _video_only(d: Path, base: Path) -> Path:
    p = d / "video_only.mp4"
    ffmpeg("-i", str(base), "-an", "-c:v", "copy", str(p))
    return p


def _zero_frames_mp4(d: Path, base: Path) -> Path:
    """What ffmpeg writes when a recording is stopped before its first frame."""
    p = d / "zero_frames.mp4"
    ffmpeg("-i", str(base), "-frames:v", "0", "-an", "-c:v", "libx264", str(p))
    return p


def _zero_frames_mkv(d: Path, base: Path) -> Path:
    p = d / "zero_frames.mkv"
    ffmpeg("-i", str(base), "-frames:v", "0", "-an", "-c:v", "libx264", "-f", "matroska", str(p))
    return p


def _uhd(d: Path, base: Path) -> Path:
    p = d / "uhd_3840x2160.mp4"
    if not p.exists():
        ffmpeg("-f", "lavfi", "-i", "testsrc2=s=3840x2160:r=25:d=1", "-f", "lavfi", "-i", "sine=f=440:d=1",
               "-c:v", "libx264", "-preset", "ultrafast", "-crf", "35", "-c:a", "aac", "-shortest", str(p))
    return p


def _portrait(d: Path, base: Path) -> Path:
    """A phone recording: stored landscape, displayed portrait through rotation metadata."""
    p = d / "portrait_rotated.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(base), "-c", "copy", str(p))
    return p


def _vfr(d: Path, base: Path) -> Path:
    """Variable frame rate: 25 fps for 2 s, then one frame every 0.1 s (10 fps)."""
    p = d / "variable_rate.mp4"
    ffmpeg("-i", str(base), "-vf", "setpts='if(lt(N,50),N*0.04/TB,(2+(N-50)*0.1)/TB)'", "-fps_mode", "vfr",
           "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", str(p))
    return p


def _ntsc(d: Path, base: Path) -> Path:
    p = d / "ntsc_59.94.mp4"
    ffmpeg("-i", str(base), "-r", "60000/1001", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy", str(p))
    return p


def _odd_name(d: Path, base: Path) -> Path:
    sub = d / "Spieltag 3 – Ñandú"
    sub.mkdir(exist_ok=True)
    p = sub / "match d'été 名古屋 #1.mp4"
    shutil.copy(base, p)
    return p


def _base(d: Path, base: Path) -> Path:
    return base


def _fifo(d: Path, base: Path) -> Path:
    """A named pipe where a file was expected (a capture tool's live output)."""
    p = d / "live_feed.mp4"
    if not p.exists():
        os.mkfifo(p)
    return p


def _symlink_loop(d: Path, base: Path) -> Path:
    a, b = d / "loop_a.mp4", d / "loop_b.mp4"
    if not a.is_symlink():
        a.symlink_to(b.name)
        b.symlink_to(a.name)
    return a


def mkv_with_stated_duration(src: Path, p: Path, seconds: float) -> Path:
    """`src` remuxed to Matroska, its header's Duration (Segment Info, ID 0x4489) patched."""
    ffmpeg("-i", str(src), "-c", "copy", str(p))
    data = bytearray(p.read_bytes())
    info = data.index(b"\x15\x49\xa9\x66")  # the Segment Info element
    i = data.index(b"\x44\x89\x88", info)  # Duration: an 8-byte float in TimecodeScale units (ms)
    data[i + 3: i + 11] = struct.pack(">d", seconds * 1000.0)
    p.write_bytes(bytes(data))
    return p


def _long_header(d: Path, base: Path) -> Path:
    return mkv_with_stated_duration(base, d / "header_says_3h.mkv", 3 * 3600.0)


def _ts_offset(d: Path, base: Path) -> Path:
    """Timestamps that start at 10 000 s (a recorder's clock, a cut from a long stream)."""
    p = d / "starts_at_10000s.mkv"
    ffmpeg("-i", str(base), "-c", "copy", "-output_ts_offset", "10000", str(p))
    return p


def _no_duration(d: Path, base: Path) -> Path:
    """Matroska written to a pipe, as a live recorder writes it: no duration, no index."""
    p = d / "never_finalised.mkv"
    with open(p, "wb") as f:
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(base), "-c", "copy",
                        "-f", "matroska", "pipe:1"], stdout=f, stdin=subprocess.DEVNULL, check=True)
    return p


def _second_video_default(d: Path, base: Path) -> Path:
    """Two video streams: first a 1 s 160x90 preview, then the match, marked default."""
    preview = d / "preview_1s.mp4"
    ffmpeg("-i", str(base), "-t", "1", "-vf", "scale=160:90", "-an", "-c:v", "libx264", "-preset", "ultrafast",
           str(preview))
    p = d / "preview_then_match.mp4"
    ffmpeg("-i", str(base), "-i", str(preview), "-map", "1:v", "-map", "0:v", "-map", "0:a", "-c", "copy",
           "-disposition:v:0", "0", "-disposition:v:1", "default", str(p))
    preview.unlink()
    return p


def _silent_first_audio(d: Path, base: Path) -> Path:
    """Two audio tracks: first an empty (silent) commentary slot, then the stadium, marked default."""
    p = d / "silent_first_track.mp4"
    ffmpeg("-i", str(base), "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-map", "0:v", "-map", "1:a",
           "-map", "0:a", "-c:v", "copy", "-c:a", "aac", "-shortest", "-disposition:a:0", "0",
           "-disposition:a:1", "default", str(p))
    return p


@dataclass(frozen=True)
class Case:
    name: str
    what: str  # the input, in a user's words
    build: Callable[[Path, Path], Path]
    command: str  # "probe" (enough to prove an unreadable file is refused) or "analyze"
    exit_code: int
    expect: str  # a piece of the one-line error, or of the result/notes on stdout
    args: tuple[str, ...] = ()


CASES = [
    Case("missing", "path that does not exist", _missing, "probe", 3, "no such file"),
    Case("directory", "a directory named .mp4", _directory, "probe", 3, "is a directory"),
    Case("empty", "empty file (0 bytes)", _empty, "probe", 3, "file is empty"),
    Case("text", "text file named .mp4", _text, "probe", 3, "not a media file"),
    Case("cut_half", "mp4 cut at half its size (index at the end, so lost)", _cut_half, "probe", 3, "moov"),
    Case("no_moov", "mp4 whose index (moov box) is missing", _no_moov, "probe", 3, "moov"),
    Case("cut_half_faststart", "mp4 cut at half its size, index at the front (faststart)", _cut_half_faststart,
         "analyze", 0, "video ends at"),
    Case("flipped", "300 random bytes overwritten in the middle of the stream", _flipped, "analyze", 0,
         "could not be decoded"),
    Case("zeroed", "64 KiB zeroed in the middle of the stream", _zeroed, "analyze", 0,
         "video packets could not be decoded"),
    Case("audio_only", "audio-only file (.m4a)", _audio_only, "analyze", 3, "no video stream"),
    Case("video_only", "video-only file (no audio stream)", _video_only, "analyze", 0,
         "no audio stream in video_only.mp4: audio signals skipped"),
    Case("zero_frames_mp4", "zero-length video: mp4 stopped before its first frame", _zero_frames_mp4, "probe", 3,
         "no video or audio stream"),
    Case("zero_frames_mkv", "zero-length video: mkv with no frame", _zero_frames_mkv, "probe", 3,
         "ends before any media data"),
    Case("uhd", "4K 3840x2160, 1 s", _uhd, "analyze", 0, "timeline"),
    Case("uhd_capped", "4K with --set media.max_height=1080", _uhd, "analyze", 3, "above media.max_height",
         ("--set", "media.max_height=1080")),
    Case("too_long", "6 s clip with --set media.max_duration_s=5", _base, "analyze", 3,
         "longer than media.max_duration_s", ("--set", "media.max_duration_s=5")),
    Case("portrait", "portrait phone clip (rotation metadata 90 deg)", _portrait, "analyze", 0, "timeline"),
    Case("vfr", "variable frame rate (25 fps, then 10 fps)", _vfr, "analyze", 0, "timeline"),
    Case("ntsc", "59.94 fps", _ntsc, "analyze", 0, "timeline"),
    Case("odd_name", "non-ASCII, spaces, apostrophe and # in folder and file name", _odd_name, "analyze", 0,
         "timeline"),
    Case("fifo", "a named pipe (FIFO) called .mp4", _fifo, "probe", 3, "not a regular file (a FIFO)"),
    Case("symlink_loop", "two symlinks pointing at each other", _symlink_loop, "probe", 3, "symlink loop"),
    # The base clip is 6 s: 12 timeline bins of 0.5 s, whatever the header says.
    Case("long_header", "6 s mkv whose header says 3 h", _long_header, "analyze", 0, "(12 bins of 0.5 s"),
    Case("ts_offset", "6 s mkv whose timestamps start at 10 000 s", _ts_offset, "analyze", 0, "(12 bins of 0.5 s"),
    Case("no_duration", "mkv written to a pipe (no duration, no index)", _no_duration, "analyze", 0,
         "(12 bins of 0.5 s"),
    Case("second_video_default", "first video stream a 1 s preview, the match second (default)",
         _second_video_default, "analyze", 0, "(12 bins of 0.5 s"),
    Case("silent_first_audio", "first audio track silent, the stadium second (default)", _silent_first_audio,
         "analyze", 0, "(12 bins of 0.5 s"),
]

CASE_BY_NAME = {c.name: c for c in CASES}


def make_base(d: Path, seconds: float = 6.0) -> Path:
    """The clip every case starts from: a generated match, 320x180, h264 + aac, index at the end."""
    from pipeline import synth

    p = d / "base.mp4"
    if not p.exists():
        synth.generate(p, duration_s=seconds, seed=3, size=(320, 180))
    return p


def command_line(case: Case, path: Path, out: Path) -> list[str]:
    """Arguments for `highlights` (without the program name)."""
    if case.command == "probe":
        return ["probe", str(path), *case.args]
    return ["analyze", str(path), "-o", str(out), "--detector", "classic", *case.args]
