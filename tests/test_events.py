"""Event kinds: a goal is known by what the broadcast shows after it, not by loudness alone.

Timelines are built by hand (bins of 0.5 s), each with one moment whose evidence is set
column by column: sound (roar, commentator's pitch), pictures (shot scale: wide, medium,
close-up, off-pitch; replays), and the score bug.
"""

from __future__ import annotations

import dataclasses

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


def timeline(duration_s: float = 300.0, *, roar=(), voice=(), closeups=(), offpitch=(), replays=(),
             scorebug=None):
    """Calm wide play with a murmur; `roar`/`voice`: (t0, t1, level dB/semitones) spans;
    `closeups` / `offpitch`: (t0, t1) spans of close-up / off-pitch (crowd, bench) pictures;
    `replays`: (t0, t1) replay packages."""
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
    for a, b in offpitch:
        cols["shots_scale"][(t >= a) & (t < b)] = 3
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
    # Cut down from a longer candidate, it keeps its length: the time is given back at the
    # other edge, but never onto a new fragment.
    cut_down = Segment("s004", 100.0, 120.0, 110.0, 1.0, {}, selected=True)
    cut_down.trimmed_from = (90.0, 130.0)
    trim_shot_fragments([cut_down], np.array([101.3, 120.5]), 1.5)
    assert (cut_down.start, cut_down.end) == (101.3, 120.5)
    cut_down = Segment("s005", 100.0, 120.0, 110.0, 1.0, {}, selected=True)
    cut_down.trimmed_from = (90.0, 130.0)
    trim_shot_fragments([cut_down], np.array([101.3, 125.0]), 1.5)
    assert (cut_down.start, cut_down.end) == (101.3, 121.3)
    early = Segment("s002", 200.0, 220.0, 200.4, 1.0, {}, selected=True)
    early.anchor = 200.4  # the moment itself comes before the cut: the opening stays
    assert trim_shot_fragments([early], np.array([201.0]), 1.5) == []
    assert (early.start, early.end) == (200.0, 220.0)
    # A goal's core reaching back to the start of the footage is no reason to open on
    # 0.45 s of an earlier shot spliced in before the celebration (the Barcelona clip).
    spliced = Segment("s003", 0.0, 14.0, 0.5, 1.0, {}, selected=True, kind="goal")
    spliced.anchor, spliced.core = 0.5, (0.0, 5.5)
    trim_shot_fragments([spliced], np.array([0.45, 6.5]), 1.5)
    assert (spliced.start, spliced.end) == (0.45, 14.0)


def test_a_goal_found_inside_its_celebration_belongs_at_the_cut_that_opened_it():
    """The roar and the cry come seconds after the ball went in, when the broadcast is
    already on the players' faces: the goal's moment is the cut to the celebration."""
    tl = timeline(roar=[(106, 114, 12)], voice=[(106, 112, 6)], closeups=[(101, 130)], replays=[(130, 145)])
    seg = moment(107)
    assert kind_of(tl, seg)[0] == "goal"
    assert seg.moment == pytest.approx(101.0)
    ev = gather(seg, tl, CFG)
    assert ev.reaction_s >= 25  # the celebration counted from the goal, not from the roar
    # A moment on a wide shot of play stays where the sound put it.
    tl = timeline(roar=[(100, 108, 12)], voice=[(100, 106, 6)], closeups=[(102, 130)], replays=[(130, 145)])
    seg = moment(100)
    assert kind_of(tl, seg)[0] == "goal" and seg.moment == pytest.approx(100.0)


def test_crowd_and_bench_pictures_count_again_as_evidence_of_a_goal():
    faces = timeline(roar=[(100, 104, 8)], closeups=[(102, 114)])
    crowd = timeline(roar=[(100, 104, 8)], closeups=[(102, 114)], offpitch=[(106, 114)])
    ev_faces, ev_crowd = gather(moment(100), faces, CFG), gather(moment(100), crowd, CFG)
    assert ev_faces.reaction_s == ev_crowd.reaction_s and ev_faces.crowd_s == 0 and ev_crowd.crowd_s == 8.0
    assert confidence(ev_crowd, CFG) > confidence(ev_faces, CFG)
    assert "(8 s of crowd and bench)" in "; ".join(ev_crowd.phrases())


