"""Evaluation against ground truth.

Detector evaluation: recall and precision of a Detector on YOLO-format labelled frames
(`DIR/images/*.jpg|png` + `DIR/labels/*.txt`), for people (player + goalkeeper + referee,
matched at IoU >= 0.5) and for the ball (a detected ball whose centre lies within 15 px of
the labelled centre at 1920 px image width, scaled with the width).

Event evaluation: goal/chance recall and reel precision of a segments.json against a truth
file, plus how well the ranking found the events (each event's best overlapping rank, the
share of goals among the top-k candidates) and candidate kinds against truth types.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .types import BALL, PERSON_CLASSES, Detections, Frame, box_iou

# Class ids of the DFL Bundesliga labels (../shared/data/frames/dfl-bundesliga), used when no
# data.yaml lies beside the frames.
DFL_NAMES = ("ball", "goalkeeper", "player", "referee")
PERSON_LABELS = {"player", "players", "goalkeeper", "goalkeepers", "referee", "referees", "person"}
BALL_LABELS = {"ball", "football", "sports ball"}
PERSON_IOU = 0.5
BALL_RADIUS_PX_AT_1920 = 15.0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class LabelledFrame:
    image_path: Path
    width_px: int
    height_px: int
    person_xyxy: np.ndarray  # (P,4) float32, image px
    ball_xy: np.ndarray  # (B,2) float32 ball centres, image px


def _label_names(frames_dir: Path) -> tuple[str, ...]:
    import yaml

    for cand in (frames_dir / "data.yaml", frames_dir.parent / "data.yaml"):
        if cand.is_file():
            data = yaml.safe_load(cand.read_text(encoding="utf-8")) or {}
            names = data.get("names")
            if isinstance(names, dict):
                return tuple(str(names[k]) for k in sorted(names))
            if isinstance(names, list):
                return tuple(str(n) for n in names)
    return DFL_NAMES


def load_labelled_frames(frames_dir: str | Path, limit: int | None = None) -> list[LabelledFrame]:
    """Read `images/` + `labels/` (YOLO txt: cls cx cy w h, normalised) under `frames_dir`."""
    import cv2

    root = Path(frames_dir)
    img_dir, lab_dir = root / "images", root / "labels"
    if not img_dir.is_dir() or not lab_dir.is_dir():
        raise ConfigError(f"{root} must hold images/ and labels/ (YOLO format)")
    names = _label_names(root)
    person_ids = {i for i, n in enumerate(names) if n.lower() in PERSON_LABELS}
    ball_ids = {i for i, n in enumerate(names) if n.lower() in BALL_LABELS}
    paths = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ConfigError(f"no images in {img_dir}")
    out = []
    for p in paths[:limit]:
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ConfigError(f"cannot read image {p}")
        h, w = img.shape[:2]
        lab = lab_dir / (p.stem + ".txt")
        rows = np.zeros((0, 5), np.float32)
        if lab.is_file():
            text = lab.read_text(encoding="utf-8").split()
            if text:
                rows = np.asarray(text, np.float32).reshape(-1, 5)
        cls = rows[:, 0].astype(int)
        cx, cy, bw, bh = rows[:, 1] * w, rows[:, 2] * h, rows[:, 3] * w, rows[:, 4] * h
        xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(np.float32)
        is_person = np.isin(cls, list(person_ids))
        is_ball = np.isin(cls, list(ball_ids))
        out.append(LabelledFrame(p, w, h, xyxy[is_person], np.stack([cx, cy], 1)[is_ball].astype(np.float32)))
    return out


def match_people(det_xyxy: np.ndarray, det_score: np.ndarray, gt_xyxy: np.ndarray, iou_thr: float = PERSON_IOU) -> int:
    """Greedy one-to-one matching, best-scored detection first; returns the matched count."""
    if len(det_xyxy) == 0 or len(gt_xyxy) == 0:
        return 0
    iou = box_iou(det_xyxy[np.argsort(-det_score, kind="stable")], gt_xyxy)
    used = np.zeros(len(gt_xyxy), bool)
    matched = 0
    for row in iou:
        row = np.where(used, -1.0, row)
        j = int(np.argmax(row))
        if row[j] >= iou_thr:
            used[j] = True
            matched += 1
    return matched


def match_balls(det_xy: np.ndarray, gt_xy: np.ndarray, radius_px: float) -> tuple[int, int]:
    """(labelled balls found, detected balls that hit a labelled ball)."""
    if len(det_xy) == 0 or len(gt_xy) == 0:
        return 0, 0
    dist = np.linalg.norm(det_xy[:, None, :] - gt_xy[None, :, :], axis=2)
    near = dist <= radius_px
    return int(near.any(axis=0).sum()), int(near.any(axis=1).sum())


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def score_detections(labelled: list[LabelledFrame], detections: list[Detections]) -> dict:
    """Recall/precision of `detections` (one per labelled frame, image px) against the labels."""
    p_found = p_gt = p_det = 0
    b_found = b_hit = b_gt = b_det = 0
    for lf, d in zip(labelled, detections, strict=True):
        person = np.isin(d.cls, PERSON_CLASSES)
        p_found += match_people(d.xyxy[person], d.score[person], lf.person_xyxy)
        p_gt += len(lf.person_xyxy)
        p_det += int(person.sum())
        ball = d.cls == BALL
        centres = (d.xyxy[ball, :2] + d.xyxy[ball, 2:]) / 2
        found, hit = match_balls(centres, lf.ball_xy, BALL_RADIUS_PX_AT_1920 * lf.width_px / 1920.0)
        b_found, b_hit, b_gt, b_det = b_found + found, b_hit + hit, b_gt + len(lf.ball_xy), b_det + int(ball.sum())
    return {
        "person": {"recall": _ratio(p_found, p_gt), "precision": _ratio(p_found, p_det), "n": p_gt, "n_detections": p_det},
        "ball": {"recall": _ratio(b_found, b_gt), "precision": _ratio(b_hit, b_det), "n": b_gt, "n_detections": b_det},
    }


# Labelled stills are unrelated pictures: they are given times this far apart, so a detector
# that looks for people only every few seconds (detect.people_every_s) looks in each.
STILL_SPACING_S = 3600.0


def _to_frame(image: np.ndarray, index: int, width_px: int | None) -> Frame:
    import cv2

    h, w = image.shape[:2]
    t_s = index * STILL_SPACING_S
    if width_px and width_px != w:
        height = int(round(h * width_px / w / 2)) * 2
        small = cv2.resize(image, (width_px, height), interpolation=cv2.INTER_AREA)
        return Frame(t_s, small, index, width_px / w)
    return Frame(t_s, image, index, 1.0)


def eval_detector(
    frames_dir: str | Path,
    detector,
    *,
    limit: int | None = None,
    batch: int = 4,
    progress=None,
) -> dict:
    """Run `detector` over the labelled frames in `frames_dir` and score it.

    Returns `{"person": {"recall", "precision", "n", "n_detections"}, "ball": {...},
    "ms_per_frame", "frames", "detector"}`; `ms_per_frame` is detector time only (decoding
    the JPEGs and resizing to the detector's input width are left out). `progress`, if given,
    is called with the number of frames done after each batch.

    >>> eval_detector("../shared/data/frames/dfl-bundesliga/valid", get_detector(cfg.detect, grass=cfg.pitch.grass))
    """
    import cv2

    labelled = load_labelled_frames(frames_dir, limit)
    detections: list[Detections] = []
    seconds = 0.0
    for start in range(0, len(labelled), batch):
        chunk = labelled[start : start + batch]
        frames = [
            _to_frame(cv2.imread(str(lf.image_path), cv2.IMREAD_COLOR), start + k, detector.frame_width_px)
            for k, lf in enumerate(chunk)
        ]
        t0 = time.perf_counter()
        detections.extend(detector.detect(frames))
        seconds += time.perf_counter() - t0
        if progress is not None:
            progress(len(detections))
    out = score_detections(labelled, detections)
    out["ms_per_frame"] = round(1000.0 * seconds / len(labelled), 1)
    out["frames"] = len(labelled)
    out["detector"] = detector.describe()
    return out


# ----------------------------------------------------------------------------- events in the reel

GOAL_WINDOW_S = (3.0, 1.0)  # a goal is in the reel when [time - 3 s, time + 1 s] is covered
# A candidate "overlaps" an event when its [start, end] shares at least this share of the
# event's window [time - 3 s, time + 1 s], clipped to the video: 1 s of a whole window, less
# of one clipped at the start or end of the video. A candidate that only grazes the window
# with its edge has not found the moment.
OVERLAP_MIN_SHARE = 0.25
KINDS = ("goal", "chance", "other")  # candidate kinds; a candidate without `kind` is "other"
TRUTH_TYPES = ("goal", "chance")


def _union(intervals) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in intervals if b > a):
        if out and a <= out[-1][1] + 1e-9:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _covered(window: tuple[float, float], union: list[tuple[float, float]]) -> bool:
    a, b = window
    return any(s <= a + 1e-6 and b <= e + 1e-6 for s, e in union)


def _overlap(a: tuple[float, float], union: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(a[1], e) - max(a[0], s)) for s, e in union)


def event_window(event: dict, duration_s: float) -> tuple[float, float]:
    """[time - 3 s, time + 1 s] clipped to [0, duration_s]."""
    return (max(event["time"] - GOAL_WINDOW_S[0], 0.0), min(event["time"] + GOAL_WINDOW_S[1], duration_s))


def overlaps(segment: dict, window: tuple[float, float]) -> bool:
    """Whether `segment` ([start, end], as in segments.json) shares at least
    OVERLAP_MIN_SHARE of `window`'s length with it; touching edges never count."""
    shared = min(segment["end"], window[1]) - max(segment["start"], window[0])
    return shared > 1e-6 and shared >= OVERLAP_MIN_SHARE * (window[1] - window[0]) - 1e-6


def candidate_kind(segment: dict) -> str:
    kind = segment.get("kind")
    return kind if kind in KINDS else "other"


def _rank_key(segment: dict) -> tuple[float, float]:
    rank = segment.get("rank")
    return (float(rank) if rank is not None else float("inf"), float(segment["start"]))


def _max_matching(edges: list[list[int]], n_right: int) -> int:
    """Size of a maximum bipartite matching (Kuhn's augmenting paths); edges[i] lists the
    right-hand nodes left node i may take."""
    owner = [-1] * n_right

    def augment(i: int, seen: list[bool]) -> bool:
        for j in edges[i]:
            if not seen[j]:
                seen[j] = True
                if owner[j] < 0 or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return sum(augment(i, [False] * n_right) for i in range(len(edges)))


def top_k_goal_share(segments: list[dict], truth: dict, duration_s: float) -> dict:
    """Share of goals among the k best-ranked candidates, k = the number of goals in truth.

    A top-k candidate counts as a goal when it overlaps (see `overlaps`) some goal's window;
    each goal is counted once and each candidate once (a maximum one-to-one matching), so
    two candidates on the same goal count one, and one long candidate over two goals counts
    one. Returns {"k", "goals" (matched count), "share" (goals / k, None when k is 0), "ids"}.
    """
    goal_windows = [event_window(e, duration_s) for e in truth.get("events", []) if e["type"] == "goal"]
    k = len(goal_windows)
    top = sorted(segments, key=_rank_key)[:k]
    edges = [[j for j, w in enumerate(goal_windows) if overlaps(s, w)] for s in top]
    matched = _max_matching(edges, k)
    return {"k": k, "goals": matched, "share": round(matched / k, 4) if k else None, "ids": [s["id"] for s in top]}


def kind_confusion(segments: list[dict], truth: dict, duration_s: float) -> dict:
    """Candidate kinds against truth types: {truth row: {column: count}}.

    Rows "goal" and "chance" count truth events, each under the kind of its best-ranked
    overlapping candidate (columns goal/chance/other) or under "missed" when no candidate
    overlaps its window. Row "none" counts candidates, by kind, that overlap no event: neither
    an event's window nor its [start, end] (so a candidate on a goal's celebration is not a
    false alarm). A candidate without `kind` is "other".
    """
    events = truth.get("events", [])
    table = {t: {**{k: 0 for k in KINDS}, "missed": 0} for t in TRUTH_TYPES}
    table["none"] = {k: 0 for k in KINDS}
    ranked = sorted(segments, key=_rank_key)
    for e in events:
        if e["type"] not in TRUTH_TYPES:
            continue
        w = event_window(e, duration_s)
        best = next((s for s in ranked if overlaps(s, w)), None)
        table[e["type"]][candidate_kind(best) if best else "missed"] += 1
    spans = [event_window(e, duration_s) for e in events] + [(e["start"], e["end"]) for e in events]
    for s in segments:
        if not any(min(s["end"], b) - max(s["start"], a) > 1e-6 for a, b in spans):
            table["none"][candidate_kind(s)] += 1
    return table


def evaluate_events(segments: list[dict], truth: dict, duration_s: float) -> dict:
    """Goal and chance recall and reel precision as defined in DESIGN.md (Contracts).

    segments: dicts with start, end, selected, rank, id, and optionally kind and confidence
    (segments.json entries). truth: {"events": [{"type", "time", "start", "end"}]}.
    A goal (chance) is in the reel when [time - 3 s, time + 1 s], clipped to the video, lies
    inside the union of selected segments; precision is the share of reel time inside any
    event's [start, end]. Per event, `best_rank` is the best rank of any candidate covering
    the whole window (one that alone would put it in the reel); `overlap_rank` the best rank
    of any candidate overlapping it (see `overlaps`), with that candidate's id
    (`overlap_segment`), kind and confidence. Also `top_k` (see `top_k_goal_share`) and
    `confusion` (see `kind_confusion`).
    """
    selected = [s for s in segments if s.get("selected")]
    union = _union((s["start"], s["end"]) for s in selected)
    events = truth.get("events", [])
    ranked = sorted(segments, key=_rank_key)
    per_event = []
    for e in events:
        w = event_window(e, duration_s)
        found = _covered(w, union)
        covering = [s for s in segments if s["start"] <= w[0] + 1e-6 and w[1] <= s["end"] + 1e-6]
        best = min((s["rank"] for s in covering), default=None)
        near = next((s for s in ranked if overlaps(s, w)), None)
        per_event.append({"type": e["type"], "time": e["time"], "in_reel": found, "best_rank": best,
                          "segment": next((s["id"] for s in selected if s["start"] <= w[0] + 1e-6 and w[1] <= s["end"] + 1e-6), None),
                          "overlap_rank": near.get("rank") if near else None,
                          "overlap_segment": near["id"] if near else None,
                          "kind": candidate_kind(near) if near else "missed",
                          "confidence": near.get("confidence") if near else None})
    goals = [p for p in per_event if p["type"] == "goal"]
    chances = [p for p in per_event if p["type"] == "chance"]
    reel_s = sum(b - a for a, b in union)
    ev_union = _union((e["start"], e["end"]) for e in events)
    inside = sum(_overlap(iv, ev_union) for iv in union)
    return {
        "goal_recall": (sum(p["in_reel"] for p in goals) / len(goals)) if goals else None,
        "chance_recall": (sum(p["in_reel"] for p in chances) / len(chances)) if chances else None,
        "precision": (inside / reel_s) if reel_s > 0 else None,
        "goals": len(goals), "chances": len(chances), "reel_s": round(reel_s, 3),
        "events": per_event,
        "top_k": top_k_goal_share(segments, truth, duration_s),
        "confusion": kind_confusion(segments, truth, duration_s),
        "overlap_min_share": OVERLAP_MIN_SHARE,
    }
