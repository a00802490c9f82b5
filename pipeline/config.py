"""Typed configuration: configs/default.yaml, then an optional --config file, then --set.

The YAML file is the single source of default values; the models below state types,
units and ranges and forbid unknown keys. `load_config` returns a validated `Config`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigError

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class MediaConfig(_Section):
    analysis_fps: float = Field(gt=0, le=120)
    analysis_width: int = Field(ge=64, le=7680)
    skip_nonref: bool
    skip_nonref_min_ratio: float = Field(ge=1)
    skip_loop_filter: bool
    decode_ahead: int = Field(ge=0, le=256)
    decode_threads: int = Field(ge=0, le=64)
    hwaccel: Literal["none", "auto", "cuda"]
    audio_sr: int = Field(ge=4000, le=96000)
    audio_chunk_s: float = Field(gt=0, le=3600)
    max_duration_s: float = Field(gt=0)
    max_height: int = Field(gt=0)


class DetectConfig(_Section):
    backend: Literal["auto", "yolo", "classic"]
    weights: str | None
    device: str
    half: bool
    conf: float = Field(ge=0, le=1)
    imgsz: int = Field(ge=32, le=4096)
    onnx_prep: bool
    batch: int = Field(ge=1, le=1024)
    tile: bool
    tile_size: int = Field(ge=64, le=4096)
    tile_overlap: float = Field(ge=0, lt=1)
    pitch_filter: bool
    ball: Literal["model", "classic", "both"]
    ball_conf: float = Field(ge=0, le=1)
    ball_max_candidates: int = Field(ge=0, le=50)
    ball_min_score: float = Field(ge=0, le=1)
    classic_width: int | None = Field(ge=64, le=7680)
    teams: bool


class TrackConfig(_Section):
    max_age_s: float = Field(gt=0)
    match_iou: float = Field(ge=0, le=1)
    ball_gate_px: float = Field(gt=0)
    ball_max_gap_s: float = Field(ge=0)
    min_hits: int = Field(ge=1)
    high_score: float = Field(ge=0, le=1)


class AudioSignalsConfig(_Section):
    column_weights: dict[str, float]  # weight of each column inside the group's excitement
    n_fft: int = Field(ge=256, le=16384)  # samples
    hop_length: int = Field(ge=32, le=8192)  # samples
    n_mels: int = Field(ge=8, le=256)
    fmin_hz: float = Field(ge=0)
    fmax_hz: float = Field(gt=0)
    baseline_s: float = Field(gt=0)
    voice_baseline_s: float = Field(gt=0)
    silence_dbfs: float = Field(le=0)
    bed_percentile: float = Field(ge=0, le=100)
    voice_fmin_hz: float = Field(gt=0)
    voice_fmax_hz: float = Field(gt=0)
    voiced_min: float = Field(gt=0, lt=1)
    onset_delta_db: float = Field(gt=0)
    peak_smooth_s: float = Field(ge=0)
    peak_min_z: float = Field(gt=0)
    peak_min_duration_s: float = Field(ge=0)


class ShotsSignalsConfig(_Section):
    column_weights: dict[str, float]  # weight of each column inside the group's excitement
    grass_hsv_lo: tuple[int, int, int]  # OpenCV HSV, H in 0-180
    grass_hsv_hi: tuple[int, int, int]
    wide_min_grass: float = Field(ge=0, le=1)  # share of frame
    medium_min_grass: float = Field(ge=0, le=1)
    off_pitch_max_grass: float = Field(ge=0, le=1)
    cut_min_distance: float = Field(gt=0, le=1)  # Bhattacharyya distance
    cut_adaptive_ratio: float = Field(ge=1)
    cut_window_frames: int = Field(ge=1, le=20)
    min_shot_s: float = Field(ge=0)
    replay_burst_s: float = Field(gt=0)
    replay_burst_frames: int = Field(ge=2)
    replay_max_s: float = Field(gt=0)
    stinger_match_max: float = Field(ge=0, le=1)


class MotionSignalsConfig(_Section):
    column_weights: dict[str, float]  # weight of each column inside the group's excitement
    flow_width_px: int = Field(ge=64, le=4096)
    max_corners: int = Field(ge=10, le=5000)
    min_inliers: int = Field(ge=3)
    player_height_m: float = Field(gt=0)
    sprint_mps: float = Field(gt=0)
    speed_percentile: float = Field(ge=0, le=100)
    max_speed_mps: float = Field(gt=0)
    max_ball_speed_mps: float = Field(gt=0)


class SignalsConfig(_Section):
    bin_s: float = Field(gt=0, le=10)  # s
    clip_z: float = Field(gt=0)
    min_scale: dict[str, float]  # column -> floor of the robust scale, raw units (> 0)
    audio: AudioSignalsConfig
    shots: ShotsSignalsConfig
    motion: MotionSignalsConfig


class CascadeConfig(_Section):
    enabled: bool
    min_duration_s: float = Field(ge=0)
    smooth_s: float = Field(ge=0)
    min_z: float
    min_fraction: float = Field(ge=0, le=1)
    margin_pre_s: float = Field(ge=0)
    margin_post_s: float = Field(ge=0)


class WeightsConfig(_Section):
    motion: float = Field(ge=0)
    audio: float = Field(ge=0)
    shots: float = Field(ge=0)


class SegmentsConfig(_Section):
    target_fraction: float = Field(gt=0, le=1)
    target_duration_s: float | None = Field(default=None, gt=0)
    min_target_s: float = Field(ge=0)
    min_len_s: float = Field(gt=0)
    max_len_s: float = Field(gt=0)
    smooth_s: float = Field(ge=0)
    score_window_s: float = Field(ge=0)
    min_prominence: float = Field(ge=0)
    min_score: float
    calm_fraction: float = Field(ge=0, le=1)
    min_pre_s: float = Field(ge=0)
    min_post_s: float = Field(ge=0)
    onset_lead_s: float = Field(ge=0)
    core_pre_s: float = Field(ge=0)
    core_post_s: float = Field(ge=0)
    core_rise_fraction: float = Field(ge=0, le=1)
    pre_roll_s: float = Field(ge=0)
    post_roll_s: float = Field(ge=0)
    snap_to_cut_s: float = Field(ge=0)
    replay_context_s: float = Field(ge=0)
    replay_bonus: float = Field(ge=0)


class RenderConfig(_Section):
    mode: Literal["moviepy", "copy"]
    codec: str
    preset: str
    crf: int = Field(ge=0, le=51)
    audio_fade_s: float = Field(ge=0)
    crossfade_s: float = Field(ge=0)
    caption: bool
    batch_segments: int = Field(ge=1)


class ReportConfig(_Section):
    thumbnails: int = Field(ge=0, le=10)


class BatchConfig(_Section):
    engine: Literal["local", "ray"]
    workers: int | None = Field(ge=1)  # matches at once; None: local 1, ray as the cluster allows
    address: str | None
    cpus_per_job: float = Field(gt=0)  # Ray resources each match holds
    gpus_per_job: float = Field(ge=0)


class Config(_Section):
    media: MediaConfig
    detect: DetectConfig
    track: TrackConfig
    signals: SignalsConfig
    cascade: CascadeConfig
    weights: WeightsConfig
    segments: SegmentsConfig
    render: RenderConfig
    report: ReportConfig
    batch: BatchConfig

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def section_dict(self, *names: str) -> dict[str, Any]:
        """The named sections only: what a cache key of the stages using them hashes."""
        d = self.to_dict()
        return {n: d[n] for n in names}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections")
    return data


def _merge(base: dict, over: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        name = f"{where}{key}"
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, name + ".")
        else:
            out[key] = value
    return out


def parse_override(item: str) -> tuple[list[str], Any]:
    """`section.key=value` -> (["section", "key"], value parsed as YAML scalar)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    key, _, raw = item.partition("=")
    parts = [p for p in key.strip().split(".") if p]
    if len(parts) < 2:
        raise ConfigError(f"--set {item!r}: key must be section.key (e.g. weights.audio=0.7)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return parts, value


def _apply_override(data: dict, parts: list[str], value: Any) -> None:
    node = data
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node.get(part), dict):
            raise ConfigError(f"unknown config key {'.'.join(parts[: i + 1])!r}")
        node = node[part]
    if parts[-1] not in node:
        raise ConfigError(f"unknown config key {'.'.join(parts)!r}")
    node[parts[-1]] = value


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown config key {key!r}"
    if err["type"] == "missing":
        return f"missing config key {key!r}"
    return f"config key {key!r}: {err['msg']} (got {err.get('input')!r})"


def from_dict(data: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc)) from None


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults, then the file at `path` (only differing keys needed), then `overrides`."""
    data = _read_yaml(DEFAULT_CONFIG_PATH)
    if path is not None:
        user = _read_yaml(Path(path))
        unknown = [k for k in user if k not in data]
        if unknown:
            raise ConfigError(f"unknown config section {unknown[0]!r} in {path}")
        data = _merge(data, user)
    for item in overrides:
        parts, value = parse_override(item)
        _apply_override(data, parts, value)
    return from_dict(data)
