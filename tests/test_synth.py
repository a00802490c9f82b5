"""Synthetic matches: deterministic from the seed, with the events their truth file lists."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from pipeline import media, synth

from .conftest import run_cli


def test_truth_lists_events_inside_the_video(short_match):
    truth = json.loads(synth.truth_path_for(short_match).read_text())
    assert truth["seed"] == 11 and truth["duration"] == 20.0
    goals = [e for e in truth["events"] if e["type"] == "goal"]
    assert len(goals) == 1
    for e in truth["events"]:
        assert 0 <= e["start"] < e["time"] < e["end"] <= 20.0
    # Each goal is followed by a cut to a close-up.
    assert any(0 < c - goals[0]["time"] < 3 for c in truth["cuts"])


def test_event_counts_scale_with_length():
    rng = np.random.default_rng
    ten_min = synth.plan_events(600, rng(1))
    assert 8 <= len(ten_min) <= 20
    assert any(e.type == "goal" for e in ten_min) and any(e.type == "chance" for e in ten_min)
    starts = [e.start for e in ten_min]
    ends = [e.end for e in ten_min]
    assert all(b > a for a, b in zip(ends, starts[1:]))  # events do not overlap


def test_same_seed_same_match_different_seed_differs(synth_dir):
    paths = []
    for name, seed in [("a", 3), ("b", 3), ("c", 4)]:
        p = synth_dir / f"det_{name}.mp4"
        synth.generate(p, duration_s=6.0, seed=seed, size=(256, 144))
        paths.append(p)
    digest = [hashlib.sha256(next(iter(media.frames(p, fps=1, width=None))).image.tobytes()).hexdigest() for p in paths]
    assert digest[0] == digest[1] != digest[2]
    audio = [media.audio(p, sr=8000).read_all() for p in paths]
    assert np.array_equal(audio[0], audio[1])
    t = [json.loads(synth.truth_path_for(p).read_text())["events"] for p in paths]
    assert t[0] == t[1]


def test_goal_is_loud(short_match):
    """The crowd roars after a goal: the seconds after it are louder than the calm start."""
    truth = json.loads(synth.truth_path_for(short_match).read_text())
    goal = truth["events"][0]["time"]
    x = media.audio(short_match, sr=8000).read_all()
    rms = lambda a, b: float(np.sqrt(np.mean(x[int(a * 8000): int(b * 8000)] ** 2)))
    assert rms(goal + 1.5, goal + 4.5) > 2 * rms(0.5, 3.5)  # at least +6 dB


def test_cli_synth_writes_video_and_truth(tmp_path):
    out = tmp_path / "m.mp4"
    r = run_cli("synth", "-o", out, "--duration", "5", "--seed", "2", "--size", "320x180")
    assert r.returncode == 0, r.stderr
    assert out.exists() and synth.truth_path_for(out).exists()
    assert media.probe(out).width == 320
    r = run_cli("synth", "-o", out, "--duration", "5")
    assert r.returncode == 5 and "--force" in r.stderr  # existing output is not overwritten


def test_calm_sets_the_pace_of_attacks():
    rng = np.random.default_rng
    dense = synth.plan_events(2700, rng(2))
    calm = synth.plan_events(2700, rng(2), calm_s=300.0)
    assert len(calm) < len(dense) / 2
    gaps = [b.start - a.end for a, b in zip(calm, calm[1:])]
    assert min(gaps) >= 0.3 * 300 - 9.0  # the next attack's build-up starts up to 9 s before its moment
