"""`highlights doctor`: what this machine gives the pipeline, in the spirit of `yolo checks`.

Each check is a line: versions of the parts the pipeline runs on, the ffmpeg it uses,
ONNX Runtime's execution providers, torch and CUDA, NVDEC decoding and NVENC encoding
(tried on a tiny generated clip, not just listed), Chromium for the review-page tests,
Ray for cluster batch, and the weights the detector would use and why. A check that
fails says what that costs and how to fix it; only a missing essential part (PyAV,
ffmpeg) makes the command exit non-zero.
"""

from __future__ import annotations

import importlib.metadata as md
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

OK, WARN, FAIL = "ok", "warn", "fail"
ACCELERATED = ("CUDA", "Tensorrt", "ROCM", "MIGraphX", "Dml", "CoreML", "OpenVINO")  # ONNX Runtime providers

PACKAGES = ("football-highlights", "numpy", "opencv-python", "av", "librosa", "moviepy", "ultralytics", "torch",
            "onnxruntime", "rapidocr-onnxruntime", "opentimelineio", "pydantic")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    essential: bool = False

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail, "essential": self.essential}


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def check_versions() -> list[Check]:
    out = [Check("python", OK, f"{platform.python_version()} ({sys.executable})")]
    for dist in PACKAGES:
        v = _version(dist)
        if v is not None:
            out.append(Check(dist, OK, v))
        else:
            out.append(Check(dist, FAIL, "not installed: pip install the project again", essential=dist == "av"))
    return out


def check_ffmpeg() -> Check:
    try:
        from .media import ffmpeg_exe

        exe = ffmpeg_exe()
        line = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=20).stdout.splitlines()[0]
        return Check("ffmpeg", OK, f"{line.split(' Copyright')[0]} ({exe})", essential=True)
    except Exception as exc:  # no binary, not executable, broken wheel
        return Check("ffmpeg", FAIL, f"unusable ({type(exc).__name__}: {exc}); pip install imageio-ffmpeg again",
                     essential=True)


def check_onnxruntime() -> Check:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return Check("onnxruntime providers", FAIL, f"cannot import onnxruntime ({exc})")
    providers = ort.get_available_providers()
    gpu = [p for p in providers if p.replace("ExecutionProvider", "") in ACCELERATED]
    return Check("onnxruntime providers", OK, ", ".join(providers) + ("" if gpu else " (.onnx weights run on the CPU)"))


def check_torch() -> Check:
    try:
        import torch
    except Exception as exc:  # missing or broken: the classic detector and .onnx weights do not need it
        return Check("torch / CUDA", WARN, f"cannot import torch ({type(exc).__name__}); .pt weights need it")
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return Check("torch / CUDA", OK, f"torch {torch.__version__}, CUDA {torch.version.cuda}: {names}")
    return Check("torch / CUDA", WARN, f"torch {torch.__version__}, no CUDA device: YOLO runs on the CPU "
                                        "(detect.device auto picks it)")


def _tiny_clip(folder: Path) -> Path | None:
    from .media import ffmpeg_exe

    clip = folder / "doctor.mp4"
    cmd = [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=s=256x144:d=0.4:r=10", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", str(clip)]
    try:
        return clip if subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def check_nvdec_nvenc() -> list[Check]:
    from .media import hwaccel_decoder
    from .render import encoder_works

    with tempfile.TemporaryDirectory(prefix="highlights-doctor-") as d:
        clip = _tiny_clip(Path(d))
        if clip is None:
            dec = Check("NVDEC decoding", WARN, "not tried: ffmpeg could not make a test clip")
        else:
            accel, why = hwaccel_decoder("cuda", clip)
            dec = Check("NVDEC decoding", OK if accel is not None else WARN,
                        why + ("" if accel is not None else "; media.hwaccel auto decodes on the CPU"))
    nvenc = encoder_works("h264_nvenc")
    enc = Check("NVENC encoding", OK if nvenc else WARN,
                "h264_nvenc encodes here" if nvenc else "h264_nvenc unavailable: the reel is encoded with libx264")
    return [dec, enc]


def check_chromium() -> Check:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return Check("chromium", OK, f"{path} (the review-page browser tests run)")
    return Check("chromium", WARN, "not found: the review-page browser tests skip (Debian: apt install chromium)")


def check_ray() -> Check:
    v = _version("ray")
    if v is None:
        return Check("ray", WARN, "not installed: batch runs with --engine local only (pip install '.[ray]')")
    import os

    addr = os.environ.get("RAY_ADDRESS")
    return Check("ray", OK, f"{v}; " + (f"RAY_ADDRESS={addr}" if addr else "no RAY_ADDRESS: --engine ray starts a local Ray"))


def check_weights(cfg) -> Check:
    from .detect import resolved_choice
    from .detect.yolo import default_models_dir
    from .errors import WeightsError

    folder = default_models_dir()
    try:
        choice = resolved_choice(cfg.detect)
    except WeightsError as exc:
        return Check("weights", FAIL, str(exc))
    if choice["backend"] == "yolo":
        size = choice["size"] / 1e6
        return Check("weights", OK, f"yolo with {choice['weights']} ({size:.1f} MB; detect.backend {cfg.detect.backend}, "
                                    f"models folder {folder})")
    why = ("detect.backend is classic" if cfg.detect.backend == "classic"
           else f"no weights in {folder} (set HIGHLIGHTS_MODELS or put an .onnx/.pt there; see models/README.md)")
    return Check("weights", WARN if cfg.detect.backend != "classic" else OK, f"classic detector: {why}")


def run_checks(cfg) -> list[Check]:
    return [*check_versions(), check_ffmpeg(), check_onnxruntime(), check_torch(), *check_nvdec_nvenc(),
            check_chromium(), check_ray(), check_weights(cfg)]


def exit_code(checks: list[Check]) -> int:
    """1 when an essential part is missing (nothing could run), else 0."""
    return 1 if any(c.essential and c.status == FAIL for c in checks) else 0
