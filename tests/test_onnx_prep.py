"""The CPU rewrites of an exported YOLO .onnx (detect/onnx_prep.py): float weights for a
dynamically quantised model, an input at the frames' aspect; same detections as the file
as it is, a cached copy, and files it does not understand left alone."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.detect import get_detector, onnx_prep
from pipeline.evaluate import load_labelled_frames
from pipeline.types import PERSON_CLASSES, Frame, box_iou

from .conftest import COCO_ONNX, FRAMES_DFL

GRASS = load_config().pitch.grass

needs_onnx = pytest.mark.skipif(not (COCO_ONNX.is_file() and FRAMES_DFL.is_dir()),
                                reason=f"COCO model {COCO_ONNX} or frames {FRAMES_DFL} not found (../shared absent)")


@pytest.fixture(autouse=True)
def model_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HIGHLIGHTS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def test_rect_shape_keeps_a_border_and_the_stride():
    assert onnx_prep.rect_shape(1280, 720, 640) == (448, 640)
    assert onnx_prep.rect_shape(1920, 1080, 640) == (448, 640)
    assert onnx_prep.rect_shape(720, 1280, 640) == (640, 448)  # portrait phone footage
    assert onnx_prep.rect_shape(640, 640, 640) == (640, 640)  # never larger than the square


def test_anchor_grid_is_ultralytics_layout():
    points, strides = onnx_prep.anchor_grid(64, 96)
    # stride 8: 8 rows of 12, then stride 16 (4x6), then 32 (2x3)
    assert points.shape == (1, 2, 96 + 24 + 6) and strides.shape == (1, 126)
    assert points[0, :, 0].tolist() == [0.5, 0.5] and points[0, :, 12].tolist() == [0.5, 1.5]
    assert strides[0, 0] == 8 and strides[0, 96] == 16 and strides[0, -1] == 32


def test_a_graph_it_does_not_know_is_used_as_it_is(tmp_path, model_cache):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 640, 640])
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(helper.make_graph([helper.make_node("Relu", ["images"], ["y"])], "g", [x], [y])), path)
    assert onnx_prep.prepare(path, (720, 1280), 640) == (path, None, [])
    assert not model_cache.exists()


def _boxes(det, images):
    frames = [Frame(0.0, im, i, 1.0) for i, im in enumerate(images)]
    out = det.detect(frames)
    return [d.xyxy[np.isin(d.cls, PERSON_CLASSES)] for d in out]


def _matched(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Share of the boxes in `a` with a box of `b` at IoU >= 0.5 on the same image."""
    hit = total = 0
    for x, y in zip(a, b):
        total += len(x)
        if len(x) and len(y):
            hit += int((box_iou(x, y).max(axis=1) >= 0.5).sum())
    return hit / max(total, 1)


@needs_onnx
@pytest.mark.real
def test_rewritten_model_finds_the_same_people_on_real_frames(model_cache):
    images = [cv2.resize(cv2.imread(str(f.image_path)), (640, 360), interpolation=cv2.INTER_AREA)
              for f in load_labelled_frames(FRAMES_DFL, limit=6)]
    base = [f"detect.weights={COCO_ONNX}", "detect.ball=model", "detect.pitch_filter=false", "detect.imgsz=640",
            "detect.people_every_s=0"]
    as_is = get_detector(load_config(overrides=base + ["detect.onnx_prep=false"]).detect, "yolo", grass=GRASS)
    assert as_is.describe()["onnx_prep"] == []
    prep = get_detector(load_config(overrides=base + ["detect.onnx_prep=true"]).detect, "yolo", grass=GRASS)
    a, b = _boxes(as_is, images), _boxes(prep, images)
    assert prep.describe()["onnx_prep"] == ["float", "rect 640x448"]
    # Measured on these 6 frames: 0.99 of the int8 model's people found again, and back.
    assert _matched(a, b) >= 0.9 and _matched(b, a) >= 0.9
    cached = sorted(model_cache.glob("*.onnx"))
    assert [p.name.split("-", 2)[2] for p in cached] == ["float-rect640x448-v1.onnx", "float-v1.onnx"]
    # a second detector reuses the cached files instead of writing them again
    mtimes = [p.stat().st_mtime_ns for p in cached]
    again = get_detector(prep.cfg, "yolo", grass=GRASS)
    _boxes(again, images[:1])
    assert [p.stat().st_mtime_ns for p in sorted(model_cache.glob("*.onnx"))] == mtimes


@needs_onnx
def test_dequantized_graph_has_no_integer_convolutions(model_cache):
    import onnx

    path, rect, done = onnx_prep.prepare(COCO_ONNX, None, 640)
    assert done == ["float"] and rect is None
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert "ConvInteger" not in ops and "DynamicQuantizeLinear" not in ops and "Conv" in ops


@needs_onnx
def test_a_640_export_runs_at_1280_with_its_input_and_anchors_rebuilt(model_cache):
    """The default with weights infers at 1280: the square 640 export is rebuilt for a 1280
    input at the frames' aspect (before, it ran at its own 640, whatever detect.imgsz said)."""
    import onnx

    path, rect, done = onnx_prep.prepare(COCO_ONNX, (720, 1280), 1280)
    assert rect == (800, 1280) and done == ["float", "rect 1280x800"]
    dims = onnx.load(path).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[2:]] == [800, 1280]
    det = get_detector(load_config(overrides=[f"detect.weights={COCO_ONNX}"]).detect, "yolo", grass=GRASS)
    img = cv2.imread(str(load_labelled_frames(FRAMES_DFL, limit=1)[0].image_path))
    d = det.detect([Frame(0.0, cv2.resize(img, (1280, 720), interpolation=cv2.INTER_AREA), 0, 1280 / 1920)])[0]
    assert "rect 1280x800" in det.describe()["onnx_prep"]
    assert np.isin(d.cls, PERSON_CLASSES).sum() >= 10


@needs_onnx
def test_an_unwritable_cache_costs_speed_not_the_run(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"  # the cache folder cannot be made under a file, even by root
    blocker.write_text("")
    monkeypatch.setenv("HIGHLIGHTS_CACHE", str(blocker))
    det = get_detector(load_config(overrides=[f"detect.weights={COCO_ONNX}"]).detect, "yolo", grass=GRASS)
    assert det.describe()["onnx_prep"] == []
    assert len(det.detect([Frame(0.0, np.zeros((360, 640, 3), np.uint8), 0, 1.0)])) == 1
