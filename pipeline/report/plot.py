"""timeline.png: every signal over match time, the excitement curve, the chosen segments.

Takes a `Timeline`, the excitement curve (one value per bin), the segments of segments.json
and optional truth events; gives one PNG with panels sharing an mm:ss axis: the combined
excitement (selected segments shaded and numbered by rank, the other candidates in grey),
then one panel per signal group (audio, motion, shots). Long timelines are aggregated
(maximum per bucket, so short peaks stay visible) to stay readable for a 90-minute match.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..outputs import atomic_write
from ..signals.scorebug import minute_at
from ..types import GROUPS, Segment, Timeline, clock

GROUP_COLOURS = {"audio": "#1f77b4", "motion": "#2ca02c", "shots": "#9467bd", "score": "#d62728"}
TRUTH_COLOURS = {"goal": "#d62728", "chance": "#ff7f0e"}
SELECTED_COLOUR = "#f2a93b"
MAX_POINTS = 1500  # x resolution of the figure (px) is about this: more points only add ink


def aggregate(values: np.ndarray, factor: int) -> np.ndarray:
    """Maximum over consecutive buckets of `factor` bins (NaN only where a bucket is all NaN)."""
    v = np.asarray(values, np.float64)
    if factor <= 1 or len(v) == 0:
        return v
    n = int(math.ceil(len(v) / factor))
    padded = np.full(n * factor, np.nan)
    padded[: len(v)] = v
    blocks = padded.reshape(n, factor)
    out = np.full(n, np.nan)
    ok = ~np.all(np.isnan(blocks), axis=1)
    out[ok] = np.nanmax(blocks[ok], axis=1)
    return out


def bucket_factor(n_bins: int, max_points: int = MAX_POINTS) -> int:
    return max(int(math.ceil(n_bins / max_points)), 1)


def as_dicts(segments: Sequence[Segment | dict]) -> list[dict]:
    return [s.to_dict() if isinstance(s, Segment) else dict(s) for s in segments]


def _tick_step(duration_s: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800):
        if duration_s / step <= 14:
            return float(step)
    return 3600.0


def plot_timeline(
    timeline: Timeline,
    score: np.ndarray,
    segments: Sequence[Segment | dict],
    path: str | Path,
    *,
    truth: Sequence[dict] | None = None,
    title: str | None = None,
    max_points: int = MAX_POINTS,
) -> Path:
    """Write the timeline figure to `path` (PNG, atomically) and return the path."""
    # A Figure of its own, drawn by the Agg canvas savefig attaches to it: no pyplot (its
    # import and global figure registry cost ~0.1 s of each `highlights rescore`), no
    # backend switch, nothing to close (matplotlib's "embedding in a web server" pattern).
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    segs = as_dicts(segments)
    truth = list(truth or [])
    n = len(timeline.t_s)
    duration = max(timeline.duration_s, n * timeline.bin_s, 1e-3)
    factor = bucket_factor(n, max_points)
    t = np.asarray(timeline.t_s, np.float64)[::factor] if n else np.zeros(0)
    by_group: dict[str, list[str]] = {g: [] for g in GROUPS}
    for name in sorted(timeline.columns):
        g = name.split("_", 1)[0]
        if g in by_group:
            by_group[g].append(name)
    panels = ["score"] + [g for g in GROUPS if by_group[g]]
    heights = [2.2] + [1.6] * (len(panels) - 1)
    fig = Figure(figsize=(16, sum(heights) + 0.9))
    axes = fig.subplots(len(panels), 1, sharex=True, gridspec_kw={"height_ratios": heights, "hspace": 0.12})
    axes = np.atleast_1d(axes)
    fig.subplots_adjust(left=0.05, right=0.84, top=0.93 if title else 0.97, bottom=0.07)
    if title:
        fig.suptitle(title, x=0.05, ha="left", fontsize=11)

    chosen = [s for s in segs if s.get("selected")]
    for ax in axes:
        for s in chosen:
            ax.axvspan(s["start"], s["end"], color=SELECTED_COLOUR, alpha=0.22, lw=0, zorder=0)
            # Edges drawn apart, so two selected segments that touch still read as two.
            ax.axvline(s["start"], color=SELECTED_COLOUR, lw=0.8, zorder=0)
            ax.axvline(s["end"], color=SELECTED_COLOUR, lw=0.8, zorder=0)
        for e in truth:
            ax.axvline(e["time"], color=TRUTH_COLOURS.get(e["type"], "#555555"), lw=1.2, ls="--", zorder=3)
        ax.grid(axis="x", color="#dddddd", lw=0.6)
        ax.tick_params(labelsize=8)
        ax.set_xlim(0, duration)

    # Combined excitement.
    ax = axes[0]
    for s in segs:
        if not s.get("selected"):
            ax.axvspan(s["start"], s["end"], ymin=0, ymax=0.06, color="#999999", alpha=0.6, lw=0, zorder=1)
    sc = aggregate(score, factor)
    ax.plot(t[: len(sc)], sc, color=GROUP_COLOURS["score"], lw=1.1, label="excitement", zorder=2)
    ax.set_ylabel("excitement", fontsize=9)
    finite = sc[np.isfinite(sc)]
    top = float(finite.max()) if len(finite) else 1.0
    bottom = float(finite.min()) if len(finite) else 0.0
    ax.set_ylim(bottom - 0.05 * (top - bottom + 1e-9), top + 0.32 * (top - bottom + 1e-9))
    bug = timeline.scorebug
    for k, s in enumerate(sorted(chosen, key=lambda s: s["start"])):
        # Alternate label heights so neighbouring ranks do not print over each other. The
        # match minute, where the score bug's clock was read at the moment, beside the rank.
        y = 0.97 if k % 2 == 0 else 0.86
        minute = s.get("minute") or (minute_at(bug, float(s.get("moment", s["peak"]))) if bug else None)
        ax.text((s["start"] + s["end"]) / 2, y, f"#{s['rank']}" + (f" {minute}" if minute else ""),
                transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=8, fontweight="bold",
                color="#8a5300", zorder=4)
    for c in bug.get("changes") or []:
        if isinstance(c, dict) and "t_s" in c:
            ax.axvline(float(c["t_s"]), color="#2a7a2a", lw=1.0, ls=":", zorder=3)
            ax.text(float(c["t_s"]), 0.03, f" {c.get('score_from')} -> {c.get('score_to')}", transform=ax.get_xaxis_transform(),
                    ha="left", va="bottom", fontsize=7, color="#2a7a2a", zorder=4)
    for e in truth:
        ax.text(e["time"], 1.01, e["type"], transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                fontsize=8, color=TRUTH_COLOURS.get(e["type"], "#555555"))
    handles = [Line2D([], [], color=GROUP_COLOURS["score"], lw=1.5, label="excitement"),
               Rectangle((0, 0), 1, 1, color=SELECTED_COLOUR, alpha=0.4, label="selected (#rank)"),
               Rectangle((0, 0), 1, 1, color="#999999", alpha=0.6, label="other candidates")]
    handles += [Line2D([], [], color=c, ls="--", lw=1.2, label=f"truth: {k}") for k, c in TRUTH_COLOURS.items()
                if any(e["type"] == k for e in truth)]
    if bug.get("changes"):
        handles.append(Line2D([], [], color="#2a7a2a", ls=":", lw=1.2, label="score bug changed"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)

    # One panel per signal group.
    cuts = np.asarray(timeline.cuts_s, np.float64)
    windows = timeline.analysed_windows or []
    for ax, group in zip(axes[1:], panels[1:]):
        cmap = colormaps["tab10"]
        k = 0
        if windows and group in ("motion", "shots"):
            # Two-pass analysis: the video pass ran only inside the windows the audio picked.
            gaps = [(a, b) for a, b in zip([0.0] + [w[1] for w in windows], [w[0] for w in windows] + [duration])
                    if b > a]
            for i, (a, b) in enumerate(gaps):
                ax.axvspan(a, b, color="#e8e8e8", lw=0, zorder=0, label="not analysed (two-pass)" if i == 0 else None)
        for name in by_group[group]:
            values = np.asarray(timeline.columns[name], np.float64)
            short = name.split("_", 1)[1]
            if name == "shots_cut":
                marks = cuts if len(cuts) else np.asarray(timeline.t_s)[np.nan_to_num(values) > 0.5]
                if len(marks):
                    ax.vlines(marks, 0.0, 0.12, transform=ax.get_xaxis_transform(), color="#444444", lw=0.6,
                              label="cut", zorder=2)
                continue
            if name == "shots_replay":
                _spans(ax, np.asarray(timeline.t_s), np.nan_to_num(values) > 0.5, timeline.bin_s,
                       dict(color="#9467bd", alpha=0.18, lw=0, label="replay", zorder=1))
                continue
            v = aggregate(values, factor)
            ax.plot(t[: len(v)], v, lw=0.9, color=cmap(k % 10), label=short, zorder=2)
            k += 1
        if all(np.all(np.isnan(timeline.columns[c])) for c in by_group[group]):
            ax.text(0.5, 0.5, f"no {group} signals (gap)", transform=ax.transAxes, ha="center", va="center",
                    color="#888888", fontsize=10)
        ax.set_ylabel(group, fontsize=9, color=GROUP_COLOURS[group])
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False, ncol=1)

    last = axes[-1]
    last.xaxis.set_major_locator(MultipleLocator(_tick_step(duration)))
    last.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: clock(x)))
    note = "video time (mm:ss); above each chosen moment its rank and, where the score bug's clock was read, the match minute"
    if factor > 1:
        note += f"; each point is the maximum over {factor * timeline.bin_s:g} s"
    last.set_xlabel(note, fontsize=8)

    path = Path(path)

    def save(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=100)

    atomic_write(path, save)
    return path


def _spans(ax: Any, t_s: np.ndarray, mask: np.ndarray, bin_s: float, style: dict) -> None:
    """Shade each run of True bins; only the first span carries the legend label."""
    if not mask.any():
        return
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    for i, (a, b) in enumerate(zip(edges[::2], edges[1::2])):
        kw = dict(style) if i == 0 else {k: v for k, v in style.items() if k != "label"}
        ax.axvspan(t_s[a], t_s[b - 1] + bin_s, **kw)
