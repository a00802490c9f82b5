"""The reviewer-facing files: segments.json, timeline.csv (with the score), selection files.

Formats are the Contracts of DESIGN.md; `segments.json` carries `schema_version` and is
described by pipeline/schemas/segments.schema.json.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..outputs import write_json, write_text
from ..types import Segment, Timeline

SCHEMA_VERSION = "1.4"  # 1.1: config_fingerprint, selections carry times with their ids; 1.2: kind, confidence;
# 1.3: moment, minute; 1.4: scored (the span and replay bonus a candidate's score was measured over)
SEGMENTS_NAME = "segments.json"


def segments_document(
    segments: list[Segment],
    *,
    input_path: str,
    fingerprint: str,
    duration_s: float,
    config: dict,
    detector: dict,
    weights_used: dict[str, float],
    notes: list[str] | None = None,
    target_s: float | None = None,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "input": {"path": str(input_path), "fingerprint": fingerprint, "duration": round(float(duration_s), 3)},
        "config": config,
        "detector": detector,
        "weights_used": weights_used,
        "notes": list(notes or []),
        "target_duration": round(float(target_s), 3) if target_s is not None else None,
        "config_fingerprint": config_fingerprint(fingerprint, config),
        "segments": [s.to_dict() for s in sorted(segments, key=lambda s: s.start)],
    }


_NOT_CANDIDATES = ("render", "report", "batch")  # sections that never change the candidates
_TARGET_KEYS = ("target_duration_s", "target_fraction", "min_target_s")  # pick among candidates, do not make them


def config_fingerprint(input_fingerprint: str, config: dict) -> str:
    """sha256 of the input and of the config that made the candidate segments (and so their
    ids): a selection naming segments by id alone is only valid under the same one."""
    doc = {k: v for k, v in config.items() if k not in _NOT_CANDIDATES}
    if isinstance(doc.get("segments"), dict):
        doc["segments"] = {k: v for k, v in doc["segments"].items() if k not in _TARGET_KEYS}
    blob = json.dumps({"input": input_fingerprint, "config": doc}, sort_keys=True, allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_segments(out_dir: Path, doc: dict) -> Path:
    return write_json(Path(out_dir) / SEGMENTS_NAME, doc)


HEX64 = re.compile(r"^[0-9a-f]{64}$")
SEGMENT_ID = re.compile(r"^s\d{3,}$")
MAX_JSON_BYTES = 64 << 20  # segments.json of a long match is well under 1 MiB


def _read_json(path: Path, what: str, error, limit: int = MAX_JSON_BYTES):
    """JSON from a file of ours or a user's, with one-line errors of class `error`."""
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{what} {path} not found") from None
    except OSError as exc:
        raise error(f"{what} {path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > limit:
        raise error(f"{what} {path} is larger than {limit >> 20} MiB; not a file highlights wrote")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise error(f"{what} {path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise error(f"{what} {path}: nested too deeply") from None


def is_finite(v) -> bool:
    """A real number (not a bool), neither NaN nor infinite: what JSON read back may hold."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def segments_doc_problem(doc: Any) -> str | None:
    """The first reason `doc` cannot be used as segments.json, checking every value that
    commands use (paths, fingerprint, ids, times); None when it can."""
    if not isinstance(doc, dict):
        return "not an object"
    inp = doc.get("input")
    if not isinstance(inp, dict) or not isinstance(inp.get("path"), str) or not inp["path"] or "\0" in inp["path"]:
        return "input.path is not a path"
    if not isinstance(inp.get("fingerprint"), str) or not HEX64.match(inp["fingerprint"]):
        return "input.fingerprint is not 64 hex digits"
    if not is_finite(inp.get("duration")) or inp["duration"] <= 0:
        return "input.duration is not a positive number"
    segs = doc.get("segments")
    if not isinstance(segs, list):
        return "segments is not a list"
    seen = set()
    for i, sg in enumerate(segs):
        if not isinstance(sg, dict):
            return f"segment {i} is not an object"
        sid = sg.get("id")
        if not isinstance(sid, str) or not SEGMENT_ID.match(sid):
            return f"segment {i}: id {str(sid)[:20]!r} is not of the form s001"
        if sid in seen:
            return f"segment id {sid} appears twice"
        seen.add(sid)
        for k in ("start", "end", "peak", "score"):
            if not is_finite(sg.get(k)):
                return f"segment {sid}: {k} is not a finite number"
        if not 0 <= sg["start"] < sg["end"] <= inp["duration"] + 1.0:
            return f"segment {sid}: [{sg['start']}, {sg['end']}] is not inside the input"
        if not isinstance(sg.get("components"), dict) or not all(is_finite(v) for v in sg["components"].values()):
            return f"segment {sid}: components are not numbers"
        if not isinstance(sg.get("selected"), bool) or not isinstance(sg.get("reason", ""), str):
            return f"segment {sid}: selected/reason have the wrong type"
        rank = sg.get("rank")
        if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int)):
            return f"segment {sid}: rank is not an integer"
        if sg.get("kind") is not None and sg["kind"] not in ("goal", "chance", "other"):
            return f"segment {sid}: kind {str(sg['kind'])[:20]!r} is not goal, chance or other"
        if sg.get("confidence") is not None and not (is_finite(sg["confidence"]) and 0 <= sg["confidence"] <= 1):
            return f"segment {sid}: confidence is not a number in 0-1"
        if sg.get("moment") is not None and not is_finite(sg["moment"]):
            return f"segment {sid}: moment is not a finite number"
        if sg.get("minute") is not None and not (isinstance(sg["minute"], str) and len(sg["minute"]) <= 12):
            return f"segment {sid}: minute is not a short text"
        if sg.get("replay_of") is not None and not (isinstance(sg["replay_of"], str) and SEGMENT_ID.match(sg["replay_of"])):
            return f"segment {sid}: replay_of is not a segment id"
    return None


def read_segments(out_dir: Path) -> dict:
    """OUT/segments.json, checked: a damaged or hand-edited file is an OutputError (exit 5)
    naming what is wrong, never a traceback or values used unchecked."""
    from ..errors import OutputError

    path = Path(out_dir) / SEGMENTS_NAME
    if not path.exists():
        raise OutputError(f"{out_dir} holds no {SEGMENTS_NAME} (run `highlights run` or `rescore` first)")
    doc = _read_json(path, "", OutputError)
    problem = segments_doc_problem(doc)
    if problem:
        raise OutputError(f"{path} is damaged or was edited by hand ({problem}); run `highlights rescore {out_dir}` to rewrite it")
    return doc


def segments_from_document(doc: dict) -> list[Segment]:
    fields = ("id", "start", "end", "peak", "score", "components", "rank", "selected", "reason", "replay_of",
              "kind", "confidence", "minute")
    out = []
    for s in doc["segments"]:
        seg = Segment(**{k: s[k] for k in fields if k in s})
        if s.get("moment") is not None:
            seg.anchor = float(s["moment"])
        sc = s.get("scored")
        if isinstance(sc, dict):
            seg.scored = (float(sc["start"]), float(sc["end"]), float(sc.get("replay_bonus", 0.0)))
        out.append(seg)
    return out


def write_timeline_csv(out_dir: Path, timeline: Timeline, score: np.ndarray) -> Path:
    from ..signals.timeline import timeline_csv_text

    return write_text(Path(out_dir) / "timeline.csv", timeline_csv_text(timeline, {"score": score}))


MAX_SELECTION_BYTES = 1 << 20
MAX_SELECTION_SEGMENTS = 2000
_TIME_TOL_S = 0.05  # a segment's times as exported match the candidate's within this


def selection_document(fingerprint: str, segments: list[Segment], config_fp: str | None = None) -> dict:
    """The selection file the review page exports and `render --selection` reads: each
    segment by id and by time, with the config fingerprint the ids belong to."""
    return {"schema_version": SCHEMA_VERSION, "input_fingerprint": fingerprint, "config_fingerprint": config_fp,
            "segments": [{"id": s.id, "start": round(s.start, 3), "end": round(s.end, 3)} for s in segments]}


def _times(item: dict, i: int, path) -> tuple[float, float] | None:
    from ..errors import ConfigError

    if "start" not in item and "end" not in item:
        return None
    a, b = item.get("start"), item.get("end")
    if not (is_finite(a) and is_finite(b)):
        raise ConfigError(f"selection {path}: segment {i} start/end must be finite numbers of seconds")
    return float(a), float(b)


def read_selection(path, fingerprint: str, candidates: list[Segment], duration_s: float,
                   config_fp: str | None = None, notes: list[str] | None = None) -> list[Segment]:
    """Segments named by a selection file, chronological, each moment once.

    A segment is named by id and time (what the page exports), by id alone, or by time
    alone. Ids hold only under the config that numbered them (`config_fingerprint`): under
    it, an id with other times is that candidate trimmed or extended in review (its
    `trimmed_from` the candidate's own times); otherwise a segment whose id no longer has
    the exported times is mapped by its times (to the candidate with those times, else the
    times themselves are cut), and an id alone is refused unless the file carries the
    current config fingerprint. Repeats and overlaps
    are merged, so no moment is shown twice. A selection for another input (fingerprint)
    is refused. Every refusal is a ConfigError (exit 2); what was mapped or merged is
    appended to `notes`.
    """
    from ..errors import ConfigError

    notes = notes if notes is not None else []
    doc = _read_json(Path(path), "selection", ConfigError, MAX_SELECTION_BYTES)
    if not isinstance(doc, dict) or not isinstance(doc.get("segments"), list):
        raise ConfigError(f"selection {path}: expected {{\"input_fingerprint\", \"segments\": [...]}}")
    if doc.get("input_fingerprint") != fingerprint:
        raise ConfigError(f"selection {path} was made for another input (fingerprint differs); refusing to render it")
    items = doc["segments"]
    if len(items) > MAX_SELECTION_SEGMENTS:
        raise ConfigError(f"selection {path} names {len(items)} segments; at most {MAX_SELECTION_SEGMENTS} are accepted")
    same_config = config_fp is not None and doc.get("config_fingerprint") == config_fp
    by_id = {s.id: s for s in candidates}
    by_time = {(round(s.start, 2), round(s.end, 2)): s for s in candidates}
    chosen: list[Segment] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ConfigError(f"selection {path}: segment {i} must be an object")
        sid = item.get("id")
        if sid is not None and not (isinstance(sid, str) and SEGMENT_ID.match(sid)):
            raise ConfigError(f"selection {path}: segment {i}: id must be a string like \"s001\" (got {str(sid)[:30]})")
        times = _times(item, i, path)
        if times is not None and not (0 <= times[0] < times[1] <= duration_s + 1e-6):
            raise ConfigError(f"selection {path}: segment {i} [{times[0]:g}, {times[1]:g}] is outside the video "
                              f"(0-{duration_s:.1f} s)")
        cand = by_id.get(sid) if sid is not None else None
        if times is None:
            if sid is None:
                raise ConfigError(f"selection {path}: segment {i} needs an id or start and end")
            if cand is None:
                raise ConfigError(f"selection {path}: unknown segment id {sid!r}")
            if not same_config:
                raise ConfigError(f"selection {path} names {sid} by id alone, and the segments may have been renumbered "
                                  "since it was made (its config fingerprint differs or is missing); export it again "
                                  "from report.html, which writes times too")
            chosen.append(cand)
            continue
        if cand is not None and abs(cand.start - times[0]) <= _TIME_TOL_S and abs(cand.end - times[1]) <= _TIME_TOL_S:
            chosen.append(cand)
            continue
        if cand is not None and same_config:  # the ids still hold: the review trimmed or extended it
            notes.append(f"selection: {sid} set to {times[0]:.1f}-{times[1]:.1f} s in review "
                         f"(candidate {cand.start:.1f}-{cand.end:.1f} s)")
            chosen.append(dataclasses.replace(cand, start=times[0], end=times[1],
                                              peak=min(max(cand.peak, times[0]), times[1]), trimmed_from=(cand.start, cand.end)))
            continue
        match = by_time.get((round(times[0], 2), round(times[1], 2)))
        if match is not None:
            if sid is not None:
                notes.append(f"selection: {sid} ({times[0]:.1f}-{times[1]:.1f} s) is now {match.id}: mapped by its times")
            chosen.append(match)
            continue
        if sid is not None:
            notes.append(f"selection: {sid} no longer has the times {times[0]:.1f}-{times[1]:.1f} s: those times are cut as exported")
        chosen.append(Segment(id=f"x{i + 1:03d}", start=times[0], end=times[1], peak=(times[0] + times[1]) / 2,
                              score=0.0, components={}))
    if not chosen:
        raise ConfigError(f"selection {path} names no segment")
    return _merge_overlaps(chosen, notes)


def _merge_overlaps(segments: list[Segment], notes: list[str]) -> list[Segment]:
    """Chronological, each moment once: a repeated segment is dropped, overlapping ones join."""
    out: list[Segment] = []
    for s in sorted(segments, key=lambda s: (s.start, s.end)):
        if out and s.start < out[-1].end - 1e-6:
            last = out[-1]
            if s.end <= last.end + 1e-6:
                what = f"{s.id} is named more than once" if s.id == last.id else f"{s.id} lies inside {last.id}"
                notes.append(f"selection: {what}: shown once")
                continue
            notes.append(f"selection: {s.id} overlaps {last.id}: joined into one segment")
            out[-1] = Segment(id=last.id, start=last.start, end=s.end, peak=last.peak if last.score >= s.score else s.peak,
                              score=max(last.score, s.score), components=last.components, rank=last.rank,
                              selected=True, reason=last.reason)
            continue
        out.append(s)
    return out


# ----------------------------------------------------------------------------- schema, truth

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "segments.schema.json"


def segments_schema() -> dict:
    """The JSON Schema of segments.json (pipeline/schemas/segments.schema.json)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def segments_problems(doc: Any) -> list[str]:
    """What is wrong with a segments.json document: schema errors plus the rules a schema
    cannot state (end after start, peak inside, unique ids, replay_of names a segment).

    Uses jsonschema (a dev dependency) when installed; without it only the extra rules and
    the required keys are checked. An empty list means the document is valid.
    """
    problems: list[str] = []
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    if jsonschema is not None:
        validator = jsonschema.Draft202012Validator(segments_schema())
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in err.absolute_path) or "(top)"
            problems.append(f"{where}: {err.message}")
    elif not isinstance(doc, dict) or not isinstance(doc.get("segments"), list):
        return ["(top): expected an object with a `segments` list"]
    if problems or not isinstance(doc, dict):
        return problems
    ids = [s.get("id") for s in doc["segments"]]
    for i, s in enumerate(doc["segments"]):
        if not s["start"] < s["end"]:
            problems.append(f"segments/{i}: end {s['end']} is not after start {s['start']}")
        if not s["start"] - 1e-6 <= s["peak"] <= s["end"] + 1e-6:
            problems.append(f"segments/{i}: peak {s['peak']} is outside [{s['start']}, {s['end']}]")
        if s.get("replay_of") is not None and s["replay_of"] not in ids:
            problems.append(f"segments/{i}: replay_of {s['replay_of']!r} names no segment")
    if len(set(ids)) != len(ids):
        problems.append("segments: ids are not unique")
    return problems


def read_truth(path) -> list[dict]:
    """Events of a truth file (synth's *.truth.json or a labels.json): [{type, time, start, end}]."""
    from ..errors import ConfigError

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"truth {path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"truth {path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise ConfigError(f"truth {path}: expected {{\"events\": [{{\"type\", \"time\", \"start\", \"end\"}}]}}")
    events = []
    for i, e in enumerate(doc["events"]):
        try:
            t = float(e["time"])
            events.append({"type": str(e.get("type", "event")), "time": t,
                           "start": float(e.get("start", t)), "end": float(e.get("end", t))})
        except (TypeError, KeyError, ValueError):
            raise ConfigError(f"truth {path}: event {i} needs a numeric `time`") from None
    return sorted(events, key=lambda e: e["time"])
