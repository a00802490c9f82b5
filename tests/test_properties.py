"""Property-based tests (hypothesis) for the timeline maths, the excitement curve's weights
and event evaluation. Selection invariants (disjoint, in range, within target, deterministic)
live in tests/test_segments.py; these add what they do not cover.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from pipeline.config import load_config
from pipeline.evaluate import evaluate_events
from pipeline.segments import GROUPS, build_segments, excitement_curve, select
from pipeline.signals.timeline import bin_index, bin_starts, build_timeline, n_bins, robust_z

CFG = load_config()
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def arrays_with_gaps(draw, min_size=1, max_size=200):
    n = draw(st.integers(min_size, max_size))
    values = draw(st.lists(finite, min_size=n, max_size=n))
    gaps = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    x = np.array(values, np.float64)
    x[np.array(gaps, bool)] = np.nan
    return x


# ---------------------------------------------------------------- robust_z


@settings(max_examples=150, deadline=None)
@given(x=arrays_with_gaps(), min_scale=st.floats(1e-3, 100), clip_z=st.floats(1, 20))
def test_robust_z_bounded_centred_gaps_kept_order_kept(x, min_scale, clip_z):
    z, med, scale = robust_z(x, min_scale, clip_z)
    gap = np.isnan(x)
    assert np.array_equal(np.isnan(z), gap), "a gap stays a gap and nothing else becomes one"
    if gap.all():
        return
    zf, xf = z[~gap], x[~gap]
    assert np.all(np.abs(zf) <= clip_z + 1e-12)
    assert scale >= min_scale
    assert abs(float(np.median(zf))) <= 1e-9 * max(1.0, abs(med) / scale), "the match's own median is 0"
    order = np.argsort(xf, kind="stable")
    assert np.all(np.diff(zf[order]) >= -1e-12), "louder never scores lower"


@settings(max_examples=100, deadline=None)
@given(x=arrays_with_gaps(min_size=3), a=st.floats(0.01, 100), b=st.floats(-1000, 1000),
       min_scale=st.floats(1e-3, 10))
def test_robust_z_does_not_depend_on_units(x, a, b, min_scale):
    """dB or linear, metres or pixels: an affine change of units (with the floor in the same
    units) gives the same z."""
    assume(np.isfinite(x).any())
    z1, _, _ = robust_z(x, min_scale, 6.0)
    z2, _, _ = robust_z(a * x + b, a * min_scale, 6.0)
    np.testing.assert_allclose(z1, z2, atol=1e-6 * (1 + np.nanmax(np.abs(x)) / min_scale), equal_nan=True)


# ---------------------------------------------------------------- bins


@settings(max_examples=200, deadline=None)
@given(duration=st.floats(0.01, 20000), bin_s=st.sampled_from([0.1, 0.25, 0.5, 1.0, 2.0]))
def test_bins_cover_the_duration_exactly(duration, bin_s):
    n = n_bins(duration, bin_s)
    starts = bin_starts(duration, bin_s)
    assert len(starts) == n >= 1
    assert n * bin_s >= duration - 1e-6 and (n - 1) * bin_s < duration
    np.testing.assert_allclose(np.diff(starts), bin_s)


@settings(max_examples=200, deadline=None)
@given(ts=st.lists(st.floats(-100, 2000, allow_nan=False), min_size=1, max_size=100),
       bin_s=st.sampled_from([0.1, 0.25, 0.5, 1.0]), n=st.integers(1, 3000))
def test_bin_index_puts_each_time_in_its_bin(ts, bin_s, n):
    t = np.array(sorted(ts))
    idx = bin_index(t, bin_s, n)
    inside = idx >= 0
    assert np.all(np.diff(idx[inside]) >= 0), "later times never fall in earlier bins"
    # In range: the bin holds the time (up to the 1e-9 tolerance for float bin edges).
    assert np.all(idx[inside] * bin_s <= t[inside] + 1e-6)
    assert np.all(t[inside] < (idx[inside] + 1) * bin_s + 1e-6)
    # Outside [0, n * bin_s) is -1, inside never is.
    assert np.all(idx[(t < -1e-6) | (t >= n * bin_s + 1e-6)] == -1)
    assert np.all(inside[(t >= 1e-6) & (t < n * bin_s - 1e-6)])


@settings(max_examples=80, deadline=None)
@given(duration=st.floats(1, 300), data=st.data())
def test_build_timeline_shapes_gaps_and_passthrough(duration, data):
    bin_s = 0.5
    n = n_bins(duration, bin_s)
    lengths = data.draw(st.lists(st.integers(0, n + 20), min_size=2, max_size=2))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    loud = rng.normal(0, 3, lengths[0])
    loud[rng.random(lengths[0]) < 0.2] = np.nan
    cut = (rng.random(lengths[1]) < 0.1).astype(float)
    tl = build_timeline(duration, bin_s, {"audio_loudness": loud, "shots_cut": cut}, {}, clip_z=6.0,
                        min_scale={"audio_loudness": 2.0})
    assert len(tl.t_s) == n and all(len(c) == n for c in tl.columns.values())
    z = tl.columns["audio_loudness"]
    k = min(lengths[0], n)
    assert np.array_equal(np.isnan(z[:k]), np.isnan(loud[:k])), "gaps stay where they were"
    assert np.all(np.isnan(z[k:])), "missing tail bins are gaps, not calm play"
    assert np.all(np.abs(z[~np.isnan(z)]) <= 6.0)
    np.testing.assert_array_equal(tl.columns["shots_cut"][: min(lengths[1], n)], cut[:n])
    np.testing.assert_array_equal(tl.raw["audio_loudness"][:k], loud[:k])


# ---------------------------------------------------------------- weights


@st.composite
def scored_timelines(draw):
    n = draw(st.integers(40, 300))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    cols = {}
    for name in ("audio_roar", "motion_speed", "motion_pan", "shots_cut"):
        x = rng.normal(0, 2, n)
        for _ in range(draw(st.integers(0, 3))):
            c, w, h = rng.uniform(0, n * 0.5), rng.uniform(1, 5), rng.uniform(3, 15)
            x += h * np.exp(-0.5 * ((np.arange(n) * 0.5 - c) / w) ** 2)
        x[rng.random(n) < draw(st.floats(0, 0.3))] = np.nan
        cols[name] = x
    return build_timeline(n * 0.5, 0.5, cols, {}, clip_z=CFG.signals.clip_z, min_scale=CFG.signals.min_scale)


weights_st = st.fixed_dictionaries({g: st.floats(0.05, 1.0) for g in GROUPS})


@settings(max_examples=60, deadline=None)
@given(tl=scored_timelines(), w=weights_st, k=st.floats(0.1, 10))
def test_only_relative_weights_matter(tl, w, k):
    """Weights (1, 2, 1) and (0.5, 1, 0.5) mean the same: the curve and the reel are equal."""
    a = excitement_curve(tl, w)
    b = excitement_curve(tl, {g: k * v for g, v in w.items()})
    np.testing.assert_allclose(a.score, b.score, rtol=1e-9, atol=1e-9, equal_nan=True)
    sa = build_segments(tl, a, CFG.segments)
    sb = build_segments(tl, b, CFG.segments)
    ra = select(sa, 30.0, CFG.segments.min_score)
    rb = select(sb, 30.0, CFG.segments.min_score)
    assert [(s.start, s.end) for s in ra] == [(s.start, s.end) for s in rb]


@settings(max_examples=60, deadline=None)
@given(tl=scored_timelines(), w=weights_st)
def test_curve_is_a_weighted_mean_of_the_groups(tl, w):
    """Each bin's excitement lies between its lowest and highest group value: a weight moves
    the curve toward its group, never beyond any group."""
    c = excitement_curve(tl, w)
    g = np.vstack([c.groups[k] for k in c.groups])
    ok = ~np.isnan(c.score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # bins where every group is a gap
        lo, hi = np.nanmin(g, axis=0), np.nanmax(g, axis=0)
    assert np.all(c.score[ok] >= lo[ok] - 1e-9) and np.all(c.score[ok] <= hi[ok] + 1e-9)
    assert np.array_equal(ok, ~np.all(np.isnan(g), axis=0)), "NaN only where every group is missing"


@settings(max_examples=60, deadline=None)
@given(tl=scored_timelines(), w=weights_st, g=st.sampled_from(["audio", "motion"]), extra=st.floats(0.1, 5))
def test_more_weight_on_a_group_pulls_the_curve_toward_it(tl, w, g, extra):
    """Monotone in the weights: raising one group's weight moves every bin's score toward
    that group's value (never away from it)."""
    before = excitement_curve(tl, w)
    after = excitement_curve(tl, dict(w, **{g: w[g] + extra}))
    v = before.groups[g]
    ok = ~np.isnan(v) & ~np.isnan(before.score)
    assert np.all(np.abs(after.score[ok] - v[ok]) <= np.abs(before.score[ok] - v[ok]) + 1e-9)


