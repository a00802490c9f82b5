"""The values that flow between stages: small frozen dataclasses over numpy arrays.

Every arrow of the data flow in DESIGN.md is one of these. Times are seconds from the start
of the file (`t_s`), boxes are xyxy in source pixels (after rotation metadata is applied).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Detection classes. `person` is a human whose role the model cannot tell (COCO models).
CLASS_NAMES: tuple[str, ...] = ("person", "player", "goalkeeper", "referee", "ball")
CLASS_ID = {name: i for i, name in enumerate(CLASS_NAMES)}
PERSON_CLASSES = (CLASS_ID["person"], CLASS_ID["player"], CLASS_ID["goalkeeper"], CLASS_ID["referee"])
BALL = CLASS_ID["ball"]
NO_TEAM = -1


# The signal groups, in the order of the `weights:` config section (and of every list of
# them: the score's lanes, the plot's panels, the page's bars).
GROUPS = ("motion", "audio", "shots")

SAME_TIME_S = 0.02  # s: frame times this close count as one (below any analysis frame step)


@dataclass(frozen=True)
class GrassRange:
    """The colours grass can take, OpenCV HSV (H 0-180, S and V 0-255), inclusive: the
    project's one definition of the pitch's colour. The shot scale counts it, camera motion
    tracks the texture inside it, and the classic detector narrows it to the footage's own
    green. From the `pitch:` config section."""

    lo: tuple[int, int, int]
    hi: tuple[int, int, int]


def clock(t_s: float, decimals: int = 0) -> str:
    """Video time as mm:ss (or mm:ss.ss with `decimals`), minutes running past 60."""
    t = max(float(t_s), 0.0)
    if decimals:
        return f"{int(t // 60):02d}:{t % 60:0{3 + decimals}.{decimals}f}"
    return f"{int(t // 60):02d}:{int(t % 60):02d}"


@dataclass(frozen=True)
class AudioStreamInfo:
    index: int
    codec: str
    channels: int
    sample_rate: int
    duration_s: float | None


@dataclass(frozen=True)
class MediaInfo:
    """What `media.probe` learns about a file without decoding it whole."""

    path: str
    size_bytes: int
    container: str
    duration_s: float
    has_video: bool
    codec: str | None = None
    width: int = 0  # after rotation metadata
    height: int = 0
    coded_width: int = 0  # as stored
    coded_height: int = 0
    rotation: int = 0  # degrees clockwise a player applies for display
    fps: float = 0.0  # average frame rate
    vfr: bool = False
    n_frames: int | None = None
    has_b_frames: bool = False
    audio: tuple[AudioStreamInfo, ...] = ()  # every decodable audio stream, in file order
    video_stream: int | None = None  # index of the analysed video stream (default, else best)
    audio_stream: int | None = None  # index of the analysed audio stream (default with sound, else best)
    stated_duration_s: float | None = None  # what the container says; duration_s is the footage's

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["audio"] = [dict(a.__dict__) for a in self.audio]
        return d


@dataclass(frozen=True)
class Frame:
    """One sampled frame at analysis size. `scale` = analysis px / source px."""

    t_s: float
    image: np.ndarray  # HxWx3 uint8 BGR
    index: int  # running number of the sampled frame
    scale: float


@dataclass(frozen=True)
class Detections:
    """All detections of one frame; boxes in source pixels."""

    t_s: float
    xyxy: np.ndarray  # (N, 4) float32
    score: np.ndarray  # (N,) float32
    cls: np.ndarray  # (N,) int16, index into CLASS_NAMES
    team: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))  # (N,) NO_TEAM/0/1
    people: bool = True  # people were looked for (False: a frame between the people passes of
                         # detect.people_every_s, where only the ball was; no box is no news)

    def __post_init__(self) -> None:
        # Refused where built, never repaired later: a detector bug shows up at its source.
        n = len(self.cls)
        if np.shape(self.xyxy) != (n, 4) or np.shape(self.score) != (n,) or np.ndim(self.cls) != 1:
            raise ValueError(f"Detections at {self.t_s:.3f} s: xyxy {np.shape(self.xyxy)}, score {np.shape(self.score)}, "
                             f"cls {np.shape(self.cls)} do not describe the same {n} boxes")
        if len(self.team) == 0 and n:  # not given: no team known yet
            object.__setattr__(self, "team", np.full(n, NO_TEAM, np.int16))
        elif np.shape(self.team) != (n,):
            raise ValueError(f"Detections at {self.t_s:.3f} s: team {np.shape(self.team)} for {n} boxes")

    def __len__(self) -> int:
        return len(self.cls)

    def __getitem__(self, mask) -> "Detections":
        return Detections(self.t_s, self.xyxy[mask], self.score[mask], self.cls[mask], self.team[mask], self.people)

    @classmethod
    def empty(cls, t_s: float) -> "Detections":
        return cls(t_s, np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int16))


@dataclass(frozen=True)
class Tracks:
    """Columnar track table: one row per (frame, tracked object)."""

    t_s: np.ndarray  # (M,) float64
    track_id: np.ndarray  # (M,) int32; the ball track has its own id
    cls: np.ndarray  # (M,) int16
    xyxy: np.ndarray  # (M, 4) float32, source pixels
    score: np.ndarray  # (M,) float32
    team: np.ndarray  # (M,) int16
    interpolated: np.ndarray  # (M,) bool: filled across a short gap, not seen

    def __post_init__(self) -> None:
        m = len(self.t_s)
        shapes = {name: np.shape(getattr(self, name)) for name in ("t_s", "track_id", "cls", "score", "team", "interpolated")}
        if any(sh != (m,) for sh in shapes.values()) or np.shape(self.xyxy) != (m, 4):
            raise ValueError(f"Tracks: columns of different lengths {shapes} and xyxy {np.shape(self.xyxy)} for {m} rows")

    def __len__(self) -> int:
        return len(self.t_s)


@dataclass(frozen=True)
class Timeline:
    """Per-bin signal columns. NaN marks a gap (no audio, no pitch in view), never calm play.

    The contract later stages read is typed here; `meta` keeps the per-signal diagnostics
    (units, normalisation, gap reasons, frame statistics). On disk (`signals.timeline`) the
    typed fields ride in the same JSON header as `meta`, under the keys of their names
    (`cuts` for `cuts_s`, `windows` for `analysed_windows`)."""

    bin_s: float
    t_s: np.ndarray  # (B,) bin starts
    columns: dict[str, np.ndarray]  # "<group>_<name>" -> (B,) float
    meta: dict = field(default_factory=dict)  # per-signal diagnostics: units, norm, gaps
    length_s: float | None = None  # the input's length (None: the bins' span)
    cuts_s: list[float] = field(default_factory=list)  # shot cuts, s (midway between two analysis frames)
    replays: list[tuple[float, float]] = field(default_factory=list)  # replay packages, [start, end] s
    analysed_windows: list[tuple[float, float]] | None = None  # two-pass video windows; None: all of it
    raw: dict[str, np.ndarray] = field(default_factory=dict)  # raw-unit copies of the normalised columns
    notes: list[str] = field(default_factory=list)  # what the analysis wants the user told
    scorebug: dict = field(default_factory=dict)  # the score-bug record (`ScorebugResult.to_dict`)

    @property
    def duration_s(self) -> float:
        """The input's length: the last bin may hold less than `bin_s` of it."""
        bins = float(len(self.t_s) * self.bin_s)
        return min(bins, float(self.length_s)) if self.length_s is not None else bins


