"""report.html: the review page, one self-contained file (inline CSS, JS, thumbnails).

Takes the segments.json document, the timeline, the excitement curve and optional truth;
gives a page with the source video on top, an interactive timeline under it (hover for the
signal values, click to seek), and a sortable table of every candidate with its thumbnails,
group contributions and reason, where the reviewer ticks segments in or out and exports a
selection file for `highlights render OUT --selection FILE`.

Every string from the input reaches the page through Jinja2 autoescaping or inside a
`<script type="application/json">` block with `<`, `>` and `&` escaped; scripts run under a
per-page nonce, so an injected handler could not run even if escaping failed.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import secrets
import tempfile
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import quote

import numpy as np

from ..outputs import atomic_write, write_text
from ..types import Timeline
from .plot import GROUP_COLOURS, GROUPS, SELECTED_COLOUR, TRUTH_COLOURS, aggregate, as_dicts, bucket_factor, clock

REPORT_NAME = "report.html"
THUMBS_DIR = "thumbs"
THUMB_WIDTH_PX = 192  # shown at 96 CSS px: sharp on high-density screens, ~6 kB as JPEG
PAGE_POINTS = 2400  # timeline points sent to the page; longer timelines are aggregated (max)


def json_for_script(obj: Any) -> str:
    """JSON safe inside <script type="application/json">: no `</script>` or `<!--` can form."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _finite_list(values: np.ndarray, digits: int = 3) -> list[float | None]:
    return [round(float(v), digits) if math.isfinite(v) else None for v in np.asarray(values, np.float64)]


def resolve_video(input_path: str, out: Path) -> Path | None:
    """Where the source video is now: the path as given (absolute, or relative to the current
    folder), else relative to the output folder's parent (a run started next to `out/`)."""
    p = Path(input_path)
    for cand in ([p] if p.is_absolute() else [Path.cwd() / p, Path(out).resolve().parent / p]):
        if cand.is_file():
            return cand.resolve()
    return None


def video_src(video: Path | None, input_path: str, out: Path) -> str:
    """URL of the video relative to OUT (so the folder can move with its video), percent-encoded."""
    target = video if video is not None else Path(os.path.abspath(input_path))
    rel = os.path.relpath(target, Path(out).resolve())
    return quote(Path(rel).as_posix(), safe="/")


def thumbnail_times(start: float, end: float, peak: float, n: int) -> list[float]:
    """`n` times spread inside [start, end]; the one nearest the peak moves onto the peak."""
    if n <= 0 or end <= start:
        return []
    times = [start + (end - start) * (i + 0.5) / n for i in range(n)]
    if start <= peak <= end:
        k = min(range(n), key=lambda i: abs(times[i] - peak))
        times[k] = peak
    return times


def extract_thumbnails(
    video: Path,
    segments: Sequence[dict],
    per_segment: int,
    cache_dir: Path,
    *,
    width_px: int = THUMB_WIDTH_PX,
    progress: Callable[[float], None] | None = None,
) -> dict[str, list[dict]]:
    """{segment id: [{"t", "src" (data URI)}]}; JPEGs are cached in `cache_dir` by time, so a
    rescore only decodes the frames of segments it has not seen. The missing ones are read in
    time order from one open file."""
    import cv2

    from .. import media

    info = media.probe(video)
    cache_dir.mkdir(parents=True, exist_ok=True)
    last = max(info.duration_s - 0.05, 0.0)

    def jpeg(t: float) -> Path:
        return cache_dir / f"t{int(round(t * 1000)):09d}_w{width_px}.jpg"

    wanted = {s["id"]: [min(max(t, 0.0), last) for t in thumbnail_times(s["start"], s["end"], s["peak"], per_segment)]
              for s in segments}
    missing = sorted({t for ts in wanted.values() for t in ts if not jpeg(t).exists()})
    for k, (t, frame) in enumerate(media.frames_at(video, missing, width_px, info=info)):
        if progress:
            progress(len(segments) * (k + 1) / max(len(missing), 1))
        if frame is None:
            continue
        ok, buf = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 72])
        if ok:
            atomic_write(jpeg(t), lambda tmp: tmp.write_bytes(buf.tobytes()))
    out: dict[str, list[dict]] = {}
    for s in segments:
        thumbs = []
        for t in wanted[s["id"]]:
            if jpeg(t).exists():
                data = base64.b64encode(jpeg(t).read_bytes()).decode("ascii")
                thumbs.append({"t": round(t, 3), "label": clock(t), "src": f"data:image/jpeg;base64,{data}"})
        out[s["id"]] = thumbs
    return out


