"""`classic` backend: OpenCV only, no weights.

Takes frames, gives Detections: a pitch mask from the dominant grass colour (estimated per
frame from the footage itself: the hue mode of saturated green pixels, with saturation and
brightness bands taken from that mode's own pixels, so stripes and shadows stay grass),
players as non-grass blobs inside the pitch with size and shape gates scaled to the frame
(wide blobs of touching players split at the valleys of their column profile), and the ball
as a small bright round blob on the grass away from the players' bodies.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache, reduce

import cv2
import numpy as np

from ..config import DetectConfig
from ..types import BALL, CLASS_ID, Detections, Frame, GrassRange
from ..types import box_ioa
from .base import register

log = logging.getLogger(__name__)

MASK_WIDTH_PX = 480  # the pitch outline needs no detail
GRASS_HUE_TOL = 10  # OpenCV hue (0..180) either side of the footage's own grass hue
MIN_GRASS_FRACTION = 0.08  # below this the frame is a close-up, crowd or graphic: no pitch


@dataclass(frozen=True)
class PitchMasks:
    """Masks at MASK_WIDTH_PX for an image of `width_px` x `height_px`."""

    grass: np.ndarray  # bool, pixels of the grass colour
    pitch: np.ndarray  # bool, the playing area (grass with its holes and notches filled)
    width_px: int
    height_px: int
    hue: float  # grass hue mode (OpenCV 0..180), NaN without a pitch

    @property
    def grass_fraction(self) -> float:
        return float(self.grass.mean())

    @cached_property
    def pitch_px(self) -> np.ndarray:
        """`pitch` at the image's own size (bool); the player and ball finders both need it,
        so it is scaled once per frame."""
        return _resize_mask(self.pitch, self.width_px, self.height_px)

    def window(self, margin_px: int) -> tuple[slice, slice]:
        """Rows and columns of the pitch's bounding box in image pixels, widened by
        `margin_px`. Wide shots show stands and boards above the pitch; a filter whose
        reach is under the margin gives the same values on the pitch whether it runs on this
        window or on the whole image, on about three quarters of the pixels."""
        x, y, w, h = cv2.boundingRect(self.pitch_px.view(np.uint8))
        return (slice(max(0, y - margin_px), min(self.height_px, y + h + margin_px)),
                slice(max(0, x - margin_px), min(self.width_px, x + w + margin_px)))


def _median_of_histogram(hist: np.ndarray) -> float:
    """np.median of the uint8 values a 256-bin histogram counts (the mean of the two middle
    values for an even count), without gathering the pixels."""
    cum = np.cumsum(hist.ravel().astype(np.int64))
    n = int(cum[-1])
    lower = int(np.searchsorted(cum, (n - 1) // 2, side="right"))
    upper = int(np.searchsorted(cum, n // 2, side="right"))
    return (lower + upper) / 2


def grass_model(hsv: np.ndarray, grass: GrassRange) -> tuple[float, tuple[float, float], tuple[float, float]] | None:
    """(hue mode, (s_lo, s_hi), (v_lo, v_hi)) of the dominant green, or None if no grass:
    the footage's own grass inside `grass`, the colours grass can take.

    Masks and histograms come from cv2.inRange / cv2.calcHist on the HSV image: the same
    counts as boolean indexing and np.median, without copying the pixels out."""
    (hue_lo, s_min, v_min), (hue_hi, s_max, v_max) = grass.lo, grass.hi
    green = cv2.inRange(hsv, grass.lo, grass.hi)
    if cv2.countNonZero(green) / green.size < MIN_GRASS_FRACTION:
        return None
    hist = cv2.calcHist([hsv], [0], green, [181], [0, 181]).ravel().astype(np.float64)
    hist = np.convolve(hist, np.ones(5) / 5, "same")
    mode = int(np.argmax(hist))
    core = cv2.inRange(hsv, (max(hue_lo, mode - GRASS_HUE_TOL), s_min, v_min), (min(hue_hi, mode + GRASS_HUE_TOL), s_max, v_max))
    if cv2.countNonZero(core) / core.size < MIN_GRASS_FRACTION:
        return None
    s_med = _median_of_histogram(cv2.calcHist([hsv], [1], core, [256], [0, 256]))
    v_med = _median_of_histogram(cv2.calcHist([hsv], [2], core, [256], [0, 256]))
    # Stripes and shadows change brightness far more than hue or saturation; kits of a
    # similar green (lime shirts) are brighter and more saturated than the grass.
    return float(mode), (0.45 * s_med, 1.3 * s_med + 15), (0.35 * v_med, 1.45 * v_med + 10)


def _grass(hsv: np.ndarray, model) -> np.ndarray:
    mode, (s_lo, s_hi), (v_lo, v_hi) = model
    # the channels are integers, so the float bands become inclusive integer bounds
    lower = (int(mode) - GRASS_HUE_TOL, math.ceil(s_lo), math.ceil(v_lo))
    upper = (int(mode) + GRASS_HUE_TOL, math.floor(s_hi), math.floor(v_hi))
    return cv2.inRange(hsv, lower, upper) > 0


def pitch_mask(image: np.ndarray, grass: GrassRange) -> PitchMasks:
    """Grass and pitch masks of a BGR image, at MASK_WIDTH_PX width; `grass`: the colours
    grass can take (the `pitch:` config section)."""
    H, W = image.shape[:2]
    w = min(MASK_WIDTH_PX, W)
    h = max(1, int(round(H * w / W)))
    small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    model = grass_model(hsv, grass)
    if model is None:
        empty = np.zeros((h, w), bool)
        return PitchMasks(empty, empty, W, H, float("nan"))
    grass = _grass(hsv, model)
    k = max(3, int(0.03 * w) | 1)  # closes players and lines, not the gap to the stands
    closed = morph_ellipse(cv2.erode, morph_ellipse(cv2.dilate, grass.view(np.uint8), k), k)  # a closing
    closed = cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=4)
    pitch = np.zeros((h, w), np.uint8)
    if n > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        big = 1 + np.flatnonzero(areas >= max(0.25 * areas.max(), MIN_GRASS_FRACTION * w * h))
        # The pitch is the big grass regions with the holes players and lines cut into them
        # filled; notches along the edges are closed by the closing above.
        is_big = np.zeros(n, np.uint8)
        is_big[big] = 1
        region = is_big[labels]
        ff = np.pad(1 - region, 1, constant_values=1)
        cv2.floodFill(ff, None, (0, 0), 2)
        pitch = (region | (ff[1:-1, 1:-1] == 1)).astype(np.uint8)
    return PitchMasks(grass, pitch.astype(bool), W, H, model[0])


FG_DISTANCE = 18.0  # Lab distance from the local grass that makes a pixel foreground
MIN_GRASS_AROUND = 0.65  # share of grass around a blob for it to be a player


def far_from_background(image: np.ndarray, window: tuple[slice, slice], distance: float = FG_DISTANCE) -> np.ndarray:
    """Bool mask over `window` of `image`: pixels whose Lab distance from the local
    background exceeds `distance`. The background is a median over a window about three
    player-widths wide, which follows mowing stripes and shadows but not players (a player
    covers well under half of the window). Lime kits differ from the grass in brightness
    even where their hue is the same.

    Both Lab images are uint8, so the squared distance is a sum of squared integers (exact
    in float32) and comparing it with the squared threshold is the same test as comparing
    its square root with the threshold, without the square root or numpy temporaries."""
    H, W = image.shape[:2]
    f = 4
    small = cv2.resize(image, (max(1, W // f), max(1, H // f)), interpolation=cv2.INTER_AREA)
    k = max(5, int(0.03 * W / f) | 1)  # ~58 px at 1920
    bg = cv2.medianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2Lab), k)
    bg = cv2.resize(bg, (W, H), interpolation=cv2.INTER_LINEAR)[window]
    diff = cv2.absdiff(cv2.cvtColor(image[window], cv2.COLOR_BGR2Lab), bg)
    squared = cv2.transform(cv2.multiply(diff, diff, dtype=cv2.CV_32F), np.ones((1, 3)))  # sum over L, a, b
    return squared > math.floor(distance**2)  # the sums are integers


def grass_around(xyxy: np.ndarray, masks: PitchMasks, pad: float = 0.35) -> np.ndarray:
    """Share of grass in a ring around each box (image px): players stand on grass,
    spectators, bench staff and advertising boards mostly do not."""
    if len(xyxy) == 0:
        return np.zeros(0, np.float32)
    h, w = masks.grass.shape
    ii = cv2.integral(masks.grass.view(np.uint8), sdepth=cv2.CV_32S)  # (h + 1) x (w + 1), zero first row/column
    sx, sy = w / masks.width_px, h / masks.height_px
    b = xyxy.astype(np.float32) * np.array([sx, sy, sx, sy], np.float32)
    bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    pw, ph = np.maximum(pad * bw, 2), np.maximum(0.5 * pad * bh, 2)
    outer = np.stack([b[:, 0] - pw, b[:, 1] - ph, b[:, 2] + pw, b[:, 3] + ph], 1)

    def box_sum(bb):
        x1 = np.clip(np.floor(bb[:, 0]), 0, w).astype(int)
        y1 = np.clip(np.floor(bb[:, 1]), 0, h).astype(int)
        x2 = np.clip(np.ceil(bb[:, 2]), 0, w).astype(int)
        y2 = np.clip(np.ceil(bb[:, 3]), 0, h).astype(int)
        total = ii[y2, x2] - ii[y1, x2] - ii[y2, x1] + ii[y1, x1]
        return total, np.maximum((x2 - x1) * (y2 - y1), 0)

    s_out, a_out = box_sum(outer)
    s_in, a_in = box_sum(b)
    return ((s_out - s_in) / np.maximum(a_out - a_in, 1)).astype(np.float32)


def _resize_mask(mask: np.ndarray, width_px: int, height_px: int) -> np.ndarray:
    return cv2.resize(mask.astype(np.uint8), (width_px, height_px), interpolation=cv2.INTER_NEAREST).astype(bool)


@lru_cache(maxsize=8)
def _ellipse_rectangles(k: int) -> tuple[np.ndarray, ...]:
    """The centred rectangles whose union is cv2's k x k ellipse kernel: one per step of its
    outline, as wide as a row and as tall as the rows at least that wide."""
    half_width = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)).sum(axis=1) // 2  # rows are centred runs
    dy = np.abs(np.arange(k) - k // 2)
    return tuple(cv2.getStructuringElement(cv2.MORPH_RECT, (2 * int(a) + 1, 2 * int(dy[half_width >= a].max()) + 1))
                 for a in np.unique(half_width))


def morph_ellipse(morph, image: np.ndarray, k: int) -> np.ndarray:
    """`morph` (cv2.erode or cv2.dilate) of `image` by cv2's k x k ellipse kernel, the same
    image at a half to a third of the cost: grey erosion (dilation) by a union of kernels is
    the minimum (maximum) of the erosions (dilations) by each, and OpenCV runs a rectangle
    as two 1-D passes where it tests every cell of an ellipse."""
    combine = cv2.min if morph is cv2.erode else cv2.max
    return reduce(combine, (morph(image, r) for r in _ellipse_rectangles(k)))


def tophat_ellipse(gray: np.ndarray, k: int) -> np.ndarray:
    """cv2.morphologyEx(gray, MORPH_TOPHAT, k x k ellipse) by way of morph_ellipse."""
    opened = morph_ellipse(cv2.dilate, morph_ellipse(cv2.erode, gray, k), k)
    return cv2.subtract(gray, opened)


BOX_PAD_PX = 1.0  # px of the working frame added on every side of a player's blob box


def pad_boxes(xyxy: np.ndarray, shape: tuple[int, ...], pad: float = BOX_PAD_PX) -> np.ndarray:
    """Blob boxes grown by `pad` px on each side, inside the image. A blob holds the pixels
    far enough from the grass; the pixels along a player's outline are blends of kit and
    grass at the working size and mostly fall short of that, so the blob's box is about a
    pixel tight on every side (on the labelled 1080p frames at 960 px: 3-5% of the height at
    the head and the feet, 4-5% of the width at either side)."""
    if len(xyxy) == 0:
        return xyxy
    h, w = shape[:2]
    out = xyxy + np.array([-pad, -pad, pad, pad], np.float32)
    return np.clip(out, 0, [w, h, w, h]).astype(np.float32)


def open_2x2(mask: np.ndarray) -> np.ndarray:
    """Opening by a 2 x 2 square that leaves every blob where it was. cv2.morphologyEx puts
    an even kernel's anchor at its centre for both the erosion and the dilation, which
    moves what survives one pixel right and down (a box one pixel off on each side is 2 px
    at 1080p: a player 16 px wide loses an eighth of his IoU). The dilation here takes the
    mirrored anchor, so it undoes the erosion's step."""
    k = np.ones((2, 2), np.uint8)
    return cv2.dilate(cv2.erode(mask, k, anchor=(1, 1)), k, anchor=(0, 0))


