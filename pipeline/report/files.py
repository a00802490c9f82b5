"""The reviewer-facing files: segments.json, timeline.csv (with the score), run.json.

Formats are the Contracts of DESIGN.md; `segments.json` carries `schema_version` and is
described by pipeline/schemas/segments.schema.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..outputs import write_json, write_text
from ..types import Segment, Timeline

SCHEMA_VERSION = "1.0"
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
        "segments": [s.to_dict() for s in sorted(segments, key=lambda s: s.start)],
    }


def write_segments(out_dir: Path, doc: dict) -> Path:
    return write_json(Path(out_dir) / SEGMENTS_NAME, doc)


def read_segments(out_dir: Path) -> dict:
    return json.loads((Path(out_dir) / SEGMENTS_NAME).read_text(encoding="utf-8"))


def segments_from_document(doc: dict) -> list[Segment]:
    fields = ("id", "start", "end", "peak", "score", "components", "rank", "selected", "reason", "replay_of")
    return [Segment(**{k: s[k] for k in fields}) for s in doc["segments"]]


def write_timeline_csv(out_dir: Path, timeline: Timeline, score: np.ndarray) -> Path:
    from ..signals.timeline import timeline_csv_text

    return write_text(Path(out_dir) / "timeline.csv", timeline_csv_text(timeline, {"score": score}))


def selection_document(fingerprint: str, segments: list[Segment]) -> dict:
    """The selection file the review page exports and `render --selection` reads."""
    return {"schema_version": SCHEMA_VERSION, "input_fingerprint": fingerprint,
            "segments": [{"id": s.id} for s in segments]}


def read_selection(path, fingerprint: str, candidates: list[Segment], duration_s: float) -> list[Segment]:
    """Segments named by a selection file: by id (from candidates) or by start/end.

    Refuses a selection made for another input (different fingerprint) with a ConfigError.
    """
    from ..errors import ConfigError

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"selection {path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"selection {path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("segments"), list):
        raise ConfigError(f"selection {path}: expected {{\"input_fingerprint\", \"segments\": [...]}}")
    if doc.get("input_fingerprint") != fingerprint:
        raise ConfigError(f"selection {path} was made for another input (fingerprint differs); refusing to render it")
    by_id = {s.id: s for s in candidates}
    out: list[Segment] = []
    for i, item in enumerate(doc["segments"]):
        if not isinstance(item, dict):
            raise ConfigError(f"selection {path}: segment {i} must be an object")
        if "id" in item:
            if item["id"] not in by_id:
                raise ConfigError(f"selection {path}: unknown segment id {item['id']!r}")
            out.append(by_id[item["id"]])
        elif "start" in item and "end" in item:
            try:
                a, b = float(item["start"]), float(item["end"])
            except (TypeError, ValueError):
                raise ConfigError(f"selection {path}: segment {i} start/end must be numbers") from None
            if not (0 <= a < b <= duration_s + 1e-6):
                raise ConfigError(f"selection {path}: segment {i} [{a}, {b}] is outside the video (0-{duration_s:.1f} s)")
            out.append(Segment(id=f"x{i + 1:03d}", start=a, end=b, peak=(a + b) / 2, score=0.0, components={}))
        else:
            raise ConfigError(f"selection {path}: segment {i} needs an id or start and end")
    if not out:
        raise ConfigError(f"selection {path} names no segment")
    return sorted(out, key=lambda s: s.start)


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
