"""Event evaluation maths on hand-made segments and truths (Contracts of DESIGN.md)."""

from __future__ import annotations

import json

import pytest

from .conftest import run_cli
from pipeline.evaluate import evaluate_events


def seg(i, a, b, selected=True, rank=1, kind=None, confidence=None):
    s = {"id": f"s{i:03d}", "start": a, "end": b, "selected": selected, "rank": rank}
    if kind is not None:
        s["kind"] = kind
    if confidence is not None:
        s["confidence"] = confidence
    return s


def goal(t):
    return {"type": "goal", "time": t, "start": t - 8.0, "end": t + 8.0}


def chance(t):
    return {"type": "chance", "time": t, "start": t - 5.0, "end": t + 3.0}


def test_goal_needs_three_seconds_before_and_one_after():
    truth = {"events": [{"type": "goal", "time": 50.0, "start": 40.0, "end": 60.0}]}
    assert evaluate_events([seg(1, 47.0, 51.0)], truth, 100)["goal_recall"] == 1.0
    assert evaluate_events([seg(1, 47.5, 60.0)], truth, 100)["goal_recall"] == 0.0
    assert evaluate_events([seg(1, 40.0, 50.5)], truth, 100)["goal_recall"] == 0.0


def test_window_can_span_two_adjacent_selected_segments():
    truth = {"events": [{"type": "goal", "time": 50.0, "start": 40.0, "end": 60.0}]}
    r = evaluate_events([seg(1, 45.0, 49.0), seg(2, 49.0, 55.0, rank=2)], truth, 100)
    assert r["goal_recall"] == 1.0


def test_event_at_the_very_start_is_clipped_to_the_video():
    truth = {"events": [{"type": "goal", "time": 1.0, "start": 0.0, "end": 8.0}]}
    r = evaluate_events([seg(1, 0.0, 2.5)], truth, 30)
    assert r["goal_recall"] == 1.0  # window [-2, 2] clipped to [0, 2]
    truth_end = {"events": [{"type": "goal", "time": 29.5, "start": 20.0, "end": 30.0}]}
    assert evaluate_events([seg(1, 26.0, 30.0)], truth_end, 30)["goal_recall"] == 1.0


def test_unselected_candidates_do_not_count_but_give_best_rank():
    truth = {"events": [{"type": "goal", "time": 50.0, "start": 40.0, "end": 60.0},
                        {"type": "chance", "time": 80.0, "start": 75.0, "end": 83.0}]}
    segs = [seg(1, 44.0, 56.0, selected=False, rank=3), seg(2, 76.0, 84.0, rank=1), seg(3, 30.0, 60.0, selected=False, rank=2)]
    r = evaluate_events(segs, truth, 100)
    assert r["goal_recall"] == 0.0 and r["chance_recall"] == 1.0
    assert r["events"][0]["best_rank"] == 2


def test_precision_is_reel_time_inside_events():
    truth = {"events": [{"type": "goal", "time": 50.0, "start": 40.0, "end": 60.0}]}
    r = evaluate_events([seg(1, 50.0, 70.0)], truth, 100)
    assert r["precision"] == pytest.approx(0.5)
    assert r["reel_s"] == pytest.approx(20.0)
    none = evaluate_events([], truth, 100)
    assert none["precision"] is None and none["goal_recall"] == 0.0


def test_no_events_of_a_type_gives_none():
    r = evaluate_events([seg(1, 0, 10)], {"events": []}, 100)
    assert r["goal_recall"] is None and r["chance_recall"] is None and r["precision"] == 0.0


# ------------------------------------------------------------------ ranking and kinds (overlap)

def test_overlap_rank_is_best_rank_sharing_a_second_with_the_window():
    truth = {"events": [goal(50.0)]}  # window [47, 51]
    segs = [seg(1, 40.0, 47.5, rank=1),  # 0.5 s inside the window: grazes it, does not count
            seg(2, 50.0, 60.0, rank=2, kind="goal", confidence=0.8),  # 1 s, a quarter: counts
            seg(3, 44.0, 56.0, rank=3),  # covers the whole window
            seg(4, 51.0, 70.0, rank=4)]  # touches the window's end only
    e = evaluate_events(segs, truth, 100)["events"][0]
    assert (e["overlap_rank"], e["overlap_segment"], e["kind"], e["confidence"]) == (2, "s002", "goal", 0.8)
    assert e["best_rank"] == 3  # the covering rank is kept as it was


def test_overlap_rank_none_and_missed_when_nothing_overlaps():
    e = evaluate_events([seg(1, 60.0, 70.0)], {"events": [goal(50.0)]}, 100)["events"][0]
    assert e["overlap_rank"] is None and e["overlap_segment"] is None and e["kind"] == "missed"


def test_window_clipped_at_the_video_start_needs_a_quarter_of_what_is_left():
    truth = {"events": [{"type": "goal", "time": 0.45, "start": 0.45, "end": 15.0}]}  # window [0, 1.45]
    assert evaluate_events([seg(1, 0.71, 15.0)], truth, 60)["events"][0]["overlap_rank"] == 1  # 0.74 s
    assert evaluate_events([seg(1, 1.2, 15.0)], truth, 60)["events"][0]["overlap_rank"] is None  # 0.25 s


