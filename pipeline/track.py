"""Tracking stage: per-frame Detections in, one Tracks table out.

People get persistent ids from ByteTrack-style association: confident detections are
matched first, then the weak ones, to tracks predicted with a constant-velocity model plus
the camera pan (estimated every frame as the median shift of the people between samples),
by Hungarian assignment on IoU with a centre-distance fallback. The ball is one track (id 0)
that follows the candidate nearest to its prediction inside a gate, and whose short gaps are
filled by linear interpolation. Tracks are written to parquet by `write_tracks`:

    t_s          float64  frame time, seconds from the start of the file
    track_id     int32    0 = the ball, 1.. = people, stable across the table
    cls          int16    index into pipeline.types.CLASS_NAMES (the track's majority class)
    cls_name     string   the same as text
    x1,y1,x2,y2  float32  box in source pixels
    score        float32  detection confidence (0 on interpolated rows)
    team         int16    -1 none/unknown, 0 or 1 (the track's majority jersey team)
    interpolated bool     true where the box is filled across a short gap, not seen
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from .config import TrackConfig
from .outputs import atomic_write
from .types import BALL, CLASS_NAMES, NO_TEAM, PERSON_CLASSES, SAME_TIME_S, Detections, Tracks, box_iou

log = logging.getLogger(__name__)

BALL_TRACK_ID = 0
REFERENCE_WIDTH_PX = 640.0  # ball_gate_px is stated at this frame width
MAX_COST = 1e6
SPARSE_GATE_PER_S = 1.0  # box heights a second added to the centre gate between sparse people passes


def _centre(xyxy: np.ndarray) -> np.ndarray:
    return (xyxy[..., :2] + xyxy[..., 2:]) / 2


@dataclass
class _Track:
    id: int
    xyxy: np.ndarray  # last seen box, moved with the camera since
    velocity: np.ndarray  # own motion, px/s (camera removed)
    last_t: float
    rows: list = field(default_factory=list)  # (frame number, detection index)


def camera_shift(prev_xy: np.ndarray, curr_xy: np.ndarray, radius_px: float) -> np.ndarray:
    """Median displacement from each previous position to its nearest current one (within
    `radius_px`): the camera pan, since most people move less than the view between samples."""
    if len(prev_xy) == 0 or len(curr_xy) == 0:
        return np.zeros(2, np.float32)
    diff = curr_xy[None, :, :] - prev_xy[:, None, :]
    dist = np.linalg.norm(diff, axis=2)
    j = np.argmin(dist, axis=1)
    near = dist[np.arange(len(prev_xy)), j] <= radius_px
    if near.sum() < 3:
        return np.zeros(2, np.float32)
    return np.median(diff[np.arange(len(prev_xy)), j][near], axis=0).astype(np.float32)


def _cost(pred: np.ndarray, det: np.ndarray, min_iou: float, max_dist: float = 0.6) -> np.ndarray:
    """1 - IoU, with a centre-distance fallback (`max_dist` box heights) for small fast
    players whose boxes no longer overlap between samples; MAX_COST where neither gate holds."""
    iou = box_iou(pred, det)
    h = np.maximum(pred[:, 3] - pred[:, 1], 1.0)[:, None]
    dist = np.linalg.norm(_centre(pred)[:, None, :] - _centre(det)[None, :, :], axis=2) / h
    cost = 1.0 - iou + 1.0 * dist
    ok = (iou >= min_iou) | (dist <= max_dist)
    return np.where(ok, cost, MAX_COST)


def _assign(cost: np.ndarray) -> list[tuple[int, int]]:
    if cost.size == 0:
        return []
    r, c = linear_sum_assignment(cost)
    return [(i, j) for i, j in zip(r, c) if cost[i, j] < MAX_COST]


def _majority(values: np.ndarray, ignore: int | None = None) -> int | None:
    v = values if ignore is None else values[values != ignore]
    if len(v) == 0:
        return None
    u, n = np.unique(v, return_counts=True)
    return int(u[np.argmax(n)])


def track_people(detections: list[Detections], cfg: TrackConfig, frame_width_px: int,
                 camera_shifts: np.ndarray | None = None, max_age_s: float | None = None):
    """Returns (tracks as lists of (frame, det index), per-frame camera shift (F,2) px).

    With `camera_shifts` (per frame, source px: the picture's move from the frame before,
    see `camera_shifts`), frames where people were not looked for (`Detections.people`
    False: between sparse people passes) are stepped over, the tracks moved with the
    camera; the centre-distance gate widens with the time since a track was seen (a player
    runs about a body height a second more than the constant-velocity guess). Without it,
    the pan is the median shift of the people between samples."""
    tracks: list[_Track] = []
    finished: list[_Track] = []
    shifts = np.zeros((len(detections), 2), np.float32)
    next_id = BALL_TRACK_ID + 1
    prev_xy = np.zeros((0, 2), np.float32)
    prev_t = None
    max_age = cfg.max_age_s if max_age_s is None else max_age_s
    moved = np.zeros(2, np.float32)  # camera move since the last frame with people looked for
    for fi, d in enumerate(detections):
        if camera_shifts is not None:
            shifts[fi] = camera_shifts[fi]
            moved = moved + camera_shifts[fi]
            if not d.people:
                continue
        person = np.flatnonzero(np.isin(d.cls, PERSON_CLASSES))
        boxes, scores = d.xyxy[person], d.score[person]
        curr_xy = _centre(boxes)
        if camera_shifts is not None:
            shift, moved = moved, np.zeros(2, np.float32)
        else:
            shift = camera_shift(prev_xy, curr_xy, 0.08 * frame_width_px) if prev_t is not None else np.zeros(2, np.float32)
            shifts[fi] = shift
        # retire tracks unseen too long, predict the rest
        alive = []
        for t in tracks:
            (alive if d.t_s - t.last_t <= max_age else finished).append(t)
        tracks = alive
        for t in tracks:
            t.xyxy = t.xyxy + np.tile(shift, 2)
        pred = np.array([t.xyxy + np.tile(t.velocity * (d.t_s - t.last_t), 2) for t in tracks], np.float32).reshape(-1, 4)
        since = np.array([d.t_s - t.last_t for t in tracks])
        high = np.flatnonzero(scores >= cfg.high_score)
        low = np.flatnonzero(scores < cfg.high_score)
        matched_t: set[int] = set()
        matched_d: set[int] = set()
        # ByteTrack: confident detections first, then the weak ones for the tracks left over
        for dets in (high, low):
            free_t = np.array([i for i in range(len(tracks)) if i not in matched_t], np.int64)
            if len(free_t) == 0 or len(dets) == 0:
                continue
            gate = 0.6 if camera_shifts is None else 0.6 + SPARSE_GATE_PER_S * since[free_t][:, None]
            for a, b in _assign(_cost(pred[free_t], boxes[dets], cfg.match_iou, gate)):
                ti, di = int(free_t[a]), int(dets[b])
                t = tracks[ti]
                gap = d.t_s - t.last_t
                if gap > 0:
                    own = (_centre(boxes[di]) - _centre(t.xyxy)) / gap
                    t.velocity = (0.5 * t.velocity + 0.5 * own).astype(np.float32)
                t.xyxy, t.last_t = boxes[di].astype(np.float32), d.t_s
                t.rows.append((fi, int(person[di])))
                matched_t.add(ti)
                matched_d.add(di)
        for di in high:
            if int(di) not in matched_d:
                tracks.append(_Track(next_id, boxes[di].astype(np.float32), np.zeros(2, np.float32), d.t_s,
                                     [(fi, int(person[di]))]))
                next_id += 1
        prev_xy, prev_t = curr_xy, d.t_s
    finished.extend(tracks)
    return [t for t in finished if len(t.rows) >= cfg.min_hits], shifts


def track_ball(detections: list[Detections], cfg: TrackConfig, frame_width_px: int,
               shifts: np.ndarray) -> list[tuple[int, int]]:
    """(frame, detection index) of the ball, at most one per frame."""
    gate = cfg.ball_gate_px * frame_width_px / REFERENCE_WIDTH_PX
    times = np.array([d.t_s for d in detections])
    step_s = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    rows = []
    last_xy = None
    last_t = -np.inf
    velocity = np.zeros(2)
    for fi, d in enumerate(detections):
        if last_xy is not None:
            last_xy = last_xy + shifts[fi]
        idx = np.flatnonzero(d.cls == BALL)
        if len(idx) == 0:
            continue
        xy = _centre(d.xyxy[idx])
        gap = d.t_s - last_t
        if last_xy is None or gap > cfg.ball_max_gap_s:
            k = int(np.argmax(d.score[idx]))  # (re)start from the most confident candidate
        else:
            pred = last_xy + velocity * gap
            dist = np.linalg.norm(xy - pred, axis=1)
            k = int(np.argmin(dist))
            # the prediction carries the ball's velocity, so the gate widens slowly over a gap
            if dist[k] > gate * (1.0 + 0.5 * max(0.0, gap / max(step_s, 1e-3) - 1.0)):
                continue
            velocity = 0.5 * velocity + 0.5 * (xy[k] - last_xy) / max(gap, 1e-3)
        if last_xy is None or gap > cfg.ball_max_gap_s:
            velocity = np.zeros(2)
        last_xy, last_t = xy[k], d.t_s
        rows.append((fi, int(idx[k])))
    return rows


def _rows_with_gaps(rows, detections, max_gap_s):
    """Seen rows plus linearly interpolated boxes at the frames inside short gaps."""
    out = []  # (frame, xyxy, score, seen det index or -1)
    for k, (f0, d0) in enumerate(rows):
        out.append((f0, detections[f0].xyxy[d0], float(detections[f0].score[d0]), d0))
        if k + 1 == len(rows):
            continue
        f1, d1 = rows[k + 1]
        t0, t1 = detections[f0].t_s, detections[f1].t_s
        if f1 - f0 > 1 and t1 - t0 <= max_gap_s:
            a, b = detections[f0].xyxy[d0], detections[f1].xyxy[d1]
            for f in range(f0 + 1, f1):
                w = (detections[f].t_s - t0) / max(t1 - t0, 1e-9)
                out.append((f, (1 - w) * a + w * b, 0.0, -1))
    return out


def camera_shifts(detections: list[Detections], camera) -> np.ndarray:
    """Per detection frame, the picture's move (source px) from the frame before: the
    translation of `camera`'s (a signals.motion.CameraMotion over the same sampled frames)
    step at the nearest sample, 0 across cuts and unknown steps."""
    out = np.zeros((len(detections), 2), np.float32)
    if len(camera.t_s) == 0:
        return out
    centre = np.array([camera.width_px / 2, camera.width_px * 9 / 32, 1.0])  # a 16:9 picture's centre
    step = (camera.affine @ centre) - centre[:2]  # (N, 2) flow px
    step[~camera.valid] = 0.0
    k = camera.nearest(np.array([d.t_s for d in detections]))
    return (step[k] / camera.to_flow).astype(np.float32)


def track(detections: list[Detections], cfg: TrackConfig, frame_width_px: int, camera=None) -> Tracks:
    """Tracks for a match's detections (in time order). `frame_width_px` is the source
    width: gates stated at 640 px scale with it. Where people were looked for only on some
    frames (detect.people_every_s), `camera` (signals.motion.CameraMotion) carries the
    players between those passes and a track lives through one missed pass.

    >>> tracks = track(dets, cfg.track, info.width)
    """
    detections = list(detections)
    looked = np.array([d.people for d in detections], bool)
    shifts_in, max_age = None, cfg.max_age_s
    if len(looked) and not looked.all():
        times = np.array([d.t_s for d in detections])[looked]
        every = float(np.median(np.diff(times))) if len(times) > 1 else cfg.max_age_s
        max_age = max(cfg.max_age_s, 2 * every + SAME_TIME_S)
        shifts_in = camera_shifts(detections, camera) if camera is not None else np.zeros((len(detections), 2), np.float32)
    people, shifts = track_people(detections, cfg, frame_width_px, shifts_in, max_age)
    ball_rows = track_ball(detections, cfg, frame_width_px, shifts)
    cols = {k: [] for k in ("t_s", "track_id", "cls", "xyxy", "score", "team", "interpolated")}

    def emit(track_id: int, rows, max_gap_s: float, cls: int, team: int) -> None:
        for f, xyxy, score, seen in _rows_with_gaps(rows, detections, max_gap_s):
            cols["t_s"].append(detections[f].t_s)
            cols["track_id"].append(track_id)
            cols["cls"].append(cls)
            cols["xyxy"].append(np.asarray(xyxy, np.float32))
            cols["score"].append(score)
            cols["team"].append(team)
            cols["interpolated"].append(seen < 0)

    if ball_rows:
        emit(BALL_TRACK_ID, ball_rows, cfg.ball_max_gap_s, BALL, NO_TEAM)
    for new_id, t in enumerate(sorted(people, key=lambda t: t.rows[0]), start=BALL_TRACK_ID + 1):
        cls = np.array([detections[f].cls[i] for f, i in t.rows])
        team = np.array([detections[f].team[i] for f, i in t.rows])
        majority_team = _majority(team, ignore=NO_TEAM)
        emit(new_id, t.rows, max_age, _majority(cls), NO_TEAM if majority_team is None else majority_team)
    if not cols["t_s"]:
        return empty_tracks()
    t_s = np.asarray(cols["t_s"], np.float64)
    order = np.lexsort((np.asarray(cols["track_id"]), t_s))
    return Tracks(
        t_s=t_s[order],
        track_id=np.asarray(cols["track_id"], np.int32)[order],
        cls=np.asarray(cols["cls"], np.int16)[order],
        xyxy=np.stack(cols["xyxy"]).astype(np.float32)[order],
        score=np.asarray(cols["score"], np.float32)[order],
        team=np.asarray(cols["team"], np.int16)[order],
        interpolated=np.asarray(cols["interpolated"], bool)[order],
    )


def empty_tracks() -> Tracks:
    return Tracks(np.zeros(0), np.zeros(0, np.int32), np.zeros(0, np.int16), np.zeros((0, 4), np.float32),
                  np.zeros(0, np.float32), np.zeros(0, np.int16), np.zeros(0, bool))


def track_summary(tracks: Tracks) -> dict:
    """Counts a person can check at a glance: ids, lengths, ball coverage."""
    people = tracks.track_id != BALL_TRACK_ID
    ids, lengths = np.unique(tracks.track_id[people], return_counts=True)
    ball = ~people
    return {
        "people_tracks": int(len(ids)),
        "median_track_rows": float(np.median(lengths)) if len(lengths) else 0.0,
        "ball_rows": int(ball.sum()),
        "ball_interpolated": int((ball & tracks.interpolated).sum()),
    }


def write_tracks(tracks: Tracks, path: str | Path, info: dict | None = None) -> Path:
    """Write `tracks` as parquet (columns in the module docstring); `info` goes into the
    schema metadata as JSON under `pipeline.tracks`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = np.array(CLASS_NAMES, dtype=object)[tracks.cls] if len(tracks) else np.zeros(0, object)
    table = pa.table({
        "t_s": tracks.t_s.astype(np.float64),
        "track_id": tracks.track_id.astype(np.int32),
        "cls": tracks.cls.astype(np.int16),
        "cls_name": pa.array(names.tolist(), pa.string()),
        "x1": tracks.xyxy[:, 0], "y1": tracks.xyxy[:, 1], "x2": tracks.xyxy[:, 2], "y2": tracks.xyxy[:, 3],
        "score": tracks.score.astype(np.float32),
        "team": tracks.team.astype(np.int16),
        "interpolated": tracks.interpolated.astype(bool),
    })
    table = table.replace_schema_metadata({"pipeline.tracks": json.dumps(info or {}, default=str)})
    return atomic_write(Path(path), lambda tmp: pq.write_table(table, tmp))


def read_tracks(path: str | Path) -> tuple[Tracks, dict]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    info = json.loads((table.schema.metadata or {}).get(b"pipeline.tracks", b"{}"))
    c = {n: table.column(n).to_numpy() for n in table.column_names if n != "cls_name"}
    return Tracks(
        t_s=c["t_s"].astype(np.float64),
        track_id=c["track_id"].astype(np.int32),
        cls=c["cls"].astype(np.int16),
        xyxy=np.stack([c["x1"], c["y1"], c["x2"], c["y2"]], axis=1).astype(np.float32).reshape(-1, 4),
        score=c["score"].astype(np.float32),
        team=c["team"].astype(np.int16),
        interpolated=c["interpolated"].astype(bool),
    ), info
