"""`yolo` backend: ultralytics YOLO (.pt or exported .onnx through the same `YOLO(path)`).

Takes batches of frames, gives Detections in source pixels with classes mapped from the
model's own names (COCO person / sports ball; football models player / goalkeeper /
referee / ball). Optional tiled inference at native resolution for small balls, optional
pitch filter (drops spectators and balls off the grass), optional classic ball finder.

Weights are resolved locally only (an explicit path, or a name in models/); nothing is ever
downloaded: a missing file is a WeightsError that says where to put it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from ..config import DetectConfig
from ..errors import WeightsError
from ..types import BALL, PERSON_CLASSES, SAME_TIME_S, Detections, Frame, GrassRange
from .base import class_map, merge_tiled, register, tile_grid

log = logging.getLogger(__name__)

_CHECKOUT = Path(__file__).resolve().parents[2]  # the source tree, when run from one


def default_models_dir() -> Path:
    """Where weights are looked for: $HIGHLIGHTS_MODELS when set; else the models/ folder of
    the source checkout this runs from; else models/ in the current directory (an installed
    wheel has no checkout: its models/ would otherwise be inside site-packages)."""
    env = os.environ.get("HIGHLIGHTS_MODELS", "").strip()
    if env:
        return Path(os.path.expanduser(env))
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "pipeline").is_dir():
        return _CHECKOUT / "models"
    return Path.cwd() / "models"


WEIGHT_SUFFIXES = (".onnx", ".pt", ".engine", ".torchscript", ".mlpackage", ".tflite")
MAX_UPSCALE = 4.0  # a second look's crop is scaled up at most this much (1280 px frames: 3x; 640: 6x, none)
HOW_TO = "see models/README.md for how to obtain weights (set HIGHLIGHTS_MODELS to use another folder)"


def _set_offline_env() -> None:
    """Switch ultralytics' network paths off (no pip AutoUpdate, no telemetry, no online
    check); read by ultralytics at its first import, so set before any of it is imported."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")


def _offline_ultralytics():
    """Import ultralytics with every network path switched off."""
    _set_offline_env()
    import ultralytics
    from ultralytics.utils import checks

    # The `onnx` package is only needed to export; ultralytics still asks for it when loading
    # an .onnx file. With AUTOINSTALL off that is a warning, never a pip run.
    checks.AUTOINSTALL = False
    return ultralytics


def resolve_weights(weights: str | os.PathLike | None, models_dir: Path | None = None) -> Path:
    """A local weights file for `weights`, or WeightsError. Never downloads.

    None -> the first *.onnx, then *.pt, in the models folder (`default_models_dir()` by default).
    A path that exists is used as given; a name ("yolo11n.pt") is otherwise looked up in the
    models folder only.
    """
    models_dir = models_dir if models_dir is not None else default_models_dir()
    if weights is None or str(weights).strip() == "":
        if models_dir.is_dir():
            for suffix in (".onnx", ".pt"):
                found = sorted(models_dir.glob(f"*{suffix}"))
                if found:
                    return found[0]
        raise WeightsError(f"no weights given and none in {models_dir}; {HOW_TO}")
    p = Path(os.path.expanduser(str(weights)))
    if p.is_file():
        return p
    if p.exists():
        raise WeightsError(f"weights {p} is not a file; {HOW_TO}")
    # A bare name is looked up in models/ only: .pt files are pickles that can run code when
    # loaded, so weights come from an explicit path or the project's models/ folder, never
    # from a shared cache or a download.
    candidates = [models_dir / p.name]
    for c in candidates:
        if c.is_file():
            return c
    raise WeightsError(f"weights {weights} not found (looked in {', '.join(str(c.parent) for c in [p] + candidates)}); "
                       f"put the file in {models_dir}; {HOW_TO}")


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch

        if torch.cuda.is_available():
            return "cuda:0"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
    except ImportError:
        pass
    return "cpu"


