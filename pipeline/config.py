"""Typed configuration: pipeline/configs/default.yaml, then an optional --config file, then --set.

The YAML file is the single source of default values; the models below state types,
units and ranges and forbid unknown keys (also inside the per-column dicts, whose names
are the ones pipeline/configs/default.yaml lists). Every float must be finite. Rules that tie two
keys together (hop_length <= n_fft, min_len_s <= max_len_s, ...) are model validators.
`load_config` returns a validated `Config`; every failure is a one-line `ConfigError`
that names the dotted key.

Config files are plain YAML of at most MAX_CONFIG_BYTES, UTF-8, with no anchors or
aliases (`&a` / `*a`: a few hundred bytes of nested aliases expand to gigabytes).
"""

from __future__ import annotations

import copy
import functools
import os
import reprlib
import stat
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from .errors import ConfigError
from .types import GrassRange

# Inside the package, so an installed wheel has it; the profiles (fast, quality, gpu) stay
# in the source tree's configs/ as documented examples of a --config file.
DEFAULT_CONFIG_PATH = Path(str(resources.files("pipeline").joinpath("configs", "default.yaml")))
PROFILES_DIR = Path(__file__).resolve().parent.parent / "configs"
MAX_CONFIG_BYTES = 1 << 20  # a config file is a few KiB; refuse anything over 1 MiB unread

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                "veryslow", "placebo")

# column -> weight or floor: finite, >= 0, names from the same dict in pipeline/configs/default.yaml
ColumnFloats = dict[str, Annotated[float, Field(ge=0)]]

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 3, 6, 6, 6


