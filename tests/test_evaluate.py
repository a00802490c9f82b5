"""Event evaluation maths on hand-made segments and truths (Contracts of DESIGN.md)."""

from __future__ import annotations

import pytest

from pipeline.evaluate import evaluate_events


def seg(i, a, b, selected=True, rank=1):
    return {"id": f"s{i:03d}", "start": a, "end": b, "selected": selected, "rank": rank}


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
