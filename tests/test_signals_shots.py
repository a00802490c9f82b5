"""Shots: cuts, shot scale and replay marks, on built frames and on the real clips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline import media
from pipeline.config import load_config
from pipeline.signals.shots import CLOSE, OFF_PITCH, WIDE, ShotDetector, shot_signals
from pipeline.types import Frame

from .conftest import real_clip


@pytest.fixture(scope="module")
def cfg():
    return load_config().signals


def _pitch(rng, w=640, h=360, shift=0):
    """Green textured pitch with white lines, shifted by `shift` px (a pan)."""
    base = np.zeros((h, w + 400, 3), np.uint8)
    base[:] = (40, 140, 50)  # BGR grass
    base += rng.integers(0, 20, base.shape, dtype=np.uint8)
    base[:, ::120] = 230
    return base[:, shift : shift + w].copy()


def _crowd(rng, w=640, h=360):
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8) // 2 + np.array([20, 30, 90], np.uint8)


def test_cut_found_between_pitch_and_crowd_not_during_a_pan(cfg):
    rng = np.random.default_rng(0)
    frames = []
    for i in range(30):  # 6 s at 5 fps
        t = i * 0.2
        img = _pitch(np.random.default_rng(1), shift=i * 12) if t < 3.0 else _crowd(rng)
        frames.append(Frame(t_s=t, image=img, index=i, scale=1.0))
    cols, meta = shot_signals(frames, 6.0, cfg)
    assert meta["cuts_s"] == [pytest.approx(2.9, abs=0.11)]
    assert cols["shots_cut"].sum() == 1 and cols["shots_cut"][5] == 1
    assert (cols["shots_scale"][:5] == WIDE).all()
    assert (cols["shots_scale"][7:] == OFF_PITCH).all()
    assert (cols["shots_closeup"][7:] == 1).all() and (cols["shots_closeup"][:5] == 0).all()


def test_no_frames_is_a_gap(cfg):
    cols, meta = ShotDetector(cfg).finish(3.0)
    assert np.isnan(cols["shots_scale"]).all() and np.isnan(cols["shots_cut"]).all()
    assert meta["gap"] == "no frames"


def _real(rel, cfg):
    path = real_clip(rel)
    info = media.probe(path)
    return shot_signals(media.frames(path, fps=5.0, width=640, info=info), info.duration_s, cfg)


def test_laliga_edit_cut_at_4_3_s_is_found(cfg):
    cols, meta = _real("laliga_rm_sevilla_audio/soccer.mp4", cfg)
    assert len(meta["cuts_s"]) == 1 and abs(meta["cuts_s"][0] - 4.3) <= 0.3, meta["cuts_s"]
    assert np.nanmax(cols["shots_scale"]) == WIDE, "main-camera wide shots throughout"


def test_tactical_camera_clip_has_no_cut(cfg):
    cols, meta = _real("tactical_cam_crowd_only_audio/football.mp4", cfg)
    assert meta["cuts_s"] == []
    assert meta["replays"] == []


def test_benfica_cut_to_celebration_close_up(cfg):
    cols, meta = _real("goal_benfica_porto_audio/goal.mp4", cfg)
    assert any(abs(c - 6.73) <= 0.25 for c in meta["cuts_s"]), meta["cuts_s"]
    assert not any(c < 6.4 for c in meta["cuts_s"]), "no cut during the live counter-attack"
    t = np.arange(len(cols["shots_scale"])) * 0.5
    assert (cols["shots_scale"][t < 6.0] == WIDE).all()
    assert (cols["shots_scale"][(t >= 7.0) & (t < 8.5)] >= CLOSE).all()
    assert meta["replays"] == []


def test_barca_replays_after_stinger_are_marked(cfg):
    path = real_clip("goal_barca_athletic_replays_audio/mesi.mp4")
    labels = json.loads(path.with_name("labels.json").read_text())
    cols, meta = _real("goal_barca_athletic_replays_audio/mesi.mp4", cfg)
    t = np.arange(len(cols["shots_replay"])) * 0.5 + 0.25
    in_replay = np.zeros(len(t), bool)
    for s, e in labels["replays"]:
        in_replay |= (t >= s) & (t < e)
    marked = cols["shots_replay"] == 1
    assert marked[in_replay].mean() >= 0.8
    assert not marked[(t > 0.5) & (t < 15.0)].any(), "the live celebration is not a replay"
    for expected in (0.45, 3.7, 6.5, 15.1, 24.85):
        assert any(abs(c - expected) <= 0.3 for c in meta["cuts_s"]), (expected, meta["cuts_s"])
