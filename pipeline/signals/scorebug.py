"""Score bug: find the broadcast's score overlay, read it now and then, mark score changes.

Takes native-size frames (an iterator of `(t_s, BGR image)`), or a video path read sparsely
through `media.frames_at`; gives a `ScorebugResult`: where the bug is, each time one team's
number went up (with the scores read before and after), the match clock read on the way,
and a note where no bug was found. Timeline columns: `scorebug_columns`.

From a file the bug need not be one overlay for the whole file: a montage of clips from
different matches, a bug that moves, changes style or is gone for a while (ad break, half
time) is read as a set of bugs, each one place, look (edge picture) and pair of team names,
each with its stretches of the file; a score change is only ever taken between two reads of
the same bug (a clip join from 0-1 in one match to 0-0 in another is not a goal).

OCR: RapidOCR (`rapidocr-onnxruntime`, Apache-2.0; its PP-OCRv4 ONNX models ship inside
the wheel, nothing is downloaded), imported only when a bug is looked for.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Iterable, Iterator, Protocol, Sequence

import cv2
import numpy as np

from .timeline import bin_index, n_bins

# The text detector sees the searched strip at the size it has in a 540p frame (bug text
# ~15 px tall): it found the isolated score digits of the real clips there, not at 720p,
# in a third of the time; smaller broadcasts are enlarged, 1080p and 4K shrunk.
OCR_REFERENCE_HEIGHT_PX = 540
MAX_CANDIDATES = 4  # static text regions read during the search (cost bound)
TEAM_FRAMES = 6  # frames whose text boxes in a candidate are read for team names
MAX_GOALS = 20  # a number above this is a misread, not a score
CLOCK_TOLERANCE_S = 2.5  # clock reads agreeing this well (offset to video time) confirm each other
CLOCK_MAX_GAP_S = 120.0  # the clock is carried forward or back from a read at most this far
# A bug's look: its crop's edge magnitude at this size (w, h), zero mean, unit norm. Within
# one bug of the real clips two looks correlate 0.69-0.99 (digits and clock change, the rest
# stays); a look at the same place in another clip, 0.35 at most (signals.scorebug.same_look).
SIGNATURE_SIZE = (64, 16)
KEEP_TOP = 1.5  # a searched frame keeps this times the searched strip (line boxes are padded)
MAX_HINT_ROWS = 8  # text rows of one frame read when looking for any score at all
SEARCH_CACHE_BYTES = 256 << 20  # searched frames kept in memory, at most (older ones re-decoded)

BBox = tuple[int, int, int, int]  # x, y, w, h in source pixels
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in an image's pixels (OCR boxes)


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Region:
    """Where the bug is: its box, the text lines inside it, the team names read there."""

    box: BBox
    lines: tuple[BBox, ...]  # top to bottom
    teams: tuple[str, ...]  # letters-only texts seen at the same place (removed before digits)
    frame_size: tuple[int, int]  # source (width, height) the boxes refer to
    hits: int  # searched frames in which a score was read here
    frames: int  # frames searched
    # Its look (`_signature` of the box where a score was read), None: not checked.
    signature: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Read:
    """One look at the bug: the score and clock parsed (None: not shown or not readable)."""

    t_s: float
    score: tuple[int, int] | None
    clock_s: float | None  # match clock in seconds (23:10 -> 1390)
    clock_step_s: float  # resolution of that clock: 1 (MM:SS) or 60 (a minute: 23')
    text: str  # the recognised lines, " | " between them
    look: float | None = None  # similarity of the crop to the bug's look (None: not checked)
    bug: int = 0  # which bug of the file (read_video: several where the overlay changes)


@dataclass(frozen=True)
class ScorebugResult:
    """What the bug said about one match; `to_dict()` is its JSON form."""

    found: bool
    region: BBox | None  # the bug read most often
    changes: list[dict]  # {"t_s", "t_before_s", "t_after_s", "score_from", "score_to", "team"}
    clock: list[tuple[float, float]]  # (t_s, match clock s), reads that agree with another one
    notes: list[str]
    reads: list[Read] = field(default_factory=list)
    stats: dict = field(default_factory=dict)  # seconds per phase, reads, frames searched
    # Where each bug was read: {"bug", "region", "teams", "from_s", "to_s", "reads"} (read_video).
    stretches: list[dict] = field(default_factory=list)

    def to_dict(self, reads: bool = True) -> dict:
        """JSON form; `reads=False` leaves out the individual looks (a few hundred a match)."""
        return {
            "found": self.found,
            "region": list(self.region) if self.region else None,
            "changes": self.changes,
            "clock": [list(c) for c in self.clock],
            "notes": self.notes,
            "reads": [{**asdict(r), "score": _fmt(r.score) if r.score else None} for r in self.reads] if reads else [],
            "stats": self.stats,
            "stretches": self.stretches,
        }


class Ocr(Protocol):
    """What the bug reader needs from an OCR engine (RapidOcr below; tests pass fakes)."""

    def detect(self, image: np.ndarray) -> list[Box]:
        """Boxes of the text lines in a BGR image."""

    def recognise(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) of each crop, each holding one line of text."""


