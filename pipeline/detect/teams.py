"""Team split by jersey colour: players' shirt colours clustered into two teams per match.

`TeamSplitter.observe(frame, detections)` takes each player's shirt colour (the median Lab
colour of the upper body, leaving out pixels that look like the grass around the player);
`assign(detections)` clusters all of a match's shirts into two teams with 2-means and labels
every player detection 0 or 1; shirts far from both team colours (referees, goalkeepers)
and detections the model itself calls referee stay NO_TEAM (-1).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from ..types import CLASS_ID, NO_TEAM, Detections, Frame

log = logging.getLogger(__name__)

TEAM_CLASSES = (CLASS_ID["person"], CLASS_ID["player"])
MIN_PIXELS = 6  # a shirt seen in fewer pixels gives no colour
OUTLIER_FACTOR = 3.0  # distance from the own team's colour, in that team's robust spreads
MIN_SPREAD = 6.0  # Lab units: the floor of a team's spread (a perfectly uniform kit)


def shirt_colours(image: np.ndarray, xyxy_px: np.ndarray) -> np.ndarray:
    """Median Lab colour (N,3) of the upper body of each box (image px); NaN when unseen.

    The upper body is 15-50 % of the box height and the central 60 % of its width; pixels
    within 18 Lab units of the median colour of a ring around the box (the grass there)
    are left out, so a lime shirt on green grass keeps its own colour.
    """
    H, W = image.shape[:2]
    out = np.full((len(xyxy_px), 3), np.nan, np.float32)
    if not len(xyxy_px):
        return out
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2Lab)  # once per frame, not twice per box
    for i, (x1, y1, x2, y2) in enumerate(xyxy_px):  # a few dozen boxes per frame
        bw, bh = x2 - x1, y2 - y1
        if bw < 3 or bh < 6:
            continue
        sx1, sx2 = int(max(0, x1 + 0.2 * bw)), int(min(W, x2 - 0.2 * bw))
        sy1, sy2 = int(max(0, y1 + 0.15 * bh)), int(min(H, y1 + 0.5 * bh))
        rx1, rx2 = int(max(0, x1 - 0.3 * bw)), int(min(W, x2 + 0.3 * bw))
        ry1, ry2 = int(max(0, y1)), int(min(H, y2 + 0.1 * bh))
        if sx2 <= sx1 or sy2 <= sy1:
            continue
        shirt = lab[sy1:sy2, sx1:sx2].reshape(-1, 3).astype(np.float32)
        around = np.ones((ry2 - ry1, rx2 - rx1), bool)  # the ring: around the box, not in it
        around[max(0, int(y1) - ry1) : max(0, int(y2) - ry1), max(0, int(x1) - rx1) : max(0, int(x2) - rx1)] = False
        ring = lab[ry1:ry2, rx1:rx2][around].astype(np.float32)
        if len(ring):
            bg = np.median(ring, axis=0)
            shirt = shirt[np.linalg.norm(shirt - bg, axis=1) > 18.0]
        if len(shirt) >= MIN_PIXELS:
            out[i] = np.median(shirt, axis=0)
    return out


def two_means(x: np.ndarray, iters: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic 2-means: start from the two points farthest apart along the main axis."""
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    proj = (x - mean) @ vt[0]
    centres = np.stack([x[np.argmin(proj)], x[np.argmax(proj)]]).astype(np.float64)
    label = np.zeros(len(x), np.int64)
    for _ in range(iters):
        d = np.linalg.norm(x[:, None, :] - centres[None], axis=2)
        label = np.argmin(d, axis=1)
        new = np.stack([x[label == k].mean(axis=0) if (label == k).any() else centres[k] for k in (0, 1)])
        if np.allclose(new, centres):
            break
        centres = new
    return centres, label


class TeamSplitter:
    """Collects shirt colours over a match, then labels the player detections."""

    def __init__(self) -> None:
        self._colours: list[np.ndarray] = []
        self._where: list[tuple[int, np.ndarray]] = []  # (frame number, detection indices)
        self._n = 0
        self.centres_lab: np.ndarray | None = None
        self.spread: np.ndarray | None = None

    def observe(self, frame: Frame, d: Detections) -> None:
        idx = np.flatnonzero(np.isin(d.cls, TEAM_CLASSES))
        if len(idx):
            self._colours.append(shirt_colours(frame.image, d.xyxy[idx] * frame.scale))
            self._where.append((self._n, idx))
        self._n += 1

    def fit(self) -> bool:
        if not self._colours:
            return False
        x = np.concatenate(self._colours)
        x = x[~np.isnan(x).any(axis=1)]
        if len(x) < 4:
            return False
        centres, label = two_means(x)
        # refit without the far points (referees, keepers) so they do not pull the centres
        d = np.linalg.norm(x - centres[label], axis=1)
        spread = np.array([max(MIN_SPREAD, 1.4826 * np.median(d[label == k])) if (label == k).any() else MIN_SPREAD
                           for k in (0, 1)])
        inlier = d <= OUTLIER_FACTOR * spread[label]
        if inlier.sum() >= 4:
            centres, label = two_means(x[inlier])
            d = np.linalg.norm(x[inlier] - centres[label], axis=1)
            spread = np.array([max(MIN_SPREAD, 1.4826 * np.median(d[label == k])) if (label == k).any() else MIN_SPREAD
                               for k in (0, 1)])
        # order the teams by lightness so team 0 is the lighter kit, whatever the sampling
        order = np.argsort(-centres[:, 0])
        self.centres_lab, self.spread = centres[order], spread[order]
        return True

    def labels(self, colours: np.ndarray) -> np.ndarray:
        """Team (0/1) of each shirt colour, NO_TEAM when unseen or far from both teams."""
        out = np.full(len(colours), NO_TEAM, np.int16)
        if self.centres_lab is None or len(colours) == 0:
            return out
        ok = ~np.isnan(colours).any(axis=1)
        d = np.linalg.norm(colours[ok][:, None, :] - self.centres_lab[None], axis=2)
        k = np.argmin(d, axis=1)
        near = d[np.arange(len(k)), k] <= OUTLIER_FACTOR * self.spread[k]
        out[np.flatnonzero(ok)[near]] = k[near]
        return out

    def assign(self, detections: list[Detections]) -> list[Detections]:
        """Copies of `detections` (the list observed, in order) with team labels."""
        if not self.fit():
            return detections
        out = list(detections)
        for (fi, idx), colours in zip(self._where, self._colours):
            d = out[fi]
            team = d.team.copy()
            team[idx] = self.labels(colours)
            out[fi] = Detections(d.t_s, d.xyxy, d.score, d.cls, team, d.people)
        return out

    def describe(self) -> dict:
        if self.centres_lab is None:
            return {"found": False}
        lab = np.clip(self.centres_lab, 0, 255).astype(np.uint8)[None]
        bgr = cv2.cvtColor(lab, cv2.COLOR_Lab2BGR)[0]
        return {"found": True, "colours_bgr": bgr.tolist(), "spread_lab": np.round(self.spread, 1).tolist()}
