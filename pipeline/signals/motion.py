"""How fast play moves: camera motion between sampled frames and camera-compensated speeds.

Takes the sampled `Frame` stream (`CameraMotionEstimator.update`, one frame at a time) and
the `Tracks` of either detector backend; gives per-bin `motion_pan` (screen widths/s),
`motion_zoom`, `motion_speed` (high-percentile player speed, ~m/s), `motion_sprinters`,
`motion_ball_speed` and `motion_converging`. Speeds are scaled by each player's box height
(a person is about `player_height_m` tall), so no pitch calibration is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..types import BALL, PERSON_CLASSES, Frame, GrassRange, Tracks
from .timeline import bin_index, n_bins

COLUMNS = ("motion_pan", "motion_zoom", "motion_speed", "motion_sprinters", "motion_ball_speed", "motion_converging")
UNITS = {
    "motion_pan": "screen widths/s",
    "motion_zoom": "|log zoom|/s",
    "motion_speed": "m/s (approx.)",
    "motion_sprinters": "players",
    "motion_ball_speed": "m/s (approx.)",
    "motion_converging": "m/s closing in (approx.)",
}
_MAX_PAN_PER_STEP = 0.5  # screen widths between two samples: beyond this it is a cut, not a pan
_MIN_INLIER_SHARE = 0.2
_MAX_PAIR_GAP_S = 1.0  # track positions further apart in time are not turned into a speed


@dataclass(frozen=True)
class CameraMotion:
    """Per sampled frame: the similarity transform from the previous frame's picture.

    `affine[k]` (2x3) maps a static point's position in frame k-1 to frame k, in `flow`
    pixels; `to_flow` converts source pixels to flow pixels. `valid[k]` is False for the
    first frame, across cuts and where too few points agreed.
    """

    t_s: np.ndarray  # (N,)
    affine: np.ndarray  # (N, 2, 3)
    valid: np.ndarray  # (N,) bool
    pan: np.ndarray  # (N,) screen widths per second of the picture centre
    zoom: np.ndarray  # (N,) log scale change per second
    inliers: np.ndarray  # (N,) int
    width_px: float  # flow image width
    to_flow: float  # flow px per source px

    def nearest(self, t_s: np.ndarray) -> np.ndarray:
        """Index of the sample nearest each of the times `t_s` (the earlier one on a tie)."""
        n = len(self.t_s)
        k = np.clip(np.searchsorted(self.t_s, t_s), 1, max(n - 1, 1))
        k = np.where(np.abs(self.t_s[k - 1] - t_s) <= np.abs(self.t_s[np.minimum(k, n - 1)] - t_s), k - 1, k)
        return np.clip(k, 0, n - 1)

    @classmethod
    def empty(cls) -> "CameraMotion":
        return cls(np.zeros(0), np.zeros((0, 2, 3)), np.zeros(0, bool), np.zeros(0), np.zeros(0),
                   np.zeros(0, int), 0.0, 1.0)


class CameraMotionEstimator:
    """Global shift and zoom between consecutive sampled frames from the pitch texture:
    corners on the grass, Lucas-Kanade flow, a RANSAC similarity fit (players moving against
    the camera are outliers; overlays are off the grass mask). Feed frames with `update`.
    """

    def __init__(self, cfg, grass: GrassRange) -> None:
        """`cfg`: the `signals.motion` section; `grass`: the colours grass can take (the
        `pitch:` section)."""
        self.cfg = cfg
        self.grass = grass
        self._prev: tuple[float, np.ndarray, np.ndarray] | None = None
        self._t: list[float] = []
        self._A: list[np.ndarray] = []
        self._valid: list[bool] = []
        self._inl: list[int] = []
        self._width = 0.0
        self._height = 0.0
        self._to_flow = 1.0

    def _prepare(self, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        img = frame.image
        h, w = img.shape[:2]
        fw = min(self.cfg.flow_width_px, w)
        fh = max(int(round(h * fw / w)), 1)
        small = cv2.resize(img, (fw, fh), interpolation=cv2.INTER_AREA) if fw != w else img
        self._width = float(fw)
        self._height = float(fh)
        self._to_flow = fw / (w / frame.scale)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        mask = cv2.inRange(hsv, self.grass.lo, self.grass.hi)
        if np.count_nonzero(mask) < 0.05 * mask.size:
            mask = np.full_like(mask, 255)  # no pitch: track whatever texture there is
        else:
            # pitch lines and players' feet sit on the mask's holes: close them
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        return gray, mask

    def update(self, frame: Frame) -> None:
        gray, mask = self._prepare(frame)
        t = float(frame.t_s)
        A = np.array([[1.0, 0, 0], [0, 1.0, 0]])
        valid, n_in = False, 0
        if self._prev is not None:
            _, pgray, pmask = self._prev
            pts = cv2.goodFeaturesToTrack(pgray, maxCorners=self.cfg.max_corners, qualityLevel=0.01,
                                          minDistance=6, mask=pmask, blockSize=5)
            if pts is not None and len(pts) >= self.cfg.min_inliers:
                nxt, st, _ = cv2.calcOpticalFlowPyrLK(pgray, gray, pts, None, winSize=(21, 21), maxLevel=3)
                back, st2, _ = cv2.calcOpticalFlowPyrLK(gray, pgray, nxt, None, winSize=(21, 21), maxLevel=3)
                # forward-backward check: a point that does not track back to where it
                # started was lost on weak texture (grass) and would only feed RANSAC noise
                fb = np.linalg.norm((back - pts).reshape(-1, 2), axis=1)
                ok = (st.reshape(-1) == 1) & (st2.reshape(-1) == 1) & (fb < 2.0)
                if ok.sum() >= self.cfg.min_inliers:
                    M, inl = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC,
                                                         ransacReprojThreshold=1.5, maxIters=500)
                    if M is not None:
                        n_in = int(inl.sum())
                        centre = np.array([gray.shape[1] / 2, gray.shape[0] / 2, 1.0])
                        shift = np.linalg.norm(M @ centre - centre[:2]) / gray.shape[1]
                        valid = (n_in >= self.cfg.min_inliers and n_in >= _MIN_INLIER_SHARE * ok.sum()
                                 and shift <= _MAX_PAN_PER_STEP)
                        if valid:
                            A = M
        self._t.append(t)
        self._A.append(A)
        self._valid.append(valid)
        self._inl.append(n_in)
        self._prev = (t, gray, mask)

    def finish(self) -> CameraMotion:
        if not self._t:
            return CameraMotion.empty()
        t = np.array(self._t)
        A = np.array(self._A)
        valid = np.array(self._valid)
        dt = np.diff(t, prepend=np.nan)
        centre = np.array([self._width / 2, self._height / 2, 1.0])
        moved = A @ centre - centre[:2]  # (N, 2)
        scale = np.sqrt(A[:, 0, 0] ** 2 + A[:, 1, 0] ** 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            pan = np.linalg.norm(moved, axis=1) / self._width / dt
            zoom = np.log(np.maximum(scale, 1e-6)) / dt
        pan[~valid] = np.nan
        zoom[~valid] = np.nan
        return CameraMotion(t, A, valid, pan, zoom, np.array(self._inl), self._width, self._to_flow)


def estimate_camera_motion(frames, cfg, grass: GrassRange) -> CameraMotion:
    """Run a `CameraMotionEstimator` over a whole frame iterator (`cfg`: `signals.motion`)."""
    est = CameraMotionEstimator(cfg, grass)
    for f in frames:
        est.update(f)
    return est.finish()


def _chains(camera: CameraMotion) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative 3x3 transforms from the start of each run of valid steps, and run ids."""
    n = len(camera.t_s)
    cum = np.zeros((n, 3, 3))
    chain = np.zeros(n, np.int64)
    cur = np.eye(3)
    cid = 0
    for k in range(n):
        if k == 0 or not camera.valid[k]:
            cid += 1
            cur = np.eye(3)
        else:
            step = np.vstack([camera.affine[k], [0, 0, 1]])
            cur = step @ cur
        cum[k] = cur
        chain[k] = cid
    return cum, chain


