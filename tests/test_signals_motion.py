"""Motion: camera pan/zoom from the picture, camera-compensated speeds from hand-made tracks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline import media
from pipeline.config import load_config
from pipeline.signals.motion import CameraMotion, estimate_camera_motion, motion_signals, track_speeds
from pipeline.types import BALL, CLASS_ID, Frame, Tracks

from .conftest import real_clip

PLAYER = CLASS_ID["player"]


@pytest.fixture(scope="module")
def cfg():
    return load_config().signals


GRASS = load_config().pitch.grass


def _world(seed=0, w=2400, h=600):
    """A pitch-like picture: grass with mowing stripes, lines and small marks (texture LK can hold)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (40, 140, 50)
    for x in range(0, w, 200):
        img[:, x : x + 100] = (45, 155, 55)
    for x in range(0, w, 330):
        cv2.line(img, (x, 0), (x + 80, h), (235, 235, 235), 3)
    for _ in range(900):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.circle(img, (x, y), int(rng.integers(2, 6)), colour, -1)
    return img


def _frames(shift_px_per_frame=0.0, zoom_per_frame=1.0, n=15, fps=5.0):
    world = _world()
    out = []
    for i in range(n):
        s = zoom_per_frame**i
        cx = 600 + i * shift_px_per_frame
        M = np.array([[s, 0, 320 - s * cx], [0, s, 180 - s * 300]], np.float64)
        img = cv2.warpAffine(world, M, (640, 360), flags=cv2.INTER_LINEAR)
        out.append(Frame(t_s=i / fps, image=img, index=i, scale=0.5))  # source is 1280 wide
    return out


def test_camera_pan_is_measured_in_screen_widths_per_second(cfg):
    cam = estimate_camera_motion(_frames(shift_px_per_frame=32.0), cfg.motion, GRASS)
    assert not cam.valid[0] and cam.valid[1:].all()
    # 32 px of 640 per 0.2 s = 0.25 screen widths/s
    assert np.nanmedian(cam.pan) == pytest.approx(0.25, rel=0.1)
    static = estimate_camera_motion(_frames(0.0), cfg.motion, GRASS)
    assert np.nanmax(static.pan) < 0.01


def test_camera_zoom_is_measured(cfg):
    cam = estimate_camera_motion(_frames(zoom_per_frame=1.04), cfg.motion, GRASS)
    assert np.nanmedian(cam.zoom) == pytest.approx(np.log(1.04) * 5, rel=0.15)
    assert np.nanmedian(cam.pan) < 0.02


def _camera(n, shift_src_px, fps=5.0):
    """Camera moving so that static points move by `shift_src_px` (source px) per frame."""
    to_flow = 0.25  # 320 flow px for a 1280 px source
    A = np.tile(np.array([[1.0, 0, shift_src_px * to_flow], [0, 1.0, 0]]), (n, 1, 1))
    t = np.arange(n) / fps
    valid = np.ones(n, bool)
    valid[0] = False
    pan = np.full(n, abs(shift_src_px) * to_flow / 320 * fps)
    pan[0] = np.nan
    return CameraMotion(t, A, valid, pan, np.zeros(n), np.full(n, 100), 320.0, to_flow)


def _tracks(rows):
    rows = sorted(rows)
    t, tid, cls, x, y, h = (np.array(c) for c in zip(*rows))
    xyxy = np.stack([x - h / 4, y - h, x + h / 4, y], axis=1).astype(np.float32)
    n = len(t)
    return Tracks(t.astype(np.float64), tid.astype(np.int32), cls.astype(np.int16), xyxy,
                  np.ones(n, np.float32), np.full(n, -1, np.int16), np.zeros(n, bool))


def test_player_speed_has_camera_motion_removed_and_scales_by_height(cfg):
    n, fps, pan = 20, 5.0, -40.0  # the picture moves 40 source px left per frame
    rows = []
    for i in range(n):
        t = i / fps
        # runner: 5 m/s = 1 m per frame = 50 px at 90 px per 1.8 m, on top of the pan
        rows.append((t, 1, PLAYER, 300 + i * (50 + pan), 500.0, 90.0))
        # a player standing still: moves only with the camera
        rows.append((t, 2, PLAYER, 900 + i * pan, 520.0, 90.0))
        # a bigger (closer) player running 8 m/s: 1.6 m per frame at 180 px per 1.8 m
        rows.append((t, 3, PLAYER, 200 + i * (160 + pan), 700.0, 180.0))
        rows.append((t, 9, BALL, 600 + i * (300 + pan), 600.0, 8.0))
    tracks = _tracks(rows)
    cam = _camera(n, pan)
    sp = track_speeds(tracks, cam, cfg.motion)
    by_id = {i: np.median(sp["speed_mps"][sp["track_id"] == i]) for i in (1, 2, 3)}
    assert by_id[1] == pytest.approx(5.0, abs=0.1)
    assert by_id[2] == pytest.approx(0.0, abs=0.1)
    assert by_id[3] == pytest.approx(8.0, abs=0.15)
    cols, meta = motion_signals(tracks, cam, n / fps, cfg.motion, cfg.bin_s)
    assert np.nanmax(cols["motion_sprinters"]) == 1, "only the 8 m/s player sprints"
    assert np.nanmedian(cols["motion_speed"][1:]) > 5.0
    # ball: 300 px per frame, scaled by the median player height (90 px) -> 30 m/s
    assert np.nanmedian(cols["motion_ball_speed"][1:]) == pytest.approx(30.0, rel=0.1)
    assert np.nanmedian(cols["motion_pan"][1:]) == pytest.approx(40 * 0.25 / 320 * 5, rel=0.01)