# ---------------------------------------------------------------- evaluation


@st.composite
def reels(draw):
    duration = draw(st.floats(60, 3000))
    n_seg = draw(st.integers(0, 12))
    segs = []
    for i in range(n_seg):
        a = draw(st.floats(0, duration - 1))
        b = min(duration, a + draw(st.floats(1, 60)))
        segs.append({"id": f"s{i:03d}", "start": a, "end": b, "rank": i + 1, "selected": draw(st.booleans())})
    events = []
    for _ in range(draw(st.integers(0, 8))):
        t = draw(st.floats(0, duration))
        events.append({"type": draw(st.sampled_from(["goal", "chance"])), "time": t,
                       "start": max(0.0, t - draw(st.floats(0, 30))), "end": min(duration, t + draw(st.floats(0, 30)))})
    return duration, segs, {"events": events}


def _selected_union_s(segs) -> float:
    iv = sorted((s["start"], s["end"]) for s in segs if s["selected"])
    total, end = 0.0, -math.inf
    for a, b in iv:
        if b > end:
            total += b - max(a, end)
            end = b
    return total


@settings(max_examples=150, deadline=None)
@given(r=reels())
def test_evaluation_figures_are_shares_and_reel_is_the_union(r):
    duration, segs, truth = r
    res = evaluate_events(segs, truth, duration)
    for k in ("goal_recall", "chance_recall", "precision"):
        assert res[k] is None or 0.0 <= res[k] <= 1.0 + 1e-9
    assert res["reel_s"] == pytest.approx(_selected_union_s(segs), abs=1e-3)
    assert res["goals"] + res["chances"] == len(truth["events"])


@settings(max_examples=150, deadline=None)
@given(r=reels(), which=st.integers(0, 11))
def test_adding_a_segment_to_the_reel_never_loses_an_event(r, which):
    duration, segs, truth = r
    assume(segs)
    seg = segs[which % len(segs)]
    seg["selected"] = False
    before = evaluate_events(segs, truth, duration)
    seg["selected"] = True
    after = evaluate_events(segs, truth, duration)
    for e0, e1 in zip(before["events"], after["events"]):
        assert e1["in_reel"] or not e0["in_reel"]


@settings(max_examples=80, deadline=None)
@given(r=reels())
def test_the_whole_video_as_reel_finds_every_event(r):
    duration, _, truth = r
    res = evaluate_events([{"id": "all", "start": 0.0, "end": duration, "rank": 1, "selected": True}], truth, duration)
    assert all(e["in_reel"] for e in res["events"])
    if truth["events"] and any(e["end"] > e["start"] for e in truth["events"]):
        assert res["precision"] is not None and res["precision"] > 0