class RapidOcr:
    """RapidOCR with ONNX Runtime: PP-OCRv4 text detection + recognition, no angle classifier.

    The engine is built on first use (~0.3 s import, ~0.25 s to load the models)."""

    def __init__(self, threads: int = 1):
        self.threads = threads
        self._engine = None

    def _get(self):
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            kw = {"intra_op_num_threads": self.threads, "inter_op_num_threads": 1} if self.threads else {}
            # limit_type "max": the detector takes the strip at the size it is given (its
            # default enlarges the short side to 736 px: a 1280x144 strip to ~6500x736).
            self._engine = RapidOCR(det_limit_type="max", det_limit_side_len=2000, use_cls=False, **kw)
        return self._engine

    def detect(self, image: np.ndarray) -> list[Box]:
        # The detector alone: RapidOCR's __call__ also pads a strip wider than 8:1 into a
        # taller image and reads every box found, ads included (5-9x slower on the real
        # clips' strips); only the boxes inside a candidate bug are read, later.
        quads, _ = self._get().text_det(image)
        return [(float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max()))
                for q in (quads if quads is not None else [])]

    def recognise(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        if not crops:
            return []
        result, _ = self._get().text_rec(list(crops))
        return [(str(text), float(conf)) for text, conf in result]


# ----------------------------------------------------------------------------- parsing

# MM:SS (also 90:00, 105:13; "." for ":" is a common misread); seconds 00-59.
_CLOCK = re.compile(r"(?<!\d)(\d{1,3})\s?[:.]\s?([0-5]\d)(?!\d)")
_MINUTE = re.compile(r"(?<!\d)(\d{1,3})\s?['\u2019\u2032]")  # 23'
_ADDED = re.compile(r"\+\s?\d{1,2}(?!\d)")  # added time next to the clock: +3
# Characters the recogniser gives for digits in broadcast fonts (0 as O/D, 1 as I/l).
_CONFUSABLE = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1"})
_DIGITISH = re.compile(r"[0-9OoDQIl|]+")
_DASH = re.compile(r"(?<!\d)(\d{1,2})\s*[-\u2013\u2014:]\s*(\d{1,2})(?!\d)")
# Two numbers glued between two names, one of them a digit ("ATHO1BAR", "RMA00SEV").
_GLUED = re.compile(r"[^\W\d_]{2}\s*(?=[0-9OoDQIl]{2}\s*[^\W\d_]{2})(?=.?\d)[0-9OoDQIl]{2}(?!\d)")


def parse_clock(text: str) -> tuple[float, float] | None:
    """(match seconds, resolution s) of the clock in `text`: "23:10" -> (1390, 1), "23'" ->
    (1320, 60) (the 23rd minute starts at 22:00); None without one."""
    m = _CLOCK.search(text)
    if m and int(m.group(1)) <= 150:
        return int(m.group(1)) * 60.0 + int(m.group(2)), 1.0
    m = _MINUTE.search(text)
    if m and 1 <= int(m.group(1)) <= 150:
        return (int(m.group(1)) - 1) * 60.0, 60.0
    return None


def _team_pattern(name: str) -> re.Pattern:
    # "FC Porto" also matches "FCPorto" and "fc  porto": the recogniser drops or adds spaces.
    return re.compile(r"\s*".join(re.escape(c) for c in name if not c.isspace()), re.IGNORECASE)


def parse_score(text: str, teams: Sequence[str] = ()) -> tuple[int, int] | None:
    """The two numbers of a score in one line of bug text, or None.

    `teams`: names read at the bug's place, taken out first (so that the O of "PORTO" next
    to a digit stays a letter). Then the clock goes, and a digit-like run counts when it
    holds a digit or stands alone (O/D/Q -> 0, I/l -> 1: "SL Benfica O O FC Porto" is 0-0).
    "2-1" and "2 1" give (2, 1); a lone pair of glued digits next to a team name
    ("ATH01BAR", teams ("BAR",)) gives (0, 1).
    """
    named = 0
    for name in sorted(teams, key=len, reverse=True):
        text, k = _team_pattern(name).subn(" # ", text)
        named += k
    text = _ADDED.sub(" ", _MINUTE.sub(" ", _CLOCK.sub(" ", text)))
    parts, last = [], 0
    for m in _DIGITISH.finditer(text):
        run = m.group(0)
        before = text[m.start() - 1] if m.start() > 0 else " "
        after = text[m.end()] if m.end() < len(text) else " "
        alone = not before.isalpha() and not after.isalpha()
        parts.append(text[last:m.start()])
        parts.append(run.translate(_CONFUSABLE) if (alone or any(c.isdigit() for c in run)) else run)
        last = m.end()
    parts.append(text[last:])
    norm = "".join(parts)
    m = _DASH.search(norm)
    if m:
        pair = (int(m.group(1)), int(m.group(2)))
    else:
        groups = re.findall(r"\d+", norm)
        if len(groups) == 2 and all(len(g) <= 2 for g in groups):
            pair = (int(groups[0]), int(groups[1]))
        elif len(groups) == 1 and len(groups[0]) == 2 and named:
            # Glued digits are a score only beside a team name (a channel's "24" is not).
            pair = (int(groups[0][0]), int(groups[0][1]))
        else:
            return None
    return pair if max(pair) <= MAX_GOALS else None


def parse_lines(texts: Sequence[str], teams: Sequence[str] = ()) -> tuple[tuple[int, int] | None, tuple[float, float] | None]:
    """(score, clock) from the lines of one bug, top to bottom: the first line that holds a
    score, else all lines together (a bug that stacks the two numbers); the first clock."""
    score = next((s for s in (parse_score(t, teams) for t in texts) if s is not None), None)
    if score is None and len(texts) > 1:
        score = parse_score(" ".join(texts), teams)
    clock = next((c for c in (parse_clock(t) for t in texts) if c is not None), None)
    return score, clock


def _fmt(score: tuple[int, int]) -> str:
    return f"{score[0]}-{score[1]}"


# ----------------------------------------------------------------------------- locating


def _strip(image: np.ndarray, top_fraction: float, frame_h: int | None = None) -> tuple[np.ndarray, float]:
    """The searched top strip, resized for the OCR detector, and that resize factor
    (`image`: a frame, or its top part of a frame `frame_h` px high)."""
    h = frame_h or image.shape[0]
    strip = image[: max(int(math.ceil(h * top_fraction)), 1)]
    scale = float(np.clip(OCR_REFERENCE_HEIGHT_PX / h, 0.25, 3.0))
    if abs(scale - 1.0) > 1e-3:
        strip = cv2.resize(strip, None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    return strip, scale


def _line_boxes(part: np.ndarray, boxes: list[Box], need: int, size: tuple[int, int]) -> list[BBox]:
    """Text lines of one static region (`part`: its static pixels in the strip), from the
    boxes that lie on it: boxes whose centres are within half a line of each other form a
    line when at least `need` of them do; the line spans the static pixels of its rows,
    padded (the recogniser needs a margin around the text)."""
    hp, wp = part.shape
    on = [b for b in boxes if part[min(int((b[1] + b[3]) / 2), hp - 1), min(int((b[0] + b[2]) / 2), wp - 1)]]
    on.sort(key=lambda b: (b[1] + b[3]) / 2)
    groups: list[list[Box]] = []
    for b in on:
        yc, h = (b[1] + b[3]) / 2, b[3] - b[1]
        if groups:
            g = groups[-1]
            if abs(yc - np.mean([(q[1] + q[3]) / 2 for q in g])) <= 0.5 * max(h, np.median([q[3] - q[1] for q in g])):
                g.append(b)
                continue
        groups.append([b])
    out = []
    w_img, h_img = size
    for g in groups:
        if len(g) < need:
            continue
        y0, y1 = float(np.median([q[1] for q in g])), float(np.median([q[3] for q in g]))
        rows = part[max(int(y0), 0):max(int(math.ceil(y1)), int(y0) + 1)]
        cols = np.nonzero(rows.any(axis=0))[0]
        if not len(cols):
            continue
        pad = 0.25 * (y1 - y0)
        lx0, lx1 = max(int(cols[0] - 2 * pad), 0), min(int(math.ceil(cols[-1] + 1 + 2 * pad)), w_img)
        ly0, ly1 = max(int(y0 - pad), 0), min(int(math.ceil(y1 + pad)), h_img)
        if lx1 - lx0 >= 4 and ly1 - ly0 >= 4:
            out.append((lx0, ly0, lx1 - lx0, ly1 - ly0))
    return out


def _recognise(ocr: Ocr, image: np.ndarray, lines: Sequence[BBox], min_conf: float, origin: tuple[int, int] = (0, 0),
               scale: float = 1.0) -> list[str]:
    """Text of each line box (source px) in `image`, an image whose pixel (0, 0) is source
    pixel `origin` at `scale` image px per source px; "" where unread or unsure."""
    ox, oy = origin
    crops = []
    for x, y, w, h in lines:
        x0, y0 = max(int((x - ox) * scale), 0), max(int((y - oy) * scale), 0)
        crops.append(image[y0:int(math.ceil((y - oy + h) * scale)), x0:int(math.ceil((x - ox + w) * scale))])
    ok = [i for i, c in enumerate(crops) if c.shape[0] >= 2 and c.shape[1] >= 2]
    texts = [""] * len(crops)
    for i, (text, conf) in zip(ok, ocr.recognise([crops[i] for i in ok])):
        texts[i] = text if conf >= min_conf else ""
    return texts


def _read(t_s: float, texts: list[str], teams: Sequence[str]) -> Read:
    score, clock = parse_lines(texts, teams)
    return Read(float(t_s), score, clock[0] if clock else None, clock[1] if clock else 1.0, " | ".join(texts))


def _team_names(ocr: Ocr, shots: list, box: tuple[int, int, int, int], min_conf: float,
                memo: dict | None = None) -> tuple[str, ...]:
    """Letters-only texts read inside `box` (x0, y0, x1, y1) in at least two frames: the
    team names, taken out of a line before its digits are parsed. `memo`: texts of the
    boxes already read, by (t_s, box) (a search reads the same frames for several spans)."""
    x0, y0, x1, y1 = box
    names: dict[str, int] = {}
    memo = {} if memo is None else memo
    for t_s, image, boxes in shots[:: max(len(shots) // TEAM_FRAMES, 1)][:TEAM_FRAMES]:
        inside = [b for b in boxes if x0 <= (b[0] + b[2]) / 2 <= x1 and y0 <= (b[1] + b[3]) / 2 <= y1]
        inside = [b for b in inside if int(math.ceil(b[3])) - int(b[1]) >= 2 and int(math.ceil(b[2])) - int(b[0]) >= 2]
        todo = [b for b in inside if (t_s, b) not in memo]
        crops = [image[int(b[1]):int(math.ceil(b[3])), int(b[0]):int(math.ceil(b[2]))] for b in todo]
        for b, got in zip(todo, ocr.recognise(crops)):
            memo[(t_s, b)] = got
        seen = set()
        for text, conf in (memo[(t_s, b)] for b in inside):
            name = re.sub(r"\s+", "", text).upper()
            if conf >= min_conf and re.fullmatch(r"[^\W\d_]{2,}", name):
                seen.add(name)
        for name in seen:
            names[name] = names.get(name, 0) + 1
    return tuple(k for k, v in names.items() if v >= 2)


def _signature(crop: np.ndarray) -> np.ndarray:
    """The look of a bug's crop (any size): its edge magnitude at SIGNATURE_SIZE, zero mean,
    unit norm, so that the dot product of two is their correlation."""
    g = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    if g.shape[0] < 2 or g.shape[1] < 2:
        return np.zeros(SIGNATURE_SIZE[::-1], np.float32)
    g = cv2.resize(g.astype(np.float32), SIGNATURE_SIZE, interpolation=cv2.INTER_AREA)
    e = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    e -= e.mean()
    n = float(np.linalg.norm(e))
    return e / n if n > 1e-6 else e


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum())


def _teams_seen(text: str, teams: Sequence[str]) -> bool:
    """Whether a read shows one of the bug's team names (the recogniser misreads the other at
    times: "SLBenficna"): a score read at the place of the bug without any is another
    overlay's (a montage of clips whose bugs sit at the same corner) or a misread."""
    return not teams or any(_team_pattern(n).search(text) for n in teams)


def _detect(image: np.ndarray, cfg, ocr: Ocr, frame_h: int | None = None) -> tuple[np.ndarray, list[Box]]:
    """(the frame's top part, native size: all that reading its bug needs, the text boxes of
    its searched strip in source px); `image` may be that top part of a frame `frame_h` high."""
    strip, scale = _strip(image, cfg.top_fraction, frame_h)
    return _top(image, cfg, frame_h), [tuple(v / scale for v in b) for b in ocr.detect(strip)]


def _top(image: np.ndarray, cfg, frame_h: int | None = None) -> np.ndarray:
    h = frame_h or image.shape[0]
    return np.ascontiguousarray(image[:min(h, int(math.ceil(h * cfg.top_fraction * KEEP_TOP)) + 2)])


def locate(frames: Iterable[tuple[float, np.ndarray]], cfg, ocr: Ocr | None = None) -> tuple[Region | None, list[Read], list[str]]:
    """Find the bug in a few frames spread over the match (native size, BGR).

    The bug is text at one place in the top `cfg.top_fraction` of at least `cfg.min_share`
    of the frames (the pitch, the ads and the players move; the bug does not) in which a
    score is read in at least `cfg.min_hits` frames (channel logos and static ads hold none).
    Returns (region or None, the reads of the searched frames at that region, notes).
    """
    ocr = ocr or RapidOcr(cfg.ocr_threads)
    shots = []
    for t_s, image in frames:
        top, boxes = _detect(image, cfg, ocr)
        shots.append((float(t_s), top, boxes, (image.shape[1], image.shape[0])))
    return _locate_shots(shots, cfg, ocr)


def _locate_shots(shots: list[tuple[float, np.ndarray, list[Box], tuple[int, int]]], cfg,
                  ocr: Ocr, memo: dict | None = None) -> tuple[Region | None, list[Read], list[str]]:
    """`locate` on searched frames: (t_s, the frame's top part, its text boxes in source px,
    the frame's (width, height)); `memo` as in `_team_names`."""
    n = len(shots)
    where = f"the top {cfg.top_fraction:.0%} of {n} frames"
    if n == 0:
        return None, [], ["no score bug found: no frames to search; score changes not read"]
    w_img, h_img = shots[0][3]
    shots = [s[:3] for s in shots if s[3] == (w_img, h_img)]
    strip_h = max(int(math.ceil(h_img * cfg.top_fraction)), 1)
    need = max(cfg.min_hits, int(math.ceil(cfg.min_share * n)))

    # Occupancy: in how many frames each pixel lies inside a text box.
    occ = np.zeros((strip_h, w_img), np.uint16)
    heights = []
    for _, _, boxes in shots:
        mask = np.zeros(occ.shape, bool)
        for b in boxes:
            x0, y0, x1, y1 = (max(int(round(v)), 0) for v in b)
            mask[y0:y1, x0:x1] = True
            heights.append(b[3] - b[1])
        occ += mask
    static = occ >= need
    if not static.any():
        return None, [], [f"no score bug found: no text stays at one place in {where}; score changes not read"]
    line_h = float(np.median(heights))
    # Join the pieces of one bug: teams, score, clock on one line with gaps of up to ten
    # line heights (a score the detector misses, a crest between the numbers), a line above.
    kw, kh = 2 * int(round(5 * line_h)) + 1, 2 * int(round(0.5 * line_h)) + 1
    joined = cv2.dilate(static.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (kw, kh)))
    count, labels = cv2.connectedComponents(joined)
    parts = []
    for c in range(1, count):
        part = static & (labels == c)
        ys, xs = np.nonzero(part)
        parts.append((int(part.sum()), (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1), part))
    parts.sort(key=lambda p: -p[0])
    best = None
    for _, (x0, y0, x1, y1), part in parts[:MAX_CANDIDATES]:
        lines = _line_boxes(part, [b for _, _, boxes in shots for b in boxes], need, (w_img, h_img))
        teams = _team_names(ocr, shots, (x0, y0, x1, y1), cfg.ocr_min_confidence, memo)
        reads, hits = [], 0
        for k, (t, img, _) in enumerate(shots):
            if hits + len(shots) - k < need:  # cannot reach `need` any more: not the bug
                break
            reads.append(_read(t, _recognise(ocr, img, lines, cfg.ocr_min_confidence), teams))
            hits += reads[-1].score is not None
        if best is None or hits > best[0]:
            best = (hits, (x0, y0, x1, y1), lines, teams, reads)
    hits, (x0, y0, x1, y1), lines, teams, reads = best
    if hits < need:
        return None, [], [f"no score bug found: static text at x,y,w,h={(x0, y0, x1 - x0, y1 - y0)} in {where}, "
                          f"but a score read in {hits} of them (need {need}); score changes not read"]
    # The region holds its text and every line box (each padded for the recogniser).
    pad = int(round(0.5 * line_h))
    bx0 = min([max(x0 - pad, 0)] + [b[0] for b in lines])
    by0 = min([max(y0 - pad, 0)] + [b[1] for b in lines])
    bx1 = max([min(x1 + pad, w_img)] + [b[0] + b[2] for b in lines])
    by1 = max([min(y1 + pad, h_img)] + [b[1] + b[3] for b in lines])
    region = Region((bx0, by0, bx1 - bx0, by1 - by0), tuple(lines), teams, (w_img, h_img), hits, n)
    # Its look: the median look of the frames where its score and team names were read;
    # then each read is checked against it as later reads are.
    crops = {t: bug_crop(img, region)[0] for t, img, _ in shots}
    looks = [_signature(crops[r.t_s]) for r in reads if r.score is not None and _teams_seen(r.text, teams)]
    if not looks:
        return None, [], [f"no score bug found: scores read at x,y,w,h={region.box} in {where}, "
                          "but never with the team names read there; score changes not read"]
    sig = np.median(np.stack(looks), axis=0)
    sig -= sig.mean()
    region = replace(region, signature=sig / max(float(np.linalg.norm(sig)), 1e-6))
    return region, [_checked(r, crops[r.t_s], region, cfg) for r in reads], []


# ----------------------------------------------------------------------------- reading


def bug_crop(image: np.ndarray, region: Region) -> tuple[np.ndarray, float]:
    """(the bug's crop, its scale in crop px per source px) of a full frame at any size, or
    of the bug's own crop at native size (returned as it is)."""
    rx, ry, rw, rh = region.box
    if image.shape[:2] == (rh, rw):
        return image, 1.0
    s = image.shape[1] / region.frame_size[0]
    y0, x0 = int(ry * s), int(rx * s)
    return image[y0:int(math.ceil((ry + rh) * s)), x0:int(math.ceil((rx + rw) * s))], s


def read_image(t_s: float, image: np.ndarray, region: Region, cfg, ocr: Ocr) -> Read:
    """Read the bug in one frame: a full frame at native or analysis size, or the bug's crop."""
    crop, s = bug_crop(image, region)
    return _read_crop(t_s, crop, s, region, cfg, ocr)


def _read_crop(t_s: float, crop: np.ndarray, scale: float, region: Region, cfg, ocr: Ocr) -> Read:
    look = _look(crop, region)
    if look is not None and look < cfg.same_look:
        # Another picture at the bug's place (the bug hidden, moved, restyled, another
        # clip's overlay): not read, and no OCR spent on it.
        return Read(float(t_s), None, None, 1.0, "", round(look, 3))
    texts = _recognise(ocr, crop, region.lines, cfg.ocr_min_confidence, region.box[:2], scale)
    return _checked(_read(t_s, texts, region.teams), crop, region, cfg, look)


def _look(crop: np.ndarray, region: Region) -> float | None:
    return None if region.signature is None else _similarity(_signature(crop), region.signature)


def _checked(r: Read, crop: np.ndarray, region: Region, cfg, look: float | None = None) -> Read:
    """A read of `region` as it counts: none where the crop does not look like the bug (then
    no clock either), no score where the bug's team names are not in it."""
    look = _look(crop, region) if look is None else look
    if look is not None and look < cfg.same_look:
        return replace(r, score=None, clock_s=None, look=round(look, 3))
    if r.score is not None and not _teams_seen(r.text, region.teams):
        r = replace(r, score=None)
    return replace(r, look=None if look is None else round(look, 3))


def read_frames(frames: Iterable[tuple[float, np.ndarray]], region: Region, cfg, ocr: Ocr | None = None) -> Iterator[Read]:
    """Read the bug every `cfg.every_s` seconds of a frame stream (full frames at native or
    analysis size, or crops of `region.box`), in time order except for refinement reads.

    Between two reads the bug's crop is kept every `refine_s / 2` (a few KB each, bounded by
    every_s / refine_s); where the score went one up between two reads, the kept crops are
    read in between (bisection) until the change lies within `refine_s`, so reads every
    minute still time a goal's score to a second or two. At most `refine_max_reads` of those.
    """
    ocr = ocr or RapidOcr(cfg.ocr_threads)
    keep_s = cfg.refine_s / 2
    kept: deque[tuple[float, np.ndarray, float]] = deque(maxlen=int(math.ceil(cfg.every_s / keep_s)) + 2)
    next_read = next_keep = -math.inf
    last: Read | None = None  # the latest read with a score
    budget = [cfg.refine_max_reads]
    tail = None  # the latest frame's crop, unless it was read: the end of the stream is read too
    for t_s, image in frames:
        t_s = float(t_s)
        crop, s = bug_crop(image, region)
        if t_s + 1e-6 < next_read:
            tail = (t_s, crop.copy(), s)
            if t_s + 1e-6 >= next_keep and last is not None:
                kept.append((t_s, crop.copy(), s))
                next_keep = t_s + keep_s
            continue
        tail = None
        next_read = t_s + cfg.every_s
        r = _read_crop(t_s, crop, s, region, cfg, ocr)
        yield r
        if r.score is None:
            continue
        if last is not None and _goals_up(last.score, r.score):
            yield from _bisect_kept(list(kept), last, r, region, cfg, ocr, budget)
        last = r
        kept.clear()
        next_keep = t_s + keep_s
    if tail is not None:
        r = _read_crop(*tail, region, cfg, ocr)
        yield r
        if r.score is not None and last is not None and _goals_up(last.score, r.score):
            yield from _bisect_kept(list(kept), last, r, region, cfg, ocr, budget)


def _bisect_kept(kept: list, lo: Read, hi: Read, region: Region, cfg, ocr: Ocr, budget: list[int]) -> Iterator[Read]:
    """Reads of kept crops between `lo` and `hi` (different scores), each nearest the middle
    of the interval still open, until it is `refine_s` short or nothing is left to read.
    A score between the two (two goals between `lo` and `hi`) splits the interval: each
    half is narrowed down on its own."""
    pool = [k for k in kept if lo.t_s < k[0] < hi.t_s]
    while pool and hi.t_s - lo.t_s > cfg.refine_s and budget[0] > 0:
        mid = (lo.t_s + hi.t_s) / 2
        k = min(range(len(pool)), key=lambda i: abs(pool[i][0] - mid))
        t_s, crop, s = pool.pop(k)
        budget[0] -= 1
        r = _read_crop(t_s, crop, s, region, cfg, ocr)
        yield r
        if r.score == lo.score:
            lo = r
        elif r.score == hi.score:
            hi = r
        elif r.score is not None and _goals_up(lo.score, r.score) and _goals_up(r.score, hi.score):
            yield from _bisect_kept(pool, lo, r, region, cfg, ocr, budget)
            lo = r
        pool = [q for q in pool if lo.t_s < q[0] < hi.t_s]


MAX_GOALS_BETWEEN_READS = 3  # more than this between two reads is a misread, not goals


def _goals_up(a: tuple[int, int], b: tuple[int, int]) -> int:
    """How many goals lie between scores `a` and `b` read in that order (neither number went
    down, at most MAX_GOALS_BETWEEN_READS more in all); 0 for anything else."""
    up = (b[0] - a[0]) + (b[1] - a[1])
    return up if b[0] >= a[0] and b[1] >= a[1] and 0 < up <= MAX_GOALS_BETWEEN_READS else 0


def _one_up(a: tuple[int, int], b: tuple[int, int]) -> int | None:
    """The team whose number went up by one from `a` to `b` (the other unchanged), else None."""
    if b == (a[0] + 1, a[1]):
        return 0
    if b == (a[0], a[1] + 1):
        return 1
    return None


def changes_from_reads(reads: Iterable[Read], confirm_reads: int = 2) -> tuple[list[dict], list[str]]:
    """Score changes from reads in time order: a new score counts once read `confirm_reads`
    times in a row (unreadable reads, where the bug is hidden, neither break nor count); a
    score going back needs one read more. Only one team's number going up by one is a change;
    other jumps are noted. Returns (changes, notes)."""
    valid = [r for r in sorted(reads, key=lambda r: r.t_s) if r.score is not None]
    changes: list[dict] = []
    notes: list[str] = []
    current: tuple[int, int] | None = None
    last_current = -1  # index in `valid` of the latest read of the current score
    pending: list[int] = []  # indices of the reads in a row showing the same new score
    for j, r in enumerate(valid):
        if r.score == current:
            last_current, pending = j, []
            continue
        if pending and valid[pending[0]].score == r.score:
            pending.append(j)
        else:
            pending = [j]
        new = r.score
        need = confirm_reads
        if current is not None and (new[0] < current[0] or new[1] < current[1]):
            need = confirm_reads + 1
        if len(pending) < need:
            continue
        first = valid[pending[0]]
        if current is None:
            # The first score to hold; a single read just before it one goal down was the
            # score until then (a goal soon after the first read still counts).
            prev = valid[pending[0] - 1] if pending[0] > 0 else None
            if prev is None or _one_up(prev.score, new) is None:
                current, last_current, pending = new, j, []
                continue
            current, last_current = prev.score, pending[0] - 1
        before = valid[last_current] if last_current >= 0 else None
        t_before = before.t_s if before else first.t_s
        team = _one_up(current, new)
        if team is not None:
            changes.append({"t_s": round((t_before + first.t_s) / 2, 2), "t_before_s": round(t_before, 2),
                            "t_after_s": round(first.t_s, 2), "score_from": _fmt(current), "score_to": _fmt(new),
                            "team": team})
        else:
            notes.append(f"score read {_fmt(current)} until {t_before:.1f} s and {_fmt(new)} from {first.t_s:.1f} s: "
                         "not one goal, not reported as a change")
        current, last_current, pending = new, j, []
    if pending and current is not None:
        first = valid[pending[0]]
        notes.append(f"score {_fmt(first.score)} read {len(pending)} time(s) from {first.t_s:.1f} s, not confirmed")
    return changes, notes


def consistent_clock(reads: Iterable[Read]) -> list[tuple[float, float]]:
    """(t_s, clock s) of the clock reads that agree with another one: the clock runs with the
    video, so two good reads differ from video time by the same offset (a misread or a
    stopped clock does not, and is left out; each half keeps its own offset)."""
    rs = [r for r in sorted(reads, key=lambda r: r.t_s) if r.clock_s is not None]
    off = np.array([r.clock_s - r.t_s for r in rs])
    step = np.array([r.clock_step_s for r in rs])
    out = []
    for i, r in enumerate(rs):
        tol = np.maximum(step, step[i]) + CLOCK_TOLERANCE_S
        agree = np.abs(off - off[i]) <= tol
        agree[i] = False
        if agree.any():
            out.append((round(r.t_s, 2), r.clock_s))
    return out


def clock_at(clock: Sequence[tuple[float, float]], t_s: float, max_gap_s: float = CLOCK_MAX_GAP_S) -> float | None:
    """Match clock (s) at video time `t_s` from the nearest clock read within `max_gap_s`."""
    if not clock:
        return None
    ts = np.array([c[0] for c in clock])
    i = int(np.argmin(np.abs(ts - t_s)))
    if abs(ts[i] - t_s) > max_gap_s:
        return None
    return clock[i][1] + (t_s - ts[i])


def minute_label(clock_s: float) -> str:
    """How a broadcast names the minute: 22:10 on the clock is the 23rd minute, "23'"."""
    return f"{int(clock_s // 60) + 1}'"


def minute_at(doc: dict, t_s: float) -> str | None:
    """The match minute ("23'") at video time `t_s` from a score-bug record
    (`ScorebugResult.to_dict()`), read from the clock of the bug shown there only: in a
    montage, a neighbouring clip's clock says nothing about this one; None where no bug
    was read near `t_s`."""
    clock = [tuple(c) for c in doc.get("clock", []) if len(c) == 2]
    shown = [(float(b["from_s"]), float(b["to_s"])) for b in doc.get("stretches") or [] if "from_s" in b]
    if shown:
        a, b = min(shown, key=lambda ab: 0.0 if ab[0] <= t_s <= ab[1] else min(abs(t_s - ab[0]), abs(t_s - ab[1])))
        inside = a - 5.0 <= t_s <= b + 5.0
        clock = [c for c in clock if a - 0.5 <= c[0] <= b + 0.5] if inside else []
    match_s = clock_at(clock, t_s) if clock else None
    return minute_label(match_s) if match_s is not None else None


def footage_joins(doc: dict, cuts) -> list[float]:
    """Where the footage passes from one broadcast to another (a montage of matches): the
    shot cut between two stretches of different score bugs, in another place on screen and,
    where both were read, with other team names. A bug that moves or restyles with the same
    teams is the same broadcast; a gap with no cut in it gives no join."""
    cuts = sorted(float(c) for c in cuts)
    out = []
    stretches = [b for b in doc.get("stretches") or [] if "from_s" in b and "to_s" in b]
    for a, b in zip(stretches, stretches[1:]):
        if a.get("bug") == b.get("bug"):
            continue
        ta, tb = set(a.get("teams") or []), set(b.get("teams") or [])
        if ta and tb and ta & tb:
            continue  # the same teams: one broadcast's bug that moved or changed style
        if not (ta and tb) and a.get("region") == b.get("region"):
            continue
        between = [c for c in cuts if float(a["to_s"]) - 0.5 <= c <= float(b["from_s"]) + 0.5]
        if between:
            mid = (float(a["to_s"]) + float(b["from_s"])) / 2
            out.append(min(between, key=lambda c: abs(c - mid)))
    return out


def _result(region: Region | None, reads: list[Read], cfg, notes: list[str], stats: dict) -> ScorebugResult:
    reads = sorted(reads, key=lambda r: r.t_s)
    if region is None:
        return ScorebugResult(False, None, [], [], notes, reads, stats)
    changes, more = changes_from_reads(reads, cfg.confirm_reads)
    readable = sum(r.score is not None for r in reads)
    notes = list(notes)
    if readable < len(reads):
        notes.append(f"score read in {readable} of {len(reads)} looks at the bug (hidden or unreadable in the rest)")
    stats = {**stats, "reads": len(reads), "readable": readable}
    return ScorebugResult(True, region.box, changes, consistent_clock(reads), notes + more, reads, stats)


def from_frames(locate_with: Iterable[tuple[float, np.ndarray]], frames: Iterable[tuple[float, np.ndarray]], cfg,
                ocr: Ocr | None = None) -> ScorebugResult:
    """Locate the bug in `locate_with` (a few native-size frames spread over the match), then
    read it every `cfg.every_s` in `frames` (a stream at native or analysis size)."""
    if not cfg.enabled:
        return ScorebugResult(False, None, [], [], ["score bug not read (signals.scorebug.enabled is false)"])
    ocr = ocr or RapidOcr(cfg.ocr_threads)
    t0 = time.perf_counter()
    region, reads, notes = locate(locate_with, cfg, ocr)
    t1 = time.perf_counter()
    if region is not None:
        reads = reads + list(read_frames(frames, region, cfg, ocr))
    stats = {"locate_s": round(t1 - t0, 3), "read_s": round(time.perf_counter() - t1, 3)}
    return _result(region, reads, cfg, notes, stats)


# ----------------------------------------------------------------------------- from a file


class _Seeker:
    """Native-size frames at times asked one by one, through one open file (`frames_at`
    pulls its next time only when asked for the next frame)."""

    def __init__(self, path, info):
        from .. import media

        self._want: deque[float] = deque()
        self._frames = media.frames_at(path, self._times(), width=None, info=info)
        self.count = 0

    def _times(self):
        while self._want:
            yield self._want.popleft()

    def at(self, t_s: float):
        self._want.append(t_s)
        self.count += 1
        _, frame = next(self._frames)
        return frame

    def close(self) -> None:
        self._frames.close()


def _refine_targets(reads: list[Read], cfg, done: set) -> tuple[float, float] | None:
    """The next score change worth narrowing down: two neighbouring reads, further apart
    than `refine_s`, one team's number one up between them (or a few goals: two goals
    between two reads a minute apart are each found by reading in between), the new score
    not a lone flicker (the read after it shows the old score again)."""
    valid = [r for r in sorted(reads, key=lambda r: r.t_s) if r.score is not None]
    for i in range(len(valid) - 1):
        a, b = valid[i], valid[i + 1]
        if a.score == b.score or b.t_s - a.t_s <= cfg.refine_s or (a.t_s, b.t_s) in done:
            continue
        if not _goals_up(a.score, b.score):
            continue
        if i + 2 < len(valid) and valid[i + 2].score == a.score:
            continue
        return a.t_s, b.t_s
    return None


def _rows(boxes: list[Box], gap_lines: float = 8.0) -> list[Box]:
    """Text rows of one frame: boxes side by side (centres within half a line height, gaps of
    at most `gap_lines` line heights: the detector often misses the score between the team
    names), each row's bounding box."""
    rows: list[list[Box]] = []
    for b in sorted(boxes, key=lambda b: b[0]):
        yc, h = (b[1] + b[3]) / 2, b[3] - b[1]
        for row in rows:
            rh = float(np.median([q[3] - q[1] for q in row]))
            ry = float(np.mean([(q[1] + q[3]) / 2 for q in row]))
            if abs(yc - ry) <= 0.5 * max(h, rh) and b[0] - max(q[2] for q in row) <= gap_lines * rh:
                row.append(b)
                break
        else:
            rows.append([b])
    return [(min(q[0] for q in r), min(q[1] for q in r), max(q[2] for q in r), max(q[3] for q in r)) for r in rows]


def _shows_a_score(top: np.ndarray, boxes: list[Box], cfg, ocr: Ocr) -> bool:
    """Whether any text row of one frame reads as a score (its letter words taken as team
    names, or two digits glued between two words: "ATHO1BAR"): the sign that a bug may be
    found near this frame with more frames."""
    rows = sorted(_rows(boxes), key=lambda r: r[0] - r[2])[:MAX_HINT_ROWS]
    lines = []
    for x0, y0, x1, y1 in rows:
        pad = 0.25 * (y1 - y0)
        lines.append((max(int(x0 - 2 * pad), 0), max(int(y0 - pad), 0), int(x1 - x0 + 4 * pad) + 1, int(y1 - y0 + 2 * pad) + 1))
    for text in _recognise(ocr, top, lines, cfg.ocr_min_confidence):
        words = tuple(w.upper() for w in re.findall(r"[^\W\d_]{2,}", text))
        if parse_score(text) is not None or parse_score(text, words) is not None or _GLUED.search(text):
            return True
    return False


@dataclass
class _Shot:
    """A searched frame: its top part (None once dropped from memory), text boxes (None: not
    detected yet), the frame's size, whether a text row of it reads as a score (None: not
    asked yet)."""

    t_s: float
    top: np.ndarray | None
    boxes: list[Box] | None
    size: tuple[int, int]
    score_row: bool | None = None


@dataclass
class _Bug:
    """One bug of the file: its region (place, lines, team names, look) and every read of it."""

    region: Region
    reads: dict[float, Read] = field(default_factory=dict)
    filled: set = field(default_factory=set)  # times of the reads every `every_s` (`_Search.fill`)

    def ordered(self) -> list[Read]:
        return sorted(self.reads.values(), key=lambda r: r.t_s)

    def add(self, r: Read) -> Read:
        self.reads[round(r.t_s, 3)] = r
        return r


def _same_bug(a: Region, b: Region, cfg) -> bool:
    """Two regions found in different parts of the file are one bug: the same place (boxes
    overlapping by half), the same team names where both read some, the same look."""
    ax, ay, aw, ah = a.box
    bx, by, bw, bh = b.box
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    if a.frame_size != b.frame_size or inter < 0.5 * (aw * ah + bw * bh - inter):
        return False
    if a.teams and b.teams and len(set(a.teams) & set(b.teams)) < min(2, len(a.teams), len(b.teams)):
        return False
    if a.signature is not None and b.signature is not None:
        return _similarity(a.signature, b.signature) >= cfg.same_look
    return True


def _groups(reads: list[Read], lost: int) -> list[list[Read]]:
    """Runs of reads with a score, in time order, split where `lost` reads in a row have none."""
    out: list[list[Read]] = []
    run: list[Read] = []
    misses = 0
    for r in reads:
        if r.score is None:
            misses += 1
            continue
        if run and misses >= lost:
            out.append(run)
            run = []
        run.append(r)
        misses = 0
    if run:
        out.append(run)
    return out


class _Search:
    """Finds and reads every bug of one file by seeking: the state of `read_video`.

    Frames on a lattice: level 0 is `cfg.locate_frames` frames spread over the file, each
    level halves the spacing, down to `cfg.search_spacing_s`. A span is searched on the
    coarsest level that puts `locate_frames` frames in it (frames a known bug explains left
    out); a bug found there is read at those frames and the parts of the span it does not
    explain are searched in turn; where none is found but some frame shows a score, each half
    is searched one level finer. Searched frames are decoded once and kept (their top part).
    """

    def __init__(self, seeker: "_Seeker", duration_s: float, cfg, ocr: Ocr):
        self.seeker, self.cfg, self.ocr = seeker, cfg, ocr
        margin = min(1.0, 0.05 * duration_s)
        self.t0, self.t1 = margin, max(duration_s - margin, margin)
        n = max(cfg.locate_frames, 2)
        self.step0 = (self.t1 - self.t0) / (n - 1) if self.t1 > self.t0 else 1.0
        self.max_level = max(int(math.floor(math.log2(self.step0 / cfg.search_spacing_s))), 0) \
            if self.step0 > cfg.search_spacing_s else 0
        self.shots: OrderedDict[int, _Shot] = OrderedDict()
        self.bugs: list[_Bug] = []
        self.queue: deque[tuple[float, float]] = deque()
        self.done: set = set()
        self.first_notes: list[str] | None = None
        self.searched = 0  # frames decoded to search beyond level 0, or to find where a bug ends
        self.refined = 0  # reads to narrow down a score change
        self.short = False  # the search stopped at cfg.search_max_frames
        # Frames for the search and for where bugs end: a montage of a few minutes needs ~100;
        # a long file has fewer per minute (a match has one bug most of the time).
        self.budget = int(cfg.search_max_frames * min(1.0, 600.0 / max(duration_s, 1.0)))
        self.memo: dict = {}  # texts of searched frames' boxes (`_team_names`)

    # -- frames
    def frame(self, t_s: float):
        f = self.seeker.at(t_s)
        return (f.t_s, f.image) if f is not None else None

    def shot(self, t_s: float, detect: bool = True) -> _Shot | None:
        """The searched frame at `t_s` (decoded once; its text boxes detected when asked)."""
        key = int(round(t_s * 1000))
        if key in self.shots and self.shots[key] is None:
            return None
        s = self.shots.get(key)
        if s is None or s.top is None:
            got = self.frame(t_s)
            if got is None:
                self.shots[key] = None
                return None
            if s is None:
                s = _Shot(float(got[0]), None, None, (got[1].shape[1], got[1].shape[0]))
            s.top = _top(got[1], self.cfg)
        self._keep(key, s)
        if detect and s.boxes is None:
            s.boxes = _detect(s.top, self.cfg, self.ocr, s.size[1])[1]
        return s

    def _keep(self, key: int, s: _Shot) -> None:
        """Keep `s` as the latest used; drop the top parts of the least recently used ones
        beyond SEARCH_CACHE_BYTES (their boxes and score rows stay)."""
        self.shots[key] = s
        self.shots.move_to_end(key)
        kept = sum(x.top.nbytes for x in self.shots.values() if x is not None and x.top is not None)
        for k, old in self.shots.items():
            if kept <= SEARCH_CACHE_BYTES or k == key:
                break
            if old is not None and old.top is not None:
                kept -= old.top.nbytes
                old.top = None

    def lattice(self, level: int, a: float, b: float) -> list[float]:
        step = self.step0 / 2 ** level
        k0 = int(math.ceil((a - self.t0) / step - 1e-6))
        k1 = int(math.floor((b - self.t0) / step + 1e-6))
        return [self.t0 + k * step for k in range(max(k0, 0), k1 + 1) if self.t0 + k * step <= self.t1 + 1e-6]

    def explained(self, t_s: float) -> bool:
        key = round(t_s, 3)
        return any(key in b.reads and b.reads[key].score is not None for b in self.bugs)

    # -- bugs
    def bug_of(self, region: Region) -> _Bug:
        for b in self.bugs:
            if _same_bug(b.region, region, self.cfg):
                return b
        self.bugs.append(_Bug(region))
        return self.bugs[-1]

    def read_at(self, bug: _Bug, t_s: float, image: np.ndarray) -> Read:
        return bug.add(read_image(t_s, image, bug.region, self.cfg, self.ocr))

    def read_seek(self, bug: _Bug, t_s: float) -> Read | None:
        """Read `bug` at `t_s` (a seek; the frame is kept, as a searched frame not yet
        detected, should a search around it want it)."""
        s = self.shot(t_s, detect=False)
        return self.read_at(bug, s.t_s, s.top) if s is not None else None

    # -- searching
    def run_queue(self) -> None:
        while self.queue:
            self.search(*self.queue.popleft())

    def search(self, a: float, b: float) -> None:
        cfg = self.cfg
        level = next((lv for lv in range(self.max_level + 1) if len(self.lattice(lv, a, b)) >= cfg.locate_frames),
                     self.max_level)
        times = self.lattice(level, a, b)
        first = self.first_notes is None  # the first search: the whole file on level 0
        if not times or (len(times) < 3 and not first):
            return
        key = (level, round(times[0], 3), round(times[-1], 3))
        if key in self.done:
            return
        self.done.add(key)
        new = sum(int(round(t * 1000)) not in self.shots for t in times)
        if not first and self.searched + new > self.budget:
            self.short = True
            return
        if not first:
            self.searched += new
        shots = [s for s in (self.shot(t) for t in times) if s is not None]
        for bug in self.bugs:  # a bug already known, read where it was not yet looked for
            for s in shots:
                if round(s.t_s, 3) not in bug.reads and not self.explained(s.t_s):
                    self.read_at(bug, s.t_s, s.top)
        free = [s for s in shots if not self.explained(s.t_s)]
        region, reads, notes = _locate_shots([(s.t_s, s.top, s.boxes, s.size) for s in free], cfg, self.ocr, self.memo) \
            if len(free) >= cfg.min_hits else (None, [], [])
        if first:
            self.first_notes = notes
        if region is None:
            if level < self.max_level and any(self.score_row(s) for s in free):
                mid = (a + b) / 2
                self.queue.extend([(a, mid), (mid, b)])
            return
        bug = self.bug_of(region)
        for r in reads:
            bug.add(r)
        # What this bug leaves unexplained in the span is searched in turn.
        runs = _groups(sorted(reads, key=lambda r: r.t_s), cfg.lost_reads)
        edges = [a] + [t for g in runs for t in (g[0].t_s, g[-1].t_s)] + [b]
        for u, v in zip(edges[::2], edges[1::2]):
            if v - u >= 2 * cfg.search_spacing_s:
                self.queue.append((u, v))

    def score_row(self, s: _Shot) -> bool:
        if s.score_row is None:
            if s.boxes is None or s.top is None:
                s = self.shot(s.t_s) or s
            s.score_row = bool(s.boxes) and s.top is not None and _shows_a_score(s.top, s.boxes, self.cfg, self.ocr)
        return s.score_row

    def fill(self, progress=None) -> None:
        """Reads every `cfg.every_s` between the reads of each bug further apart than that."""
        cfg = self.cfg
        for bug in list(self.bugs):
            ok = [r.t_s for r in bug.ordered() if r.score is not None]
            have = sorted(bug.reads)
            for a, b in zip(ok, ok[1:]):
                m = int(math.ceil((b - a) / cfg.every_s - 1e-6))
                for j in range(1, m):
                    t = a + j * (b - a) / m
                    k = int(np.searchsorted(have, t))
                    near = [have[i] for i in (k - 1, k) if 0 <= i < len(have)]
                    if any(abs(h - t) < cfg.every_s / 2 for h in near):
                        continue
                    r = self.read_seek(bug, t)
                    if r is not None:
                        bug.filled.add(round(r.t_s, 3))
                    if progress:
                        progress()

    def lost_spans(self) -> list[tuple[float, float]]:
        """Spans where the reads every `every_s` missed a bug `cfg.lost_reads` times in a row
        and one of those frames shows a score somewhere: searched for another bug (the search's
        own frames have searched their spans already)."""
        out = []
        for bug in self.bugs:
            rs = bug.ordered()
            runs = _groups(rs, self.cfg.lost_reads)
            if not runs:
                continue
            edges = [self.t0] + [t for g in runs for t in (g[0].t_s, g[-1].t_s)] + [self.t1]
            for u, v in zip(edges[::2], edges[1::2]):
                misses = [r for r in rs if u < r.t_s < v and round(r.t_s, 3) in bug.filled]
                if v - u < 2 * self.cfg.search_spacing_s or len(misses) < self.cfg.lost_reads:
                    continue
                # Searched only where a frame shows a score (not a break without any).
                shots = [s for s in self.shots.values() if s is not None and u < s.t_s < v and not self.explained(s.t_s)]
                if any(self.score_row(s) for s in shots):
                    out.append((u, v))
        return out

    def narrow_edges(self) -> None:
        """Where each bug was first and last read, and on both sides of a gap across which its
        score differs, narrowed down to `cfg.boundary_s` (a goal just before a clip ends shows
        its new score only for its last seconds)."""
        cfg = self.cfg
        for bug in self.bugs:
            runs = _groups(bug.ordered(), cfg.lost_reads)
            if not runs:
                continue
            edges = [(runs[0][0], -1), (runs[-1][-1], +1)]
            for g, h in zip(runs, runs[1:]):
                if g[-1].score != h[0].score:
                    edges += [(g[-1], +1), (h[0], -1)]
            for r, d in edges:
                self._narrow(bug, r.t_s, d)

    def _narrow(self, bug: _Bug, t_ok: float, d: int) -> None:
        cfg = self.cfg
        while True:
            # The nearest look beyond t_ok: a read of this bug, or a searched frame read now.
            beyond = [r for r in bug.reads.values() if d * (r.t_s - t_ok) > 1e-6]
            near = min(beyond, key=lambda r: abs(r.t_s - t_ok), default=None)
            shots = [s for s in self.shots.values() if s is not None and d * (s.t_s - t_ok) > 1e-6
                     and round(s.t_s, 3) not in bug.reads]
            shot = min(shots, key=lambda s: abs(s.t_s - t_ok), default=None)
            if shot is not None and (near is None or abs(shot.t_s - t_ok) < abs(near.t_s - t_ok)):
                if shot.top is None:
                    near = self.read_seek(bug, shot.t_s)
                else:
                    near = self.read_at(bug, shot.t_s, shot.top)
            if near is None:
                return
            if near.score is None:
                break
            t_ok = near.t_s
        t_out = near.t_s
        while abs(t_out - t_ok) > cfg.boundary_s and self.searched < self.budget:
            mid = (t_ok + t_out) / 2
            self.searched += 1
            r = self.read_seek(bug, mid)
            if r is None or not (min(t_ok, t_out) < r.t_s < max(t_ok, t_out)):
                return
            if r.score is not None:
                t_ok = r.t_s
            else:
                t_out = r.t_s

    def refine(self) -> None:
        """Reads between two reads of one bug whose scores differ by a goal, until the change
        lies within `cfg.refine_s` (at most `cfg.refine_max_reads` in all)."""
        cfg = self.cfg
        for bug in self.bugs:
            done: set = set()
            while self.refined < cfg.refine_max_reads:
                pair = _refine_targets(bug.ordered(), cfg, done)
                if pair is None:
                    break
                a, b = pair
                done.add(pair)
                for t in ((a + b) / 2, a + (b - a) / 4, a + 3 * (b - a) / 4):
                    got = self.frame(t)
                    self.refined += 1
                    if got is not None and a < got[0] < b:
                        if self.read_at(bug, got[0], got[1]).score is not None:
                            break
                    if self.refined >= cfg.refine_max_reads:
                        break


def read_video(path, cfg, info=None, ocr: Ocr | None = None, progress: Callable[[float], None] | None = None) -> ScorebugResult:
    """Find and read the bugs of a video file by seeking (`media.frames_at`, native size).

    `cfg.locate_frames` frames spread over the file find the bug of a match; where they do
    not explain the whole file (no bug in most of them, clips of other matches, the bug moved
    or restyled), the rest is searched on denser frames (`_Search`, at most
    `cfg.search_max_frames` more). Each bug found is read every `cfg.every_s` between its
    reads; where it is lost `cfg.lost_reads` times in a row the gap is searched for another;
    where it is first and last seen is narrowed to `cfg.boundary_s`; where the score changed
    between two reads of one bug, reads in between narrow the change to `cfg.refine_s` (at
    most `cfg.refine_max_reads`). A single bug read over a match costs what one region read
    every `every_s` costs. `progress` gets the share of the work done (0..1).
    """
    from .. import media

    t0 = time.perf_counter()
    if not cfg.enabled:
        return ScorebugResult(False, None, [], [], ["score bug not read (signals.scorebug.enabled is false)"])
    info = info or media.probe(path)
    if not info.has_video:
        return ScorebugResult(False, None, [], [], ["no video stream: score bug not read"])
    duration = float(info.duration_s)
    ocr = ocr or RapidOcr(cfg.ocr_threads)
    seeker = _Seeker(path, info)
    search = _Search(seeker, duration, cfg, ocr)
    expect = max(int(math.ceil(duration / cfg.every_s)), 1)
    filled = [0]

    def tick():
        filled[0] += 1
        if progress:
            progress(min(0.2 + 0.7 * filled[0] / expect, 0.9))

    try:
        search.queue.append((search.t0, search.t1))
        search.run_queue()
        t1 = time.perf_counter()
        if progress:
            progress(0.2)
        for _ in range(8):  # a bug lost, a gap searched, a new bug read ... (bounded)
            search.fill(tick)
            search.queue.extend(search.lost_spans())
            before = (len(search.bugs), len(search.done))
            search.run_queue()
            if (len(search.bugs), len(search.done)) == before:
                break
        t2 = time.perf_counter()
        search.narrow_edges()
        search.refine()
    finally:
        seeker.close()
    if progress:
        progress(1.0)
    stats = {"locate_s": round(t1 - t0, 3), "read_s": round(t2 - t1, 3), "refine_s": round(time.perf_counter() - t2, 3),
             "refine_reads": search.refined, "search_frames": search.searched, "seeks": seeker.count,
             "bugs": len(search.bugs)}
    notes = []
    if search.short:
        notes.append(f"score bug search stopped after {search.budget} frames (signals.scorebug.search_max_frames): "
                     "parts of the file were not searched for a bug")
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    if not any(r.score is not None for b in search.bugs for r in b.reads.values()):
        return ScorebugResult(False, None, [], [], (search.first_notes or []) + notes, [], stats)
    return _result_bugs(search.bugs, cfg, notes, stats)


def _result_bugs(bugs: list[_Bug], cfg, notes: list[str], stats: dict) -> ScorebugResult:
    """The result of several bugs: changes and clock from each bug's own reads only."""
    reads, changes, clock, more, stretches = [], [], [], [], []
    counts = []
    for i, bug in enumerate(bugs):
        rs = [replace(r, bug=i) for r in bug.ordered()]
        reads += rs
        ch, nt = changes_from_reads(rs, cfg.confirm_reads)
        changes += [{**c, "bug": i} for c in ch]
        more += nt
        clock += consistent_clock(rs)
        runs = _groups(rs, cfg.lost_reads)
        counts.append(sum(len(g) for g in runs))
        stretches += [{"bug": i, "region": list(bug.region.box), "teams": list(bug.region.teams),
                       "from_s": round(g[0].t_s, 2), "to_s": round(g[-1].t_s, 2), "reads": len(g)} for g in runs]
    reads.sort(key=lambda r: r.t_s)
    changes.sort(key=lambda c: c["t_s"])
    clock.sort()
    stretches.sort(key=lambda s: s["from_s"])
    main = bugs[int(np.argmax(counts))].region
    readable = sum(r.score is not None for r in reads)
    # A look at one bug's place while another bug (or none) is on screen is not a look at it.
    looks = sum(r.look is None or r.look >= cfg.same_look for r in reads)
    notes = list(notes)
    if len(bugs) > 1:
        notes.append(f"{len(bugs)} different score bugs read, in {len(stretches)} stretches: " + ", ".join(
            f"{s['from_s']:.0f}-{s['to_s']:.0f} s" for s in stretches) + "; a score change counts only within one bug")
    if readable < looks:
        notes.append(f"score read in {readable} of {looks} looks at the bug (unreadable in the rest)")
    stats = {**stats, "reads": len(reads), "readable": readable}
    return ScorebugResult(True, main.box, changes, clock, notes + more, reads, stats, stretches)


# ----------------------------------------------------------------------------- timeline


def scorebug_columns(result: ScorebugResult, duration_s: float, bin_s: float) -> dict[str, np.ndarray]:
    """Per-bin columns: `scorebug_change` 1.0 in the bin of each change, 0 where the bug was
    read (between the first and last readable look of each stretch: scores only go up, so two
    equal reads mean no goal between them), NaN elsewhere and everywhere when no bug was found;
    `scorebug_clock_s` the match clock at each bin start (NaN where none was read nearby)."""
    n = n_bins(duration_s, bin_s)
    change = np.full(n, np.nan)
    clock = np.full(n, np.nan)
    if not result.found or n == 0:
        return {"scorebug_change": change, "scorebug_clock_s": clock}
    valid = [r.t_s for r in result.reads if r.score is not None]
    spans = [(s["from_s"], s["to_s"]) for s in result.stretches] or ([(min(valid), max(valid))] if valid else [])
    for a, b in spans:  # between another bug's stretches nothing was read: NaN
        idx = bin_index(np.array([a, b]), bin_s, n)
        lo = idx[0] if idx[0] >= 0 else 0
        hi = idx[1] if idx[1] >= 0 else n - 1
        change[lo:hi + 1] = 0.0
    if result.changes:
        idx = bin_index(np.array([c["t_s"] for c in result.changes]), bin_s, n)
        change[idx[idx >= 0]] = 1.0
    if result.clock:
        starts = np.arange(n) * bin_s
        ts = np.array([c[0] for c in result.clock])
        cs = np.array([c[1] for c in result.clock])
        # The nearest clock read (of the one before and the one after each bin start).
        after = np.clip(np.searchsorted(ts, starts), 0, len(ts) - 1)
        before = np.clip(after - 1, 0, len(ts) - 1)
        nearest = np.where(np.abs(starts - ts[before]) <= np.abs(starts - ts[after]), before, after)
        keep = np.abs(starts - ts[nearest]) <= CLOCK_MAX_GAP_S
        clock[keep] = cs[nearest[keep]] + (starts[keep] - ts[nearest[keep]])
    return {"scorebug_change": change, "scorebug_clock_s": clock}
