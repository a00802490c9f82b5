"""Event kinds: a goal is known by what the broadcast shows after it, not by loudness alone.

Timelines are built by hand (bins of 0.5 s), each with one moment whose evidence is set
column by column: sound (roar, commentator's pitch), pictures (shot scale: wide, medium,
close-up, off-pitch; replays), and the score bug.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.events import classify, confidence, gather
from pipeline.segments import select
from pipeline.signals.timeline import build_timeline
from pipeline.types import Segment

BIN = 0.5
CFG = load_config().events
MIN_SCALE = {"audio_roar": 1.0, "audio_voice": 1.0}


def timeline(duration_s: float = 300.0, *, roar=(), voice=(), closeups=(), replays=(), scorebug=None):
    """Calm wide play with a murmur; `roar`/`voice`: (t0, t1, level dB/semitones) spans;
    `closeups`: (t0, t1) spans of close-up pictures; `replays`: (t0, t1) replay packages."""
    n = int(duration_s / BIN)
    t = np.arange(n) * BIN
    rng = np.random.default_rng(0)
    cols = {"audio_roar": rng.normal(0, 0.8, n), "audio_voice": rng.normal(0, 0.8, n),
            "shots_scale": np.zeros(n), "shots_replay": np.zeros(n)}
    for a, b, level in roar:
        cols["audio_roar"][(t >= a) & (t < b)] += level
    for a, b, level in voice:
        cols["audio_voice"][(t >= a) & (t < b)] += level
    for a, b in closeups:
        cols["shots_scale"][(t >= a) & (t < b)] = 2
    for a, b in replays:
        cols["shots_replay"][(t >= a) & (t < b)] = 1
        cols["shots_scale"][(t >= a) & (t < b)] = 0  # replays are often wide: still not play
    meta = {"replays": [[a, b] for a, b in replays]}
    if scorebug is not None:
        meta["scorebug"] = {"found": True, "changes": scorebug}
    return build_timeline(duration_s, BIN, cols, meta, clip_z=6.0, min_scale=MIN_SCALE)


def moment(t: float, score: float = 1.0, sid: str = "s001") -> Segment:
    s = Segment(sid, t - 10, t + 8, t, score, {})
    s.anchor = t
    return s


def kind_of(tl, seg, changes=None) -> tuple[str, float]:
    classify([seg], tl, CFG, changes)
    return seg.kind, seg.confidence


def test_a_goal_the_broadcast_celebrates_and_replays_is_a_goal():
    tl = timeline(roar=[(100, 108, 12)], voice=[(100, 106, 6)], closeups=[(102, 130)], replays=[(130, 145)])
    seg = moment(100)
    kind, conf = kind_of(tl, seg)
    assert kind == "goal" and conf > 0.8
    ev = gather(seg, tl, CFG)
    text = "; ".join(ev.phrases())
    assert "replay package 15 s" in text and "crowd roar +" in text and "celebration/reaction close-ups" in text


def test_a_chance_play_restarts_soon_after_and_the_crowd_only_gasps():
    tl = timeline(roar=[(100, 103, 8)], closeups=[(101, 104)])
    assert kind_of(tl, moment(100))[0] == "chance"


def test_calm_play_with_a_pan_and_a_sprint_is_other():
    tl = timeline()
    kind, conf = kind_of(tl, moment(100, score=2.5))
    assert kind == "other" and conf > 0.9


def test_a_loud_crowd_all_match_long_is_no_evidence():
    loud = timeline(roar=[(0, 300, 15)])  # chanting at +15 dB from start to end: the baseline
    assert kind_of(loud, moment(150))[0] == "other"


def test_a_score_change_makes_a_goal_and_belongs_to_one_moment():
    change = {"t_s": 140.0, "score_from": "0-0", "score_to": "1-0", "team": 0}
    tl = timeline(roar=[(100, 102, 6)], scorebug=[change])
    strong, weak, far = moment(100, 2.0, "s001"), moment(60, 1.0, "s002"), moment(250, 3.0, "s003")
    weak.anchor = 130.0
    weak.start, weak.end = 120.0, 138.0
    classify([strong, weak, far], tl, CFG, [change])
    assert strong.kind == "goal" and strong.confidence > 0.9
    assert weak.kind != "goal" and far.kind != "goal"
    assert "score 0-0 -> 1-0 at 02:20" in gather(strong, tl, CFG, [change]).phrases()[0]


def test_evidence_is_capped_so_one_kind_alone_is_not_proof():
    tl = timeline(closeups=[(100, 300)])  # close-ups to the end: a long stoppage, nothing else
    seg = moment(100)
    p = confidence(gather(seg, tl, CFG), CFG)
    assert p < CFG.goal_min_confidence


def test_goals_rank_above_chances_and_calm_play_and_are_never_left_out_for_them():
    goal, chance, calm = moment(100, 0.6, "s001"), moment(200, 1.5, "s002"), moment(250, 3.0, "s003")
    goal.kind, chance.kind, calm.kind = "goal", "chance", "other"
    for s in (goal, chance, calm):
        s.core = (s.peak - 6, s.peak + 3)
    chosen = select([goal, chance, calm], target_s=10.0, min_score=1.0)
    assert [s.rank for s in (goal, chance, calm)] == [1, 2, 3]
    assert [s.id for s in chosen] == ["s001"]  # below min_score, yet a goal: it goes in


@pytest.mark.parametrize("delay_s", [5.0, 45.0])
def test_the_score_bug_may_update_a_while_after_the_goal(delay_s):
    change = {"t_s": 100.0 + delay_s, "score_from": "1-1", "score_to": "1-2", "team": 1}
    tl = timeline(scorebug=[change])
    assert kind_of(tl, moment(100), [change])[0] == "goal"


def test_a_goal_is_never_trimmed_below_its_moment():
    from pipeline.segments import widen_goal_cores

    cfg = load_config().segments
    goal = Segment("s001", 80.0, 120.0, 101.0, 2.0, {}, kind="goal")
    goal.anchor, goal.core = 100.0, (94.0, 103.0)  # the excitement's own core: 6 s before the roar
    calm = Segment("s002", 200.0, 220.0, 210.0, 3.0, {}, kind="other")
    calm.core = (204.0, 213.0)
    widen_goal_cores([goal, calm], cfg, 300.0)
    assert goal.core == (100.0 - cfg.goal_core_pre_s, 100.0 + cfg.goal_core_post_s)
    assert calm.core == (204.0, 213.0)
    chosen = select([goal, calm], target_s=cfg.goal_core_pre_s + cfg.goal_core_post_s + 2.0)
    assert [s.id for s in chosen] == ["s001"]
    assert goal.start <= 100.0 - cfg.goal_core_pre_s and goal.end >= 100.0 + cfg.goal_core_post_s


def test_a_goal_carries_its_replay_when_the_reel_has_room_and_not_when_it_has_none():
    goal = Segment("s001", 80.0, 100.0, 92.0, 2.0, {}, kind="goal")
    goal.core = (85.0, 97.0)
    replay = Segment("s002", 105.0, 113.0, 109.0, 1.0, {}, kind="goal", replay_of="s001")
    chosen = select([goal, replay], target_s=25.0, goal_replays=True)
    assert [s.id for s in chosen] == ["s001", "s002"]
    assert sum(s.duration for s in chosen) <= 25.0 + 1e-6
    chosen = select([goal, replay], target_s=15.0, goal_replays=True)  # no room after the goal's core
    assert [s.id for s in chosen] == ["s001"]
    assert [s.id for s in select([goal, replay], target_s=25.0, goal_replays=False)] == ["s001"]


def test_reel_edges_never_open_or_close_on_a_fragment_of_another_shot():
    from pipeline.segments import trim_shot_fragments

    seg = Segment("s001", 100.0, 120.0, 110.0, 1.0, {}, selected=True)
    seg.core = (104.0, 116.0)
    notes = trim_shot_fragments([seg], np.array([101.3, 108.0, 119.0]), 1.5)
    assert (seg.start, seg.end) == (101.3, 119.0) and len(notes) == 2
    inside = Segment("s002", 200.0, 220.0, 210.0, 1.0, {}, selected=True)
    inside.core = (200.5, 219.5)  # the moment itself starts at once: its edges stay
    assert trim_shot_fragments([inside], np.array([201.0, 219.2]), 1.5) == []
    assert (inside.start, inside.end) == (200.0, 220.0)


def test_the_match_minute_comes_from_the_bug_shown_at_the_moment():
    """A montage: one clip's bug says 20', the next one's 61'; a moment in the second
    clip says 61', one where no bug was read says no minute at all."""
    from pipeline import run as R

    tl = timeline(roar=[(75, 83, 12), (200, 208, 12)], closeups=[(77, 95)])
    tl.meta["scorebug"] = {"found": True, "changes": [],
                           "clock": [[t, 1200.0 + t] for t in range(0, 60, 10)] + [[t, 3600.0 + t - 60] for t in range(60, 100, 10)],
                           "stretches": [{"from_s": 0.0, "to_s": 58.0}, {"from_s": 60.0, "to_s": 95.0}]}
    sel = R.select_segments(tl, load_config(), 60.0)
    in_second = min(sel.segments, key=lambda s: abs(s.peak - 78))
    unread = min(sel.segments, key=lambda s: abs(s.peak - 203))
    assert abs(in_second.peak - 78) < 10 and in_second.reason.startswith("61'")
    assert abs(unread.peak - 203) < 10 and not unread.reason.split(";")[0].endswith("'")
