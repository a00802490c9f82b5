"""Tracking: persistent ids on known trajectories (with camera pan, misses, crossings),
the ball track's gating and gap filling, and the tracks file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.detect import get_detector
from pipeline.types import box_iou as _iou
from pipeline.track import BALL_TRACK_ID, read_tracks, track, write_tracks
from pipeline.types import BALL, CLASS_ID, Detections, Frame

WIDTH, HEIGHT = 1280, 720
FPS = 5.0


def cfg():
    return load_config().track


def trajectories(n_players=12, n_frames=40, seed=0, pan_px_per_frame=25.0):
    """Known player boxes per frame (n_frames, n_players, 4) in image px, with a camera pan
    that changes direction, players running at up to ~8 m/s, and two players crossing."""
    rng = np.random.default_rng(seed)
    start = np.stack([rng.uniform(100, WIDTH - 100, n_players), rng.uniform(200, HEIGHT - 60, n_players)], 1)
    vel = rng.normal(0, 12, (n_players, 2))  # px per sample
    start[0], vel[0] = (400, 400), (15, 0)  # players 0 and 1 run through each other
    start[1], vel[1] = (700, 405), (-15, 0)
    pan = pan_px_per_frame * np.sin(np.linspace(0, np.pi * 2, n_frames))
    camera = np.cumsum(pan)
    feet = start[None] + vel[None] * np.arange(n_frames)[:, None, None]
    feet[:, :, 0] -= camera[:, None]
    h = 30 + 40 * feet[:, :, 1:2] / HEIGHT
    w = 0.4 * h
    boxes = np.concatenate([feet[:, :, :1] - w / 2, feet[:, :, 1:] - h, feet[:, :, :1] + w / 2, feet[:, :, 1:]], axis=2)
    return boxes.astype(np.float32)


def noisy_detections(truth, seed=0, miss=0.1, jitter_px=2.0):
    rng = np.random.default_rng(seed)
    dets, who = [], []
    for f, boxes in enumerate(truth):
        seen = rng.random(len(boxes)) >= miss
        inside = (boxes[:, 0] > 0) & (boxes[:, 2] < WIDTH)
        keep = np.flatnonzero(seen & inside)
        b = boxes[keep] + rng.normal(0, jitter_px, (len(keep), 4)).astype(np.float32)
        score = rng.uniform(0.3, 0.95, len(keep)).astype(np.float32)
        dets.append(Detections(f / FPS, b, score, np.full(len(keep), CLASS_ID["player"], np.int16)))
        who.append(keep)
    return dets, who


def id_switches(tracks, truth_boxes_per_frame, times, max_gap_s=1.0):
    """Per true player, (id changes, consecutive matched pairs): an id change counts between
    two frames where the player is matched (IoU >= 0.5) at most `max_gap_s` apart; a player
    who leaves the view for longer may come back with a new id. Also returns how many
    tracks cover more than one true player."""
    seen: dict[int, list[tuple[float, int]]] = {}
    for f, t in enumerate(times):
        rows = np.flatnonzero((np.abs(tracks.t_s - t) < 1e-6) & (tracks.track_id != BALL_TRACK_ID))
        if len(rows) == 0:
            continue
        iou = _iou(truth_boxes_per_frame[f], tracks.xyxy[rows])
        for p in range(len(truth_boxes_per_frame[f])):
            j = int(np.argmax(iou[p]))
            if iou[p, j] >= 0.5:
                seen.setdefault(p, []).append((t, int(tracks.track_id[rows[j]])))
    switches = pairs = 0
    owner: dict[int, set[int]] = {}
    for p, hist in seen.items():
        for (t0, a), (t1, b) in zip(hist, hist[1:]):
            if t1 - t0 <= max_gap_s:
                pairs += 1
                switches += a != b
        for _, i in hist:
            owner.setdefault(i, set()).add(p)
    shared = sum(len(ps) > 1 for ps in owner.values())
    return switches, pairs, shared


def test_ids_survive_camera_pan_misses_and_a_crossing():
    truth = trajectories()
    dets, _ = noisy_detections(truth)
    tracks = track(dets, cfg(), WIDTH)
    switches, pairs, shared = id_switches(tracks, truth, [d.t_s for d in dets])
    assert pairs >= 300
    # Measured 5 changes in 369 pairs, all while two or three players overlap within a few
    # px (the truth-to-box matching is itself ambiguous there).
    assert switches <= 0.02 * pairs, (switches, pairs)
    # the two players who run through each other (around frame 10) keep their own ids

    def ids_at(f):
        rows = np.flatnonzero(np.abs(tracks.t_s - dets[f].t_s) < 1e-6)
        return [int(tracks.track_id[rows][np.argmax(_iou(truth[f][p : p + 1], tracks.xyxy[rows])[0])]) for p in (0, 1)]

    before, after = ids_at(8), ids_at(len(dets) - 1)
    assert before == after and before[0] != before[1]
    n_ids = len(np.unique(tracks.track_id[tracks.track_id != BALL_TRACK_ID]))
    assert n_ids <= 1.25 * truth.shape[1], n_ids


def test_short_player_gaps_are_interpolated_and_flagged():
    truth = trajectories(n_players=3, n_frames=10, pan_px_per_frame=0)
    dets, _ = noisy_detections(truth, miss=0.0, jitter_px=0)
    dets[4] = dets[4][np.array([False, True, True])]  # player 0 unseen in frame 4
    tracks = track(dets, cfg(), WIDTH)
    at4 = np.abs(tracks.t_s - dets[4].t_s) < 1e-9
    assert at4.sum() == 3 and tracks.interpolated[at4].sum() == 1
    filled = tracks.xyxy[at4 & tracks.interpolated][0]
    assert np.abs(filled - truth[4, 0]).max() < 3


def _ball_dets(n=30, gap=(10, 13), outlier_every=4):
    """Ball moving steadily; one gap; a bright false candidate far away now and then."""
    dets, truth = [], []
    for f in range(n):
        xy = np.array([200 + 20 * f, 400 - 5 * f], np.float32)
        truth.append(xy)
        boxes, scores = [], []
        if not gap[0] <= f < gap[1]:
            boxes.append([xy[0] - 5, xy[1] - 5, xy[0] + 5, xy[1] + 5])
            scores.append(0.3)
        if f % outlier_every == 0 and f > 0:
            boxes.append([1100, 150, 1110, 160])  # the penalty spot, more confident
            scores.append(0.6)
        dets.append(Detections(f / FPS, np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32),
                               np.full(len(boxes), BALL, np.int16)))
    return dets, np.array(truth)


def test_ball_track_follows_the_ball_not_a_brighter_distraction_and_fills_gaps():
    dets, truth = _ball_dets()
    tracks = track(dets, cfg(), WIDTH)
    ball = tracks.track_id == BALL_TRACK_ID
    assert (tracks.cls[ball] == BALL).all()
    assert ball.sum() == len(dets)  # one ball row per frame, gap filled
    centres = (tracks.xyxy[ball, :2] + tracks.xyxy[ball, 2:]) / 2
    assert np.abs(centres - truth).max() < 3
    assert tracks.interpolated[ball].sum() == 3


def test_ball_gap_longer_than_limit_is_not_filled():
    dets, _ = _ball_dets(gap=(5, 15), outlier_every=1000)  # 2 s gap > ball_max_gap_s (1 s)
    tracks = track(dets, cfg(), WIDTH)
    assert not tracks.interpolated[tracks.track_id == BALL_TRACK_ID].any()


def test_tracks_round_trip_through_parquet(tmp_path):
    truth = trajectories(n_players=4, n_frames=8)
    dets, _ = noisy_detections(truth)
    tracks = track(dets, cfg(), WIDTH)
    path = write_tracks(tracks, tmp_path / "tracks.parquet", {"detector": "x"})
    back, info = read_tracks(path)
    assert info == {"detector": "x"}
    for name in ("t_s", "track_id", "cls", "xyxy", "score", "team", "interpolated"):
        np.testing.assert_array_equal(getattr(back, name), getattr(tracks, name))


def render(truth_boxes, kits, shift_px, seed):
    """Green striped pitch scrolled by the camera, with figures at the known boxes."""
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    x = np.arange(WIDTH) + shift_px
    img[:, :, 0], img[:, :, 2] = 40, 45
    img[:, :, 1] = (125 + 18 * ((x // 90) % 2))[None, :]
    img[: int(0.1 * HEIGHT)] = np.random.default_rng(seed).integers(40, 200, (int(0.1 * HEIGHT), WIDTH, 3))
    for (x1, y1, x2, y2), kit in zip(truth_boxes, kits):
        cx, h = (x1 + x2) / 2, y2 - y1
        cv2.ellipse(img, (int(cx), int(y2 - 0.62 * h)), (int((x2 - x1) / 2), int(0.26 * h)), 0, 0, 360, kit, -1)
        cv2.rectangle(img, (int(cx - h * 0.13), int(y2 - 0.4 * h)), (int(cx + h * 0.13), int(y2)), (40, 60, 120), -1)
        cv2.circle(img, (int(cx), int(y2 - 0.9 * h)), int(0.1 * h), (120, 160, 210), -1)
    return img


def test_ids_stable_on_generated_footage_through_the_classic_detector():
    truth = trajectories(n_players=10, n_frames=25, seed=3, pan_px_per_frame=15)
    # keep players apart so the test is about tracking, not about splitting merged blobs
    truth = truth[:, 2:]
    kits = [(235, 235, 235) if k % 2 else (40, 40, 200) for k in range(truth.shape[1])]
    camera = np.cumsum(15 * np.sin(np.linspace(0, 2 * np.pi, truth.shape[0])))
    det = get_detector(load_config(overrides=["detect.classic_width=null"]).detect, "classic", grass=load_config().pitch.grass)
    frames = [Frame(f / FPS, render(truth[f], kits, camera[f], f), f, 1.0) for f in range(truth.shape[0])]
    dets = det.detect(frames)
    tracks = track(dets, cfg(), WIDTH)
    switches, pairs, shared = id_switches(tracks, truth, [f.t_s for f in frames])
    assert pairs >= 0.6 * truth.shape[0] * truth.shape[1]
    assert switches <= 0.01 * pairs, (switches, pairs)
    assert shared == 0


def test_detections_and_tracks_refuse_mismatched_shapes_where_they_are_built():
    """A detector or tracker bug shows up at its source, not as a silently repaired table."""
    from pipeline.types import NO_TEAM, Detections, Tracks

    ok = Detections(1.0, np.zeros((2, 4), np.float32), np.ones(2, np.float32), np.zeros(2, np.int16))
    assert list(ok.team) == [NO_TEAM, NO_TEAM]  # not given: no team known yet
    with pytest.raises(ValueError, match="same 2 boxes"):
        Detections(1.0, np.zeros((2, 4), np.float32), np.ones(3, np.float32), np.zeros(2, np.int16))
    with pytest.raises(ValueError, match="team"):
        Detections(1.0, np.zeros((2, 4), np.float32), np.ones(2, np.float32), np.zeros(2, np.int16), np.zeros(1, np.int16))
    cols = dict(t_s=np.zeros(3), track_id=np.zeros(3, np.int32), cls=np.zeros(3, np.int16), xyxy=np.zeros((3, 4)),
                score=np.zeros(3), team=np.zeros(3, np.int16), interpolated=np.zeros(3, bool))
    assert len(Tracks(**cols)) == 3
    with pytest.raises(ValueError, match="different lengths"):
        Tracks(**(cols | {"team": np.zeros(2, np.int16)}))


def test_people_seen_once_a_second_keep_their_ids_carried_by_the_camera():
    """detect.people_every_s: people are looked for on every fifth frame only (the ball on
    all). The tracker steps over the frames between, moving its players with the camera's
    own motion (a pan of up to 25 px a frame, 125 px between sightings), keeps their ids and
    carries their boxes across the frames between."""
    from pipeline.signals.motion import CameraMotion

    n = 40
    truth = trajectories(n_frames=n)
    full, _ = noisy_detections(truth, miss=0.05)
    every = 5
    dets = [d if f % every == 0 else Detections(d.t_s, d.xyxy[:0], d.score[:0], d.cls[:0], people=False)
            for f, d in enumerate(full)]
    pan = 25.0 * np.sin(np.linspace(0, np.pi * 2, n))  # as trajectories() moves the camera
    to_flow = 0.25
    A = np.tile(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (n, 1, 1))
    A[:, 0, 2] = -pan * to_flow
    valid = np.ones(n, bool)
    valid[0] = False
    camera = CameraMotion(np.arange(n) / FPS, A, valid, np.zeros(n), np.zeros(n), np.full(n, 100), 320.0, to_flow)

    key_times = [d.t_s for d in dets if d.people]
    key_truth = truth[::every]
    tracks = track(dets, cfg(), WIDTH, camera=camera)
    switches, pairs, shared = id_switches(tracks, key_truth, key_times, max_gap_s=1.0 + 1e-6)
    # Measured: 4 id changes in 43 pairs of sightings a second apart (every frame: 4 in 372);
    # fewer pairs since a track starts only on a confident sighting, a second later here.
    assert pairs >= 35
    assert switches <= 0.1 * pairs, (switches, pairs)
    # the frames between the sightings carry every tracked player's box
    between = ~np.isin(np.round(tracks.t_s, 6), np.round(key_times, 6)) & (tracks.track_id != BALL_TRACK_ID)
    assert between.any() and tracks.interpolated[between].all()
    per_frame = [np.sum(between & (np.abs(tracks.t_s - (f / FPS)) < 1e-6)) for f in range(1, n - every) if f % every]
    assert np.median(per_frame) >= 0.5 * truth.shape[1]
    # without the camera's motion the same sightings lose their players in the pan
    blind = track(dets, cfg(), WIDTH)
    blind_switches, blind_pairs, _ = id_switches(blind, key_truth, key_times, max_gap_s=1.0 + 1e-6)
    assert blind_switches > 2 * switches, (blind_switches, switches)  # measured 14 in 40


@pytest.mark.real
def test_highlights_detect_carries_players_between_people_passes_on_a_real_clip(tmp_path):
    """`highlights detect` with weights and the default config: people passes once a second,
    the players carried between them."""
    from pipeline.run import detect_and_track
    from pipeline.types import PERSON_CLASSES

    from .conftest import COCO_ONNX, real_clip

    clip = real_clip("goal_benfica_porto_audio/goal.mp4")
    if not COCO_ONNX.is_file():
        pytest.skip(f"COCO model {COCO_ONNX} not found (../shared absent)")
    res = detect_and_track(clip, tmp_path / "out", load_config(overrides=[f"detect.weights={COCO_ONNX}"]))
    assert res.detector["people_every_s"] == 1.0
    tracks, _ = read_tracks(tmp_path / "out" / "tracks.parquet")
    person = np.isin(tracks.cls, PERSON_CLASSES)
    seen_times = np.unique(tracks.t_s[person & ~tracks.interpolated])
    assert len(seen_times) >= 8 and np.median(np.diff(seen_times)) == pytest.approx(1.0, abs=0.25)
    # measured: 24 player tracks, each over 12 frames at the median (2.4 s, three passes)
    assert res.tracks["people_tracks"] >= 10 and res.tracks["median_track_rows"] >= 8
    assert (person & tracks.interpolated).sum() > (person & ~tracks.interpolated).sum()
