"""`highlights train-detector`: fine-tune a YOLO checkpoint on a club's own labelled frames.

Takes a YOLO-format folder (`images/` and `labels/`, `cls cx cy w h` normalised) for
training and one for validation (frames from *other* matches: frames of one match look
alike, so a model judged on its own match's frames looks better than it is), a float
ultralytics checkpoint (`.pt`) to start from, and trains it with ultralytics' own `train`,
offline (no plots, no fonts, no AMP check that would fetch weights). Writes the best
checkpoint as `OUT/<name>.pt`, which `--weights` accepts, and returns the figures of
`evaluate.eval_detector` on the validation frames before and after.

Class names come from the folder's `data.yaml` (`names:`) or from `names` given; the
pipeline maps them onto its own classes by name (`detect.base.NAME_MAP`: player,
goalkeeper, referee, ball, ...).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError, WeightsError


@dataclass(frozen=True)
class TrainResult:
    weights: Path  # OUT/<name>.pt
    before: dict  # eval_detector figures of the starting checkpoint on the validation frames
    after: dict  # ... of the trained one
    epochs: int
    seconds: float

    def summary(self) -> dict:
        return {"weights": str(self.weights), "epochs": self.epochs, "seconds": round(self.seconds, 1),
                "before": self.before, "after": self.after}


def _yolo_dir(path: str | os.PathLike, what: str) -> Path:
    p = Path(path)
    if not (p / "images").is_dir() or not (p / "labels").is_dir():
        raise ConfigError(f"{what} {p}: expected a YOLO-format folder with images/ and labels/")
    if not any((p / "images").iterdir()):
        raise ConfigError(f"{what} {p}: images/ is empty")
    return p.resolve()


def class_names(data: Path, names: list[str] | None) -> list[str]:
    """The dataset's class names, by id: `names` given, else `data.yaml`'s `names`."""
    if names:
        return list(names)
    for cand in (data / "data.yaml", data.parent / "data.yaml"):
        if cand.is_file():
            doc = yaml.safe_load(cand.read_text(encoding="utf-8")) or {}
            got = doc.get("names")
            if isinstance(got, dict):
                return [str(got[k]) for k in sorted(got)]
            if isinstance(got, list):
                return [str(x) for x in got]
    raise ConfigError(f"no class names for {data}: give --names (e.g. ball,goalkeeper,player,referee) "
                      "or put a data.yaml with names: beside images/")


# A dataset's football classes as a COCO model names them, for --keep-classes.
COCO_NAME = {"player": "person", "players": "person", "goalkeeper": "person", "goalkeepers": "person",
             "referee": "person", "referees": "person", "person": "person", "ball": "sports ball",
             "sports ball": "sports ball"}


def _in_base_classes(folder: Path, labels: list[str], base_names: dict[int, str], dest: Path) -> Path:
    """A copy of a YOLO folder whose labels use the base model's class ids (player,
    goalkeeper and referee as `person`, ball as `sports ball`; other classes dropped), its
    images linked, so training keeps the base model's head instead of starting a new one."""
    by_name = {n: i for i, n in base_names.items()}
    remap = {k: by_name[COCO_NAME[n.lower()]] for k, n in enumerate(labels)
             if COCO_NAME.get(n.lower()) in by_name}
    if not remap:
        raise ConfigError(f"--keep-classes: none of {labels} is a class of the base model")
    (dest / "images").mkdir(parents=True, exist_ok=True)
    (dest / "labels").mkdir(parents=True, exist_ok=True)
    for img in (folder / "images").iterdir():
        link = dest / "images" / img.name
        if not link.exists():
            link.symlink_to(img)
        src = folder / "labels" / (img.stem + ".txt")
        rows = []
        for line in (src.read_text().splitlines() if src.exists() else []):
            parts = line.split()
            if parts and parts[0].isdigit() and int(parts[0]) in remap:
                rows.append(" ".join([str(remap[int(parts[0])]), *parts[1:]]))
        (dest / "labels" / (img.stem + ".txt")).write_text("\n".join(rows) + ("\n" if rows else ""))
    return dest


def train_detector(data: str | os.PathLike, val: str | os.PathLike, base_weights: str | os.PathLike, out: str | os.PathLike,
                   *, names: list[str] | None = None, epochs: int = 20, imgsz: int = 960, batch: int = 4,
                   device: str = "cpu", name: str = "finetuned", keep_classes: bool = False, freeze: int = 0,
                   lr0: float | None = None) -> TrainResult:
    """Fine-tune `base_weights` on `data`, judged on `val`. `keep_classes`: train in the
    base model's own classes (see `_in_base_classes`): with a few dozen frames its COCO
    head is a better start than a new one. `freeze`: the first layers kept as they are (10:
    the whole backbone); `lr0`: the starting learning rate (default: ultralytics' choice)."""
    import time

    from ..config import load_config, with_updates
    from ..evaluate import eval_detector
    from . import get_detector
    from .yolo import _offline_ultralytics

    data, val = _yolo_dir(data, "--data"), _yolo_dir(val, "--val")
    base = Path(base_weights)
    if base.suffix != ".pt" or not base.is_file():
        raise WeightsError(f"--weights {base}: training starts from a float ultralytics checkpoint (.pt) on disk")
    labels = class_names(data, names)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    _offline_ultralytics()
    from ultralytics import YOLO

    model = YOLO(str(base))
    train_dir, val_dir, spec_names = data, val, {i: n for i, n in enumerate(labels)}
    if keep_classes:
        base_names = {int(k): str(v) for k, v in model.names.items()}
        train_dir = _in_base_classes(data, labels, base_names, out / "base-classes" / "train")
        val_dir = _in_base_classes(val, labels, base_names, out / "base-classes" / "val")
        spec_names = base_names
    spec = out / "data.yaml"
    spec.write_text(yaml.safe_dump({"path": "/", "train": str(train_dir / "images"), "val": str(val_dir / "images"),
                                    "names": spec_names}), encoding="utf-8")
    cfg = load_config()

    def figures(weights: Path) -> dict:
        c = with_updates(cfg, **{"detect.weights": str(weights), "detect.backend": "yolo"})
        return eval_detector(val, get_detector(c.detect, grass=c.pitch.grass))

    before = figures(base)
    t0 = time.perf_counter()
    model.train(data=str(spec), epochs=epochs, imgsz=imgsz, batch=batch, device=device, workers=0,
                project=str(out), name="run", exist_ok=True, plots=False, amp=False, val=True,
                verbose=False, seed=0, deterministic=True, freeze=freeze or None,
                **({"lr0": lr0, "optimizer": "AdamW"} if lr0 else {}))
    seconds = time.perf_counter() - t0
    best = out / "run" / "weights" / "best.pt"
    if not best.is_file():
        best = out / "run" / "weights" / "last.pt"
    if not best.is_file():
        raise WeightsError(f"training wrote no checkpoint under {out / 'run' / 'weights'}")
    final = out / f"{name}.pt"
    shutil.copy2(best, final)
    return TrainResult(final, before, figures(final), epochs, seconds)