def timeline_data(timeline: Timeline, score: np.ndarray, max_points: int = PAGE_POINTS,
                  group_levels: dict[str, np.ndarray] | None = None) -> dict:
    """The timeline as the page draws it: per point the excitement, each group's level and
    every signal (normalised, and raw where it was normalised).

    `group_levels`: the lanes the score summed (`segments.excitement_curve(...).groups`,
    column weights applied); without them, each group's plain mean of its columns."""
    from ..segments import scored_columns

    n = len(timeline.t_s)
    factor = bucket_factor(n, max_points)
    cols = scored_columns(timeline)
    groups = {}
    for g in GROUPS:
        if group_levels is not None:
            if g in group_levels:
                groups[g] = _finite_list(aggregate(np.asarray(group_levels[g], np.float64), factor))
            continue
        names = cols.get(g) or []
        if not names:
            continue
        stack = np.stack([np.asarray(timeline.columns[c], np.float64) for c in names])
        with warnings.catch_warnings():  # all-NaN bins (a gap) are expected: they stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(stack, axis=0)
        groups[g] = _finite_list(aggregate(mean, factor))
    raw = timeline.raw
    signals = {name: _finite_list(aggregate(v, factor)) for name, v in sorted(timeline.columns.items())}
    raw_out = {name: _finite_list(aggregate(raw[name], factor)) for name in sorted(raw) if name in timeline.columns}
    units = {name: unit for g in GROUPS for name, unit in ((timeline.meta.get(g) or {}).get("units") or {}).items()
             if isinstance(unit, str)}
    return {
        "units": units,
        "bin_s": timeline.bin_s * factor,
        "aggregated": factor > 1,
        "score": _finite_list(aggregate(np.asarray(score, np.float64)[:n], factor)),
        "groups": groups,
        "signals": signals,
        "raw": raw_out,
    }


def rerank_data(timeline: Timeline, config: dict) -> dict:
    """What the page's weight sliders re-score the candidates with, at full resolution:
    every scored column per bin (4 decimals), the weights as the run set them (not
    normalised), and the smoothing windows; the sums are `segments.candidate_scores`'."""
    from ..segments import scored_columns

    cols = scored_columns(timeline)
    sig = config.get("signals") or {}
    seg = config.get("segments") or {}
    column_weights = {f"{g}_{name}": float(w) for g in GROUPS
                      for name, w in ((sig.get(g) or {}).get("column_weights") or {}).items()}
    return {
        "bin_s": timeline.bin_s,
        "groups": {g: cols[g] for g in GROUPS},
        "n": len(timeline.t_s),
        "columns": {name: _finite_list(timeline.columns[name], 4) for g in GROUPS for name in cols[g]},
        "weights": {g: float((config.get("weights") or {}).get(g, 0.0)) for g in GROUPS},
        "column_weights": {name: column_weights.get(name, 1.0) for g in GROUPS for name in cols[g]},
        # the windows in bins as Python rounds them (half to even; JavaScript rounds halves up)
        "smooth_bins": max(int(round(float(seg.get("smooth_s", 2.0)) / timeline.bin_s)), 1),
        "window_bins": max(int(round(float(seg.get("score_window_s", 6.0)) / timeline.bin_s)), 1),
    }


def _segment_rows(segments: list[dict], thumbs: dict[str, list[dict]], truth: list[dict]) -> list[dict]:
    top = max([v for s in segments for v in s.get("components", {}).values()] + [1e-9])
    rows = []
    for s in segments:
        comps = s.get("components", {})
        bars = [{"group": g, "value": float(comps.get(g, 0.0)),
                 "pct": round(100.0 * max(float(comps.get(g, 0.0)), 0.0) / top, 1)} for g in GROUPS]
        covers = [e for e in truth if s["start"] <= e["time"] <= s["end"]]
        if s.get("selected"):
            status = "selected"
        elif s.get("replay_of"):
            status = "replay"
        else:
            status = "left out"
        rows.append({**s, "duration": s["end"] - s["start"], "bars": bars, "thumbs": thumbs.get(s["id"], []),
                     "start_label": clock(s["start"]), "end_label": clock(s["end"]), "peak_label": clock(s["peak"]),
                     "status": status, "covers": [f"{e['type']} {clock(e['time'])}" for e in covers]})
    return rows