def test_without_compensation_a_standing_player_would_seem_to_run(cfg):
    n = 10
    rows = [(i / 5.0, 2, PLAYER, 900 - 40.0 * i, 520.0, 90.0) for i in range(n)]
    still = track_speeds(_tracks(rows), _camera(n, 0.0), cfg.motion)["speed_mps"]
    assert np.median(still) == pytest.approx(4.0, abs=0.1)  # what the camera alone would cause


def test_converging_players_and_gaps(cfg):
    n = 10
    rows = []
    for i in range(n):
        for k, (x0, y0) in enumerate([(200, 400), (1000, 400), (600, 200), (600, 700)]):
            f = 1 - 0.05 * i  # everyone closes in on (600, 425)
            rows.append((i / 5.0, k, PLAYER, 600 + (x0 - 600) * f, 425 + (y0 - 425) * f, 100.0))
    cols, _ = motion_signals(_tracks(rows), _camera(n, 0.0), 4.0, cfg.motion, cfg.bin_s)
    assert np.nanmin(cols["motion_converging"][:4]) > 0.5
    # nothing tracked after 2 s: gaps, not calm play
    assert np.isnan(cols["motion_speed"][4:]).all() and np.isnan(cols["motion_sprinters"][4:]).all()
    empty = Tracks(np.zeros(0), np.zeros(0, np.int32), np.zeros(0, np.int16), np.zeros((0, 4), np.float32),
                   np.zeros(0, np.float32), np.zeros(0, np.int16), np.zeros(0, bool))
    cols, meta = motion_signals(empty, _camera(n, 0.0), 2.0, cfg.motion, cfg.bin_s, pitch_in_view=np.array([1, 1, 0, 0], bool))
    assert np.isnan(cols["motion_speed"]).all() and meta["gap"] == "no tracks"
    assert np.isnan(cols["motion_pan"][2:]).all() and np.isfinite(cols["motion_pan"][1])


def _real_camera(rel, cfg):
    path = real_clip(rel)
    return estimate_camera_motion(media.frames(path, fps=5.0, width=640), cfg.motion, GRASS)


def test_real_camera_motion_in_pans_and_static_shots(cfg):
    cam = _real_camera("laliga_rm_sevilla_audio/soccer.mp4", cfg)
    t = cam.t_s
    static = cam.pan[(t > 0.5) & (t < 4.0)]
    panning = cam.pan[(t > 14.5) & (t < 17.5)]
    assert np.nanmedian(static) < 0.02
    assert np.nanmedian(panning) > 0.15
    tactical = _real_camera("tactical_cam_crowd_only_audio/football.mp4", cfg)
    assert np.nanmax(tactical.pan) < 0.02, "the fixed tactical camera does not move"


def test_players_seen_about_once_a_second_still_get_their_speed_on_every_frame(cfg):
    """detect.people_every_s = 1: a runner seen on passes 1.0-1.2 s apart (irregular frame
    times), carried between them by the tracker (interpolated rows): each pair of sightings
    gives the speed, and the carried frames between carry it too; seen every frame, the
    same rows give nothing extra."""
    fps, pan = 5.0, -40.0
    n = 31
    key = {0, 5, 11, 16, 22, 27}  # passes 1.0 and 1.2 s apart
    tracks = _tracks([(i / fps, 1, PLAYER, 300 + i * (50 + pan), 500.0, 90.0) for i in range(n)])  # 5 m/s
    tracks = Tracks(tracks.t_s, tracks.track_id, tracks.cls, tracks.xyxy, tracks.score, tracks.team,
                    np.array([i not in key for i in range(n)]))
    cam = _camera(n, pan)
    dense = track_speeds(tracks, cam, cfg.motion)
    assert len(dense["t_s"]) == 0  # every row between the passes is carried, none seen twice in a row
    sparse = track_speeds(tracks, cam, cfg.motion, people_every_s=1.0)
    assert sparse["speed_mps"] == pytest.approx(np.full(len(sparse["speed_mps"]), 5.0), abs=0.1)
    assert len(sparse["t_s"]) == max(key)  # frames 1 .. 27: from after the first pass to the last
    cols, _ = motion_signals(tracks, cam, n / fps, cfg.motion, cfg.bin_s, people_every_s=1.0)
    assert np.isfinite(cols["motion_speed"][1:int(max(key) / fps / cfg.bin_s)]).all()