def test_top_k_share_counts_each_goal_once():
    truth = {"events": [goal(50.0), goal(120.0), goal(200.0), chance(80.0)]}
    segs = [seg(1, 45.0, 55.0, rank=1), seg(2, 48.0, 60.0, rank=2),  # both on the first goal
            seg(3, 118.0, 126.0, rank=3), seg(4, 78.0, 84.0, rank=4), seg(5, 196.0, 204.0, rank=5)]
    top = evaluate_events(segs, truth, 300)["top_k"]
    assert top == {"k": 3, "goals": 2, "share": pytest.approx(2 / 3, abs=1e-4), "ids": ["s001", "s002", "s003"]}


def test_top_k_chance_is_not_a_goal_and_one_candidate_is_one_goal():
    truth = {"events": [goal(50.0), goal(54.0), chance(80.0)]}
    segs = [seg(1, 76.0, 84.0, rank=1), seg(2, 45.0, 60.0, rank=2), seg(3, 100.0, 110.0, rank=3)]
    top = evaluate_events(segs, truth, 300)["top_k"]
    # s001 sits on the chance; s002 spans both goals but is one candidate: one goal of two.
    assert (top["k"], top["goals"], top["share"]) == (2, 1, 0.5)
    top = evaluate_events(segs[:1] + [seg(3, 100.0, 110.0, rank=2)], truth, 300)["top_k"]
    assert (top["goals"], top["share"]) == (0, 0.0)


def test_top_k_matching_is_not_greedy():
    # s001 overlaps both goals, s002 only the first: the best assignment finds both.
    truth = {"events": [goal(50.0), goal(53.0)]}
    segs = [seg(1, 49.0, 52.0, rank=1), seg(2, 45.0, 48.5, rank=2)]
    assert evaluate_events(segs, truth, 100)["top_k"]["goals"] == 2


def test_no_goals_gives_no_top_k_share():
    top = evaluate_events([seg(1, 0, 10)], {"events": [chance(5.0)]}, 100)["top_k"]
    assert top["k"] == 0 and top["share"] is None and top["ids"] == []


def test_confusion_table_of_kinds_against_truth():
    truth = {"events": [goal(50.0), goal(120.0), chance(80.0), chance(250.0)]}
    segs = [seg(1, 118.0, 125.0, rank=1),  # no kind: "other", on goal 2
            seg(2, 46.0, 52.0, rank=2, kind="goal"),  # goal 1
            seg(3, 48.0, 51.0, rank=5, kind="chance"),  # also goal 1, ranked lower: not used
            seg(4, 53.0, 58.0, rank=3, kind="goal"),  # goal 1's celebration: in no row
            seg(5, 246.0, 252.0, rank=4, kind="goal"),  # chance 2 taken for a goal
            seg(6, 200.0, 210.0, rank=6, kind="chance"),  # on no event
            seg(7, 300.0, 310.0, rank=7, kind="goal"),  # on no event
            seg(8, 320.0, 330.0, rank=8, kind="weird")]  # unknown kind: "other", on no event
    c = evaluate_events(segs, truth, 400)["confusion"]
    assert c["goal"] == {"goal": 1, "chance": 0, "other": 1, "missed": 0}
    assert c["chance"] == {"goal": 1, "chance": 0, "other": 0, "missed": 1}
    assert c["none"] == {"goal": 1, "chance": 1, "other": 1}


def test_old_keys_stay():
    r = evaluate_events([seg(1, 45.0, 55.0)], {"events": [goal(50.0)]}, 100)
    assert {"goal_recall", "chance_recall", "precision", "goals", "chances", "reel_s", "events"} <= r.keys()
    assert {"type", "time", "in_reel", "best_rank", "segment"} <= r["events"][0].keys()


def _segments_doc(out, segs, duration_s):
    doc = {"schema_version": 1, "input": {"path": "match.mp4", "fingerprint": "0" * 64, "duration": duration_s},
           "config": {}, "detector": "classic", "weights_used": {},
           "segments": [{"peak": (s["start"] + s["end"]) / 2, "score": 1.0 / s["rank"], "components": {"audio": 0.5},
                         "reason": "", "replay_of": None, **s} for s in segs]}
    out.mkdir()
    (out / "segments.json").write_text(json.dumps(doc))


def test_eval_cli_reports_ranks_top_k_and_kinds(tmp_path):
    out, truth = tmp_path / "out", tmp_path / "truth.json"
    _segments_doc(out, [seg(1, 45.0, 55.0, rank=2, kind="goal", confidence=0.9), seg(2, 100.0, 110.0, rank=1),
                        seg(3, 200.0, 210.0, selected=False, rank=3, kind="chance")], 300.0)
    truth.write_text(json.dumps({"events": [goal(50.0), goal(150.0)]}))
    r = run_cli("eval", out, "--truth", truth, "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["goal_recall"] == 0.5 and res["top_k"]["share"] == 0.5
    assert [e["overlap_rank"] for e in res["events"]] == [2, None]
    assert res["confusion"]["goal"] == {"goal": 1, "chance": 0, "other": 0, "missed": 1}
    assert res["confusion"]["none"] == {"goal": 0, "chance": 1, "other": 1}
    text = run_cli("eval", out, "--truth", truth).stdout
    assert "top_k_goals    0.50  (1 of the top 2 candidates on a goal)" in text
    assert "overlap rank 2 (s001 goal 0.90)" in text and "overlap rank None (none)" in text
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.startswith("  ") and line.split()[0] in ("truth", "goal", "chance", "none")}
    assert rows["truth"] == ["goal", "chance", "other", "missed"]
    assert rows["goal"] == ["1", "0", "0", "1"] and rows["none"] == ["0", "1", "1", "-"]