def test_the_last_chance_that_fits_only_in_part_is_cut_down_and_a_goal_never_is():
    goal, chance = moment(100, 1.0, "s001"), moment(200, 1.0, "s002")
    goal.kind, chance.kind = "goal", "chance"
    for s in (goal, chance):
        s.core = (s.peak - 6, s.peak + 6)
    chosen = select([goal, chance], target_s=20.0, min_len_s=6.0)
    assert [s.id for s in chosen] == ["s001", "s002"]
    assert goal.duration == pytest.approx(12.0) and chance.duration == pytest.approx(8.0)
    assert chance.start <= 200.0 <= chance.end
    # Room for part of a goal only: it stays out whole rather than shrunk.
    goal2 = moment(300, 0.9, "s003")
    goal2.kind, goal2.core = "goal", (294.0, 306.0)
    chosen = select([goal, goal2], target_s=20.0, min_len_s=6.0)
    assert [s.id for s in chosen] == ["s001"] and goal.duration == pytest.approx(12.0)


def test_replays_rank_after_every_live_moment():
    goal, chance, calm = moment(100, 2.0, "s001"), moment(200, 1.0, "s002"), moment(300, 0.2, "s003")
    replay = moment(120, 3.0, "s004")
    goal.kind = replay.kind = "goal"
    chance.kind, calm.kind, replay.replay_of = "chance", "other", "s001"
    select([goal, chance, calm, replay], target_s=60.0)
    assert [s.rank for s in (goal, chance, calm, replay)] == [1, 2, 3, 4]


def test_the_match_minute_comes_from_the_bug_shown_at_the_moment():
    """A montage: one clip's bug says 20', the next one's 61'; a moment in the second
    clip says 61', one where no bug was read says no minute at all."""
    from pipeline import run as R

    tl = timeline(roar=[(75, 83, 12), (200, 208, 12)], closeups=[(77, 95)])
    tl = dataclasses.replace(tl, scorebug={"found": True, "changes": [],
                           "clock": [[t, 1200.0 + t] for t in range(0, 60, 10)] + [[t, 3600.0 + t - 60] for t in range(60, 100, 10)],
                           "stretches": [{"from_s": 0.0, "to_s": 58.0}, {"from_s": 60.0, "to_s": 95.0}]})
    sel = R.select_segments(tl, load_config(), 60.0)
    in_second = min(sel.segments, key=lambda s: abs(s.peak - 78))
    unread = min(sel.segments, key=lambda s: abs(s.peak - 203))
    assert abs(in_second.peak - 78) < 10 and in_second.reason.startswith("61'")
    assert in_second.minute == "61'" and in_second.to_dict()["minute"] == "61'"  # segments.json says it too
    assert in_second.to_dict()["moment"] == pytest.approx(in_second.moment, abs=1e-3)
    assert unread.minute is None
    assert abs(unread.peak - 203) < 10 and not unread.reason.split(";")[0].endswith("'")


def test_the_summary_names_the_goals_left_out_and_the_target_that_holds_them(capsys, tmp_path):
    from pipeline import cli
    from pipeline.run import Selection

    goals = [moment(100 * k, 2.0 - 0.1 * k, f"s00{k}") for k in (1, 2, 3)]
    for g in goals:
        g.kind, g.confidence, g.core = "goal", 0.9, (g.peak - 9, g.peak + 5)
    select(goals, target_s=30.0, min_len_s=6.0)
    assert [g.selected for g in goals] == [True, True, False]
    cli._summary(tmp_path, Selection(goals, np.zeros(1), {}, [], 30.0), None, {}, False)
    err = capsys.readouterr().err
    assert "goals     3 found, 2 in the reel; left out: s003" in err
    assert "--target-duration 44 would hold them" in err
    select(goals, target_s=44.0, min_len_s=6.0)
    assert all(g.selected for g in goals)


