"""Segments: excitement curve, whole moments around peaks, replays, selection, reasons."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from pipeline.config import load_config
from pipeline.segments import build_segments, excitement_curve, reason_for, select, target_duration
from pipeline.signals.timeline import build_timeline

CFG = load_config()
BIN = 0.5


def make_timeline(duration_s: float, cols: dict[str, np.ndarray], meta: dict | None = None):
    return build_timeline(duration_s, BIN, cols, meta or {}, clip_z=CFG.signals.clip_z, min_scale=CFG.signals.min_scale)


def bump(n: int, centre_s: float, width_s: float, height: float, base: np.ndarray | None = None) -> np.ndarray:
    t = np.arange(n) * BIN
    x = np.zeros(n) if base is None else base.copy()
    return x + height * np.exp(-0.5 * ((t - centre_s) / width_s) ** 2)


def calm(n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, scale, n)


def test_goal_segment_holds_the_attack_and_the_roar():
    """Roar 2 s after the goal, commentary rising through the attack: the whole goal is kept."""
    dur, goal = 120.0, 60.0
    n = int(dur / BIN)
    roar = bump(n, goal + 4.0, 2.5, 18.0, calm(n, 1, 1.5))
    speed = bump(n, goal - 5.0, 3.0, 5.0, 6 + calm(n, 2, 0.7))
    tl = make_timeline(dur, {"audio_roar": roar, "motion_speed": speed})
    curve = excitement_curve(tl, CFG.weights)
    segs = build_segments(tl, curve, CFG.segments)
    best = max(segs, key=lambda s: s.score)
    assert best.start <= goal - 3.0 and best.end >= goal + 1.0
    assert CFG.segments.min_len_s <= best.duration <= CFG.segments.max_len_s


def test_missing_group_weight_is_redistributed_and_said():
    n = 200
    cols = {"audio_roar": np.full(n, np.nan), "motion_speed": bump(n, 50, 3, 6, 6 + calm(n, 3, 0.5))}
    tl = make_timeline(n * BIN, cols)
    curve = excitement_curve(tl, CFG.weights)
    assert curve.weights_used["audio"] == 0.0
    assert curve.weights_used["motion"] > 0.5
    assert any("audio" in note and "redistributed" in note for note in curve.notes)
    # Where audio is missing the curve is the motion group's value, not diluted by a zero.
    assert np.allclose(curve.score[~np.isnan(curve.score)], curve.groups["motion"][~np.isnan(curve.score)])


def test_zero_weight_turns_a_group_off():
    n = 200
    tl = make_timeline(n * BIN, {"audio_roar": bump(n, 50, 3, 20, calm(n, 4)), "motion_speed": bump(n, 20, 3, 6, 6 + calm(n, 5, 0.5))})
    w = CFG.weights.model_copy(update={"audio": 0.0})
    curve = excitement_curve(tl, w)
    segs = build_segments(tl, curve, CFG.segments)
    top = max(segs, key=lambda s: s.score)
    assert abs(top.peak - 20) < 3  # only the motion bump counts


def test_replay_is_linked_and_not_selected():
    dur = 100.0
    n = int(dur / BIN)
    roar = bump(n, 30, 2.5, 16, calm(n, 6))
    roar = bump(n, 55, 2.5, 12, roar)  # crowd noise again during the replay
    replay = np.zeros(n)
    replay[int(50 / BIN): int(60 / BIN)] = 1
    tl = make_timeline(dur, {"audio_roar": roar, "shots_replay": replay})
    segs = build_segments(tl, excitement_curve(tl, CFG.weights), CFG.segments)
    live = [s for s in segs if s.replay_of is None and abs(s.peak - 30) < 3]
    rep = [s for s in segs if 50 <= s.peak <= 60]
    assert live and rep
    assert rep[0].replay_of == live[0].id
    select(segs, 60.0, CFG.segments.min_score)
    assert not rep[0].selected and live[0].selected


def test_reason_quotes_the_numbers():
    dur = 60.0
    n = int(dur / BIN)
    roar = np.zeros(n)
    roar[int(30 / BIN): int(37 / BIN)] = 11.0  # +11 dB for 7 s
    sprint = np.zeros(n)
    sprint[int(26 / BIN): int(29 / BIN)] = 5.0
    pan = np.full(n, 0.1)
    pan[int(27 / BIN)] = 2.3
    tl = make_timeline(dur, {"audio_roar": roar, "motion_sprinters": sprint, "motion_pan": pan})
    segs = build_segments(tl, excitement_curve(tl, CFG.weights), CFG.segments)
    seg = max(segs, key=lambda s: s.score)
    text = reason_for(seg, tl)
    assert "crowd roar up to +11 dB (7 s over +6 dB)" in text
    assert "5 players sprinting" in text
    assert "camera pan 2.3 screen-widths/s" in text


def test_target_duration_default_is_a_fraction():
    assert target_duration(600, CFG.segments) == pytest.approx(600 * CFG.segments.target_fraction)
    # A short clip gets at least min_target_s, but never more than itself.
    assert target_duration(120, CFG.segments) == CFG.segments.min_target_s
    assert target_duration(12, CFG.segments) == 12
    assert target_duration(600, CFG.segments, 45) == 45


# ----------------------------------------------------------------------------- properties


@st.composite
def timelines(draw):
    n = draw(st.integers(min_value=20, max_value=400))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    cols = {}
    for name in ("audio_roar", "audio_loudness", "motion_speed", "motion_pan"):
        if draw(st.booleans()):
            x = rng.normal(0, 2, n)
            for _ in range(draw(st.integers(0, 4))):
                x = bump(n, rng.uniform(0, n * BIN), rng.uniform(1, 6), rng.uniform(2, 20), x)
            gaps = rng.random(n) < draw(st.floats(0, 0.5))
            x[gaps] = np.nan
            cols[name] = x
    if draw(st.booleans()):
        cols["shots_replay"] = (rng.random(n) < 0.1).astype(float)
    partial = draw(st.sampled_from([0.0, 0.1, 0.42]))  # the last bin may hold less than BIN of video
    return make_timeline(n * BIN - partial, cols,
                         {"cuts": sorted(rng.uniform(0, n * BIN - partial, draw(st.integers(0, 8))).tolist())})


@settings(max_examples=60, deadline=None)
@given(tl=timelines(), target=st.floats(5, 200), w_audio=st.floats(0, 1), w_motion=st.floats(0, 1))
def test_selection_invariants(tl, target, w_audio, w_motion):
    weights = CFG.weights.model_copy(update={"audio": w_audio, "motion": w_motion})
    curve = excitement_curve(tl, weights)
    segs = build_segments(tl, curve, CFG.segments)
    chosen = select(segs, target, CFG.segments.min_score, min_len_s=CFG.segments.min_len_s,
                    keep_pre_s=CFG.segments.min_pre_s, keep_post_s=CFG.segments.min_post_s)
    duration = tl.duration_s  # the input's, not the bins' (a partial last bin)
    for s in segs:
        assert 0.0 <= s.start < s.end <= duration + 1e-9
        assert s.start <= s.peak <= s.end + BIN
    # Disjoint, chronological, within the target.
    for a, b in zip(chosen, chosen[1:]):
        assert a.end <= b.start + 1e-9
    assert sum(s.duration for s in chosen) <= target + 1e-6
    assert all(s.replay_of is None for s in chosen)
    # Ranks are a permutation 1..n; ids follow start time.
    assert sorted(s.rank for s in segs) == list(range(1, len(segs) + 1))
    assert [s.id for s in sorted(segs, key=lambda s: s.start)] == [f"s{i + 1:03d}" for i in range(len(segs))]
    # Deterministic.
    again = build_segments(tl, excitement_curve(tl, weights), CFG.segments)
    select(again, target, CFG.segments.min_score, min_len_s=CFG.segments.min_len_s,
           keep_pre_s=CFG.segments.min_pre_s, keep_post_s=CFG.segments.min_post_s)
    assert [(s.start, s.end, s.selected, s.rank) for s in again] == [(s.start, s.end, s.selected, s.rank) for s in segs]


@settings(max_examples=40, deadline=None)
@given(tl=timelines(), target=st.floats(5, 100))
def test_best_moment_is_shown_whenever_its_core_fits(tl, target):
    """The top-ranked eligible segment is in the reel whenever its core fits the target, and
    when nothing fits it is still shown, cut down to the target: never an empty reel."""
    segs = build_segments(tl, excitement_curve(tl, CFG.weights), CFG.segments)
    chosen = select(segs, target, CFG.segments.min_score)
    eligible = [s for s in segs if s.replay_of is None and s.score >= CFG.segments.min_score]
    if not eligible:
        return
    best = min(eligible, key=lambda s: s.rank)
    core = best.core[1] - best.core[0]
    others = [s for s in chosen if s is not best]
    assert best.selected == (core <= target + 1e-9 or not others)
    assert chosen and sum(s.duration for s in chosen) <= target + 1e-6
    if core > target + 1e-9 and not others:
        assert best.duration == pytest.approx(target)
        assert best.start - 1e-9 <= best.anchor <= best.end + 1e-9


def test_more_moments_before_longer_ones():
    """Three equal moments with 20 s candidates and a 30 s target: all three cores are shown."""
    dur = 300.0
    n = int(dur / BIN)
    roar = calm(n, 9, 1.0)
    for c in (60, 150, 240):
        roar = bump(n, c, 3.0, 18.0, roar)
    tl = make_timeline(dur, {"audio_roar": roar, "audio_loudness": roar / 2})
    segs = build_segments(tl, excitement_curve(tl, CFG.weights), CFG.segments)
    chosen = select(segs, 30.0, CFG.segments.min_score)
    assert len(chosen) == 3
    assert sum(s.duration for s in chosen) <= 30.0 + 1e-6


def test_a_replay_starting_inside_a_bin_does_not_swallow_the_live_goal_before_it():
    """The roar of a goal still high as its replay package begins, mid-bin: the candidate at
    that bin is the replay, and the goal before it stays a live moment of its own."""
    dur = 100.0
    n = int(dur / BIN)
    t = np.arange(n) * BIN
    roar = bump(n, 50.0, 3.0, 20.0, calm(n, 7, 0.5))  # tops in the bin where the replay begins
    start = 50.3  # the package begins 0.3 s into bin 50.0-50.5
    replay = ((t + BIN > start) & (t < 60.0)).astype(float)
    tl = make_timeline(dur, {"audio_roar": roar, "shots_replay": replay}, {"replays": [[start, 60.0]]})
    segs = build_segments(tl, excitement_curve(tl, CFG.weights), CFG.segments)
    holding = [s for s in segs if s.start <= 46.0 < s.end]
    assert holding and all(s.replay_of is None for s in holding), [(s.start, s.end, s.replay_of) for s in segs]
    for s in segs:
        if s.replay_of is not None:
            assert s.peak >= start - BIN, "a replay candidate peaks in the replay"
