"""Shot structure of the broadcast: cuts, shot scale from the grass share (and the largest
figure against it), replays.

Takes the sampled `Frame` stream one frame at a time (`ShotDetector.update`), so the caller
can feed the same decoded frames to detection; keeps a few floats per frame, never images.
Gives per-bin columns `shots_cut`, `shots_scale`, `shots_closeup`, `shots_replay` and
`shots_grass`, plus the cut times and replay spans in meta.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..types import Frame, GrassRange
from .timeline import bin_index, n_bins

# Shot scale codes of `shots_scale`.
WIDE, MEDIUM, CLOSE, OFF_PITCH = 0, 1, 2, 3
SCALE_NAMES = ("wide", "medium", "close-up", "off-pitch")
COLUMNS = ("shots_cut", "shots_scale", "shots_closeup", "shots_replay", "shots_grass")
UNITS = {
    "shots_cut": "cut in bin (0/1)",
    "shots_scale": "0 wide, 1 medium, 2 close-up, 3 off-pitch",
    "shots_closeup": "close-up or off-pitch (0/1)",
    "shots_replay": "replay (0/1)",
    "shots_grass": "grass share of the frame",
}
_WORK_WIDTH_PX = 320  # histograms and grass share need no more detail than this
_HIST_BINS = (16, 8)  # hue x saturation: colour layout changes at a cut, lighting less so


def shot_scale(grass: np.ndarray, cfg, figure: np.ndarray | None = None) -> np.ndarray:
    """Scale code per grass share (NaN -> NaN); `cfg` is the `shots` config section. With
    `figure` (the share of the frame its largest figure covers, see `figure_share`), a shot
    wide by its grass but with one figure of `closeup_min_figure` or more is a close-up on
    the grass."""
    g = np.asarray(grass, np.float64)
    out = np.full(g.shape, np.nan)
    ok = np.isfinite(g)
    out[ok] = np.where(g[ok] >= cfg.wide_min_grass, WIDE,
                       np.where(g[ok] >= cfg.medium_min_grass, MEDIUM,
                                np.where(g[ok] > cfg.off_pitch_max_grass, CLOSE, OFF_PITCH)))
    if figure is not None:
        f = np.nan_to_num(np.asarray(figure, np.float64), nan=0.0)
        out[(out == WIDE) & (f >= cfg.closeup_min_figure)] = CLOSE
    return out


def figure_share(grass_mask: np.ndarray) -> float:
    """Share of the frame covered by its largest figure against the grass: a connected
    non-grass region that is not the stands or the sky (touching the top edge only) and
    not a bar across the whole frame (letterbox, advertising boards). Players in a wide
    shot cover under 2% each; a player filling a close-up on the grass, 15% and more."""
    h, w = grass_mask.shape[:2]
    _, _, stats, _ = cv2.connectedComponentsWithStats((grass_mask == 0).astype(np.uint8), connectivity=8)
    top, height, width, area = (stats[1:, k] for k in (cv2.CC_STAT_TOP, cv2.CC_STAT_HEIGHT, cv2.CC_STAT_WIDTH,
                                                        cv2.CC_STAT_AREA))
    figure = ~((top == 0) & (top + height < h)) & (width < 0.9 * w)
    return float(area[figure].max()) / (h * w) if figure.any() else 0.0


def find_cuts(t_s: np.ndarray, distance: np.ndarray, cfg) -> tuple[np.ndarray, np.ndarray]:
    """Cuts from per-frame histogram distances (distance[i] = frame i-1 vs frame i).

    A cut at frame i needs distance[i] >= `cut_min_distance` and >= `cut_adaptive_ratio`
    times the mean distance of its `cut_window_frames` neighbours on each side (the adaptive
    rule of PySceneDetect's AdaptiveDetector: fast pans raise the neighbours too, a cut does
    not). Cuts closer than `min_shot_s` are one transition (the strongest kept).
    Returns (cut times in s, midway between the two frames; cut scores = the ratio).
    """
    t = np.asarray(t_s, np.float64)
    d = np.asarray(distance, np.float64)
    n = len(d)
    if n < 2:
        return np.zeros(0), np.zeros(0)
    w = cfg.cut_window_frames
    cands: list[tuple[int, float]] = []
    for i in range(1, n):
        if d[i] < cfg.cut_min_distance:
            continue
        nb = np.concatenate([d[max(1, i - w) : i], d[i + 1 : i + 1 + w]])
        base = float(nb.mean()) if len(nb) else 0.0
        ratio = d[i] / max(base, 1e-3)
        if ratio >= cfg.cut_adaptive_ratio:
            cands.append((i, ratio))
    kept: list[tuple[int, float]] = []
    for i, r in cands:
        if kept and t[i] - t[kept[-1][0]] < cfg.min_shot_s:
            if r > kept[-1][1]:
                kept[-1] = (i, r)
            continue
        kept.append((i, r))
    times = np.array([(t[i - 1] + t[i]) / 2 for i, _ in kept])
    scores = np.array([r for _, r in kept])
    return times, scores


def find_replays(t_s: np.ndarray, distance: np.ndarray, grass: np.ndarray, duration_s: float, cfg,
                 hists: dict[int, np.ndarray] | None = None) -> list[tuple[float, float]]:
    """Replay spans (start s, end s) of a broadcast, from per-frame histogram distances and
    grass shares (as `find_cuts` takes them).

    A stinger is a burst: at least `replay_burst_frames` high-distance frames (>=
    `cut_min_distance`) in a row (up to `stinger_gap_frames` quiet samples between two of
    them), lasting at most `stinger_max_s`, whose mean distance is
    `stinger_min_contrast` times the median distance of the `stinger_context_s` around it,
    and which hides the pitch in at least one of its frames (grass share < `wide_min_grass`).
    A logo wipe or dissolve changes the picture frame after frame, briefly, and stops; a hard
    cut changes one frame (a clip join, a live cut: never a stinger); a fast pan or whip-pan
    keeps changing for longer or around the burst too (no contrast); a cut or dissolve
    between two wide shots of play shows the pitch throughout (no graphic over it).
    A stinger that leads from non-pitch pictures (celebration, crowd, bench: median grass
    share < `medium_min_grass` in the `stinger_context_s` before) back to the pitch opens a
    replay sequence. It ends at the first of:
      - the next opening stinger;
      - a burst that looks like the opening one (colour histograms closer than
        `stinger_match_max`): broadcasters close a package with the logo that opened it;
      - a return to live play: a cut or burst after which the pictures stay wide (grass share
        >= `wide_min_grass` in >= `replay_live_wide_share` of the frames) for
        `replay_live_wide_s` (or to the end of the input) with no burst in between: the main
        camera following play, longer than one replay angle lasts (a closing stinger of
        another look, or a plain cut back to live, as in montages of clips);
      - `replay_max_s` after its start, or the end of the input.
    """
    t = np.asarray(t_s, np.float64)
    d = np.asarray(distance, np.float64)
    g = np.asarray(grass, np.float64)
    bursts = _bursts(t, d, g, cfg)
    ctx = cfg.stinger_context_s
    opens: list[tuple[float, float, np.ndarray | None]] = []  # (start s, burst end s, look)
    stingers: list[tuple[float, float, np.ndarray | None]] = []  # every burst, opening or not
    for first, last, frames in bursts:
        at = float(t[first - 1] + t[first]) / 2 if first > 0 else float(t[first])
        look = _burst_look(hists, frames) if hists else None
        stingers.append((at, float(t[last]), look))
        before = g[(t >= t[first] - ctx) & (t < t[first])]
        after = g[(t > t[last]) & (t <= t[last] + ctx)]
        if len(before) and len(after) and np.median(before) < cfg.medium_min_grass <= np.median(after):
            opens.append((at, float(t[last]), look))
    live = _live_returns(t, d, g, duration_s, cfg, [(a, b) for a, b, _ in stingers])
    spans = []
    for j, (s0, s1, look) in enumerate(opens):
        ends = [a for a, _, _ in opens[j + 1:]]
        if look is not None:
            ends += [a for a, _, lk in stingers if a > s1 and lk is not None
                     and float(cv2.compareHist(look, lk, cv2.HISTCMP_BHATTACHARYYA)) < cfg.stinger_match_max]
        ends += [c for c in live if c > s1]
        end = min([s0 + cfg.replay_max_s, duration_s, *ends])
        spans.append((s0, end))
    return spans


def _bursts(t: np.ndarray, d: np.ndarray, g: np.ndarray, cfg) -> list[tuple[int, int, np.ndarray]]:
    """Stinger-like bursts as (first frame, last frame, high-distance frames): see `find_replays`."""
    high = np.flatnonzero(d >= cfg.cut_min_distance)
    if len(high) == 0:
        return []
    # runs of high frames with at most stinger_gap_frames quiet samples between successive ones
    breaks = np.flatnonzero(np.diff(high) > cfg.stinger_gap_frames + 1) + 1
    out = []
    for run in np.split(high, breaks):
        if len(run) < cfg.replay_burst_frames:
            continue
        a, b = run[0], run[-1]
        if t[b] - t[a - 1] > cfg.stinger_max_s + 1e-6:
            continue  # changing this long: camera motion
        if float(g[run].min()) >= cfg.wide_min_grass:
            continue  # wide pictures throughout: a cut or dissolve between shots of play
        around = ((t >= t[a] - cfg.stinger_context_s) & (t < t[a])) | ((t > t[b]) & (t <= t[b] + cfg.stinger_context_s))
        around[0] = False  # frame 0 has no previous frame: its distance is not a measurement
        base = float(np.median(d[around])) if around.any() else 0.0
        if float(d[run].mean()) >= cfg.stinger_min_contrast * max(base, 1e-3):
            out.append((int(a), int(b), run))
    return out


def _live_returns(t: np.ndarray, d: np.ndarray, g: np.ndarray, duration_s: float, cfg,
                  bursts: list[tuple[float, float]]) -> list[float]:
    """Times of the cuts and bursts (start s) after which play is live again: see `find_replays`.
    `bursts` are (start s, last frame s) of the stinger-like bursts."""
    cut_t, _ = find_cuts(t, d, cfg)
    out = []
    for c in sorted({*map(float, cut_t), *(a for a, _ in bursts)}):
        # a cut inside a burst is its change: the pictures after it start after the burst
        after = max([c, *(b for a, b in bursts if a - 1e-6 <= c <= b)])
        stop = min(after + cfg.replay_live_wide_s, duration_s)
        if any(after < a < stop for a, _ in bursts):
            continue  # a stinger follows: the wide pictures are a replay angle
        win = (t > after) & (t <= stop)
        if win.any() and float(np.mean(g[win] >= cfg.wide_min_grass)) >= cfg.replay_live_wide_share:
            out.append(c)
    return out


def _burst_look(hists: dict[int, np.ndarray], frames: np.ndarray) -> np.ndarray | None:
    """Mean colour histogram of a burst's frames: the stinger's look."""
    hs = [hists[int(i)] for i in frames if int(i) in hists]
    return np.mean(hs, axis=0).astype(np.float32) if hs else None


class ShotDetector:
    """Feed frames with `update(frame)`; `finish(duration_s)` gives columns and meta.

    `cfg` is the `signals.shots` section; `bin_s` the timeline's bin; `grass` the colours
    grass can take (the `pitch:` section).
    """

    def __init__(self, cfg, bin_s: float, grass: GrassRange) -> None:
        self.cfg = cfg
        self.bin_s = float(bin_s)
        self.grass = grass
        self._prev_hist: np.ndarray | None = None
        self._t: list[float] = []
        self._d: list[float] = []
        self._grass: list[float] = []
        self._figure: list[float] = []
        self._hists: dict[int, np.ndarray] = {}

    def update(self, frame: Frame) -> None:
        img = frame.image
        h, w = img.shape[:2]
        if w > _WORK_WIDTH_PX:
            img = cv2.resize(img, (_WORK_WIDTH_PX, max(int(round(h * _WORK_WIDTH_PX / w)), 1)),
                             interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, list(_HIST_BINS), [0, 180, 0, 256])
        hist /= max(float(hist.sum()), 1.0)
        mask = cv2.inRange(hsv, self.grass.lo, self.grass.hi)
        grass = float(np.count_nonzero(mask)) / (hsv.shape[0] * hsv.shape[1])
        # The figure only matters where the grass would call the shot wide.
        figure = figure_share(mask) if grass >= self.cfg.wide_min_grass else 0.0
        d = 0.0 if self._prev_hist is None else float(cv2.compareHist(self._prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA))
        if d >= self.cfg.cut_min_distance:
            self._hists[len(self._d)] = hist  # kept for high-change frames only (stingers)
        self._prev_hist = hist
        self._t.append(float(frame.t_s))
        self._d.append(d)
        self._grass.append(grass)
        self._figure.append(figure)

    def frame_stats(self) -> dict[str, np.ndarray]:
        """Per-frame metrics (t_s, hist distance to the previous frame, grass share, largest
        figure's share): why a cut was or was not found, why a shot got its scale."""
        return {"t_s": np.array(self._t), "distance": np.array(self._d), "grass": np.array(self._grass),
                "figure": np.array(self._figure)}

    def finish(self, duration_s: float) -> tuple[dict[str, np.ndarray], dict]:
        c = self.cfg
        n = n_bins(duration_s, self.bin_s)
        t = np.array(self._t, np.float64)
        d = np.array(self._d, np.float64)
        g = np.array(self._grass, np.float64)
        cut_t, cut_score = find_cuts(t, d, c)
        replays = find_replays(t, d, g, duration_s, c, self._hists)
        # grass per bin: median of its frames; bins without a frame are gaps
        grass_bin = np.full(n, np.nan)
        figure_bin = np.full(n, np.nan)
        fig = np.array(self._figure, np.float64)
        idx = bin_index(t, self.bin_s, n)
        for b in np.unique(idx[idx >= 0]):
            grass_bin[b] = float(np.median(g[idx == b]))
            figure_bin[b] = float(np.median(fig[idx == b]))
        scale = shot_scale(grass_bin, c, figure_bin)
        closeup = np.where(np.isfinite(scale), (scale >= CLOSE).astype(np.float64), np.nan)
        cut = np.zeros(n)
        ci = bin_index(cut_t, self.bin_s, n)
        cut[ci[ci >= 0]] = 1.0
        replay = np.zeros(n)
        starts = np.arange(n) * self.bin_s
        for s, e in replays:
            replay[(starts + self.bin_s > s) & (starts < e)] = 1.0
        no_frames = ~np.isfinite(grass_bin)
        cut[no_frames & (cut == 0)] = np.nan
        replay[no_frames] = np.nan
        columns = {"shots_cut": cut, "shots_scale": scale, "shots_closeup": closeup,
                   "shots_replay": replay, "shots_grass": grass_bin}
        meta = {
            "units": dict(UNITS),
            "cuts_s": [round(float(x), 3) for x in cut_t],
            "cut_scores": [round(float(x), 2) for x in cut_score],
            "replays": [[round(s, 3), round(e, 3)] for s, e in replays],
            "frames": len(t),
            "gap": "no frames" if len(t) == 0 else None,
        }
        return columns, meta


def shot_signals(frames, duration_s: float, cfg, bin_s: float, grass: GrassRange) -> tuple[dict[str, np.ndarray], dict]:
    """Convenience: run a `ShotDetector` (`cfg`: the `signals.shots` section) over a whole
    frame iterator."""
    det = ShotDetector(cfg, bin_s, grass)
    for f in frames:
        det.update(f)
    return det.finish(duration_s)


def merge_shot_columns(parts: list[tuple[dict[str, np.ndarray], dict]]) -> tuple[dict[str, np.ndarray], dict]:
    """Combine `finish()` results of detectors that each saw one window of the same match:
    a bin takes the value of the window that has frames there (NaN elsewhere: not analysed)."""
    cols: dict[str, np.ndarray] = {}
    for part_cols, _ in parts:
        for name, values in part_cols.items():
            v = np.asarray(values, np.float64)
            if name not in cols:
                cols[name] = v.copy()
            else:
                take = np.isnan(cols[name]) & ~np.isnan(v)
                cols[name][take] = v[take]
    meta: dict = {"units": dict(UNITS), "cuts_s": [], "cut_scores": [], "replays": [], "frames": 0}
    for _, m in parts:
        meta["cuts_s"] += m.get("cuts_s", [])
        meta["cut_scores"] += m.get("cut_scores", [])
        meta["replays"] += m.get("replays", [])
        meta["frames"] += m.get("frames", 0)
    order = np.argsort(meta["cuts_s"])
    meta["cuts_s"] = [meta["cuts_s"][i] for i in order]
    meta["cut_scores"] = [meta["cut_scores"][i] for i in order]
    meta["gap"] = "no frames" if meta["frames"] == 0 else None
    return cols, meta