def test_a_candidate_never_reaches_into_another_broadcast():
    """A montage: the Benfica clip's bug follows another match's bug at a cut; the goal's
    attack, 9 s before its roar, would reach back into the other match."""
    from pipeline.segments import keep_to_one_broadcast
    from pipeline.signals.scorebug import footage_joins

    bug = {"stretches": [
        {"bug": 1, "region": [94, 31, 304, 51], "teams": ["SEV"], "from_s": 53.8, "to_s": 70.16},
        {"bug": 3, "region": [873, 34, 407, 84], "teams": ["SLBENFICA", "FCPORTO"], "from_s": 70.4, "to_s": 82.0},
        # the same match's bug again after a replay, restyled: no join
        {"bug": 4, "region": [870, 30, 400, 80], "teams": ["FCPORTO"], "from_s": 90.0, "to_s": 120.0},
        # another match, no cut found between: no join claimed
        {"bug": 5, "region": [10, 10, 100, 40], "teams": ["INT"], "from_s": 140.0, "to_s": 160.0}]}
    cuts = [60.0, 70.3, 76.9, 85.0, 165.0]
    assert footage_joins(bug, cuts) == [70.3]
    goal = Segment("s001", 65.3, 81.3, 77.0, 2.0, {}, kind="goal")
    goal.anchor, goal.core = 74.3, (65.3, 79.3)
    later = Segment("s002", 90.0, 100.0, 95.0, 1.0, {})
    notes = keep_to_one_broadcast([goal, later], footage_joins(bug, cuts))
    assert (goal.start, goal.end) == (70.3, 81.3) and goal.core == (70.3, 79.3)
    assert (later.start, later.end) == (90.0, 100.0)
    assert len(notes) == 1 and "s001 at 70.3 s" in notes[0]


def test_an_edge_on_a_cut_steps_inside_it_by_half_an_analysis_frame():
    """A cut's time lies midway between two analysis frames (5 fps: 0.1 s either side):
    an edge on it steps inside, so no frame of the other shot opens or closes the segment."""
    from pipeline.segments import trim_shot_fragments

    seg = Segment("s001", 70.3, 81.3, 75.0, 1.0, {}, selected=True)
    trim_shot_fragments([seg], np.array([70.3, 76.9, 81.3]), 1.5, cut_margin_s=0.1)
    assert (seg.start, seg.end) == pytest.approx((70.4, 81.2))
    free = Segment("s002", 100.0, 110.0, 105.0, 1.0, {}, selected=True)  # edges off any cut stay
    trim_shot_fragments([free], np.array([104.0]), 1.5, cut_margin_s=0.1)
    assert (free.start, free.end) == (100.0, 110.0)


def test_a_reel_length_from_the_fraction_grows_to_hold_every_goal_and_a_given_one_is_kept():
    """Seven goals in ten minutes: the default reel (10% = 60 s) grows to hold each whole
    goal moment and says so; a length the user gave in seconds stays theirs."""
    from pipeline import run as R

    goals = [40.0 + 80.0 * k for k in range(7)]
    changes = [{"t_s": t + 20.0, "score_from": f"{k}-0", "score_to": f"{k + 1}-0", "team": 0}
               for k, t in enumerate(goals)]
    tl = timeline(600.0, roar=[(t + 1, t + 9, 12) for t in goals], closeups=[(t + 2, t + 30) for t in goals],
                  scorebug=changes)
    sel = R.select_segments(tl, load_config())
    kinds = {round(s.moment): s.kind for s in sel.segments if s.kind == "goal"}
    assert len(kinds) == 7
    live_goals = [s for s in sel.segments if s.kind == "goal" and s.replay_of is None]
    assert all(s.selected for s in live_goals)
    assert sel.target_s > 60.0
    assert any(n.startswith("reel lengthened from 60 s") and "all 7 goals" in n for n in sel.notes)
    fixed = R.select_segments(tl, load_config(overrides=["segments.target_duration_s=60"]))
    assert fixed.target_s == 60.0 and not any("lengthened" in n for n in fixed.notes)
    assert 0 < sum(s.selected for s in fixed.segments if s.kind == "goal") < 7
    off = R.select_segments(tl, load_config(overrides=["segments.fraction_fits_goals=false"]))
    assert off.target_s == 60.0 and not all(s.selected for s in off.segments if s.kind == "goal" and s.replay_of is None)