@register("yolo")
class YoloDetector:
    """Ultralytics YOLO. Parameters come from the `detect:` config section:
    weights, device, half (CUDA only), conf, imgsz, batch, tile/tile_size/tile_overlap
    (tiles at native resolution merged with NMS and box fusion, plus one whole-frame pass),
    pitch_filter (keep people whose feet and balls whose centre lie on the grass),
    ball (model | classic | both: where ball candidates come from); `grass` (the `pitch:`
    section) for the pitch filter and the classic ball finder."""

    name = "yolo"

    def __init__(self, cfg: DetectConfig, grass: GrassRange, weights_path: Path | None = None):
        self.cfg = cfg
        self.grass = grass
        self.weights_path = weights_path or resolve_weights(cfg.weights)
        _offline_ultralytics()
        from ultralytics import YOLO

        self.device = resolve_device(cfg.device)
        self.half = bool(cfg.half and self.device.startswith("cuda"))
        self._yolo = YOLO
        # On the CPU an .onnx runs rewritten where that is cheaper (detect/onnx_prep.py):
        # float for a dynamically quantised model now, and at the frames' aspect ratio once
        # the first frames show it. CUDA runs the file as it is.
        self._prep = cfg.onnx_prep and self.weights_path.suffix == ".onnx" and self.device == "cpu"
        self.onnx_prep: list[str] = []
        try:
            path = self.weights_path
            if self._prep:
                from .onnx_prep import prepare

                path, _, self.onnx_prep = prepare(self.weights_path, None, cfg.imgsz)
            self.model = YOLO(str(path), task="detect")
            names = self.model.names
        except WeightsError:
            raise
        except Exception as exc:  # corrupt file, wrong format, missing runtime
            raise WeightsError(f"cannot load weights {self.weights_path}: {exc}; {HOW_TO}") from None
        self._by_shape: dict[tuple[int, int], tuple] = {}  # frame (h, w) -> (model, imgsz, rewrites done)
        self._calm: set[int] = set()  # models whose onnxruntime session no longer spin-waits
        self.class_map = class_map(names)
        if not self.class_map:
            raise WeightsError(f"weights {self.weights_path} know none of person/player/goalkeeper/referee/ball "
                               f"(classes: {list(names.values())[:10]}...); {HOW_TO}")
        self._lut = np.full(max(names) + 1, -1, np.int16)
        for k, v in self.class_map.items():
            self._lut[k] = v
        self.model_names = {int(k): str(v) for k, v in names.items()}
        self.frame_width_px = None if cfg.tile else max(cfg.imgsz, 640)
        self._ball_finder = None
        self._check = None  # the model for second looks at ball candidates (ball_check), built on first use
        self._people_t: float | None = None  # time of the last people pass (people_every_s)
        if cfg.ball != "model" or cfg.people_every_s > 0:
            from .classic import BallFinder

            self._ball_finder = BallFinder(cfg)
        log.info("yolo: %s on %s (half=%s, tile=%s), classes %s", self.weights_path, self.device, self.half,
                 cfg.tile, {self.model_names[k]: v for k, v in self.class_map.items()})

    def describe(self) -> dict:
        c = self.cfg
        return {
            "backend": self.name,
            "weights": str(self.weights_path),
            "device": self.device,
            "half": self.half,
            "conf": c.conf,
            "imgsz": c.imgsz,
            "tile": c.tile,
            "people_every_s": c.people_every_s,
            "tile_size": c.tile_size if c.tile else None,
            "tile_overlap": c.tile_overlap if c.tile else None,
            "pitch_filter": c.pitch_filter,
            "ball": c.ball,
            "ball_conf": c.ball_conf,
            "ball_check": c.ball_check if not c.tile and self._check is not False else 0,
            "ball_check_px": c.ball_check_px,
            "class_map": {self.model_names[k]: v for k, v in self.class_map.items()},
            "onnx_prep": sorted({*self.onnx_prep, *(d for m in self._by_shape.values() for d in m[2])}),
        }

    def _model_for(self, shape: tuple[int, ...]):
        """(model, imgsz) for images of `shape`: the rect rewrite for their aspect where it
        applies (built once per aspect), else the model loaded at start."""
        hw = (int(shape[0]), int(shape[1]))
        if not self._prep or self.cfg.tile:
            return self.model, self.cfg.imgsz
        if hw not in self._by_shape:
            from .onnx_prep import prepare

            try:
                path, rect, done = prepare(self.weights_path, hw, self.cfg.imgsz)
                model = self._yolo(str(path), task="detect") if rect else self.model
            except Exception as exc:  # a rewrite that fails costs speed, never the run
                log.warning("onnx: rect rewrite of %s failed (%s); using the square model", self.weights_path, exc)
                rect, model, done = None, self.model, []
            self._by_shape[hw] = (model, rect or self.cfg.imgsz, done)
        return self._by_shape[hw][:2]

    # -- inference ------------------------------------------------------------------------

    def _predict(self, images: list[np.ndarray], ball_conf: float | None = None
                 ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(xyxy, score, our cls) per image, in that image's pixels; unmapped classes dropped;
        balls from `ball_conf` (default: the config's)."""
        ball_conf = self.cfg.ball_conf if ball_conf is None else ball_conf
        out = []
        classes = sorted(self.class_map)
        for start in range(0, len(images), self.cfg.batch):
            chunk = images[start : start + self.cfg.batch]
            same = all(im.shape == chunk[0].shape for im in chunk)
            model, imgsz = self._model_for(chunk[0].shape) if same else (self.model, self.cfg.imgsz)
            kwargs = dict(imgsz=imgsz, conf=min(self.cfg.conf, ball_conf), device=self.device,
                          half=self.half, classes=classes, verbose=False)
            self._calm_once(model, chunk, kwargs)
            results = model.predict(chunk, **kwargs)
            for r in results:
                b = r.boxes
                xyxy = b.xyxy.cpu().numpy().astype(np.float32)
                cls = self._lut[b.cls.cpu().numpy().astype(np.int64)]
                score = b.conf.cpu().numpy().astype(np.float32)
                # the ball is small and scored low by general models: it has its own threshold
                keep = (cls >= 0) & (score >= np.where(cls == BALL, ball_conf, self.cfg.conf))
                out.append((xyxy[keep], score[keep], cls[keep]))
        return out

    def _detect_tiled(self, frames: list[Frame]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        images, owners, offsets, inner = [], [], [], []
        for fi, f in enumerate(frames):
            h, w = f.image.shape[:2]
            grid = tile_grid(w, h, self.cfg.tile_size, self.cfg.tile_overlap)
            for x0, y0, x1, y1 in grid:
                images.append(f.image[y0:y1, x0:x1])
                owners.append(fi)
                offsets.append((x0, y0))
                # which tile edges are inside the image (a box touching them may be cut)
                inner.append((x0 > 0, y0 > 0, x1 < w, y1 < h, x1 - x0, y1 - y0))
            if len(grid) > 1:  # whole frame too, for people too big for one tile
                images.append(f.image)
                owners.append(fi)
                offsets.append((0, 0))
                inner.append((False, False, False, False, w, h))
        preds = self._predict(images)
        per_frame: list[list] = [[] for _ in frames]
        margin = 2.0
        for (xyxy, score, cls), fi, (ox, oy), (l, t, r, b, tw, th) in zip(preds, owners, offsets, inner):
            cut = np.zeros(len(xyxy), bool)
            if l:
                cut |= xyxy[:, 0] <= margin
            if t:
                cut |= xyxy[:, 1] <= margin
            if r:
                cut |= xyxy[:, 2] >= tw - margin
            if b:
                cut |= xyxy[:, 3] >= th - margin
            per_frame[fi].append((xyxy + np.array([ox, oy, ox, oy], np.float32), score, cls, cut))
        out = []
        for parts in per_frame:
            xyxy = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 4), np.float32)
            score = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.float32)
            cls = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int16)
            cut = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0, bool)
            out.append(merge_tiled(xyxy, score, cls, cut))
        return out

    def _people_pass(self, frames: list[Frame]) -> list[bool]:
        """Which frames get the model (people and ball): every one, or with `people_every_s`
        one each that many seconds (and the first after a jump back or a window's start)."""
        every = self.cfg.people_every_s
        if every <= 0:
            return [True] * len(frames)
        out = []
        for f in frames:
            key = self._people_t is None or f.t_s < self._people_t or f.t_s - self._people_t >= every - SAME_TIME_S
            if key:
                self._people_t = f.t_s
            out.append(key)
        return out

    def detect(self, frames: list[Frame]) -> list[Detections]:
        if not frames:
            return []
        key = self._people_pass(frames)
        model_frames = [f for f, k in zip(frames, key) if k]
        # A second look at ball candidates (detect.ball_check), not where tiles already see the
        # ball at native size, nor on frames so small that its crop would be scaled up more
        # than MAX_UPSCALE times (no detail left for the model to score).
        check = 0 if self.cfg.tile or not any(self._can_look_again(f) for f in model_frames) else self.cfg.ball_check
        if check and self._check_model() is None:  # a fixed-size export that cannot be rebuilt for crops
            check = 0
        # The first look goes lower for the model's own balls only where they get a second look.
        first = min(self.cfg.ball_check_min_conf, self.cfg.ball_conf) if check and self.cfg.ball != "classic" else None
        found = iter(self._detect_tiled(model_frames) if self.cfg.tile
                     else self._predict([f.image for f in model_frames], ball_conf=first))
        # Between people passes only the ball is looked for, by the classic finder.
        raw = [next(found) if k else None for k in key]
        out: list[Detections] = []
        second: list[tuple[int, np.ndarray, np.ndarray]] = []  # (out index, image, candidate centres)
        for f, found_in in zip(frames, raw):
            if found_in is None:
                out.append(self._ball_only(f))
                continue
            xyxy, score, cls = found_in
            masks = None
            if self.cfg.pitch_filter or self._ball_finder is not None:
                from .classic import pitch_mask

                masks = pitch_mask(f.image, self.grass)
            keep = np.ones(len(cls), bool)
            if self.cfg.pitch_filter:
                keep = on_pitch(xyxy, cls, masks)
            if self.cfg.ball == "classic":
                keep &= cls != BALL
            xyxy, score, cls = xyxy[keep], score[keep], cls[keep]
            bx, bs = np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
            looks_again = bool(check) and self._can_look_again(f)
            if self._ball_finder is not None and not (looks_again and self.cfg.ball == "model"):
                bx, bs = self._ball_finder.find(f.image, masks, xyxy[np.isin(cls, PERSON_CLASSES)])
            unsure = (cls == BALL) & (score < self.cfg.ball_conf)  # only where the first look went lower
            if looks_again:
                # Kept now: people and the model's sure balls. The model's unsure balls and
                # the classic blobs wait for the second look.
                low = np.argsort(-score[unsure])[: max(check // 2, 1)]
                cand = np.concatenate([xyxy[unsure][low], bx[np.argsort(-bs)]])[:check]
                second.append((len(out), f.image, (cand[:, :2] + cand[:, 2:]) / 2))
            elif len(bx):  # no second look (or a frame of another size in the batch): the blobs stay
                xyxy = np.concatenate([xyxy, bx])
                score = np.concatenate([score, bs])
                cls = np.concatenate([cls, np.full(len(bx), BALL, np.int16)])
                unsure = np.concatenate([unsure, np.zeros(len(bx), bool)])
            xyxy, score, cls = xyxy[~unsure], score[~unsure], cls[~unsure]
            out.append(Detections(f.t_s, (xyxy / f.scale).astype(np.float32), score.astype(np.float32),
                                  cls.astype(np.int16)))
        if second:
            for (i, _, _), (cx, cs) in zip(second, self._second_look([(im, c) for _, im, c in second])):
                d, s = out[i], frames[i].scale
                keep = _apart(cx, d.xyxy[d.cls == BALL] * s)
                out[i] = Detections(d.t_s, np.concatenate([d.xyxy, cx[keep] / s]).astype(np.float32),
                                    np.concatenate([d.score, cs[keep]]).astype(np.float32),
                                    np.concatenate([d.cls, np.full(int(keep.sum()), BALL, np.int16)]))
        return out

    def _calm_once(self, model, images: list[np.ndarray], kwargs: dict) -> None:
        """On a rewritten CPU .onnx, the first call builds the predictor and its session
        (one image), which is then rebuilt without spin-waiting threads (`_calm_session`)."""
        if self._prep and id(model) not in self._calm:
            model.predict(images[:1], **kwargs)
            _calm_session(model)
            self._calm.add(id(model))

    def _can_look_again(self, f: Frame) -> bool:
        return round(self.cfg.ball_check_side * f.image.shape[1]) * MAX_UPSCALE >= self.cfg.ball_check_px

    def _check_model(self):
        """The model for second looks, built once: an .onnx rebuilt square at
        `ball_check_px` (onnx_prep; an exported .onnx has a fixed input size, at which
        ultralytics would run every crop), else the loaded model, which takes any size.
        None where an .onnx cannot be rebuilt: then there is no second look (said once)."""
        if self._check is None:
            px, model = self.cfg.ball_check_px, self.model
            if self.weights_path.suffix == ".onnx":
                from .onnx_prep import prepare

                model, why = None, "onnx_prep is off"
                if self.cfg.onnx_prep:
                    try:
                        path, rect, done = prepare(self.weights_path, (px, px), px)
                        if rect:
                            model = self._yolo(str(path), task="detect")
                            self.onnx_prep = sorted({*self.onnx_prep, *(f"ball check {d}" for d in done)})
                        else:
                            why = "its graph cannot be rebuilt at that size"
                    except Exception as exc:
                        why = f"rebuilding it failed: {exc}"
                if model is None:
                    log.warning("yolo: no second look at ball candidates (detect.ball_check): %s runs at a "
                                "fixed input size, not %dx%d, and %s", self.weights_path.name, px, px, why)
            self._check = model if model is not None else False
        return self._check or None

    def _second_look(self, items: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each (image, candidate centres): the balls the model confirms in a crop
        around each candidate, scaled up (xyxy in image px, score), at most one a candidate."""
        crops, where = [], []
        px = self.cfg.ball_check_px
        for k, (image, centres) in enumerate(items):
            h, w = image.shape[:2]
            side = max(min(int(round(self.cfg.ball_check_side * w)), w, h), 8)
            for x, y in centres:
                x0 = int(np.clip(round(x - side / 2), 0, w - side))
                y0 = int(np.clip(round(y - side / 2), 0, h - side))
                crops.append(cv2.resize(image[y0 : y0 + side, x0 : x0 + side], (px, px), interpolation=cv2.INTER_LINEAR))
                where.append((k, x0, y0, side / px, x, y, max(side / 8, 6.0)))
        found: list[tuple[list, list]] = [([], []) for _ in items]
        if not crops:
            return [(np.zeros((0, 4), np.float32), np.zeros(0, np.float32)) for _ in items]
        model = self._check_model()
        kwargs = dict(imgsz=px, conf=self.cfg.ball_conf, device=self.device, half=self.half, verbose=False,
                      classes=[k for k, v in self.class_map.items() if v == BALL])
        self._calm_once(model, crops, kwargs)
        for start in range(0, len(crops), self.cfg.batch):
            results = model.predict(crops[start : start + self.cfg.batch], **kwargs)
            for r, (k, x0, y0, back, x, y, radius) in zip(results, where[start : start + self.cfg.batch]):
                b = r.boxes
                xyxy = b.xyxy.cpu().numpy().astype(np.float32) * back + np.array([x0, y0, x0, y0], np.float32)
                score = b.conf.cpu().numpy().astype(np.float32)
                near = np.linalg.norm((xyxy[:, :2] + xyxy[:, 2:]) / 2 - [x, y], axis=1) <= radius
                if near.any():
                    j = int(np.flatnonzero(near)[np.argmax(score[near])])
                    found[k][0].append(xyxy[j])
                    found[k][1].append(score[j])
        return [(np.array(a, np.float32).reshape(-1, 4), np.array(sc, np.float32)) for a, sc in found]

    def _ball_only(self, f: Frame) -> Detections:
        """A frame between people passes: only the classic ball candidates, found at the
        classic detector's working width where the frame is wider (the finder alone on the
        labelled 1080p frames: ball recall 0.33 at 960 px, 0.27 at 1280, at 13 against 32 ms
        a frame; on a people pass, beside the model's own ball, the full width finds more:
        0.467 against 0.444 in all)."""
        from .classic import pitch_mask

        image, s = f.image, 1.0
        width = self.cfg.classic_width
        if width and image.shape[1] > width:
            s = width / image.shape[1]
            image = cv2.resize(image, (width, int(round(image.shape[0] * s))), interpolation=cv2.INTER_AREA)
        bx, bs = self._ball_finder.find(image, pitch_mask(image, self.grass), np.zeros((0, 4), np.float32))
        return Detections(f.t_s, (bx / (s * f.scale)).astype(np.float32), bs.astype(np.float32),
                          np.full(len(bx), BALL, np.int16), people=False)


def _calm_session(model) -> None:
    """Rebuild an ultralytics ONNX model's CPU session without spin-waiting worker threads.

    onnxruntime's intra-op threads busy-wait between operators by default; with decoding
    running in a thread beside the detector (run.py) on 2 cores, the spinning takes the core
    the decoder needs. Ultralytics offers no way to pass session options, so the session it
    built is replaced by one with the same model and provider; where its internals are not
    as expected the session is left as it is."""
    try:
        import onnxruntime as ort

        backend = model.predictor.model.backend
        old = backend.session
        if old.get_providers()[0] != "CPUExecutionProvider":
            return
        opts = ort.SessionOptions()
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        backend.session = ort.InferenceSession(old._model_path, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # an ultralytics version with another layout: keep its session
        log.info("onnx: session left as ultralytics built it (%s)", exc)


def _apart(xyxy: np.ndarray, others: np.ndarray, min_px: float = 6.0) -> np.ndarray:
    """Which boxes of `xyxy` lie apart from `others` and from each earlier one (centres more
    than `min_px` or half the larger box apart): one ball, one candidate."""
    keep = np.ones(len(xyxy), bool)
    seen = [o for o in others]
    for i, b in enumerate(xyxy):
        c = (b[:2] + b[2:]) / 2
        for o in seen:
            if np.linalg.norm(c - (o[:2] + o[2:]) / 2) <= max(min_px, 0.5 * max(b[2] - b[0], o[2] - o[0])):
                keep[i] = False
                break
        if keep[i]:
            seen.append(b)
    return keep


def on_pitch(xyxy: np.ndarray, cls: np.ndarray, masks) -> np.ndarray:
    """Keep people whose feet (bottom centre) and balls whose centre lie on the pitch."""
    pitch = masks.pitch
    h, w = pitch.shape
    sx, sy = w / masks.width_px, h / masks.height_px
    is_ball = cls == BALL
    px = (xyxy[:, 0] + xyxy[:, 2]) / 2
    py = np.where(is_ball, (xyxy[:, 1] + xyxy[:, 3]) / 2, xyxy[:, 3])
    ix = np.clip((px * sx).astype(int), 0, w - 1)
    iy = np.clip((py * sy).astype(int), 0, h - 1)
    return pitch[iy, ix]