KINDS = ("goal", "chance", "other")  # what a candidate moment is, in ranking order


@dataclass
class Segment:
    """A candidate moment; the fields are the Contracts of DESIGN.md."""

    id: str
    start: float
    end: float
    peak: float
    score: float
    components: dict[str, float]
    rank: int = 0
    selected: bool = False
    reason: str = ""
    replay_of: str | None = None
    kind: str | None = None  # "goal" | "chance" | "other" (pipeline/events.py); None: not classified
    confidence: float | None = None  # 0-1, confidence in `kind`
    minute: str | None = None  # the match minute at the moment ("61'"), from the score bug's clock
    # Internal to selection, not part of segments.json: the moment's core, the time inside it
    # the moment turns on (where the audio rose) and, when the reel trimmed it, the
    # candidate's full extent.
    core: tuple[float, float] | None = field(default=None, repr=False, compare=False)
    anchor: float | None = field(default=None, repr=False, compare=False)
    trimmed_from: tuple[float, float] | None = field(default=None, repr=False, compare=False)
    # Where the score was measured (the candidate as first cut, before the reel trimmed it)
    # and the replay bonus in it: what a re-weighting scores it over (segments.json `scored`).
    scored: tuple[float, float, float] | None = field(default=None, repr=False, compare=False)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def moment(self) -> float:
        """Where the moment turns on: its anchor (the audio rose), else its peak."""
        return float(self.anchor if self.anchor is not None else self.peak)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "peak": round(self.peak, 3),
            "score": round(self.score, 4),
            "components": {k: round(v, 4) for k, v in self.components.items()},
            "rank": self.rank,
            "selected": self.selected,
            "reason": self.reason,
            "replay_of": self.replay_of,
            "kind": self.kind,
            "confidence": self.confidence,
            "moment": round(self.moment, 3),
            "minute": self.minute,
            **({"scored": {"start": round(self.scored[0], 3), "end": round(self.scored[1], 3),
                           "replay_bonus": round(self.scored[2], 4)}} if self.scored else {}),
        }


# ----------------------------------------------------------------------------- box maths
# Shared by detection (NMS, tile merge), tracking (association) and evaluation (matching).


def _intersections(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    return inter, np.prod(a[:, 2:] - a[:, :2], axis=1), np.prod(b[:, 2:] - b[:, :2], axis=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N,4) and (M,4) xyxy boxes -> (N,M)."""
    inter, area_a, area_b = _intersections(a, b)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def box_ioa(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over the area of the smaller box -> (N,M)."""
    inter, area_a, area_b = _intersections(a, b)
    return inter / np.maximum(np.minimum(area_a[:, None], area_b[None, :]), 1e-9)