def _brief(value: Any, limit: int = 80) -> str:
    """A repr of `value` bounded in length (and in the work to build it)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _num(x: Any) -> str:
    return f"{x:.10g}" if isinstance(x, float) else _brief(x)


def _rule(message: str) -> PydanticCustomError:
    """A cross-field error whose message is already complete (names its dotted keys)."""
    return PydanticCustomError("config_rule", "{message}", {"message": message})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _dict_keys_from_defaults(self):
        # A per-column dict may only name columns its default lists: a typo would
        # otherwise be a column that silently keeps its default weight.
        for name in type(self).model_fields:
            value = getattr(self, name)
            if not isinstance(value, dict):
                continue
            where = f"{_where(self)}{name}"
            allowed = _default_at(where)
            if not isinstance(allowed, dict):
                continue
            for key in value:
                if key not in allowed:
                    raise _rule(f"unknown config key {_brief(f'{where}.{key}')}; "
                                f"{where} takes {', '.join(allowed)}")
        return self


class MediaConfig(_Section):
    analysis_fps: float = Field(gt=0, le=120)
    analysis_width: int = Field(ge=64, le=7680)
    skip_nonref: bool
    skip_nonref_min_ratio: float = Field(ge=1)
    skip_loop_filter: bool
    decode_ahead: int = Field(ge=0, le=256)
    decode_threads: int = Field(ge=0, le=64)
    hwaccel: Literal["none", "auto", "cuda"]
    audio_sr: int = Field(ge=4000, le=96000)  # Hz
    audio_chunk_s: float = Field(gt=0, le=3600)
    max_duration_s: float = Field(gt=0)  # s
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
    people_every_s: float = Field(default=0.0, ge=0)
    tile_size: int = Field(ge=64, le=4096)
    tile_overlap: float = Field(ge=0, lt=1)
    pitch_filter: bool
    ball: Literal["model", "classic", "both"]
    ball_conf: float = Field(ge=0, le=1)
    ball_check: int = Field(ge=0, le=50)
    ball_check_side: float = Field(gt=0, le=1)
    ball_check_px: int = Field(ge=32, le=4096, multiple_of=32)  # YOLO's input is a multiple of its stride
    ball_check_min_conf: float = Field(ge=0.001, le=1)  # conf 0 would send every anchor through NMS
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
    column_weights: ColumnFloats  # weight of each column inside the group's excitement
    n_fft: int = Field(ge=256, le=16384)  # samples
    hop_length: int = Field(ge=32, le=8192)  # samples
    n_mels: int = Field(ge=8, le=256)
    fmin_hz: float = Field(ge=0)
    fmax_hz: float = Field(gt=0)
    baseline_s: float = Field(gt=0)
    voice_baseline_s: float = Field(gt=0)
    silence_dbfs: float = Field(le=0)
    bed_percentile: float = Field(ge=0, le=100)
    bed_valley_hz: float = Field(ge=0)
    voice_fmin_hz: float = Field(gt=0)
    voice_fmax_hz: float = Field(gt=0)
    voiced_min: float = Field(gt=0, lt=1)
    onset_delta_db: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self):
        w = _where(self)
        _less(self, w, "hop_length", "n_fft", strict=False)
        _less(self, w, "fmin_hz", "fmax_hz", strict=True)
        _less(self, w, "voice_fmin_hz", "voice_fmax_hz", strict=True)
        return self


class ShotsSignalsConfig(_Section):
    column_weights: ColumnFloats  # weight of each column inside the group's excitement
    wide_min_grass: float = Field(ge=0, le=1)  # share of frame
    medium_min_grass: float = Field(ge=0, le=1)
    off_pitch_max_grass: float = Field(ge=0, le=1)
    closeup_min_figure: float = Field(gt=0, le=1)  # share of the frame one figure over the grass takes in a close-up
    cut_min_distance: float = Field(gt=0, le=1)  # Bhattacharyya distance
    cut_adaptive_ratio: float = Field(ge=1)
    cut_window_frames: int = Field(ge=1, le=20)
    min_shot_s: float = Field(ge=0)
    replay_burst_frames: int = Field(ge=2)  # >= 2: one changed frame is a hard cut, not a stinger
    stinger_gap_frames: int = Field(ge=0, le=5)  # sampled frames
    stinger_max_s: float = Field(gt=0)  # s
    stinger_context_s: float = Field(gt=0)  # s
    stinger_min_contrast: float = Field(ge=1)
    stinger_match_max: float = Field(ge=0, le=1)  # Bhattacharyya distance
    replay_live_wide_s: float = Field(gt=0)  # s
    replay_live_wide_share: float = Field(gt=0, le=1)  # share of frames
    replay_max_s: float = Field(gt=0)  # s

    @model_validator(mode="after")
    def _ordered(self):
        w = _where(self)
        _less(self, w, "off_pitch_max_grass", "medium_min_grass", strict=False)
        _less(self, w, "medium_min_grass", "wide_min_grass", strict=False)
        return self


class PitchConfig(_Section):
    grass_hsv_lo: tuple[int, int, int]  # OpenCV HSV: H 0-180, S and V 0-255
    grass_hsv_hi: tuple[int, int, int]  # >= grass_hsv_lo in each channel

    @model_validator(mode="after")
    def _ordered(self):
        w = _where(self)
        for name in ("grass_hsv_lo", "grass_hsv_hi"):
            hsv = getattr(self, name)
            if not (0 <= hsv[0] <= 180 and 0 <= hsv[1] <= 255 and 0 <= hsv[2] <= 255):
                raise _rule(f"config key '{w}{name}' ({list(hsv)}): OpenCV HSV needs H in 0-180, S and V in 0-255")
        lo, hi = self.grass_hsv_lo, self.grass_hsv_hi
        if any(a > b for a, b in zip(lo, hi)):
            raise _rule(f"config key '{w}grass_hsv_lo' ({list(lo)}) must be <= {w}grass_hsv_hi ({list(hi)}) "
                        "in each of H, S, V")
        return self

    @property
    def grass(self) -> GrassRange:
        return GrassRange(tuple(self.grass_hsv_lo), tuple(self.grass_hsv_hi))


class MotionSignalsConfig(_Section):
    column_weights: ColumnFloats  # weight of each column inside the group's excitement
    flow_width_px: int = Field(ge=64, le=4096)
    max_corners: int = Field(ge=10, le=5000)
    min_inliers: int = Field(ge=3)
    player_height_m: float = Field(gt=0)
    sprint_mps: float = Field(gt=0)
    speed_percentile: float = Field(ge=0, le=100)
    max_speed_mps: float = Field(gt=0)
    max_ball_speed_mps: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self):
        # faster players are dropped as tracking errors, so nobody could ever sprint
        _less(self, _where(self), "sprint_mps", "max_speed_mps", strict=True)
        return self


class ScorebugSignalsConfig(_Section):
    enabled: bool
    locate_frames: int = Field(ge=2, le=200)  # frames spread over the match searched for the bug
    top_fraction: float = Field(gt=0, le=0.5)  # share of the frame height searched, from the top
    min_share: float = Field(gt=0, le=1)  # share of those frames that must show text at one place
    min_hits: int = Field(ge=1, le=200)  # ... and a score read there, at least this many frames
    every_s: float = Field(gt=0, le=3600)  # s between reads of the bug
    refine_s: float = Field(gt=0, le=600)  # s, a score change is narrowed down to this interval
    refine_max_reads: int = Field(ge=0, le=10000)  # extra reads for that, per match at most
    confirm_reads: int = Field(ge=1, le=10)  # reads in a row a new score needs
    same_look: float = Field(ge=-1, le=1)  # edge correlation a look needs to count as the bug
    lost_reads: int = Field(ge=1, le=100)  # reads in a row without the bug: it is gone, search the gap
    search_spacing_s: float = Field(gt=0, le=600)  # s, densest spacing of frames searched for a bug
    search_max_frames: int = Field(ge=0, le=100000)  # frames decoded for that beyond locate_frames (10 min; fewer pro rata beyond)
    boundary_s: float = Field(gt=0, le=600)  # s, where a bug is first and last seen, narrowed to this
    ocr_threads: int = Field(ge=0, le=64)  # ONNX Runtime threads; 0 = its default (every core)
    ocr_min_confidence: float = Field(ge=0, le=1)  # recognised lines below this are not read

    @model_validator(mode="after")
    def _ordered(self):
        _less(self, _where(self), "min_hits", "locate_frames", strict=False)
        return self


class SignalsConfig(_Section):
    bin_s: float = Field(ge=0.05, le=10)  # s, timeline bin width (finer bins than 50 ms only add noise)
    clip_z: float = Field(gt=0)
    min_scale: ColumnFloats  # column -> floor of the robust scale, raw units (>= 0)
    audio: AudioSignalsConfig
    shots: ShotsSignalsConfig
    motion: MotionSignalsConfig
    scorebug: ScorebugSignalsConfig


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

    @model_validator(mode="after")
    def _some_group_on(self):
        if self.motion == self.audio == self.shots == 0:
            raise _rule(f"config keys '{_where(self)}motion/audio/shots' are all 0: nothing would score; "
                        "give at least one group a weight > 0")
        return self


class SegmentsConfig(_Section):
    target_fraction: float = Field(gt=0, le=1)
    target_duration_s: float | None = Field(default=None, gt=0)
    min_target_s: float = Field(ge=0)
    fraction_fits_goals: bool = True
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
    goal_core_pre_s: float = Field(ge=0)  # a goal's core: never trimmed below it
    goal_core_post_s: float = Field(ge=0)
    goal_replays: bool
    min_shot_s: float = Field(ge=0)
    pre_roll_s: float = Field(ge=0)
    post_roll_s: float = Field(ge=0)
    snap_to_cut_s: float = Field(ge=0)
    replay_context_s: float = Field(ge=0)
    replay_bonus: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self):
        w = _where(self)
        _less(self, w, "min_len_s", "max_len_s", strict=False)
        if self.min_pre_s + self.min_post_s > self.max_len_s:
            raise _rule(f"config key '{w}max_len_s' ({_num(self.max_len_s)}) must be >= {w}min_pre_s + "
                        f"{w}min_post_s ({_num(self.min_pre_s + self.min_post_s)}): every segment spans those")
        return self


class RenderConfig(_Section):
    mode: Literal["moviepy", "copy"]
    codec: str
    preset: Literal[X264_PRESETS]  # libx264's; NVENC uses its own p4, and falls back to libx264
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


class EventsConfig(_Section):
    """How a candidate's kind (goal / chance / other) is read from the broadcast's evidence
    (pipeline/events.py). Units in the names; every `*_unit_s` is the amount of that
    evidence that counts as one unit, each term capped at `cap` units."""

    sustain_z: float = Field(gt=0)  # z over the match baseline that counts as a roar / a cry
    sound_before_s: float = Field(ge=0)
    sound_after_s: float = Field(gt=0)
    sound_unit_s: float = Field(gt=0)
    reaction_delay_s: float = Field(ge=0)
    reaction_window_s: float = Field(gt=0)
    reaction_unit_s: float = Field(gt=0)
    restart_wide_s: float = Field(gt=0)
    no_play_max_s: float = Field(gt=0)
    no_play_unit_s: float = Field(gt=0)
    replay_within_s: float = Field(ge=0)
    replay_unit_s: float = Field(gt=0)
    score_before_s: float = Field(ge=0)
    score_after_s: float = Field(ge=0)
    cap: float = Field(gt=0)
    w_score_change: float = Field(ge=0)
    w_replay: float = Field(ge=0)
    w_reaction: float = Field(ge=0)
    w_crowd: float = Field(ge=0)
    w_no_play: float = Field(ge=0)
    w_roar: float = Field(ge=0)
    w_voice: float = Field(ge=0)
    bias: float
    goal_min_confidence: float = Field(gt=0, lt=1)
    chance_min_sound_s: float = Field(ge=0)


class Config(_Section):
    media: MediaConfig
    detect: DetectConfig
    track: TrackConfig
    pitch: PitchConfig
    signals: SignalsConfig
    cascade: CascadeConfig
    weights: WeightsConfig
    segments: SegmentsConfig
    events: EventsConfig
    render: RenderConfig
    report: ReportConfig
    batch: BatchConfig

    @model_validator(mode="after")
    def _below_nyquist(self):
        nyquist = self.media.audio_sr / 2
        for name in ("fmax_hz", "voice_fmax_hz"):
            value = getattr(self.signals.audio, name)
            if value > nyquist:
                raise _rule(f"config key 'signals.audio.{name}' ({_num(value)}) must be <= media.audio_sr / 2 "
                            f"({_num(nyquist)} Hz)")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def section_dict(self, *names: str) -> dict[str, Any]:
        """The named sections only: what a cache key of the stages using them hashes."""
        d = self.to_dict()
        return {n: d[n] for n in names}


@functools.cache
def _section_paths() -> dict[type, str]:
    """Section model -> its dotted place in Config ("" for Config, "signals.audio." ...)."""
    out: dict[type, str] = {Config: ""}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, _Section):
                out.setdefault(ann, f"{prefix}{name}.")
                walk(ann, f"{prefix}{name}.")

    walk(Config, "")
    return out


def _where(section: BaseModel) -> str:
    return _section_paths().get(type(section), "")


def _less(section: BaseModel, where: str, a: str, b: str, *, strict: bool) -> None:
    """Refuse section.a > section.b (or >= when strict), naming both keys."""
    va, vb = getattr(section, a), getattr(section, b)
    if va > vb or (strict and va == vb):
        op = ">" if strict else ">="
        raise _rule(f"config key '{where}{b}' ({_num(vb)}) must be {op} {where}{a} ({_num(va)})")


@functools.cache
def _defaults() -> dict[str, Any]:
    return _read_yaml(DEFAULT_CONFIG_PATH)


def _default_at(dotted: str) -> Any:
    node: Any = _defaults()
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


class _Refused(Exception):
    """YAML that parses but is refused: anchors/aliases, absurd nesting or numbers."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader without anchors and aliases: what remains cannot expand beyond its text."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(f"YAML aliases (*{event.anchor[:40]}) are not allowed; quote a value that starts with *")
        if getattr(event, "anchor", None) is not None:
            raise _Refused(f"YAML anchors (&{event.anchor[:40]}) and aliases are not allowed; write each value out")
        return super().compose_node(parent, index)


