"""Segments: excitement curve -> candidate moments -> whole segments -> ranking -> selection.

Takes a `Timeline` (normalised columns, NaN gaps), weights and segment settings; gives a
list of `Segment` (Contracts of DESIGN.md) for candidates and selected alike. Pure
functions over arrays: no file reading, no printing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import SegmentsConfig, WeightsConfig
from .peaks import find_peaks, moving_mean  # SciPy's answers without importing scipy.signal / scipy.ndimage
from .types import GROUPS, KINDS, Segment, Timeline

# Columns that describe the shot rather than excitement: they shape segment edges and
# replay handling but are not summed into the curve.
STRUCTURAL = {"shots_scale", "shots_replay", "shots_grass"}


@dataclass(frozen=True)
class Curve:
    """The excitement curve and how it was made."""

    t_s: np.ndarray
    score: np.ndarray  # weighted sum per bin (NaN only where every group is missing)
    groups: dict[str, np.ndarray]  # group -> mean of its scored columns per bin (NaN = gap)
    weights_used: dict[str, float]  # effective group weights after redistribution (whole match)
    notes: list[str]  # what was missing and how its weight was redistributed


def group_of(column: str) -> str:
    return column.split("_", 1)[0]


def scored_columns(timeline: Timeline) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {g: [] for g in GROUPS}
    for name in timeline.columns:
        g = group_of(name)
        if g in out and name not in STRUCTURAL and not name.endswith("_raw"):
            out[g].append(name)
    return out


def excitement_curve(
    timeline: Timeline,
    weights: WeightsConfig | dict[str, float],
    column_weights: dict[str, float] | None = None,
) -> Curve:
    """Weighted sum of the normalised columns, group by group.

    Each group's value is the (column-weighted) mean of its available columns. Where a group
    is missing (NaN: no audio, silent audio, no pitch in view), its weight is shared among the
    groups present in that bin, so a gap neither adds nor removes excitement.
    """
    w = weights.model_dump() if hasattr(weights, "model_dump") else dict(weights)
    column_weights = column_weights or {}
    cols = scored_columns(timeline)
    n = len(timeline.t_s)
    groups: dict[str, np.ndarray] = {}
    for g in GROUPS:
        names = cols[g]
        if not names or w.get(g, 0) <= 0:
            continue
        stack = np.stack([np.asarray(timeline.columns[c], float) for c in names])
        cw = np.array([column_weights.get(c, 1.0) for c in names], float)[:, None]
        valid = ~np.isnan(stack)
        num = np.where(valid, stack, 0.0) * cw
        den = (valid * cw).sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            groups[g] = np.where(den > 0, num.sum(0) / np.where(den > 0, den, 1), np.nan)
    total = np.zeros(n)
    wsum = np.zeros(n)
    for g, vals in groups.items():
        ok = ~np.isnan(vals)
        total += np.where(ok, vals, 0.0) * w[g]
        wsum += ok * w[g]
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(wsum > 0, total / np.where(wsum > 0, wsum, 1), np.nan)
    notes: list[str] = []
    present = {g: float(np.mean(~np.isnan(v))) if n else 0.0 for g, v in groups.items()}
    configured = {g: float(w.get(g, 0.0)) for g in GROUPS}
    partly: dict[str, list[str]] = {}  # the share missing, as told -> the groups missing that much
    for g in GROUPS:
        if configured[g] <= 0:
            notes.append(f"{g} weight is 0: group off")
        elif g not in groups:
            notes.append(f"{g} signals missing for the whole input: weight {configured[g]:g} redistributed")
        elif present[g] < 0.99:
            partly.setdefault(f"{100 * (1 - present[g]):.0f}%", []).append(g)
    for share, gs in partly.items():  # one note for groups missing in the same stretches (a cascade's gaps)
        notes.append(f"{' and '.join(gs)} signals missing for {share} of the input: "
                     f"{'their weights' if len(gs) > 1 else 'weight'} redistributed there")
    # Effective weights over the match: each group's share of the weight actually applied.
    eff = {g: configured[g] * present.get(g, 0.0) for g in GROUPS}
    tot = sum(eff.values())
    weights_used = {g: round(v / tot, 4) if tot > 0 else 0.0 for g, v in eff.items()}
    return Curve(np.asarray(timeline.t_s, float), score, groups, weights_used, notes)


def _smooth(x: np.ndarray, bins: int) -> np.ndarray:
    if bins <= 1:
        return x
    filled = np.where(np.isnan(x), np.nanmedian(x) if np.any(~np.isnan(x)) else 0.0, x)
    return moving_mean(filled, bins)


def cut_times(timeline: Timeline) -> np.ndarray:
    """The shot cuts: the analysis' own list, else (a timeline built without one) the
    bins the `shots_cut` column marks."""
    if timeline.cuts_s:
        return np.asarray(sorted(timeline.cuts_s), float)
    col = timeline.columns.get("shots_cut")
    if col is None:
        return np.zeros(0)
    return np.asarray(timeline.t_s, float)[np.nan_to_num(np.asarray(col, float)) > 0.5]


def replay_mask(timeline: Timeline) -> np.ndarray:
    """Per bin: inside a replay package (a gap counts as live)."""
    col = timeline.columns.get("shots_replay")
    if col is None:
        return np.zeros(len(timeline.t_s), bool)
    return np.nan_to_num(np.asarray(col, float)) > 0.5


def build_segments(timeline: Timeline, curve: Curve, cfg: SegmentsConfig) -> list[Segment]:
    """Candidate moments at the curve's peaks, each grown to hold the whole moment.

    The crowd roar follows a goal by 0-3 s and the commentary rises through the attack, so a
    segment reaches back from the peak at least `min_pre_s` and on to where the curve fell to
    its calm level before the attack (at most `pre_roll_s`), forward through the roar until
    the curve is calm again (at most `post_roll_s`); edges then snap outward to shot cuts.
    """
    bin_s = timeline.bin_s
    t = curve.t_s
    n = len(t)
    duration = timeline.duration_s  # the input's end, not its last bin's
    if n == 0 or np.all(np.isnan(curve.score)):
        return []
    smooth = _smooth(curve.score, max(int(round(cfg.smooth_s / bin_s)), 1))
    # A segment scores by its best sustained stretch: a roar lasts seconds, a shout does not.
    sustained = _smooth(curve.score, max(int(round(cfg.score_window_s / bin_s)), 1))
    audio = curve.groups.get("audio")
    audio_smooth = None
    if audio is not None and np.any(~np.isnan(audio)):
        audio_smooth = _smooth(audio, max(int(round(cfg.smooth_s / bin_s)), 1))
    calm = float(np.nanmedian(smooth))
    spread = float(np.nanpercentile(smooth, 90) - calm) or 1.0
    # Padded with the calm level so that a roar still rising when the footage ends (a goal
    # in the last seconds) or already high when it starts is a peak too.
    padded = np.r_[min(calm, smooth[0]), smooth, min(calm, smooth[-1])]
    peaks, _ = find_peaks(padded, prominence=cfg.min_prominence, distance=max(int(round(cfg.min_len_s / bin_s)), 1))
    peaks = np.clip(peaks - 1, 0, n - 1)
    replay = replay_mask(timeline)
    rstarts = replay_starts(timeline)
    cuts = cut_times(timeline)
    raw: list[tuple[float, float, int]] = []
    for p in peaks:
        level = calm + cfg.calm_fraction * (smooth[p] - calm)
        # Back to the last calm bin, no closer than min_pre_s and no further than pre_roll_s.
        lo = max(p - int(round(cfg.pre_roll_s / bin_s)), 0)
        s = p
        while s > lo and smooth[s - 1] > level:
            s -= 1
        # t[s] is where the excitement rose; the goal lies up to 3 s before a roar's onset.
        start = min(t[s] - cfg.onset_lead_s, t[p] - cfg.min_pre_s)
        hi = min(p + int(round(cfg.post_roll_s / bin_s)), n - 1)
        e = p
        while e < hi and smooth[e + 1] > level:
            e += 1
        end = max(t[e] + bin_s, t[p] + cfg.min_post_s)
        start, end = _snap(start, end, cuts, cfg.snap_to_cut_s, peak=float(t[p]))
        if replay[p]:
            # A replay candidate is the replay itself: it never reaches back into live play.
            # (The peak's bin is in the replay where the two overlap at all, as `replay_mask` marks it.)
            for a, b in timeline.replays:
                if a < t[p] + bin_s and t[p] < b:
                    start, end = max(start, float(a)), min(end, float(b))
        else:
            # A live moment ends where its replay package begins (the replay is its own candidate).
            nxt = [r for r in rstarts if t[p] < r < end]
            if nxt:
                end = max(nxt[0], start + min(cfg.min_len_s, nxt[0] - start))
        start, end = _fit_length(start, end, float(t[p]), cfg, duration)
        raw.append((start, end, int(p)))
    raw += _replay_context(raw, timeline, smooth, cfg, duration)
    merged = _merge(sorted(raw), replay, cfg.max_len_s)
    segments: list[Segment] = []
    for start, end, p in merged:
        i0, i1 = score_bins(start, end, bin_s)
        if not i0 <= p < i1:  # a split moved the edge past the peak: the top inside is the peak
            p = i0 + int(np.nanargmax(smooth[i0:i1]))
        components = {}
        for g, vals in curve.groups.items():
            window = vals[i0:i1]
            window = window[~np.isnan(window)]
            # A group's contribution: its weight share times its level around the peak.
            components[g] = float(curve.weights_used.get(g, 0.0) * np.max(window)) if len(window) else 0.0
        score = float(np.nanmax(sustained[i0:i1]) - calm) / spread
        bonus = 0.0
        if _followed_by_replay(float(t[p]), end, rstarts, cfg.replay_context_s) and not replay[min(p, n - 1)]:
            # Broadcasters replay what mattered: a replay right after is evidence in itself.
            bonus = cfg.replay_bonus
            score += bonus
            components["shots"] = components.get("shots", 0.0) + bonus
        seg = Segment(id="", start=float(start), end=float(end), peak=float(t[p] + bin_s / 2),
                      score=score, components=components, scored=(float(start), float(end), float(bonus)))
        # The core of the moment: from a little before the crowd and commentary rose to a
        # little after (a goal lies 0-3 s before its roar); selection shows every good
        # moment's core before it gives any moment its full length.
        rise = _onset(audio_smooth if audio_smooth is not None else smooth, i0, i1, bin_s, cfg.core_rise_fraction)
        core_a = max(seg.start, rise - cfg.core_pre_s)
        core_b = min(seg.end, max(rise + cfg.core_post_s, core_a + cfg.min_len_s))
        seg.core = (core_a, core_b)
        seg.anchor = float(min(max(rise, seg.start), seg.end))  # the onset bin may begin before a cut-snapped start
        segments.append(seg)
    segments.sort(key=lambda s: s.start)
    for k, seg in enumerate(segments):
        seg.id = f"s{k + 1:03d}"
    _mark_replays(segments, replay, bin_s)
    return segments


def _onset(x: np.ndarray, i0: int, i1: int, bin_s: float, calm_fraction: float) -> float:
    """Where `x` rose to its top inside bins [i0, i1): back from the top to the last bin at
    the match's calm level plus `calm_fraction` of the rise."""
    calm = float(np.nanmedian(x))
    top = i0 + int(np.nanargmax(x[i0:i1]))
    level = calm + calm_fraction * (x[top] - calm)
    r = top
    while r > i0 and x[r - 1] > level:
        r -= 1
    return float(r * bin_s)


