"""Detector evaluation: matching rules, the JSON shape, label files with and without data.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.errors import ConfigError
from pipeline.evaluate import eval_detector, load_labelled_frames, score_detections
from pipeline.types import BALL, CLASS_ID, Detections, Frame

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DFL = SHARED / "data" / "frames" / "dfl-bundesliga" / "valid"


class Oracle:
    """A detector that returns fixed boxes (in source px) for each frame index."""

    name = "oracle"

    def __init__(self, per_frame: list[Detections], width_px: int | None = None):
        self.per_frame = per_frame
        self.frame_width_px = width_px
        self.seen_widths = []

    def detect(self, frames: list[Frame]) -> list[Detections]:
        self.seen_widths += [f.image.shape[1] for f in frames]
        return [self.per_frame[f.index] for f in frames]

    def describe(self) -> dict:
        return {"backend": self.name}


def write_labelled(root: Path, width=1920, height=1080, data_yaml: str | None = None):
    """Two frames; frame 0: two players (DFL ids) and a ball; frame 1: one referee."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(2):
        cv2.imwrite(str(root / "images" / f"f{i}.jpg"), np.full((height, width, 3), 90, np.uint8))
    # DFL ids: 0 ball, 1 goalkeeper, 2 player, 3 referee
    (root / "labels" / "f0.txt").write_text(
        "2 0.25 0.5 0.02 0.06\n2 0.5 0.5 0.02 0.06\n0 0.75 0.5 0.005 0.009")
    (root / "labels" / "f1.txt").write_text("3 0.5 0.25 0.02 0.06")
    if data_yaml:
        (root / "data.yaml").write_text(data_yaml)


def box(cx, cy, w, h):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def dets(t, boxes, classes):
    return Detections(t, np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32),
                      np.array(classes, np.int16))


def test_perfect_and_partial_detections(tmp_path):
    write_labelled(tmp_path)
    W, H = 1920, 1080
    frame0 = dets(0, [box(0.25 * W, 0.5 * H, 38.4, 64.8), box(0.75 * W + 14, 0.5 * H, 10, 10),
                      box(0.9 * W, 0.9 * H, 30, 60)], [CLASS_ID["player"], BALL, CLASS_ID["person"]])
    frame1 = dets(1, [box(0.5 * W, 0.25 * H, 38.4, 64.8)], [CLASS_ID["referee"]])
    out = eval_detector(tmp_path, Oracle([frame0, frame1]))
    assert set(out) >= {"person", "ball", "ms_per_frame"}
    assert out["person"] == {"recall": round(2 / 3, 4), "precision": round(2 / 3, 4), "n": 3, "n_detections": 3}
    # 14 px from the labelled centre at 1920 px: found
    assert out["ball"]["recall"] == 1.0 and out["ball"]["precision"] == 1.0 and out["ball"]["n"] == 1
    json.dumps(out)


def test_ball_radius_scales_with_image_width(tmp_path):
    write_labelled(tmp_path, width=960, height=540)
    lf = load_labelled_frames(tmp_path)
    near = dets(0, [box(0.75 * 960 + 7, 270, 5, 5)], [BALL])  # 7 px at 960 = 14 px at 1920
    far = dets(0, [box(0.75 * 960 + 8.5, 270, 5, 5)], [BALL])  # 17 px at 1920
    assert score_detections(lf[:1], [near])["ball"]["recall"] == 1.0
    assert score_detections(lf[:1], [far])["ball"]["recall"] == 0.0


def test_people_match_at_iou_half_one_to_one(tmp_path):
    write_labelled(tmp_path)
    lf = load_labelled_frames(tmp_path)
    W, H = 1920, 1080
    twice = dets(0, [box(0.25 * W, 0.5 * H, 38.4, 64.8)] * 2, [CLASS_ID["player"]] * 2)
    r = score_detections(lf[:1], [twice])["person"]
    assert r["recall"] == 0.5 and r["precision"] == 0.5  # a duplicate does not match twice
    shifted = dets(0, [box(0.25 * W + 20, 0.5 * H, 38.4, 64.8)], [CLASS_ID["player"]])  # IoU ~0.3
    assert score_detections(lf[:1], [shifted])["person"]["recall"] == 0.0


def test_data_yaml_names_override_the_dfl_ids(tmp_path):
    write_labelled(tmp_path, data_yaml="names: ['player', 'ball', 'goalkeeper', 'referee']\n")
    lf = load_labelled_frames(tmp_path)
    # with these names id 0 is a player and id 2 a goalkeeper: 3 people, and the ball is id 1
    assert len(lf[0].person_xyxy) == 3 and len(lf[0].ball_xy) == 0


def test_frames_reach_the_detector_at_its_width(tmp_path):
    write_labelled(tmp_path)
    oracle = Oracle([Detections.empty(0), Detections.empty(1)], width_px=640)
    out = eval_detector(tmp_path, oracle)
    assert oracle.seen_widths == [640, 640]
    assert out["person"]["recall"] == 0.0 and out["person"]["precision"] is None


def test_missing_folders_are_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="images/ and labels/"):
        load_labelled_frames(tmp_path)


@pytest.mark.real
@pytest.mark.skipif(not DFL.is_dir(), reason=f"real labelled frames not found at {DFL}")
def test_real_labels_load():
    lf = load_labelled_frames(DFL)
    assert len(lf) == 49 and all(f.width_px == 1920 for f in lf)
    assert sum(len(f.ball_xy) for f in lf) == 45
    assert sum(len(f.person_xyxy) for f in lf) == 1129