def _plain_yaml(text: str) -> Any:
    """yaml.safe_load without anchors/aliases; raises _Refused or yaml.YAMLError."""
    try:
        return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise _Refused("nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4300 digits
        raise _Refused(f"cannot read a value ({_brief(str(exc), 60)[1:-1]})") from None


def _read_text(path: Path) -> str:
    """The file's text: a regular file of at most MAX_CONFIG_BYTES, UTF-8."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat below refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
        raise ConfigError(f"config file {path} is {what}")
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path} is larger than {MAX_CONFIG_BYTES // 1024} KiB; "
                          "a config holds only the keys that differ from the defaults")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} "
                          f"at offset {exc.start})") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    text = _read_text(Path(path))
    try:
        data = _plain_yaml(text)
    except _Refused as exc:
        raise ConfigError(f"config file {path}: {exc.what}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"config file {path} is not valid YAML: {first[:120]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections")
    return data


# Keys an earlier version read elsewhere: a config file that still has them is told where.
MOVED_KEYS = {
    "signals.shots.grass_hsv_lo": "pitch.grass_hsv_lo",
    "signals.shots.grass_hsv_hi": "pitch.grass_hsv_hi",
}


def migrate_moved(doc: dict, where: str = "config") -> dict:
    """`doc` (nested config sections, as a file holds them) with the keys of MOVED_KEYS
    moved to their new place (unless that is set too), each move logged: an output folder's
    config.yaml written by an earlier version still loads."""
    import logging

    doc = copy.deepcopy(doc)
    for old, new in MOVED_KEYS.items():
        *head, leaf = old.split(".")
        node = doc
        for part in head:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            continue
        value = node.pop(leaf)
        *nhead, nleaf = new.split(".")
        target = doc
        for part in nhead:
            target = target.setdefault(part, {})
        if isinstance(target, dict) and nleaf not in target:
            target[nleaf] = value
        logging.getLogger(__name__).warning("%s: key %s is now %s (read as %s)", where, old, new, new)
    return doc


def _unknown_key(dotted: str) -> str:
    moved = MOVED_KEYS.get(dotted)
    return f"config key {dotted} is now {moved}" if moved else f"unknown config key {_brief(dotted)}"


def _merge(base: dict, over: dict, where: str = "") -> dict:
    """`over` merged into a copy of `base`; a key `base` lacks is an unknown config key."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        name = f"{where}{key}"
        if key not in out:
            raise ConfigError(_unknown_key(name))
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, name + ".")
        else:
            out[key] = value
    return out


