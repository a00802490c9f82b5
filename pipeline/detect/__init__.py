"""Detection stage: frames in, per-frame Detections (source pixels) out.

Backends register by name (`yolo`, `classic`); `auto` picks yolo when weights resolve
locally and, when none were named, classic otherwise, saying so in `describe()["auto"]`;
named weights that do not resolve are a WeightsError for every backend. `run_detection` runs a
detector over a frame stream in batches and adds jersey-colour team labels.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Iterable

from ..config import DetectConfig
from ..errors import WeightsError
from ..types import Detections, Frame, GrassRange
from . import classic as _classic  # noqa: F401  (registers "classic")
from .base import Detector, available, build, read_detections, register, write_detections

log = logging.getLogger(__name__)

__all__ = [
    "Detector", "available", "get_detector", "read_detections", "register", "run_detection",
    "resolved_choice", "weights_given", "write_detections",
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


def weights_given(cfg: DetectConfig) -> bool:
    """True when the config names weights (`--weights`, `--set detect.weights=...`, a
    `--config` file): the default, null, means "the first *.onnx / *.pt in models/"."""
    return cfg.weights is not None and str(cfg.weights).strip() != ""


def resolved_choice(cfg: DetectConfig) -> dict:
    """Which detector `get_detector(cfg)` builds, without building it: the backend and, for
    yolo, the weights file with its size and time. Part of the analysis cache key, so an
    `auto` analysis made with classic is not reused once weights appear in models/ (nor one
    made with other weights under the same name)."""
    _register_yolo()
    from .yolo import resolve_weights

    if cfg.backend == "classic" and not weights_given(cfg):
        return {"backend": "classic"}
    try:
        path = resolve_weights(cfg.weights if weights_given(cfg) else None)
    except WeightsError:
        if cfg.backend != "auto" or weights_given(cfg):
            raise
        return {"backend": "classic"}
    if cfg.backend == "classic":
        return {"backend": "classic"}
    st = path.stat()
    return {"backend": "yolo", "weights": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def get_detector(cfg: DetectConfig, backend: str | None = None, *, grass: GrassRange) -> Detector:
    """Build the configured backend (`backend` overrides `cfg.backend`, e.g. from --detector);
    `grass` is the `pitch:` section's range, for the pitch masks.

    Weights that were named (see `weights_given`) and do not resolve locally raise
    WeightsError whatever the backend: a mistyped path must not quietly give another
    detector. Only without named weights does `auto` fall back to `classic` when models/
    holds none, recording why in describe()["auto"]; `yolo` raises WeightsError then.
    """
    _register_yolo()
    name = backend or cfg.backend
    from .yolo import resolve_weights

    path = resolve_weights(cfg.weights) if weights_given(cfg) else None
    if name != "auto":
        return build(name, cfg, grass)
    if path is None:
        try:
            path = resolve_weights(None)
        except WeightsError as exc:
            reason = f"classic: {exc}"
            log.warning("detector auto -> %s", reason)
            return _AutoChoice(build("classic", cfg, grass), reason)
    reason = f"yolo: weights {path} found locally"
    log.info("detector auto -> %s", reason)
    return _AutoChoice(build("yolo", cfg, grass), reason)


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
