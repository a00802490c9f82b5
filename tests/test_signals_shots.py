"""Shots: cuts, shot scale and replay marks, on built frames and on the real clips."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pipeline import media
from pipeline.config import load_config
from pipeline.signals.shots import CLOSE, OFF_PITCH, WIDE, ShotDetector, find_replays, shot_signals
from pipeline.types import Frame

from .conftest import real_clip

GRASS = load_config().pitch.grass


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
    cols, meta = shot_signals(frames, 6.0, cfg.shots, cfg.bin_s, GRASS)
    assert meta["cuts_s"] == [pytest.approx(2.9, abs=0.11)]
    assert cols["shots_cut"].sum() == 1 and cols["shots_cut"][5] == 1
    assert (cols["shots_scale"][:5] == WIDE).all()
    assert (cols["shots_scale"][7:] == OFF_PITCH).all()
    assert (cols["shots_closeup"][7:] == 1).all() and (cols["shots_closeup"][:5] == 0).all()


def test_no_frames_is_a_gap(cfg):
    cols, meta = ShotDetector(cfg.shots, cfg.bin_s, GRASS).finish(3.0)
    assert np.isnan(cols["shots_scale"]).all() and np.isnan(cols["shots_cut"]).all()
    assert meta["gap"] == "no frames"


def _real(rel, cfg):
    path = real_clip(rel)
    info = media.probe(path)
    return shot_signals(media.frames(path, fps=5.0, width=640, info=info), info.duration_s, cfg.shots, cfg.bin_s, GRASS)


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


# Replays: built broadcast sequences at 5 fps, 320x180 (the analysis sees 5 fps).
_W, _H = 320, 180


def _frames(images) -> list[Frame]:
    return [Frame(t_s=i * 0.2, image=img, index=i, scale=1.0) for i, img in enumerate(images)]


def _medium(rng, i):
    """A replay angle close to play: pitch with a player filling half the frame (medium shot)."""
    img = _pitch(rng, w=_W, h=_H, shift=i * 3)
    x = 60 + (i % 10) * 4
    img[:, x : x + 150] = (60, 40, 200)
    return img


def _stinger(base, n=3):
    """A logo wipe over `base`: a band with the broadcaster's logo sweeps across in n frames."""
    out = []
    for k in range(n):
        img = base.copy()
        x = int((k + 1) / (n + 1) * _W * 1.6 - _W * 0.3)
        pts = np.array([[x - _W // 2, 0], [x + _W // 5, 0], [x + _W // 2 - _W // 5, _H],
                        [x - _W // 2 - _W // 5, _H]], np.int32)
        cv2.fillPoly(img, [pts], (140, 30, 20))
        cv2.circle(img, (x, _H // 2), _H // 4, (30, 200, 250), -1)
        out.append(img)
    return out


def _replays(images, cfg):
    frames = _frames(images)
    cols, meta = shot_signals(frames, len(frames) * 0.2, cfg.shots, cfg.bin_s, GRASS)
    return cols, meta


def _celebration(rng, n=20):
    return [_crowd(rng, w=_W, h=_H) for _ in range(n)]  # 4 s of crowd / celebration


def _live(rng, n, tone=(40, 140, 50)):
    img = _pitch(rng, w=_W, h=_H)
    if tone != (40, 140, 50):
        img = np.clip(img.astype(np.int16) + np.array(tone, np.int16) - (40, 140, 50), 0, 255).astype(np.uint8)
    return [np.roll(img, -i * 6, axis=1) for i in range(n)]  # wide shot, panning


def test_hard_cut_alone_never_opens_a_replay(cfg):
    """A cut from the crowd straight to the pitch, and a montage of clips joined by hard cuts
    (pitch -> crowd -> another match's pitch), are cuts, not replay stingers."""
    rng = np.random.default_rng(0)
    _, meta = _replays(_celebration(rng) + _live(rng, 100), cfg)
    assert meta["cuts_s"] == [pytest.approx(3.9, abs=0.11)]
    assert meta["replays"] == []
    montage = _live(rng, 50) + _celebration(rng) + _live(rng, 60, tone=(60, 120, 40)) + _celebration(rng) + _live(rng, 60)
    _, meta = _replays(montage, cfg)
    assert len(meta["cuts_s"]) == 4, meta["cuts_s"]
    assert meta["replays"] == []


def test_stinger_and_closing_stinger_give_one_replay_span(cfg):
    rng = np.random.default_rng(1)
    crowd = _celebration(rng)
    replay = [_medium(rng, i) for i in range(30)]  # 6 s replay angle
    images = crowd + _stinger(crowd[-1]) + replay + _stinger(replay[-1]) + _live(rng, 100)
    cols, meta = _replays(images, cfg)
    assert len(meta["replays"]) == 1, meta["replays"]
    s, e = meta["replays"][0]
    assert s == pytest.approx(3.9, abs=0.25) and e == pytest.approx(10.5, abs=0.25)
    t = np.arange(len(cols["shots_replay"])) * 0.5
    assert (cols["shots_replay"][(t >= 4.5) & (t < 10.0)] == 1).all()
    assert not (cols["shots_replay"][(t < 3.5) | (t >= 11.0)] == 1).any(), "live play after the package is live"


def test_stinger_without_closing_one_ends_at_the_return_to_live_play(cfg):
    """No closing stinger (cut straight back to the main camera): the replay ends at that cut,
    not replay_max_s (40 s) later over live play."""
    rng = np.random.default_rng(2)
    crowd = _celebration(rng)
    replay = [_medium(rng, i) for i in range(30)]
    images = crowd + _stinger(crowd[-1]) + replay + _live(rng, 200)  # 40 s of live play after it
    cols, meta = _replays(images, cfg)
    assert len(meta["replays"]) == 1, meta["replays"]
    s, e = meta["replays"][0]
    assert s == pytest.approx(3.9, abs=0.25)
    assert e == pytest.approx(10.5, abs=0.25), "ends at the cut back to the wide live shot"
    t = np.arange(len(cols["shots_replay"])) * 0.5
    assert not (cols["shots_replay"][t >= 11.0] == 1).any()


def test_fast_pan_from_the_crowd_to_the_pitch_is_not_a_stinger(cfg):
    """A touchline camera whipping from the stands down to the play changes every frame by
    about a cut's distance for seconds (seen on real footage): no stinger, no replay."""
    sc = cfg.shots
    t = np.arange(60) * 0.2  # 12 s at 5 fps
    d = np.full(len(t), 0.03)
    d[0] = 0.0
    pan = (t >= 3.0) & (t < 8.0)
    d[pan] = np.resize([0.23, 0.21, 0.13, 0.26, 0.18, 0.22, 0.17, 0.24, 0.16, 0.21], pan.sum())
    g = np.where(t < 5.0, 0.03, np.minimum(0.03 + (t - 5.0) * 0.15, 0.35))  # tilts down to the pitch
    assert find_replays(t, d, g, 12.0, sc) == []
    d[pan] = 0.3  # a whip pan: every frame a cut's distance, far longer than a stinger
    assert find_replays(t, d, g, 12.0, sc) == []


def test_mancity_replay_after_a_dissolve_is_marked(cfg):
    """Behind-the-goal replay opened by a dissolve from the bench (2 changing frames at 5 fps)."""
    path = real_clip("goal_mancity_qpr_aguero_audio/goal.mp4")
    (s_lab, e_lab), = json.loads(path.with_name("labels.json").read_text())["replays"]
    cols, meta = _real("goal_mancity_qpr_aguero_audio/goal.mp4", cfg)
    assert len(meta["replays"]) == 1, meta["replays"]
    s, e = meta["replays"][0]
    assert abs(s - s_lab) <= 0.5 and e >= e_lab - 0.5
    t = np.arange(len(cols["shots_replay"])) * 0.5
    assert not (cols["shots_replay"][t < 16.0] == 1).any(), "the live goal and celebration are live"


def test_touchline_camera_run_has_no_replay(cfg):
    cols, meta = _real("nogoal_realmadrid_espanyol_run_audio/run.mp4", cfg)
    assert meta["replays"] == []


def test_a_player_filling_a_shot_of_grass_is_a_close_up_not_a_wide_shot(cfg):
    """A knee slide or a face against the pitch is mostly grass; what tells it from a wide
    shot is one figure covering much of the frame. The stands along the top and a bar
    across the whole frame (letterbox, boards) are no figure."""
    from pipeline.signals.shots import figure_share, shot_scale

    h, w = 180, 320
    wide = np.full((h, w), 255, np.uint8)
    wide[:30, :] = 0  # the stands
    wide[-12:, :] = 0  # a letterbox bar
    for k in range(20):  # players: small figures
        wide[60 + 4 * (k % 5): 72 + 4 * (k % 5), 10 + 15 * k: 16 + 15 * k] = 0
    close = np.full((h, w), 255, np.uint8)
    cv2.ellipse(close, (160, 180), (70, 120), 0, 0, 360, 0, -1)  # a player rising from the bottom edge
    assert figure_share(wide) < 0.02 and figure_share(close) > 0.15
    shots = cfg.shots
    grass = np.array([np.mean(wide > 0), np.mean(close > 0)])
    assert list(shot_scale(grass, shots)) == [WIDE, WIDE]  # by grass alone both look wide
    assert list(shot_scale(grass, shots, np.array([figure_share(wide), figure_share(close)]))) == [WIDE, CLOSE]


@pytest.mark.real
def test_real_knee_slide_on_the_grass_is_a_close_up(cfg):
    """Aguero shirt off on the grass (8-10 s into the Man City clip) reads as a close-up;
    the attack before it (1-4 s) stays wide."""
    path = real_clip("goal_mancity_qpr_aguero_audio/goal.mp4")
    cols, _ = shot_signals(media.frames(path, fps=5.0, width=640, end_s=11.0), media.probe(path).duration_s, cfg.shots, cfg.bin_s, GRASS)
    scale = cols["shots_scale"]
    assert np.all(scale[2:8] == WIDE), scale[2:8]  # 1-4 s
    assert np.mean(scale[16:20] >= CLOSE) >= 0.75, scale[16:20]  # 8-10 s
