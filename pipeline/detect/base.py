"""The Detector interface, the backend registry, and the box maths every backend shares.

A backend is a small class with a `name`, the frame width it wants (`frame_width_px`,
None = native size), `detect(frames) -> list[Detections]` over a batch of frames and
`describe() -> dict` for the outputs. Backends register a factory under a name;
`get_detector(cfg)` builds one from the `detect:` config section.

Detections are also written to disk here (`write_detections` / `read_detections`), as one
parquet table with one row per detection:

    frame    int32    running number of the sampled frame (0, 1, ...)
    t_s      float64  time of the frame, seconds from the start of the file
    x1,y1,x2,y2 float32  box corners in source pixels
    score    float32  detector confidence, 0..1
    cls      int16    index into pipeline.types.CLASS_NAMES
                      (0 person, 1 player, 2 goalkeeper, 3 referee, 4 ball)
    cls_name string   the same as text
    team     int16    -1 no team / unknown, 0 or 1 the two jersey-colour clusters
    people   bool     people were looked for on the frame (false between the people passes
                      of detect.people_every_s; absent in older files: true)

Frames with no detection appear as one row with cls = -1 so the frame times survive a
round trip. The file's schema metadata holds the detector's `describe()` as JSON under
`pipeline.detector`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from ..config import DetectConfig
from ..errors import ConfigError
from ..types import BALL, CLASS_ID, CLASS_NAMES, NO_TEAM, Detections, Frame, GrassRange, box_ioa, box_iou

log = logging.getLogger(__name__)


@runtime_checkable
class Detector(Protocol):
    name: str
    frame_width_px: int | None  # width of the frames it wants; None = native resolution

    def detect(self, frames: list[Frame]) -> list[Detections]: ...

    def describe(self) -> dict: ...


_REGISTRY: dict[str, Callable[[DetectConfig], Detector]] = {}


def register(name: str):
    """Class decorator: `@register("classic")` makes the backend available by name."""

    def wrap(factory):
        _REGISTRY[name] = factory
        return factory

    return wrap


def available() -> list[str]:
    return sorted(_REGISTRY)


def build(name: str, cfg: DetectConfig, grass: GrassRange) -> Detector:
    """The backend `name` built from the `detect:` section and the colours grass can take."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown detector {name!r}; choose one of {', '.join(available())}") from None
    return factory(cfg, grass)


# --- class mapping -------------------------------------------------------------------------

# Model class names (lower-case) -> our class. COCO has `person` and `sports ball`; football
# models name the roles directly. Anything else the model knows is dropped.
NAME_MAP: dict[str, int] = {
    "person": CLASS_ID["person"],
    "people": CLASS_ID["person"],
    "player": CLASS_ID["player"],
    "players": CLASS_ID["player"],
    "goalkeeper": CLASS_ID["goalkeeper"],
    "goalkeepers": CLASS_ID["goalkeeper"],
    "goalie": CLASS_ID["goalkeeper"],
    "keeper": CLASS_ID["goalkeeper"],
    "referee": CLASS_ID["referee"],
    "referees": CLASS_ID["referee"],
    "ref": CLASS_ID["referee"],
    "ball": CLASS_ID["ball"],
    "sports ball": CLASS_ID["ball"],
    "football": CLASS_ID["ball"],
    "soccer ball": CLASS_ID["ball"],
}


def class_map(model_names: dict[int, str] | list[str]) -> dict[int, int]:
    """Model class index -> index into CLASS_NAMES, for the classes we use (others dropped)."""
    items = model_names.items() if isinstance(model_names, dict) else enumerate(model_names)
    out = {}
    for idx, name in items:
        ours = NAME_MAP.get(str(name).strip().lower().replace("_", " "))
        if ours is not None:
            out[int(idx)] = ours
    return out


# --- box maths -----------------------------------------------------------------------------


def nms(xyxy: np.ndarray, score: np.ndarray, iou_thr: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, best first."""
    order = np.argsort(-score, kind="stable")
    if len(order) == 0:
        return order
    iou = box_iou(xyxy[order], xyxy[order])
    keep = np.ones(len(order), bool)
    for i in range(len(order)):  # loop over boxes (tens per frame), not pixels
        if keep[i]:
            keep[i + 1 :] &= iou[i, i + 1 :] < iou_thr
    return order[keep]


def tile_grid(width_px: int, height_px: int, tile_px: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """Overlapping tiles (x0, y0, x1, y1) covering the image; the last row/column is
    shifted inwards so every tile is full size (no padding seen by the model)."""

    def starts(size: int) -> list[int]:
        if size <= tile_px:
            return [0]
        stride = max(1, int(round(tile_px * (1.0 - overlap))))
        s = list(range(0, size - tile_px, stride))
        s.append(size - tile_px)
        return sorted(set(s))

    tw, th = min(tile_px, width_px), min(tile_px, height_px)
    return [(x, y, x + tw, y + th) for y in starts(height_px) for x in starts(width_px)]


def merge_tiled(
    xyxy: np.ndarray,
    score: np.ndarray,
    cls: np.ndarray,
    cut: np.ndarray,
    *,
    iou_thr: float = 0.5,
    fuse_ioa: float = 0.6,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge detections gathered from overlapping tiles (all in one coordinate frame).

    `cut` marks boxes that touch an inner tile border (the object may continue in the next
    tile). Per class: a cut box that overlaps another box of the same class (intersection over
    the smaller box >= fuse_ioa, e.g. the half of a player seen in one tile inside the whole
    player seen by the next) is fused into the union of the two, then ordinary NMS removes
    the duplicates the overlap produces.
    """
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4).copy()
    score = np.asarray(score, np.float32).reshape(-1)
    cls = np.asarray(cls).reshape(-1)
    cut = np.asarray(cut, bool).reshape(-1)
    keep_all = []
    for c in np.unique(cls):
        idx = np.flatnonzero(cls == c)
        boxes, scores, cuts = xyxy[idx].copy(), score[idx].copy(), cut[idx].copy()
        alive = np.ones(len(idx), bool)
        if cuts.any() and len(idx) > 1:
            ioa = box_ioa(boxes, boxes)
            np.fill_diagonal(ioa, 0)
            # fuse a cut box into its best partner, largest partners first
            for i in np.argsort(-(ioa.max(axis=1))):
                if not alive[i] or not cuts[i]:
                    continue
                cand = np.flatnonzero(alive & (ioa[i] >= fuse_ioa))
                cand = cand[cand != i]
                if len(cand) == 0:
                    continue
                j = cand[np.argmax(ioa[i, cand])]
                boxes[j, :2] = np.minimum(boxes[j, :2], boxes[i, :2])
                boxes[j, 2:] = np.maximum(boxes[j, 2:], boxes[i, 2:])
                scores[j] = max(scores[j], scores[i])
                cuts[j] = cuts[j] and cuts[i]
                alive[i] = False
        live = np.flatnonzero(alive)
        kept = live[nms(boxes[live], scores[live], iou_thr)]
        xyxy[idx] = boxes
        score[idx] = scores
        keep_all.extend(idx[kept].tolist())
    keep = np.array(sorted(keep_all), np.int64)
    return xyxy[keep], score[keep], cls[keep]