def _bin_reduce(idx: np.ndarray, values: np.ndarray, n: int, fn) -> np.ndarray:
    out = np.full(n, np.nan)
    ok = (idx >= 0) & np.isfinite(values)
    if not ok.any():
        return out
    order = np.argsort(idx[ok], kind="stable")
    ii, vv = idx[ok][order], values[ok][order]
    bounds = np.flatnonzero(np.diff(ii)) + 1
    for seg_i, seg_v in zip(np.split(ii, bounds), np.split(vv, bounds)):
        out[seg_i[0]] = fn(seg_v)
    return out


def _pair_gap_s(people_every_s: float) -> float:
    """Sightings at most this far apart make a speed: 1 s, or with sparse people passes half
    an interval more than theirs (a pass lands on the first frame at least that long after
    the last, so on footage of irregular frame times they come 1.0-1.2 s apart)."""
    return max(_MAX_PAIR_GAP_S, 1.5 * people_every_s)


def track_speeds(tracks: Tracks, camera: CameraMotion, cfg, people_every_s: float = 0.0) -> dict[str, np.ndarray]:
    """Camera-compensated speed of every tracked object between consecutive samples.

    Returns rows {"t_s", "track_id", "cls", "speed_mps", "h_px"}: one per pair of
    consecutive positions of a track (time = the later one). Pairs across a cut or an
    unknown camera step have no speed (they are left out). `cfg` is `signals.motion`.
    With `people_every_s` (people seen only that often, detect.people_every_s), a player's
    speed pairs the sightings that far apart; the boxes carried between are left out.
    """
    m = cfg
    empty = {k: np.zeros(0) for k in ("t_s", "track_id", "cls", "speed_mps", "h_px")}
    carried = None
    if people_every_s > 0:
        is_carried = tracks.interpolated & np.isin(tracks.cls, PERSON_CLASSES)
        carried = (tracks.track_id[is_carried], tracks.t_s[is_carried])
        seen = ~is_carried
        tracks = Tracks(tracks.t_s[seen], tracks.track_id[seen], tracks.cls[seen], tracks.xyxy[seen],
                        tracks.score[seen], tracks.team[seen], tracks.interpolated[seen])
    max_gap = _pair_gap_s(people_every_s)
    if len(tracks) == 0 or len(camera.t_s) == 0:
        return empty
    cum, chain = _chains(camera)
    order = np.lexsort((tracks.t_s, tracks.track_id))
    t = tracks.t_s[order]
    tid = tracks.track_id[order]
    cls = tracks.cls[order]
    box = tracks.xyxy[order].astype(np.float64)
    interp = tracks.interpolated[order]
    foot = np.stack([(box[:, 0] + box[:, 2]) / 2, box[:, 3]], axis=1)  # ground contact point
    h_px = box[:, 3] - box[:, 1]
    k = camera.nearest(t)  # frame of each row
    same = (tid[1:] == tid[:-1]) & (t[1:] - t[:-1] > 0) & (t[1:] - t[:-1] <= max_gap)
    a = np.flatnonzero(same)
    b = a + 1
    ok = chain[k[a]] == chain[k[b]]
    a, b = a[ok], b[ok]
    # where a static point at foot[a] (frame k[a]) would appear in frame k[b]
    rel = cum[k[b]] @ np.linalg.inv(cum[k[a]])  # (P, 3, 3)
    p0 = np.concatenate([foot[a] * camera.to_flow, np.ones((len(a), 1))], axis=1)
    pred = np.einsum("pij,pj->pi", rel, p0)[:, :2] / camera.to_flow
    resid_px = np.linalg.norm(foot[b] - pred, axis=1)
    dt = t[b] - t[a]
    is_ball = cls[b] == BALL
    h_pair = (h_px[a] + h_px[b]) / 2
    # The ball's own box says nothing about scale: use the median player height at that time.
    person = np.isin(cls, PERSON_CLASSES)
    if person.any():
        frame_h = {}
        for kk in np.unique(k[person]):
            frame_h[kk] = float(np.median(h_px[person & (k == kk)]))
        global_h = float(np.median(h_px[person]))
        ref = np.array([frame_h.get(kk, global_h) for kk in k[b]])
    else:
        ref = np.full(len(b), np.nan)
    h_use = np.where(is_ball, ref, h_pair)
    with np.errstate(invalid="ignore", divide="ignore"):
        speed = resid_px / h_use * m.player_height_m / dt
    limit = np.where(is_ball, m.max_ball_speed_mps, m.max_speed_mps)
    keep = np.isfinite(speed) & (speed <= limit) & (is_ball | ~(interp[a] | interp[b]))
    out = {"t_s": t[b][keep], "track_id": tid[b][keep], "cls": cls[b][keep], "speed_mps": speed[keep],
           "h_px": h_use[keep]}
    if carried is not None and len(carried[0]):
        out = _with_carried(out, t[a][keep], carried)
    return out


