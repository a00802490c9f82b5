"""Preview video: frames with the tracked boxes, ids and team colours drawn on them, so a
person can see what the detector and tracker did. Frames in (any width; boxes are scaled
from source pixels with `frame.scale`), an mp4 out (PyAV libx264, cv2 mp4v as fallback).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from ..errors import OutputError
from ..outputs import temp_path
from ..types import BALL, CLASS_NAMES, NO_TEAM, Frame, Tracks

log = logging.getLogger(__name__)

# BGR. Team colours are fixed (not the kit colours) so the two teams always contrast.
TEAM_BGR = {0: (255, 255, 0), 1: (255, 0, 255), NO_TEAM: (0, 215, 255)}
BALL_BGR = (0, 0, 255)


def draw_tracks(frame: Frame, tracks: Tracks, rows: np.ndarray) -> np.ndarray:
    """A copy of `frame.image` with `tracks` rows `rows` drawn (source px -> frame px)."""
    img = frame.image.copy()
    s = frame.scale
    thick = max(1, int(round(img.shape[1] / 640)))
    for r in rows:
        x1, y1, x2, y2 = (tracks.xyxy[r] * s).astype(int)
        if tracks.cls[r] == BALL:
            c = ((x1 + x2) // 2, (y1 + y2) // 2)
            cv2.circle(img, c, max(6, (x2 - x1)), BALL_BGR, thick, cv2.LINE_AA)
            continue
        colour = TEAM_BGR.get(int(tracks.team[r]), TEAM_BGR[NO_TEAM])
        style = cv2.LINE_4 if tracks.interpolated[r] else cv2.LINE_AA
        cv2.rectangle(img, (x1, y1), (x2, y2), colour, thick, style)
        label = str(int(tracks.track_id[r]))
        if CLASS_NAMES[tracks.cls[r]] in ("goalkeeper", "referee"):
            label += CLASS_NAMES[tracks.cls[r]][0].upper()
        cv2.putText(img, label, (x1, max(10, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35 * thick, colour, thick, cv2.LINE_AA)
    cv2.putText(img, f"t={frame.t_s:6.2f}s", (8, 18 * thick), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * thick, (255, 255, 255),
                thick, cv2.LINE_AA)
    return img


def write_preview(frames: Iterable[Frame], tracks: Tracks, out_path: str | Path, fps: float,
                  png_dir: str | Path | None = None, png_every: int = 0) -> Path:
    """Draw `tracks` onto `frames` (the sampled frames, in order) and write an mp4 at `fps`.

    A frame shows the track rows whose time is within half a sample of its own. With
    `png_dir` and `png_every` > 0, every `png_every`-th annotated frame is also saved as PNG.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(out_path, out_path.suffix)
    times = tracks.t_s
    order = np.argsort(times, kind="stable")
    sorted_t = times[order]
    tol = 0.5 / fps
    writer = None
    n = 0
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        for frame in frames:
            lo, hi = np.searchsorted(sorted_t, [frame.t_s - tol, frame.t_s + tol])
            img = draw_tracks(frame, tracks, order[lo:hi])
            if writer is None:
                writer = _Writer(tmp, img.shape[1], img.shape[0], fps)
            writer.write(img)
            if png_dir is not None and png_every > 0 and n % png_every == 0:
                Path(png_dir).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(Path(png_dir) / f"frame_{n:05d}.png"), img)
            n += 1
        if writer is None:
            raise OutputError(f"no frames to write into {out_path}")
        writer.close()
        tmp.replace(out_path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    log.info("preview: %d frames -> %s", n, out_path)
    return out_path


class _Writer:
    def __init__(self, path: Path, width: int, height: int, fps: float):
        w, h = width - width % 2, height - height % 2
        self.size = (w, h)
        self.cv = None
        try:
            import av
            from fractions import Fraction

            self.container = av.open(os.path.abspath(path), "w", format="mp4")
            self.stream = self.container.add_stream("libx264", rate=Fraction(round(fps * 1000), 1000))
            self.stream.width, self.stream.height = w, h
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = {"crf": "23", "preset": "veryfast"}
            self.av = av
        except Exception as exc:  # no libx264 in this PyAV build
            log.warning("libx264 unavailable (%s); writing mp4v with OpenCV", exc)
            self.container = None
            self.cv = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))

    def write(self, img: np.ndarray) -> None:
        img = img[: self.size[1], : self.size[0]]
        if self.cv is not None:
            self.cv.write(img)
            return
        frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        if self.cv is not None:
            self.cv.release()
            return
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