def parse_override(item: str) -> tuple[list[str], Any]:
    """`section.key=value` -> (["section", "key"], value parsed as YAML, no anchors/aliases).

    A value that is not valid YAML stays the text it is.
    """
    if "=" not in item:
        raise ConfigError(f"--set {_brief(item)}: expected section.key=value")
    key, _, raw = item.partition("=")
    parts = [p for p in key.strip().split(".") if p]
    if len(parts) < 2:
        raise ConfigError(f"--set {_brief(item)}: key must be section.key (e.g. weights.audio=0.7)")
    try:
        value = _plain_yaml(raw) if raw.strip() else None
    except _Refused as exc:
        raise ConfigError(f"--set {_brief(key.strip())}: {exc.what}") from None
    except yaml.YAMLError:
        value = raw
    return parts, value


def _apply_override(data: dict, parts: list[str], value: Any) -> None:
    node = data
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node.get(part), dict):
            raise ConfigError(_unknown_key(".".join(parts[: i + 1])))
        node = node[part]
    if parts[-1] not in node:
        raise ConfigError(_unknown_key(".".join(parts)))
    if isinstance(value, dict) and isinstance(node[parts[-1]], dict):
        # --set signals.audio.column_weights={roar: 2}: the keys given change, the rest stay
        node[parts[-1]] = _merge(node[parts[-1]], value, ".".join(parts) + ".")
    else:
        node[parts[-1]] = value


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = _brief(".".join(str(p) for p in err["loc"]))
    if err["type"] == "config_rule":
        return err["msg"]
    if err["type"] == "extra_forbidden":
        return _unknown_key(".".join(str(p) for p in err["loc"]))
    if err["type"] == "missing":
        return f"missing config key {key}"
    return f"config key {key}: {err['msg']} (got {_brief(err.get('input'))})"