# --- columnar file -------------------------------------------------------------------------


def _atomic_write_table(table, path: Path) -> None:
    import pyarrow.parquet as pq

    from ..outputs import atomic_write

    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def write_detections(detections: list[Detections], path: str | Path, info: dict | None = None) -> Path:
    """Write per-frame detections as one parquet table (columns in the module docstring)."""
    import pyarrow as pa

    frame, t_s, xyxy, score, cls, team, people = [], [], [], [], [], [], []
    for i, d in enumerate(detections):
        n = len(d)
        people.append(np.full(max(n, 1), d.people, bool))
        if n == 0:  # keep the frame time
            frame.append(np.array([i], np.int32))
            t_s.append(np.array([d.t_s]))
            xyxy.append(np.full((1, 4), np.nan, np.float32))
            score.append(np.zeros(1, np.float32))
            cls.append(np.array([-1], np.int16))
            team.append(np.array([NO_TEAM], np.int16))
            continue
        frame.append(np.full(n, i, np.int32))
        t_s.append(np.full(n, d.t_s))
        xyxy.append(d.xyxy.astype(np.float32))
        score.append(d.score.astype(np.float32))
        cls.append(d.cls.astype(np.int16))
        team.append(d.team.astype(np.int16))
    cat = lambda parts, empty: np.concatenate(parts) if parts else empty  # noqa: E731
    xy = cat(xyxy, np.zeros((0, 4), np.float32))
    c = cat(cls, np.zeros(0, np.int16))
    names = np.array(list(CLASS_NAMES) + [""], dtype=object)[c]  # -1 -> ""
    table = pa.table(
        {
            "frame": cat(frame, np.zeros(0, np.int32)),
            "t_s": cat(t_s, np.zeros(0)),
            "x1": xy[:, 0], "y1": xy[:, 1], "x2": xy[:, 2], "y2": xy[:, 3],
            "score": cat(score, np.zeros(0, np.float32)),
            "cls": c,
            "cls_name": pa.array(names.tolist(), pa.string()),
            "team": cat(team, np.zeros(0, np.int16)),
            "people": cat(people, np.zeros(0, bool)),
        }
    )
    table = table.replace_schema_metadata({"pipeline.detector": json.dumps(info or {}, default=str)})
    _atomic_write_table(table, Path(path))
    return Path(path)


def read_detections(path: str | Path) -> tuple[list[Detections], dict]:
    """Inverse of `write_detections`: (per-frame Detections, detector info)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    info = json.loads(meta.get(b"pipeline.detector", b"{}"))
    col = {name: table.column(name).to_numpy() for name in ("frame", "t_s", "x1", "y1", "x2", "y2", "score", "cls", "team")}
    looked = table.column("people").to_numpy(zero_copy_only=False) if "people" in table.column_names \
        else np.ones(len(col["frame"]), bool)
    out = []
    if len(col["frame"]) == 0:
        return out, info
    n_frames = int(col["frame"].max()) + 1
    order = np.argsort(col["frame"], kind="stable")
    bounds = np.searchsorted(col["frame"][order], np.arange(n_frames + 1))
    xyxy = np.stack([col["x1"], col["y1"], col["x2"], col["y2"]], axis=1).astype(np.float32)
    for f in range(n_frames):
        rows = order[bounds[f] : bounds[f + 1]]
        rows = rows[col["cls"][rows] >= 0]
        t = float(col["t_s"][order[bounds[f]]]) if bounds[f + 1] > bounds[f] else float("nan")
        out.append(
            Detections(t, xyxy[rows], col["score"][rows].astype(np.float32), col["cls"][rows].astype(np.int16),
                       col["team"][rows].astype(np.int16),
                       bool(looked[order[bounds[f]]]) if bounds[f + 1] > bounds[f] else True)
        )
    return out, info


def empty_like(frames: list[Frame]) -> list[Detections]:
    return [Detections.empty(f.t_s) for f in frames]


def is_ball(d: Detections) -> np.ndarray:
    return d.cls == BALL
