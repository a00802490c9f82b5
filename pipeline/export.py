"""The selection for the tools editors use: what leaves the tool besides the mp4.

- `reel.otio` (OpenTimelineIO), `reel.edl` (CMX 3600), `reel.fcpxml` (Final Cut Pro X) and
  `reel.xml` (Final Cut Pro 7 / Premiere XML), all written by OpenTimelineIO and its
  adapters: one clip per selected segment, in reel order, pointing at the original footage
  at its source times (whole frames);
- `reel.srt`: one subtitle per segment at its reel time (kind, match minute, why);
- `segments.csv`: every candidate with source timecodes (HH:MM:SS:FF) and frame numbers;
- chapters inside `reel.mp4` (`add_chapters`), titled like the subtitles;
- one file per selected segment (`split_segments`, `--split`).

Times are frame-exact at the footage's frame rate: a segment runs from frame
round(start * fps) for round(end * fps) - round(start * fps) frames, as the reel shows it.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path
from typing import Sequence

from .errors import OutputError
from .outputs import atomic_write, temp_path, write_text
from .types import Segment

# file name -> OpenTimelineIO adapter that writes it (a named reel: reels/<name>.otio, ...)
EDITOR_SUFFIXES = {".otio": "otio_json", ".edl": "cmx_3600", ".fcpxml": "fcpx_xml", ".xml": "fcp_xml"}
EDITOR_FILES = {f"reel{suffix}": adapter for suffix, adapter in EDITOR_SUFFIXES.items()}
SRT_NAME = "reel.srt"
CSV_NAME = "segments.csv"
SPLIT_DIR = "segments"
CSV_COLUMNS = ("id", "rank", "selected", "kind", "confidence", "minute", "start_s", "end_s", "start_tc", "end_tc",
               "start_frame", "end_frame", "duration_frames", "score", "reason")
DEFAULT_FPS = 25.0  # when the footage does not say its rate
# The rates editors' timecode knows; footage within 0.2% of one (30000/1001 read as
# 29.97002997..., a variable rate averaging 29.87) is written at it, as editors expect.
STANDARD_RATES = (23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0)


def editor_rate(fps: float | None) -> float:
    """The frame rate the editor files and timecodes use for footage of `fps`."""
    fps = float(fps or DEFAULT_FPS)
    near = min(STANDARD_RATES, key=lambda r: abs(r - fps))
    return near if abs(near - fps) <= 0.002 * fps else fps


def frames_of(seg: Segment, fps: float) -> tuple[int, int]:
    """(first frame, frame after the last) of `seg` at `fps`."""
    a = int(round(seg.start * fps))
    return a, max(int(round(seg.end * fps)), a + 1)


def timecode(frame: int, fps: float) -> str:
    """HH:MM:SS:FF of a frame number (HH:MM:SS;FF, drop-frame, at 29.97 and 59.94, as
    OpenTimelineIO writes them), or "" at a rate SMPTE timecode has no form for (12.5, 15)."""
    import opentimelineio as otio

    try:
        return otio.opentime.to_timecode(otio.opentime.RationalTime(frame, fps), fps)
    except ValueError:
        return ""


def title(seg: Segment) -> str:
    """A chapter or subtitle title: id, kind and match minute, then the first evidence."""
    head = " ".join(x for x in (seg.id, seg.kind or "moment", seg.minute or "") if x)
    skip = {seg.minute or "", f"{seg.kind} ({seg.confidence:.2f})" if seg.confidence is not None else ""}
    why = [p for p in seg.reason.split("; ") if p and p not in skip][:2]
    return f"{head}: {'; '.join(why)}" if why else head


def reel_spans(segments: Sequence[Segment], fps: float) -> list[tuple[float, float]]:
    """Where each segment (in reel order) lies in the reel, s, from their whole frames."""
    spans, at = [], 0
    for s in segments:
        a, b = frames_of(s, fps)
        spans.append((at / fps, (at + b - a) / fps))
        at += b - a
    return spans


def editor_timeline(segments: Sequence[Segment], video: str | os.PathLike, fps: float, duration_s: float):
    """An OpenTimelineIO timeline of the reel: a video and an audio track, one clip per
    segment, each pointing at `video` at its source frames."""
    import opentimelineio as otio

    RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
    path = Path(video).resolve()
    name = path.stem
    tl = otio.schema.Timeline(name=f"{name} highlights")
    tl.global_start_time = RT(0, fps)
    tracks = [otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video),
              otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)]
    url, whole = path.as_uri(), TR(RT(0, fps), RT(int(round(duration_s * fps)), fps))
    for track in tracks:
        for s in segments:
            a, b = frames_of(s, fps)
            ref = otio.schema.ExternalReference(target_url=url, available_range=whole)  # one per clip: each owns its own
            clip = otio.schema.Clip(name=f"{s.id} {s.kind or 'moment'}", media_reference=ref,
                                    source_range=TR(RT(a, fps), RT(b - a, fps)))
            clip.metadata["highlights"] = {"id": s.id, "kind": s.kind, "confidence": s.confidence,
                                           "minute": s.minute, "rank": s.rank, "score": s.score, "reason": s.reason}
            track.append(clip)
        tl.tracks.append(track)
    return tl


def _write_otio(path: Path, tl, adapter: str) -> Path:
    import opentimelineio as otio

    tl = tl if adapter != "cmx_3600" else _video_only(tl)  # an EDL here is one video track
    text = otio.adapters.write_to_string(tl, adapter_name=adapter)
    return write_text(path, text)


def _video_only(tl):
    import opentimelineio as otio

    out = otio.schema.Timeline(name=tl.name, global_start_time=tl.global_start_time)
    out.tracks.append(tl.video_tracks()[0].clone())
    return out


def srt_text(segments: Sequence[Segment], fps: float) -> str:
    def stamp(t: float) -> str:
        ms = int(round(t * 1000))
        return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    blocks = [f"{i}\n{stamp(a)} --> {stamp(b)}\n{title(s)}\n"
              for i, (s, (a, b)) in enumerate(zip(segments, reel_spans(segments, fps)), 1)]
    return "\n".join(blocks)


def csv_text(candidates: Sequence[Segment], fps: float) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for s in sorted(candidates, key=lambda s: s.start):
        a, b = frames_of(s, fps)
        w.writerow([s.id, s.rank, int(s.selected), s.kind or "", "" if s.confidence is None else s.confidence,
                    s.minute or "", round(s.start, 3), round(s.end, 3), timecode(a, fps), timecode(b, fps),
                    a, b, b - a, round(s.score, 4), s.reason])
    return buf.getvalue()


def write_selection_files(out: str | os.PathLike, candidates: Sequence[Segment], video: str | os.PathLike,
                          fps: float | None, duration_s: float, notes: list[str] | None = None) -> dict[str, Path]:
    """The editor files, the subtitles and the CSV for OUT's selection (`candidates`: every
    candidate; the selected ones, in time order, make the reel). Without a selection only
    the CSV is written and the others are removed: a timeline of another selection must
    not survive beside this one. What could not be written is said in `notes`."""
    out = Path(out)
    fps = editor_rate(fps)
    chosen = sorted((s for s in candidates if s.selected), key=lambda s: s.start)
    paths = {"segments_csv": write_text(out / CSV_NAME, csv_text(candidates, fps))}
    if not chosen:
        for name in [*EDITOR_FILES, SRT_NAME]:
            (out / name).unlink(missing_ok=True)
        return paths
    return paths | write_editor_files(out, "reel", chosen, video, fps, duration_s, notes)


def write_editor_files(folder: str | os.PathLike, stem: str, chosen: Sequence[Segment], video: str | os.PathLike,
                       fps: float | None, duration_s: float, notes: list[str] | None = None) -> dict[str, Path]:
    """`folder/<stem>.otio`, `.edl`, `.fcpxml`, `.xml` and `.srt` for the reel of `chosen`
    (in time order). A format whose adapter refuses this footage (CMX 3600 and the Final
    Cut formats have no timecode at 12.5 or 15 fps) is left out, said in `notes`, and an
    older file of that name removed: the others are still written."""
    folder = Path(folder)
    fps = editor_rate(fps)
    tl = editor_timeline(chosen, video, fps, duration_s)
    paths = {}
    for suffix, adapter in EDITOR_SUFFIXES.items():
        path = folder / f"{stem}{suffix}"
        try:
            paths[path.name] = _write_otio(path, tl, adapter)
        except (ValueError, TypeError, otio_errors()) as exc:
            path.unlink(missing_ok=True)
            if notes is not None:
                notes.append(f"{path.name} not written: its format does not take this footage at {fps:g} fps "
                             f"({type(exc).__name__}); {stem}.otio holds the same cut")
    paths[f"{stem}.srt"] = write_text(folder / f"{stem}.srt", srt_text(chosen, fps))
    return paths


def otio_errors() -> type:
    import opentimelineio as otio

    return otio.exceptions.OTIOError


def _ffmetadata(segments: Sequence[Segment], fps: float, reel_s: float | None,
                lengths_s: Sequence[float] | None = None) -> str:
    def esc(text: str) -> str:
        for ch in "\\=;#\n":
            text = text.replace(ch, "\\" + ch)
        return text

    if lengths_s is not None and len(lengths_s) == len(segments):
        at = [0.0]
        for x in lengths_s:
            at.append(at[-1] + float(x))
        spans = list(zip(at[:-1], at[1:]))
    else:
        spans = reel_spans(segments, fps)
    if reel_s and spans and spans[-1][1] > 0:  # a reel a frame or two off (encoder rounding): scale to it
        k = reel_s / spans[-1][1]
        spans = [(a * k, b * k) for a, b in spans]
    lines = [";FFMETADATA1"]
    for s, (a, b) in zip(segments, spans):
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={int(round(a * 1000))}", f"END={int(round(b * 1000))}",
                  f"title={esc(title(s))}"]
    return "\n".join(lines) + "\n"


def add_chapters(reel: str | os.PathLike, segments: Sequence[Segment], fps: float | None,
                 lengths_s: Sequence[float] | None = None) -> int:
    """Put one chapter per segment (in reel order) into `reel`, by a stream copy (the
    pictures and sound are untouched). `lengths_s`: each segment's length in the reel as
    rendered (a stream-copied one starts at the keyframe before it, so is longer); without
    them, the segments' whole frames. Returns how many chapters it holds."""
    from . import media

    reel = Path(reel)
    fps = float(fps or DEFAULT_FPS)
    reel_s = media.probe(reel).duration_s
    meta = temp_path(reel, ".txt")
    try:
        meta.write_text(_ffmetadata(segments, fps, reel_s, lengths_s), encoding="utf-8")

        def remux(tmp: Path) -> None:
            cmd = [media.ffmpeg_exe(), "-y", "-v", "error", "-i", str(reel), "-f", "ffmetadata", "-i", str(meta),
                   "-map", "0", "-map_metadata", "0", "-map_chapters", "1", "-c", "copy",
                   "-movflags", "+faststart", "-f", "mp4", str(tmp)]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                last = (run.stderr.strip().splitlines() or ["ffmpeg failed"])[-1]
                raise OutputError(f"adding chapters to {reel}: {last}")
        atomic_write(reel, remux)
    finally:
        meta.unlink(missing_ok=True)
    return len(segments)


def split_segments(video: str | os.PathLike, segments: Sequence[Segment], folder: str | os.PathLike, cfg,
                   mode: str | None = None) -> list[Path]:
    """One file per segment, `folder/<id>.mp4`, rendered like the reel (`mode` copy: stream
    copy from the keyframe before each segment; moviepy: re-encoded, frame-exact). Files of
    an earlier split that are not in this one are removed."""
    from .render import render_reel

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc.strerror}") from None
    keep = {f"{s.id}.mp4" for s in segments}
    for old in folder.glob("s*.mp4"):
        if old.name not in keep:
            old.unlink()
    paths = []
    for s in segments:
        path = folder / f"{s.id}.mp4"
        render_reel(video, [s], path, cfg, mode=mode)
        paths.append(path)
    return paths