def render_report(
    doc: dict,
    timeline: Timeline,
    score: np.ndarray,
    *,
    out: Path,
    video: Path | None,
    thumbs: dict[str, list[dict]] | None = None,
    truth: Sequence[dict] | None = None,
    notes: Sequence[str] = (),
    group_levels: dict[str, np.ndarray] | None = None,
) -> str:
    """The page as text (see the module docstring for what it holds)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("pipeline.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    template = env.get_template("report.html.j2")
    segments = sorted(as_dicts(doc["segments"]), key=lambda s: s["start"])
    truth = list(truth or [])
    selected = [s for s in segments if s.get("selected")]
    inp = doc.get("input", {})
    data = {
        "schema_version": doc.get("schema_version"),
        "input_fingerprint": inp.get("fingerprint"),
        "config_fingerprint": doc.get("config_fingerprint"),
        "duration": float(inp.get("duration") or timeline.duration_s),
        "target": doc.get("target_duration"),
        "segments": [{k: s.get(k) for k in ("id", "start", "end", "peak", "score", "rank", "selected", "replay_of",
                                            "kind", "scored")}
                     for s in segments],
        "rerank": rerank_data(timeline, doc.get("config") or {}),
        "out_path": str(Path(out).resolve()),
        "truth": truth,
        "timeline": timeline_data(timeline, score, group_levels=group_levels),
        "colours": {**GROUP_COLOURS, "selected": SELECTED_COLOUR, "truth": TRUTH_COLOURS},
    }
    detector = doc.get("detector") or {}
    return template.render(
        nonce=secrets.token_urlsafe(16),
        name=Path(str(inp.get("path", "input"))).name,
        input_path=str(inp.get("path", "")),
        out_name=Path(out).name,
        out_path=str(out),
        fingerprint=str(inp.get("fingerprint", "")),
        duration_label=clock(data["duration"]),
        detector=str(detector.get("backend", "unknown")),
        detector_note=str(detector.get("auto", "") or ""),
        video_src=video_src(video, str(inp.get("path", "")), out),
        video_found=video is not None,
        rows=_segment_rows(segments, thumbs or {}, truth),
        n_selected=len(selected),
        reel_s=sum(s["end"] - s["start"] for s in selected),
        target_s=doc.get("target_duration"),
        weights=[(g, float((doc.get("weights_used") or {}).get(g, 0.0))) for g in GROUPS],
        notes=list(doc.get("notes") or []) + list(notes),
        truth=truth,
        colours=data["colours"],
        schema_version=str(doc.get("schema_version", "")),
        data_json=json_for_script(data),
    )


_THUMB_FOLDER = re.compile(r"^[0-9a-f]{16}$")  # first 16 hex of an input fingerprint
_THUMB_FILE = re.compile(r"^t\d{9}_w\d+\.jpg$")  # what extract_thumbnails names its JPEGs


def _thumbs_dir(out: Path, fingerprint: str | None) -> Path | None:
    """OUT/thumbs/<first 16 hex of the input's fingerprint>/, or None where OUT/thumbs is not
    a plain folder (a link, a file: thumbnails are then made in memory only, nothing is
    written through it). Frames of another input written to OUT before can never stand in
    for this one's: their JPEGs go, but only files named as this module names them, in
    folders named as it names them; anything else in OUT/thumbs (a user's) stays."""
    root = out / THUMBS_DIR
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        return None
    if not (fingerprint and _THUMB_FOLDER.match(fingerprint[:16])):
        return None
    here = root / fingerprint[:16]
    if here.is_symlink() or (here.exists() and not here.is_dir()):
        return None
    if root.is_dir():
        for old in root.iterdir():
            if old == here or old.is_symlink() or not old.is_dir() or not _THUMB_FOLDER.match(old.name):
                continue
            for f in old.iterdir():
                if _THUMB_FILE.match(f.name) and f.is_file() and not f.is_symlink():
                    f.unlink(missing_ok=True)
            try:
                old.rmdir()  # only once empty: a user's file inside keeps its folder
            except OSError:
                pass
    return here


def write_report(
    out: Path,
    doc: dict,
    timeline: Timeline,
    score: np.ndarray,
    *,
    thumbnails: int = 3,
    truth: Sequence[dict] | None = None,
    progress: Callable[[float], None] | None = None,
    group_levels: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write OUT/report.html (thumbnails cached under OUT/thumbs/<input>/); returns its path.
    `group_levels`: the group lanes the score summed (see `timeline_data`)."""
    from ..errors import MediaError

    out = Path(out)
    video = resolve_video(str(doc["input"]["path"]), out)
    notes = []
    thumbs: dict[str, list[dict]] = {}
    if video is None:
        notes.append(f"source video {doc['input']['path']} not found: no thumbnails, the player has nothing to play")
    elif thumbnails > 0:
        try:
            where = _thumbs_dir(out, doc["input"].get("fingerprint"))
            with (nullcontext(where) if where else tempfile.TemporaryDirectory(prefix="highlights-thumbs-")) as cache:
                thumbs = extract_thumbnails(video, as_dicts(doc["segments"]), thumbnails, Path(cache), progress=progress)
        except MediaError as exc:
            notes.append(f"thumbnails skipped: {exc}")
    html = render_report(doc, timeline, score, out=out, video=video, thumbs=thumbs, truth=truth, notes=notes,
                         group_levels=group_levels)
    return write_text(out / REPORT_NAME, html)