def from_dict(data: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc)) from None
    except RecursionError:
        raise ConfigError("config nested too deeply") from None


def with_updates(cfg: Config, **dotted: Any) -> Config:
    """`cfg` with some keys changed, validated like --set: ConfigError on a bad value.

    Keys are dotted paths with "." written as "__" or given through a dict:
    `with_updates(cfg, segments__target_duration_s=90)` or
    `with_updates(cfg, **{"segments.target_duration_s": 90})`.
    """
    data = cfg.to_dict()
    for name, value in dotted.items():
        parts = name.replace("__", ".").split(".")
        if len(parts) < 2:
            raise ConfigError(f"config key {_brief(name)}: expected section.key")
        _apply_override(data, parts, value)
    return from_dict(data)


def _settings_of(doc: dict, path) -> dict:
    """A config file's settings. The review page's export is a selection file that also
    carries the settings it was made with (`{"input_fingerprint", "segments": [...],
    "config": {...}}`): its `config` is what `rescore --config` reads."""
    if isinstance(doc, dict) and "input_fingerprint" in doc and isinstance(doc.get("segments"), list):
        settings = doc.get("config", {})
        if not isinstance(settings, dict):
            raise ConfigError(f"{path}: the selection's \"config\" must be a mapping of config sections")
        return settings
    return doc


def load_config(path: str | Path | list | tuple | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults, then the file at `path` (only differing keys needed; several files: each
    over the one before), then `overrides`."""
    data = copy.deepcopy(_defaults())
    for one in ([] if path is None else list(path) if isinstance(path, (list, tuple)) else [path]):
        user = migrate_moved(_settings_of(_read_yaml(Path(one)), one), f"config file {one}")
        unknown = [k for k in user if k not in data]
        if unknown:
            raise ConfigError(f"unknown config section {_brief(unknown[0])} in {one}")
        data = _merge(data, user)
    for item in overrides:
        parts, value = parse_override(item)
        _apply_override(data, parts, value)
    return from_dict(data)
