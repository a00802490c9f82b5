"""Detection stage: frames in, per-frame Detections (source pixels) out.

Backends register by name (`yolo`, `classic`); `auto` picks yolo when its weights resolve
locally and classic otherwise, and says so in `describe()["auto"]`. `run_detection` runs a
detector over a frame stream in batches and adds jersey-colour team labels.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Iterable

from ..config import DetectConfig
from ..errors import WeightsError
from ..types import Detections, Frame
from . import classic as _classic  # noqa: F401  (registers "classic")
from .base import Detector, available, build, read_detections, register, write_detections

log = logging.getLogger(__name__)

__all__ = [
    "Detector", "available", "get_detector", "read_detections", "register", "run_detection", "detect_video",
    "write_detections",
]


def _register_yolo() -> None:
    # yolo.py imports ultralytics only when a YoloDetector is built, so importing it is cheap
    from . import yolo  # noqa: F401


class _AutoChoice:
    """Wraps the detector `auto` chose, recording why in describe()."""

    def __init__(self, inner: Detector, reason: str):
        self._inner = inner
        self.reason = reason
        self.name = inner.name
        self.frame_width_px = inner.frame_width_px

    def detect(self, frames: list[Frame]) -> list[Detections]:
        return self._inner.detect(frames)

    def describe(self) -> dict:
        return {**self._inner.describe(), "requested": "auto", "auto": self.reason}


def get_detector(cfg: DetectConfig, backend: str | None = None) -> Detector:
    """Build the configured backend (`backend` overrides `cfg.backend`, e.g. from --detector).

    `yolo` raises WeightsError when the weights do not resolve locally; `auto` falls back to
    `classic` then, logging the reason.
    """
    _register_yolo()
    name = backend or cfg.backend
    if name != "auto":
        return build(name, cfg)
    from .yolo import resolve_weights

    try:
        path = resolve_weights(cfg.weights)
    except WeightsError as exc:
        reason = f"classic: {exc}"
        log.warning("detector auto -> %s", reason)
        return _AutoChoice(build("classic", cfg), reason)
    reason = f"yolo: weights {path} found locally"
    log.info("detector auto -> %s", reason)
    return _AutoChoice(build("yolo", cfg), reason)


def run_detection(
    frames: Iterable[Frame],
    detector: Detector,
    cfg: DetectConfig,
    progress: Callable[[Frame], None] | None = None,
) -> tuple[list[Detections], dict]:
    """Run `detector` over `frames` in batches of `cfg.batch`; add team labels when
    `cfg.teams`. Frames should come at `detector.frame_width_px` (None = native).

    Returns (one Detections per frame, info) where info is detector.describe() plus
    `frames`, `seconds`, `ms_per_frame` and, with teams, the team colours found.
    `progress(frame)` is called after each frame is detected.
    """
    from .teams import TeamSplitter

    splitter = TeamSplitter() if cfg.teams else None
    out: list[Detections] = []
    batch: list[Frame] = []
    seconds = 0.0

    def flush() -> None:
        nonlocal seconds
        t0 = time.perf_counter()
        dets = detector.detect(batch)
        if splitter is not None:
            for f, d in zip(batch, dets):
                splitter.observe(f, d)
        seconds += time.perf_counter() - t0
        out.extend(dets)
        if progress is not None:
            for f in batch:
                progress(f)
        batch.clear()

    for frame in frames:
        batch.append(frame)
        if len(batch) >= cfg.batch:
            flush()
    if batch:
        flush()
    info = dict(detector.describe())
    if splitter is not None:
        out = splitter.assign(out)
        info["teams"] = splitter.describe()
    info.update(frames=len(out), seconds=round(seconds, 3), ms_per_frame=round(1000 * seconds / max(1, len(out)), 1))
    return out, info


def detect_video(path, cfg, backend: str | None = None, progress: Callable[[Frame], None] | None = None,
                 **frame_kwargs) -> tuple[list[Detections], dict]:
    """Detections for a video file: picks the detector, asks `media.frames` for frames at the
    width the detector wants (native for tiling) at `cfg.media.analysis_fps`, runs it.
    `cfg` is the whole Config. Extra keyword arguments go to `media.frames` (start_s, end_s)."""
    from .. import media

    detector = get_detector(cfg.detect, backend)
    width = detector.frame_width_px
    stream = media.frames(path, fps=cfg.media.analysis_fps, width=width or 0,
                          skip_nonref=cfg.media.skip_nonref, skip_loop_filter=cfg.media.skip_loop_filter, **frame_kwargs)
    return run_detection(stream, detector, cfg.detect, progress)