def _with_carried(sp: dict[str, np.ndarray], t_from: np.ndarray, carried: tuple[np.ndarray, np.ndarray]) -> dict:
    """`sp` plus one row at each carried (interpolated) box of a player between two
    sightings, with the speed of that pair: every analysis frame has its speeds."""
    c_tid, c_t = carried
    order = np.lexsort((c_t, c_tid))
    c_tid, c_t = c_tid[order], c_t[order]
    rows = []
    for i in np.flatnonzero(sp["cls"] != BALL):
        lo = np.searchsorted(c_tid, sp["track_id"][i], "left")
        hi = np.searchsorted(c_tid, sp["track_id"][i], "right")
        ts = c_t[lo:hi]
        inside = ts[(ts > t_from[i]) & (ts < sp["t_s"][i])]
        rows.extend((tt, i) for tt in inside)
    if not rows:
        return sp
    at, src = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    return {"t_s": np.concatenate([sp["t_s"], at]), **{k: np.concatenate([v, v[src]]) for k, v in sp.items() if k != "t_s"}}


def _converging(tracks: Tracks, cfg, max_gap_s: float = _MAX_PAIR_GAP_S) -> tuple[np.ndarray, np.ndarray]:
    """Rate (m/s) at which players close in: minus the change of their mean distance to their
    centroid, over the players seen in both of two consecutive samples. Distances are in
    player heights, so zoom does not count as convergence; pans do not change distances."""
    person = np.isin(tracks.cls, PERSON_CLASSES) & ~tracks.interpolated
    if person.sum() < 2:
        return np.zeros(0), np.zeros(0)
    t = tracks.t_s[person]
    tid = tracks.track_id[person]
    box = tracks.xyxy[person].astype(np.float64)
    foot = np.stack([(box[:, 0] + box[:, 2]) / 2, box[:, 3]], axis=1)
    h = box[:, 3] - box[:, 1]
    times = np.unique(t)
    out_t, out_v = [], []
    prev = None
    for tt in times:
        sel = t == tt
        cur = (tt, dict(zip(tid[sel].tolist(), range(int(sel.sum())))), foot[sel], float(np.median(h[sel])))
        if prev is not None and 0 < tt - prev[0] <= max_gap_s:
            common = [i for i in cur[1] if i in prev[1]]
            if len(common) >= 3:
                def spread(state, ids):
                    pts = state[2][[state[1][i] for i in ids]]
                    return np.linalg.norm(pts - pts.mean(axis=0), axis=1).mean() / state[3] * cfg.player_height_m
                out_t.append(tt)
                rate = -(spread(cur, common) - spread(prev, common)) / (tt - prev[0])
                # A rate beyond a sprint is an identity switch or a cut, not players closing in.
                out_v.append(rate if abs(rate) <= cfg.max_speed_mps else np.nan)
        prev = cur
    return np.array(out_t), np.array(out_v)


