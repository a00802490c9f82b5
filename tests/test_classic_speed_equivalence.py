"""The classic detector's shortcuts give the same results as the plain OpenCV/numpy they
replace: ellipse morphology by rectangles, the integer Lab distance test, and working on the
pitch's window instead of the whole frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.detect import classic
from pipeline.detect.classic import (FG_DISTANCE, BallFinder, ClassicDetector, far_from_background, morph_ellipse,
                                    pitch_mask, tophat_ellipse)

from .test_detect import DFL, generated_frame, needs_dfl

GRASS = load_config().pitch.grass


def _real_frames(n: int = 3) -> list[np.ndarray]:
    """`n` labelled broadcast frames spread over the set, at the default classic width:
    their pitch starts well below the top of the frame."""
    paths = sorted((DFL / "images").iterdir())
    return [cv2.resize(cv2.imread(str(p)), (960, 540), interpolation=cv2.INTER_AREA) for p in paths[:: len(paths) // n][:n]]


@pytest.mark.parametrize("k", [3, 5, 15, 21, 31, 41, 61])
def test_ellipse_morphology_by_rectangles_is_cv2s(k):
    rng = np.random.default_rng(k)
    image = generated_frame(k)[0][..., 1].copy()
    noise = rng.integers(0, 256, (97, 131), dtype=np.uint8)  # edges everywhere, odd size
    ellipse = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    for gray in (image, noise, (noise > 128).astype(np.uint8)):
        assert np.array_equal(morph_ellipse(cv2.erode, gray, k), cv2.erode(gray, ellipse))
        assert np.array_equal(morph_ellipse(cv2.dilate, gray, k), cv2.dilate(gray, ellipse))
        assert np.array_equal(tophat_ellipse(gray, k), cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, ellipse))


def test_far_from_background_is_the_float_lab_distance():
    image = generated_frame(1)[0]
    H, W = image.shape[:2]
    small = cv2.resize(image, (W // 4, H // 4), interpolation=cv2.INTER_AREA)
    bg = cv2.medianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2Lab), max(5, int(0.03 * W / 4) | 1))
    bg = cv2.resize(bg, (W, H), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2Lab).astype(np.float32)
    expected = np.sqrt(((lab - bg) ** 2).sum(axis=2)) > FG_DISTANCE
    whole = (slice(0, H), slice(0, W))
    assert np.array_equal(far_from_background(image, whole), expected)
    window = (slice(100, 600), slice(30, 1200))
    assert np.array_equal(far_from_background(image, window), expected[window])


def _as_set(xyxy: np.ndarray, score: np.ndarray) -> list[tuple]:
    return sorted(map(tuple, np.column_stack([xyxy, score]).tolist()))


@needs_dfl
@pytest.mark.real
def test_pitch_window_finds_what_the_whole_frame_finds(monkeypatch):
    cfg = load_config().detect
    detector, balls = ClassicDetector(cfg, GRASS), BallFinder(cfg)
    images = _real_frames()
    windowed = []
    for image in images:
        masks = pitch_mask(image, GRASS)
        people = detector.players(image, masks)
        windowed.append((people, balls.find(image, masks, people[0])))
    monkeypatch.setattr(classic.PitchMasks, "window", lambda self, margin_px: (slice(0, self.height_px), slice(0, self.width_px)))
    for image, (people, ball) in zip(images, windowed):
        masks = pitch_mask(image, GRASS)
        whole_people = detector.players(image, masks)
        assert len(people[0]) and _as_set(*people) == _as_set(*whole_people)
        assert _as_set(*ball) == _as_set(*balls.find(image, masks, whole_people[0]))