def replay_starts(timeline: Timeline) -> list[float]:
    spans = timeline.replays
    return sorted(float(a) for a, _ in spans)


def _followed_by_replay(peak: float, end: float, starts: list[float], within_s: float) -> bool:
    """A replay package starts after the moment's peak, inside it or soon after its end."""
    return any(peak < r <= end + within_s for r in starts)


def _replay_context(raw: list[tuple[float, float, int]], timeline: Timeline, smooth: np.ndarray,
                    cfg: SegmentsConfig, duration: float) -> list[tuple[float, float, int]]:
    """A replay with no live candidate just before it: add the live moment it replays.

    The goal itself (or the celebration, when the goal happened before the footage) is the
    stretch before the replay starts; its excitement may be a plateau, not a peak.
    """
    bin_s = timeline.bin_s
    replay = replay_mask(timeline)
    live = [(s, e) for s, e, p in raw if not replay[min(p, len(replay) - 1)]]
    out = []
    for r in replay_starts(timeline):
        if any(r - cfg.replay_context_s <= e and s < r for s, e in live):
            continue
        start = max(r - cfg.replay_context_s, 0.0)
        if r - start < cfg.min_len_s:
            continue
        i0, i1 = int(start // bin_s), max(int(r // bin_s), int(start // bin_s) + 1)
        p = i0 + int(np.nanargmax(smooth[i0:i1]))
        out.append((start, float(r), p))
    return out


def _snap(start: float, end: float, cuts: np.ndarray, within_s: float, peak: float) -> tuple[float, float]:
    """Move edges outward onto nearby cuts, never inward past the moment itself."""
    if within_s <= 0 or len(cuts) == 0:
        return start, end
    before = cuts[(cuts <= start) & (cuts >= start - within_s)]
    if len(before):
        start = float(before.max())
    after = cuts[(cuts >= end) & (cuts <= end + within_s) & (cuts > peak)]
    if len(after):
        end = float(after.min())
    return start, end


def _fit_length(start: float, end: float, peak: float, cfg: SegmentsConfig, duration: float) -> tuple[float, float]:
    start, end = max(start, 0.0), min(end, duration)
    if end - start > cfg.max_len_s:
        # Keep the moment: trim the far side of whichever edge is further from the peak.
        pre = min(peak - start, cfg.max_len_s * 0.6)
        start = max(peak - pre, 0.0)
        end = min(start + cfg.max_len_s, duration)
    if end - start < cfg.min_len_s:
        grow = cfg.min_len_s - (end - start)
        start = max(start - grow / 2, 0.0)
        end = min(start + cfg.min_len_s, duration)
        start = max(end - cfg.min_len_s, 0.0)
    return start, end


def _merge(raw: list[tuple[float, float, int]], replay: np.ndarray, max_len_s: float) -> list[tuple[float, float, int]]:
    """Merge overlapping candidates (keeping the stronger peak), not across replay borders."""
    out: list[tuple[float, float, int]] = []
    for start, end, p in raw:
        if out and start < out[-1][1]:
            ps, pe, pp = out[-1]
            same_kind = bool(replay[min(pp, len(replay) - 1)]) == bool(replay[min(p, len(replay) - 1)])
            if same_kind and max(end, pe) - ps <= max_len_s:
                out[-1] = (ps, max(pe, end), pp)
                continue
            # Different kinds or too long together: split at the midpoint between the peaks.
            mid = (pe + start) / 2
            out[-1] = (ps, mid, pp)
            start = mid
        out.append((start, end, p))
    return out


def _mark_replays(segments: list[Segment], replay: np.ndarray, bin_s: float) -> None:
    """A segment whose peak lies in a replay shows a moment already shown: link it."""
    ordered = sorted(segments, key=lambda s: s.start)
    for i, seg in enumerate(ordered):
        b = min(int(seg.peak // bin_s), len(replay) - 1)
        if b < 0 or not replay[b]:
            continue
        # The moment being replayed: the latest earlier segment that is not itself a replay.
        for prev in reversed(ordered[:i]):
            pb = min(int(prev.peak // bin_s), len(replay) - 1)
            if not replay[pb]:
                seg.replay_of = prev.id
                break
        # No earlier live segment: the replay is the only showing of its moment, so it
        # stays a moment of its own (replay_of null).


def select(segments: list[Segment], target_s: float, min_score: float = 0.0, *,
           min_len_s: float = 0.0, keep_pre_s: float = 0.0, keep_post_s: float = 0.0,
           goal_replays: bool = False) -> list[Segment]:
    """Rank (live before replays, then kinds, see `rank_key`), then fill `target_s`: more
    good moments before longer ones.

    Pass 1 takes, best first, each eligible segment's core (a few seconds either side of
    where its excitement rose: the goal and its roar); the first one that fits only in part
    is cut down around its moment to the time left when that is at least `min_len_s`,
    unless it is a goal (a goal is shown whole or not at all: as many whole goals as fit,
    never every goal shrunk to fit); pass 2 grows the chosen ones, best
    first, back to their full extent while time is left (the rest of the attack, the
    celebration). Replays of a moment already shown and segments scoring below `min_score`
    stay candidates. Chronological result; deterministic (ties break on start time).
    Segments without a core (built elsewhere) are taken whole or trimmed around their peak.
    When even the best moment's core is longer than the whole reel and nothing else fits,
    the reel is that core cut down to `target_s` around the moment (not an empty reel).
    With `goal_replays`, a chosen goal also gets its longest replay, whole, where the reel
    has room after the cores of goals and chances and before other play (as broadcasters
    show a goal again).
    """
    for s in segments:
        s.selected = False
    ranked = sorted(segments, key=rank_key)
    for r, s in enumerate(ranked, 1):
        s.rank = r
    # A goal the broadcast's evidence shows is eligible whatever its excitement score.
    eligible = [s for s in ranked if s.replay_of is None and (s.score >= min_score or s.kind == "goal")]
    left = float(target_s)
    extent: dict[int, tuple[float, float]] = {}
    def add_goal_replays() -> None:
        # After the goals' and chances' cores, before other play: a goal shown again is
        # worth more than calm play, a chance not shown at all is worth more than a replay.
        nonlocal left
        for g in [s for s in eligible if id(s) in extent and s.kind == "goal"]:
            for r in sorted((r for r in segments if r.replay_of == g.id), key=lambda r: (-r.duration, r.start)):
                if r.duration <= left + 1e-9:
                    extent[id(r)] = (r.start, r.end)
                    left -= r.duration
                    r.selected = True
                    break

    replays_added = not goal_replays
    for s in eligible:
        if not replays_added and s.kind not in ("goal", "chance"):
            add_goal_replays()
            replays_added = True
        a, b = _core(s, keep_pre_s, keep_post_s, min_len_s)
        if b - a <= left + 1e-9:
            extent[id(s)] = (a, b)
            left -= b - a
        elif s.kind != "goal" and 0 < min_len_s <= left:
            # The last moment that fits only in part is cut down around its moment; a goal
            # never is (as many whole goals as fit, and the reel says which were left out).
            extent[id(s)] = _shrunk(s, a, b, left)
            left = 0.0
    if not extent and eligible and left > 1e-9:
        best = eligible[0]
        extent[id(best)] = _shrunk(best, *_core(best, keep_pre_s, keep_post_s, min_len_s), left)
        left = 0.0
    if not replays_added:
        add_goal_replays()
    # Pass 2: share the time left evenly among the chosen moments (water-filling), each up
    # to its full extent, so every chosen goal gets its attack and celebration alike.
    growing = [s for s in eligible if id(s) in extent]
    room = {id(s): (extent[id(s)][0] - s.start) + (s.end - extent[id(s)][1]) for s in growing}
    give = {id(s): 0.0 for s in growing}
    while left > 1e-6:
        open_ = [s for s in growing if room[id(s)] - give[id(s)] > 1e-6]
        if not open_:
            break
        share = left / len(open_)
        for s in open_:
            add = min(share, room[id(s)] - give[id(s)])
            give[id(s)] += add
            left -= add
    for s in growing:
        a, b = extent[id(s)]
        g = give[id(s)]
        pre = min(a - s.start, g * 0.6)
        post = min(s.end - b, g - pre)
        pre = min(a - s.start, g - post)
        extent[id(s)] = (a - pre, b + post)
    for s in eligible:
        if id(s) in extent:
            a, b = extent[id(s)]
            if (a, b) != (s.start, s.end):
                s.trimmed_from = (s.start, s.end)
                s.start, s.end = float(a), float(b)
                s.peak = float(min(max(s.peak, s.start), s.end))  # the top of what is shown
            s.selected = True
    return sorted([s for s in segments if s.selected], key=lambda s: s.start)


def trim_shot_fragments(segments: list[Segment], cuts: np.ndarray, min_shot_s: float,
                        cut_margin_s: float = 0.0) -> list[str]:
    """A selected segment never opens or closes on a fragment of another shot: an edge with
    a cut less than `min_shot_s` inside it moves onto that cut, unless that would cut off
    the moment itself (or leave under half the segment): less than `min_shot_s` of another
    shot is never the attack or the celebration. The time cut off is given back at the
    other edge where the candidate reaches further (up to a cut, never onto a new
    fragment), so the reel keeps its length. An edge on a cut then steps `cut_margin_s`
    inside: a cut's time lies midway between two analysis frames, so up to that much of
    the other shot would otherwise open or close the segment. Returns notes of what moved."""
    notes = []
    cuts = np.asarray(cuts, float)
    if min_shot_s <= 0 or not len(cuts):
        return notes
    for s in segments:
        if not s.selected:
            continue
        at = s.moment
        lo, hi = s.trimmed_from if s.trimmed_from else (s.start, s.end)
        head = cuts[(cuts > s.start + 1e-6) & (cuts < s.start + min_shot_s)]
        if len(head) and head.max() <= at and (s.end - head.max()) >= 0.5 * s.duration:
            gone = float(head.max()) - s.start
            s.start = float(head.max())
            s.end = _give_back(s.end, min(s.end + gone, hi), cuts, min_shot_s, +1)
            notes.append(f"{s.id} opens {gone:.1f} s later, on the cut (not on a fragment of another shot)")
        tail = cuts[(cuts < s.end - 1e-6) & (cuts > s.end - min_shot_s)]
        if len(tail) and tail.min() >= at and (tail.min() - s.start) >= 0.5 * s.duration:
            gone = s.end - float(tail.min())
            s.end = float(tail.min())
            s.start = _give_back(s.start, max(s.start - gone, lo), cuts, min_shot_s, -1)
            notes.append(f"{s.id} closes {gone:.1f} s earlier, on the cut")
        if cut_margin_s > 0 and s.duration > 4 * cut_margin_s:
            if np.any(np.abs(cuts - s.start) < 1e-3):
                s.start += cut_margin_s
            if np.any(np.abs(cuts - s.end) < 1e-3):
                s.end -= cut_margin_s
        s.peak = float(min(max(s.peak, s.start), s.end))
    return notes


def _give_back(edge: float, want: float, cuts: np.ndarray, min_shot_s: float, direction: int) -> float:
    """`edge` moved toward `want` (outward: +1 later, -1 earlier), but never so that it
    ends less than `min_shot_s` into a shot that begins in the added stretch: then it
    stops on that shot's cut."""
    if direction * (want - edge) <= 1e-6:
        return edge
    a, b = sorted((edge, want))
    inside = cuts[(cuts >= a - 1e-6) & (cuts <= b + 1e-6)]  # a cut on the old edge counts
    if direction > 0:  # the new end would close on a fragment of the shot its last cut opens
        new = inside[want - inside < min_shot_s]
        return float(new.max()) if len(new) else float(want)
    new = inside[inside - want < min_shot_s]  # the new start would open on a fragment
    return float(new.min()) if len(new) else float(want)


def keep_to_one_broadcast(segments: list[Segment], joins: list[float]) -> list[str]:
    """No candidate crosses a join between two broadcasts (a montage of matches, see
    `scorebug.footage_joins`): one that does is cut at the join, on the side of its moment
    (another match's play is not this moment's attack). Returns a note of what was cut."""
    cut = []
    for s in segments:
        inside = [j for j in joins if s.start + 1e-6 < j < s.end - 1e-6]
        if not inside:
            continue
        at = s.moment
        lo = max([j for j in inside if j <= at], default=s.start)
        hi = min([j for j in inside if j > at], default=s.end)
        if (lo, hi) == (s.start, s.end):
            continue
        cut.append(f"{s.id} at {lo if lo != s.start else hi:.1f} s")
        s.start, s.end = float(lo), float(hi)
        if s.core:
            s.core = (min(max(s.core[0], lo), hi), max(min(s.core[1], hi), lo))
        s.peak = float(min(max(s.peak, lo), hi))
    if not cut:
        return []
    return ["footage from another broadcast (another score bug) cut off the candidates that reached into it: "
            + ", ".join(cut)]


def widen_goal_cores(segments: list[Segment], cfg: SegmentsConfig, duration_s: float) -> None:
    """A goal's core, what selection never trims below, runs from the attack that led to it
    (`goal_core_pre_s` before its audio rose: the ball goes in up to 3 s before the roar) to
    the first seconds of the celebration (`goal_core_post_s` after); the candidate grows to
    hold it where its neighbours leave room."""
    ordered = sorted(segments, key=lambda s: s.start)
    for i, s in enumerate(ordered):
        if s.kind != "goal" or s.replay_of is not None:
            continue
        at = s.moment
        a, b = s.core if s.core else (s.start, s.end)
        if a > at:  # the core was cut around the celebration's sound, after the goal: cut it anew
            a, b = at, at
        # The candidate grows to hold the moment, up to its neighbours (never over them).
        lo = ordered[i - 1].end if i > 0 else 0.0
        hi = ordered[i + 1].start if i + 1 < len(ordered) else duration_s
        s.start = max(min(s.start, at - cfg.goal_core_pre_s), lo, 0.0)
        s.end = min(max(s.end, at + cfg.goal_core_post_s), hi, duration_s)
        s.core = (max(s.start, min(a, at - cfg.goal_core_pre_s)), min(s.end, max(b, at + cfg.goal_core_post_s)))


def score_bins(start: float, end: float, bin_s: float) -> tuple[int, int]:
    """The bins [i0, i1) a candidate spanning [start, end] is scored over."""
    i0 = int(start // bin_s)
    return i0, max(int(np.ceil(end / bin_s)), i0 + 1)


def candidate_scores(timeline: Timeline, segments: list[Segment], weights: WeightsConfig | dict[str, float],
                     column_weights: dict[str, float] | None, smooth_s: float, window_s: float) -> dict[str, float]:
    """Each candidate's score under other weights, over the span it was scored on
    (`Segment.scored`, else its own): as `build_segments` scores, the best `window_s`
    stretch of the excitement curve against the match's calm (median of the `smooth_s`
    curve) and spread (its 90th percentile above calm), plus its replay bonus, which no
    weight changes. The review page's weight sliders run the same sums in the browser."""
    curve = excitement_curve(timeline, weights, column_weights)
    bin_s = timeline.bin_s
    if not len(curve.score) or np.all(np.isnan(curve.score)):
        return {s.id: 0.0 for s in segments}
    smooth = _smooth(curve.score, max(int(round(smooth_s / bin_s)), 1))
    sustained = _smooth(curve.score, max(int(round(window_s / bin_s)), 1))
    calm = float(np.nanmedian(smooth))
    spread = float(np.nanpercentile(smooth, 90) - calm) or 1.0
    out = {}
    for s in segments:
        a, b, bonus = s.scored or (s.start, s.end, 0.0)
        i0, i1 = score_bins(a, b, bin_s)
        out[s.id] = float(np.nanmax(sustained[i0:i1]) - calm) / spread + bonus
    return out


def ranks_by(segments: list[Segment], scores: dict[str, float]) -> dict[str, int]:
    """Ranks (1 = best, `rank_key` order) of `segments` with these scores."""
    import dataclasses

    order = sorted(segments, key=lambda s: rank_key(dataclasses.replace(s, score=scores[s.id])))
    return {s.id: i + 1 for i, s in enumerate(order)}


def rank_key(s: Segment) -> tuple:
    """Live moments before replays (a chance not shown at all is worth more than a goal
    shown twice, as `select` composes the reel); then goals, chances, other play
    (unclassified counts as other); within a kind by score; ties on start time."""
    kind = s.kind if s.kind in KINDS else "other"
    return (s.replay_of is not None, KINDS.index(kind), -s.score, s.start)


def _shrunk(s: Segment, a: float, b: float, length: float) -> tuple[float, float]:
    """The core [a, b] cut down to `length`, keeping its proportions before and after the
    moment (its anchor, else its peak): a moment keeps its run-up share and its roar share;
    a goal keeps three quarters before the moment (the shot comes before the roar)."""
    at = min(max(s.moment, a), b)
    if s.kind == "goal":
        # The ball goes in before the crowd and the commentator rise: three quarters of
        # what is kept lies before the moment.
        lo = min(max(at - 0.75 * length, a), b - length)
        return lo, lo + length
    f = length / (b - a)
    return at - (at - a) * f, at + (b - at) * f


def _core(s: Segment, keep_pre_s: float, keep_post_s: float, min_len_s: float) -> tuple[float, float]:
    core = getattr(s, "core", None)
    if core:
        return core
    a = max(s.start, s.peak - keep_pre_s)
    b = min(s.end, max(s.peak + keep_post_s, a + min_len_s))
    return a, b


def target_duration(duration_s: float, cfg: SegmentsConfig, override_s: float | None = None) -> float:
    """Reel length: the override, else `target_duration_s`, else `target_fraction` of the
    input but never under `min_target_s` (a 12 s clip at 10% would leave 1 s, shorter than
    any moment), and never longer than the input itself."""
    if override_s is not None:
        return float(override_s)
    if cfg.target_duration_s is not None:
        return float(cfg.target_duration_s)
    return float(min(max(duration_s * cfg.target_fraction, cfg.min_target_s), duration_s))


def fit_goals(segments: list[Segment], target_s: float, duration_s: float, cfg: SegmentsConfig) -> tuple[float, str | None]:
    """A reel length that comes from `target_fraction` grown, with `fraction_fits_goals`, to
    hold every live goal's whole moment (its core): a match's highlights hold its goals
    whatever their number. Returns (target, a note when it grew). Call only when no length
    was given in seconds: that one is the user's and is kept."""
    goals = [s for s in segments if s.kind == "goal" and s.replay_of is None]
    if not cfg.fraction_fits_goals or not goals:
        return target_s, None
    need = sum(b - a for a, b in (_core(s, cfg.min_pre_s, cfg.min_post_s, cfg.min_len_s) for s in goals))
    need = min(need, duration_s)
    if need <= target_s + 1e-6:
        return target_s, None
    return need, (f"reel lengthened from {target_s:.0f} s to {need:.0f} s to hold all {len(goals)} goals' moments "
                  f"(segments.fraction_fits_goals; --target-duration sets a fixed length)")



# ----------------------------------------------------------------------------- reasons

# (raw column, phrase template, minimum worth mentioning); the value v is the window maximum,
# d the seconds at h = half of it or more. What the numbers were, not evidence: "sustained"
# (z against the match's baseline held for seconds) is the event evidence's word (events.py).
_PHRASES = {
    "audio_roar": ("crowd roar up to +{v:.0f} dB ({d:g} s over +{h:.0f} dB)", 1.0),
    "audio_loudness": ("loudness +{v:.0f} dB over the match baseline", 1.0),
    "audio_voice": ("commentator's pitch up {v:.0f} semitones", 1.0),
    "audio_onsets": ("{v:.1f} sound onsets/s", 0.0),
    "motion_sprinters": ("{v:.0f} players sprinting", 1.0),
    "motion_speed": ("top player speed {v:.1f} m/s", 0.0),
    "motion_ball_speed": ("ball at {v:.0f} m/s", 3.0),
    "motion_pan": ("camera pan {v:.1f} screen-widths/s", 0.05),
    "motion_converging": ("players converging at {v:.1f} m/s", 0.5),
}


def _window(values: np.ndarray, seg: Segment, bin_s: float) -> np.ndarray:
    i0 = int(seg.start // bin_s)
    i1 = max(int(np.ceil(seg.end / bin_s)), i0 + 1)
    return np.asarray(values, float)[i0:i1]


def reason_for(seg: Segment, timeline: Timeline) -> str:
    """A sentence built from the raw numbers behind the segment's score, strongest first."""
    raw = timeline.raw
    bin_s = timeline.bin_s
    phrases: list[tuple[float, str]] = []
    for col, (template, floor) in _PHRASES.items():
        if col not in raw:
            continue
        w = _window(raw[col], seg, bin_s)
        w = w[~np.isnan(w)]
        if not len(w):
            continue
        v = float(np.max(w))
        if v < floor or (floor == 0.0 and v <= 0):
            continue
        h = max(v / 2, floor)
        d = max(float(np.sum(w >= h)) * bin_s, bin_s)
        z = timeline.columns.get(col)
        zmax = float(np.nanmax(_window(z, seg, bin_s))) if z is not None and np.any(~np.isnan(_window(z, seg, bin_s))) else 0.0
        phrases.append((zmax, template.format(v=v, d=d, h=h)))
    phrases.sort(key=lambda p: -p[0])
    parts = [p for _, p in phrases[:4]]
    cuts = cut_times(timeline)
    inside = cuts[(cuts > seg.start) & (cuts < seg.end)]
    scale = timeline.columns.get("shots_closeup")
    if scale is not None:
        after = _window(scale, Segment("", seg.peak, seg.end, seg.peak, 0, {}), bin_s)
        if np.nanmax(np.nan_to_num(after, nan=0.0), initial=0.0) > 0.5:
            parts.append("close-up after the peak")
    if len(inside):
        parts.append(f"{len(inside)} cut{'s' if len(inside) != 1 else ''} inside")
    if seg.replay_of:
        parts.insert(0, f"replay of {seg.replay_of}")
    if not parts:
        parts.append(f"excitement {seg.score:.2f} above the match's calm level")
    return "; ".join(parts)


def explain_selection(segments: list[Segment], target_s: float, min_score: float) -> None:
    """Append why a candidate was left out, so the evidence covers the rest too."""
    total = sum(s.duration for s in segments if s.selected)
    for s in segments:
        if s.selected:
            full = getattr(s, "trimmed_from", None)
            if full:
                s.reason += f"; trimmed to fit the reel (candidate {full[0]:.1f}-{full[1]:.1f} s)"
            continue
        if s.replay_of is not None:
            why = "left out: replay of a moment already shown"
        elif s.score < min_score:
            why = f"left out: score {s.score:.2f} below the minimum {min_score:.2f}"
        else:
            why = f"left out: reel full ({total:.0f} of {target_s:.0f} s used, this one is {s.duration:.0f} s)"
        s.reason = f"{s.reason}; {why}" if s.reason else why