def motion_signals(
    tracks: Tracks, camera: CameraMotion, duration_s: float, cfg, bin_s: float, pitch_in_view: np.ndarray | None = None,
    people_every_s: float = 0.0,
) -> tuple[dict[str, np.ndarray], dict]:
    """Per-bin motion columns in raw units (see `UNITS`); NaN = gap.

    Parameters
    ----------
    tracks : from `track.py` (either detector backend); boxes in source pixels.
    camera : from `CameraMotionEstimator.finish()` over the same sampled frames.
    duration_s : timeline length, s.
    cfg : the `signals.motion` section.
    bin_s : the timeline's bin, s.
    pitch_in_view : optional per-bin bool (e.g. `shots_scale != OFF_PITCH`); bins without the
        pitch become gaps in every motion column.
    people_every_s : people were looked for only this often (detect.people_every_s; 0 = on
        every frame): speeds and convergence pair sightings that far apart.
    """
    m = cfg
    n = n_bins(duration_s, bin_s)
    cols: dict[str, np.ndarray] = {}
    ci = bin_index(camera.t_s, bin_s, n)
    cols["motion_pan"] = _bin_reduce(ci, camera.pan, n, np.mean)
    cols["motion_zoom"] = _bin_reduce(ci, np.abs(camera.zoom), n, np.mean)
    sp = track_speeds(tracks, camera, cfg, people_every_s)
    si = bin_index(sp["t_s"], bin_s, n)
    is_ball = sp["cls"] == BALL
    player = ~is_ball
    cols["motion_speed"] = _bin_reduce(np.where(player, si, -1), sp["speed_mps"], n,
                                       lambda v: float(np.percentile(v, m.speed_percentile)))
    sprint = np.full(n, np.nan)
    seen = np.zeros(n, bool)
    seen[si[player & (si >= 0)]] = True
    sprint[seen] = 0.0
    fast = player & (sp["speed_mps"] > m.sprint_mps) & (si >= 0)
    if fast.any():
        pairs = np.unique(np.stack([si[fast], sp["track_id"][fast]], axis=1), axis=0)
        np.add.at(sprint, pairs[:, 0], 1.0)
    cols["motion_sprinters"] = sprint
    cols["motion_ball_speed"] = _bin_reduce(np.where(is_ball, si, -1), sp["speed_mps"], n, np.median)
    ct, cv = _converging(tracks, cfg, _pair_gap_s(people_every_s))
    cols["motion_converging"] = _bin_reduce(bin_index(ct, bin_s, n), cv, n, np.mean)
    if pitch_in_view is not None:
        off = ~np.asarray(pitch_in_view, bool)[:n]
        for v in cols.values():
            v[: len(off)][off] = np.nan
    meta = {
        "units": dict(UNITS),
        "camera_valid_share": float(camera.valid[1:].mean()) if len(camera.valid) > 1 else 0.0,
        "speed_pairs": int(len(sp["t_s"])),
        "gap": "no tracks" if len(tracks) == 0 else None,
    }
    return cols, meta


def concat_camera(parts: list[CameraMotion]) -> CameraMotion:
    """One CameraMotion from per-window estimates (each window's first step is invalid)."""
    parts = [p for p in parts if len(p.t_s)]
    if not parts:
        return CameraMotion.empty()
    return CameraMotion(
        np.concatenate([p.t_s for p in parts]), np.concatenate([p.affine for p in parts]),
        np.concatenate([p.valid for p in parts]), np.concatenate([p.pan for p in parts]),
        np.concatenate([p.zoom for p in parts]), np.concatenate([p.inliers for p in parts]),
        parts[0].width_px, parts[0].to_flow,
    )