def _split_wide(x: int, y: int, w: int, h: int, blob: np.ndarray, aspect: float) -> list[tuple[int, int, int, int]]:
    """Split a blob of side-by-side players at the minima of its column profile."""
    k = int(round(w / (aspect * h)))
    if k < 2:
        return [(x, y, w, h)]
    k = min(k, 6)
    cols = blob.sum(axis=0).astype(np.float64)
    cols = np.convolve(cols, np.ones(3) / 3, "same")
    cuts = [0]
    for i in range(1, k):
        c = int(i * w / k)
        lo, hi = max(cuts[-1] + 2, c - w // (2 * k)), min(w - 2, c + w // (2 * k))
        cuts.append(lo + int(np.argmin(cols[lo:hi])) if hi > lo else c)
    cuts.append(w)
    out = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        part = blob[:, a:b]
        rows = np.flatnonzero(part.any(axis=1))
        if len(rows) and b - a >= 2:
            out.append((x + a, y + int(rows[0]), b - a, int(rows[-1] - rows[0] + 1)))
    return out


class BallFinder:
    """Small bright round blobs on the grass, not on a player's body; best `max_balls`."""

    def __init__(self, cfg: DetectConfig):
        self.max_balls = cfg.ball_max_candidates
        self.min_score = cfg.ball_min_score

    def find(self, image: np.ndarray, masks: PitchMasks, people_xyxy: np.ndarray,
             hsv: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(xyxy, score) in `image` pixels. `hsv`: the image in HSV, if the caller has it."""
        H, W = image.shape[:2]
        none = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
        if not masks.pitch.any():
            return none
        # Ball diameter is 0.4-0.8 % of the frame width in wide shots (10 px at 1920).
        d_lo, d_hi = 0.0030 * W, 0.0125 * W
        k = max(5, int(2.5 * d_hi) | 1)
        # the top-hat's opening reaches k - 1 px, so on this window it is exact on the pitch
        window = masks.window(k)
        hsv = cv2.cvtColor(image[window], cv2.COLOR_BGR2HSV) if hsv is None else hsv[window]
        _, sat, val = cv2.split(hsv)
        # bright against the local background (a white-ish blob on grass): top-hat
        tophat = tophat_ellipse(val, k)
        bright = (tophat > 40) & (sat < 110) & masks.pitch_px[window]
        n, labels, stats, cent = cv2.connectedComponentsWithStats(bright.view(np.uint8), connectivity=8)
        if n <= 1:
            return none
        st = stats[1:]
        bw, bh, area = st[:, 2].astype(np.float32), st[:, 3].astype(np.float32), st[:, 4].astype(np.float32)
        size = np.maximum(bw, bh)
        ok = (size >= d_lo) & (size <= d_hi) & (np.minimum(bw, bh) / np.maximum(size, 1) >= 0.55)
        ok &= area / np.maximum(bw * bh, 1) >= 0.45
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            return none
        cx, cy = cent[1:][idx, 0] + window[1].start, cent[1:][idx, 1] + window[0].start
        r = np.maximum(size[idx], d_lo) / 2 + 1
        boxes = np.stack([cx - r, cy - r, cx + r, cy + r], axis=1).astype(np.float32)
        # a ball on a player's body is a white shirt, number or sock; the ball at the feet
        # sits at the very bottom of the box
        if len(people_xyxy):
            p = people_xyxy
            inside = (cx[:, None] > p[None, :, 0]) & (cx[:, None] < p[None, :, 2]) & \
                     (cy[:, None] > p[None, :, 1]) & (cy[:, None] < p[None, :, 3] - 0.15 * (p[None, :, 3] - p[None, :, 1]))
            keep = ~inside.any(axis=1)
            idx, boxes, cx, cy, r = idx[keep], boxes[keep], cx[keep], cy[keep], r[keep]
            if len(idx) == 0:
                return none
        # score: contrast against the grass around it (mean top-hat over the blob's pixels,
        # summed per label in one pass), and roundness
        tophat_sum = np.bincount(labels[bright], weights=tophat[bright], minlength=n)
        th = (tophat_sum[idx + 1] / st[idx, 4]).astype(np.float32)
        fill = (area[idx] / np.maximum(bw[idx] * bh[idx], 1)).astype(np.float32)
        score = np.clip(th / 160.0, 0, 1) * 0.7 + np.clip(fill, 0, 1) * 0.3
        good = score >= self.min_score
        order = np.argsort(-score[good])[: self.max_balls]
        return boxes[good][order], score[good][order]


@register("classic")
class ClassicDetector:
    """OpenCV blobs. From the `detect:` config: classic_width (working width of the frames,
    px), ball_max_candidates, ball_min_score; `grass` from the `pitch:` section."""

    name = "classic"

    def __init__(self, cfg: DetectConfig, grass: GrassRange):
        self.cfg = cfg
        self.grass = grass
        self.frame_width_px = cfg.classic_width
        self.balls = BallFinder(cfg)

    def describe(self) -> dict:
        return {"backend": self.name, "weights": None, "frame_width_px": self.frame_width_px,
                "ball_max_candidates": self.cfg.ball_max_candidates, "ball_min_score": self.cfg.ball_min_score}

    def players(self, image: np.ndarray, masks: PitchMasks,
                hsv: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(xyxy, score) of player blobs in `image` pixels. `hsv`: the image in HSV, if the
        caller has it."""
        H, W = image.shape[:2]
        none = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
        if not masks.pitch.any():
            return none
        t = max(3, int(0.004 * W) | 1)
        # The foreground is empty off the pitch, and the morphology below looks at most
        # t - 1 px (white opening) or 6 px (foreground opening, then closing) away, so the
        # pitch's window gives the same blobs as the whole image.
        window = masks.window(t + 8)
        hsv = cv2.cvtColor(image[window], cv2.COLOR_BGR2HSV) if hsv is None else hsv[window]
        fg = masks.pitch_px[window] & far_from_background(image, window)
        # pitch lines: thin white structures; a player's shirt is thicker than the line
        white = cv2.inRange(hsv, (0, 0, 151), (255, 69, 255))  # s < 70, v > 150
        thick_white = cv2.morphologyEx(white, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (t, t)))
        fg &= ~(white > thick_white)
        fg = open_2x2(fg.view(np.uint8))
        # join head, shirt and shorts separated by a pixel or two
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 5)))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        # size and fill gates over all components at once: most are specks of noise
        x, y, w, h, area = stats[1:].T
        fill = area / (w * h)
        h_lo, h_hi = 0.022 * H, 0.40 * H
        ok = (h >= h_lo) & (h <= h_hi) & (area >= 0.12 * h * h * 0.4) & (fill >= 0.2)
        y0, x0 = window[0].start, window[1].start
        boxes, scores = [], []
        for i in np.flatnonzero(ok):  # the few that pass
            bx, by, bw, bh = int(x[i]), int(y[i]), int(w[i]), int(h[i])
            if bw > 0.8 * bh:
                parts = _split_wide(bx, by, bw, bh, labels[by : by + bh, bx : bx + bw] == i + 1, 0.5)
            else:
                parts = [(bx, by, bw, bh)]
            for px, py, pw, ph in parts:
                if ph < h_lo or pw < 0.15 * ph or pw > 1.0 * ph:
                    continue
                boxes.append((x0 + px, y0 + py, x0 + px + pw, y0 + py + ph))
                scores.append(min(1.0, 0.3 + fill[i]))
        if not boxes:
            return none
        boxes, scores = np.asarray(boxes, np.float32), np.asarray(scores, np.float32)
        keep = grass_around(boxes, masks) >= MIN_GRASS_AROUND
        return boxes[keep], scores[keep]

    def detect(self, frames: list[Frame]) -> list[Detections]:
        out = []
        for f in frames:
            masks = pitch_mask(f.image, self.grass)
            hsv = cv2.cvtColor(f.image, cv2.COLOR_BGR2HSV)  # both finders read it
            pxyxy, pscore = self.players(f.image, masks, hsv)
            bxyxy, bscore = self.balls.find(f.image, masks, pxyxy, hsv)
            if len(bxyxy) and len(pxyxy):  # a ball blob is not also a player
                keep = box_ioa(pxyxy, bxyxy).max(axis=1) < 0.5
                pxyxy, pscore = pxyxy[keep], pscore[keep]
            pxyxy = pad_boxes(pxyxy, f.image.shape)
            xyxy = np.concatenate([pxyxy, bxyxy]) / f.scale
            cls = np.concatenate([np.full(len(pxyxy), CLASS_ID["person"], np.int16), np.full(len(bxyxy), BALL, np.int16)])
            out.append(Detections(f.t_s, xyxy.astype(np.float32), np.concatenate([pscore, bscore]).astype(np.float32), cls))
        return out


def _bands(hsv: np.ndarray, masks: PitchMasks):
    """Saturation/brightness bands of the grass at full resolution (same rule as grass_model)."""
    small = cv2.resize(hsv, masks.grass.shape[::-1], interpolation=cv2.INTER_NEAREST)
    g = masks.grass
    s_med, v_med = float(np.median(small[..., 1][g])), float(np.median(small[..., 2][g]))
    return (0.45 * s_med, 1.3 * s_med + 15), (0.35 * v_med, 1.45 * v_med + 10)
