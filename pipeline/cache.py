"""The analysis cache: its key, version, layout, reads and writes, in one room.

An entry is the expensive half of a run (decode, detection, tracking, signals) for one
input under one analysis config:

    <root>/<key[:16]>/analysis.json      the record: key, fingerprint, input, media, config,
                                         detector, frame stats, timings, notes, and the
                                         sha256 of timeline.parquet (written last)
    <root>/<key[:16]>/timeline.parquet   the timeline (`signals.timeline` format)
    <root>/<key[:16]>/detections.parquet per-frame boxes (`detect.base` format)
    <root>/<key[:16]>/tracks.parquet     tracked boxes (`track` format)

`root` is OUT/cache by default, or `--cache-dir` shared between output folders. The key is
the sha256 of the input fingerprint, the analysis config (`SECTIONS`, less what only
weights the excitement curve), the detector that config resolves to now, and `VERSION`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from .config import Config
from .errors import OutputError
from .outputs import write_json
from .types import Detections, Timeline, Tracks

VERSION = "12"  # bump when analysis code changes what a cached timeline holds
SECTIONS = ("media", "detect", "track", "pitch", "signals", "cascade")
RECORD = "analysis.json"
TIMELINE = "timeline.parquet"


class CacheDamaged(Exception):
    """A cache entry that cannot be trusted: unreadable, truncated, or not this input's."""


def analysis_config(cfg: Config) -> dict:
    """The config that shapes the cached analysis: its sections, less the column weights
    (those only weight the excitement curve, which rescore recomputes)."""
    d = cfg.section_dict(*SECTIONS)
    d["media"].pop("decode_ahead", None)  # how, not what: the same frames either way
    for group in ("audio", "motion", "shots"):
        d["signals"].get(group, {}).pop("column_weights", None)
    return d


def key_of(fingerprint: str, config_sections: Mapping[str, Any], version: str = VERSION) -> str:
    """sha256 of the input fingerprint and the config of the stages that made the timeline."""
    blob = json.dumps({"fingerprint": fingerprint, "config": config_sections, "version": version},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def analysis_key(fingerprint: str, cfg: Config) -> str:
    """The cache key: input, analysis config, and the detector that config resolves to now
    (`auto` with or without weights in the models folder, the weights file itself)."""
    from .detect import resolved_choice

    return key_of(fingerprint, analysis_config(cfg) | {"detector_choice": resolved_choice(cfg.detect)})


def entry_dir(root: str | os.PathLike, key: str) -> Path:
    return Path(root) / key[:16]


def has_entry(entry: Path) -> bool:
    return (Path(entry) / RECORD).exists()


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def check_writable(entry: Path) -> None:
    """Fail before any decoding when the analysis cannot be cached (a read-only --cache-dir)."""
    try:
        entry.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the cache folder {entry}: {exc.strerror or exc}; "
                          "give --cache-dir a folder you can write") from None
    if not os.access(entry, os.W_OK | os.X_OK):
        raise OutputError(f"cache folder {entry} is not writable; give --cache-dir a folder you can write")


def read_entry(entry: Path, fingerprint: str, key: str | None = None) -> tuple[dict, Timeline]:
    """The cached analysis of one input: its record and its timeline, both checked.

    The record must name this input (fingerprint) and key, and the timeline file must be
    the very one written with it (sha256): a truncated, swapped or hand-edited file raises
    `CacheDamaged`, and the caller analyses again instead of using it.
    """
    from .signals.timeline import read_timeline

    meta_path, tl_path = Path(entry) / RECORD, Path(entry) / TIMELINE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CacheDamaged(f"{meta_path.name} unreadable: {type(exc).__name__}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("detector"), dict) or not isinstance(meta.get("notes", []), list):
        raise CacheDamaged(f"{meta_path.name} is not a cache record")
    if meta.get("fingerprint") != fingerprint or (key is not None and meta.get("key") != key):
        raise CacheDamaged(f"{meta_path.name} belongs to another input or config")
    if not tl_path.is_file():
        raise CacheDamaged(f"{tl_path.name} is missing")
    try:
        if meta.get("timeline_sha256") != sha256(tl_path):
            raise CacheDamaged(f"{tl_path.name} is not the file written with this record (truncated or replaced)")
        timeline = read_timeline(tl_path)
    except CacheDamaged:
        raise
    except Exception as exc:  # pyarrow's errors for a damaged file have no common base
        raise CacheDamaged(f"{tl_path.name} unreadable: {type(exc).__name__}") from None
    return meta, timeline


def write_data(entry: Path, timeline: Timeline, detections: list[Detections], det_info: dict,
               tracks: Tracks) -> None:
    """An entry's data: the timeline, detections and tracks. Its record comes after them
    (`write_record`), so an entry interrupted halfway is never taken as complete."""
    from .detect.base import write_detections
    from .signals.timeline import write_timeline
    from .track import write_tracks

    entry.mkdir(parents=True, exist_ok=True)
    write_timeline(timeline, entry, csv_file=False)
    write_detections(detections, entry / "detections.parquet", det_info)
    write_tracks(tracks, entry / "tracks.parquet")


def write_record(entry: Path, record: dict) -> None:
    """The entry's record, with the sha256 of the timeline written by `write_data`: last."""
    write_json(entry / RECORD, {**record, "timeline_sha256": sha256(entry / TIMELINE)})
