"""`highlights train-detector`: one epoch on a handful of real frames, offline, from the
float COCO checkpoint; what it writes is a checkpoint `--weights` accepts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import run_cli
from .test_detect import DFL, SHARED

COCO_PT = SHARED / "models" / "yolov8n_coco.pt"

pytestmark = pytest.mark.skipif(not (DFL.is_dir() and COCO_PT.is_file()),
                                reason=f"labelled frames {DFL} or checkpoint {COCO_PT} not found")


def _subset(dest: Path, clips: tuple[str, ...], n: int) -> Path:
    """A YOLO folder of `n` DFL frames from these clips (the file names start with the clip id)."""
    (dest / "images").mkdir(parents=True)
    (dest / "labels").mkdir(parents=True)
    frames = sorted(p for p in (DFL / "images").iterdir() if p.name.split("_")[0] in clips)[:n]
    for img in frames:
        shutil.copy(img, dest / "images" / img.name)
        shutil.copy(DFL / "labels" / (img.stem + ".txt"), dest / "labels" / (img.stem + ".txt"))
    return dest


def test_one_epoch_writes_a_checkpoint_that_eval_detector_and_weights_accept(tmp_path):
    train = _subset(tmp_path / "train", ("2e57b9",), 3)
    val = _subset(tmp_path / "val", ("798b45",), 2)  # another match than the training frames
    out = tmp_path / "run"
    r = run_cli("train-detector", "--data", train, "--val", val, "--weights", COCO_PT, "-o", out,
                "--names", "ball,goalkeeper,player,referee", "--keep-classes", "--epochs", "1", "--imgsz", "320",
                "--batch", "2", "--json", timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(r.stdout)
    weights = Path(doc["weights"])
    assert weights == out / "finetuned.pt" and weights.is_file()
    for when in ("before", "after"):
        assert doc[when]["frames"] == 2 and doc[when]["person"]["n"] > 0
        assert doc[when]["detector"]["backend"] == "yolo"
    again = run_cli("eval-detector", "--frames", val, "--weights", weights, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["person"]["n"] == doc["after"]["person"]["n"]


def test_a_folder_that_is_not_yolo_format_is_a_one_line_error(tmp_path):
    (tmp_path / "flat").mkdir()
    r = run_cli("train-detector", "--data", tmp_path / "flat", "--val", tmp_path / "flat", "--weights", COCO_PT,
                "-o", tmp_path / "run")
    assert r.returncode == 2 and "images/ and labels/" in r.stderr and "Traceback" not in r.stderr
