"""Compose the stages: one function per user-level job, each returning a typed result.

- `run_match` (`highlights run`, and `highlights batch` for each match): analyze, select,
  write the evidence files, the plot and the page, render, write run.json;
- `rescore` (`highlights rescore`): select again from the cached analysis;
- `render_selection` (`highlights render`): the reel of OUT's selection or a selection file;
- `analyze`: the analysis of one input (`pipeline.analysis`: the video, audio and
  score-bug passes, tracking, the timeline), cached through `pipeline.cache` under a key of
  the input fingerprint and the config of those stages.

cli.py and batch.py call these; nothing else composes stages.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import platform
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import cache, media
from .analysis import QuietReporter, Reporter, Timer
from .config import Config
from .errors import ConfigError, MediaError, OutputError
from .outputs import drop_stale_reel, prepare_output_dir, record_output, set_aside_stale_reel, write_json, write_text
from .types import MediaInfo, Segment, Timeline

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    video: Path
    info: MediaInfo
    fingerprint: str
    key: str
    cache_dir: Path
    timeline: Timeline
    detector: dict
    cache_hit: bool
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def check_limits(info: MediaInfo, cfg: Config) -> None:
    if not info.has_video:
        raise MediaError(f"{info.path}: has no video stream (audio-only file?)")
    if info.duration_s > cfg.media.max_duration_s:
        raise MediaError(f"{info.path}: {info.duration_s:.0f} s ({info.duration_s / 60:.1f} min) is longer than "
                         f"media.max_duration_s ({cfg.media.max_duration_s:g} s); raise it with --set media.max_duration_s=...")
    if info.height > cfg.media.max_height:
        raise MediaError(f"{info.path}: {info.height} px tall is above media.max_height ({cfg.media.max_height}); "
                         f"raise it with --set media.max_height=...")


def analyze(
    video: str | Path,
    cfg: Config,
    cache_root: Path,
    reporter: Reporter | None = None,
    backend: str | None = None,
    reuse_cache: bool = True,
    detector=None,
) -> Analysis:
    """The analysis of one video (`pipeline.analysis`), from the cache when it holds one
    for this input and config, else computed and cached.

    `detector`: a detector built once by the caller (a batch worker reuses its model across
    matches); by default one is built from `cfg.detect`.
    """
    from .analysis import analyse_input
    from .detect import get_detector

    reporter = reporter or QuietReporter()
    timer = Timer()
    started = time.perf_counter()
    video = Path(video)
    with timer("probe"):
        info = media.probe(video)
        check_limits(info, cfg)
        fp = media.fingerprint(video, info.duration_s)
    if backend:
        cfg = cfg.model_copy(update={"detect": cfg.detect.model_copy(update={"backend": backend})})
    key = cache.analysis_key(fp, cfg)
    cache_dir = cache.entry_dir(cache_root, key)
    if reuse_cache and cache.has_entry(cache_dir):
        try:
            meta, timeline = cache.read_entry(cache_dir, fp, key)
        except cache.CacheDamaged as exc:
            reporter.message(f"note: analysis cache {cache_dir} is damaged ({exc}): analysing again")
        else:
            reporter.message(f"analysis cache hit: {cache_dir} (same input and config; video not decoded again)")
            return Analysis(video, info, fp, key, cache_dir, timeline, meta["detector"], True,
                            {"analysis": time.perf_counter() - started,
                             **{f"cached_{k}": v for k, v in meta.get("timings", {}).items()}},
                            list(meta.get("notes", [])))
    cache.check_writable(cache_dir)
    notes: list[str] = []
    duration = info.duration_s
    if info.stated_duration_s and abs(info.stated_duration_s - duration) > max(1.0, 0.01 * duration):
        notes.append(f"the file's header says {info.stated_duration_s:.1f} s but its footage ends at {duration:.1f} s: "
                     "analysed the footage")
    # The detector first: missing weights fail before any decoding.
    detector = detector or get_detector(cfg.detect, grass=cfg.pitch.grass)
    a = analyse_input(video, info, cfg, detector, reporter, timer, notes)
    with timer("timeline"):
        cache.write_data(cache_dir, a.timeline, a.detections, a.detector, a.tracks)
    timings = {"analysis": round(time.perf_counter() - started, 3), **{k: round(v, 3) for k, v in timer.seconds.items()}}
    detector_doc = {k: v for k, v in a.detector.items() if k not in ("seconds", "frames")}
    cache.write_record(cache_dir, {
        "key": key, "fingerprint": fp, "input": str(video), "media": info.to_dict(),
        "config": cache.analysis_config(cfg), "detector": detector_doc,
        "frames": a.frames, "timings": timings, "notes": a.notes,
    })
    return Analysis(video, info, fp, key, cache_dir, a.timeline, detector_doc, False, timings, a.notes)


# ----------------------------------------------------------------------------- selection


@dataclass
class Selection:
    segments: list[Segment]  # all candidates, chronological, selected flagged
    score: np.ndarray  # excitement curve per bin
    weights_used: dict[str, float]
    notes: list[str]
    target_s: float

    @property
    def selected(self) -> list[Segment]:
        return [s for s in self.segments if s.selected]


def select_segments(timeline: Timeline, cfg: Config, target_s: float | None = None) -> Selection:
    from .events import classify
    from .signals.scorebug import footage_joins, minute_at
    from .segments import (build_segments, cut_times, excitement_curve, explain_selection, fit_goals, keep_to_one_broadcast,
                           reason_for, select, target_duration, trim_shot_fragments, widen_goal_cores)

    curve = excitement_curve(timeline, cfg.weights, column_weights(cfg))
    segs = build_segments(timeline, curve, cfg.segments)
    target = target_duration(timeline.duration_s, cfg.segments, target_s)
    notes = list(curve.notes) + list(timeline.notes)
    # Scores are z-scores against the input's own calm. An input shorter than the audio
    # baseline holds no calm to measure against (a goal clip is excitement from end to
    # end, so its goal scores ~0.6 against itself), and an absolute minimum would drop
    # its best moment on noise: there the candidates are only ranked.
    min_score = cfg.segments.min_score
    if timeline.duration_s < cfg.signals.audio.baseline_s:
        min_score = -np.inf
        notes.append(f"input shorter than the {cfg.signals.audio.baseline_s:g} s audio baseline: scores are relative "
                     f"to the clip itself, so no minimum score ({cfg.segments.min_score:g}) applies")
    evidence = classify(segs, timeline, cfg.events, score_changes(timeline))
    widen_goal_cores(segs, cfg.segments, timeline.duration_s)
    bug = timeline.scorebug
    cuts = cut_times(timeline)
    notes += keep_to_one_broadcast(segs, footage_joins(bug, cuts))
    if target_s is None and cfg.segments.target_duration_s is None:
        target, grew = fit_goals(segs, target, timeline.duration_s, cfg.segments)
        notes += [grew] if grew else []
    select(segs, target, min_score, min_len_s=cfg.segments.min_len_s,
           keep_pre_s=cfg.segments.min_pre_s, keep_post_s=cfg.segments.min_post_s,
           goal_replays=cfg.segments.goal_replays)
    notes += trim_shot_fragments(segs, cuts, cfg.segments.min_shot_s,
                                 cut_margin_s=0.5 / cfg.media.analysis_fps)
    with_replay = [s.replay_of for s in segs if s.selected and s.replay_of]
    if with_replay:
        notes.append(f"goal replays in the reel: {', '.join(with_replay)} shown again (segments.goal_replays)")
    for s in segs:
        ev = evidence.get(s.id)
        s.minute = minute = minute_at(bug, s.moment)
        told = ([minute] if minute else []) + [f"{s.kind} ({s.confidence:.2f})"]
        told += ev.phrases() if ev is not None else []
        s.reason = "; ".join(told + [reason_for(s, timeline)])
    explain_selection(segs, target, min_score)
    return Selection(segs, curve.score, curve.weights_used, notes, target)


def score_changes(timeline: Timeline) -> list[dict]:
    """Score-bug changes read during the analysis (`{"t_s", "score_from", "score_to", "team"}`)."""
    return [c for c in timeline.scorebug.get("changes", []) if isinstance(c, dict) and "t_s" in c]


def column_weights(cfg: Config) -> dict[str, float]:
    """Per-column weights inside each group, from each group's own config section."""
    out: dict[str, float] = {}
    for group in ("audio", "motion", "shots"):
        section = getattr(cfg.signals, group, None)
        for name, w in (getattr(section, "column_weights", None) or {}).items():
            out[f"{group}_{name}"] = float(w)
    return out


# ----------------------------------------------------------------------------- outputs


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("football-highlights", "av", "numpy", "opencv-python", "librosa", "moviepy", "ultralytics", "torch", "onnxruntime"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def device_info() -> dict:
    import os
    import sys

    d = {"cpu_count": os.cpu_count(), "machine": platform.machine(), "platform": platform.platform()}
    if "torch" not in sys.modules:
        # Only a run that used torch (YOLO) asks it about the GPU: importing torch costs a
        # second and a half, more than a whole rescore.
        d["cuda"] = None
        return d
    try:
        import torch

        d["cuda"] = bool(torch.cuda.is_available())
        if d["cuda"]:
            d["gpu"] = torch.cuda.get_device_name(0)
    except Exception:  # torch missing or broken: analysis does not need it with classic
        d["cuda"] = False
    return d


def write_outputs(out: Path, analysis_doc: dict, timeline: Timeline, sel: Selection, cfg: Config,
                  notes: list[str] | None = None) -> dict[str, Path]:
    """segments.json, timeline.csv, config.yaml and the editor files of `sel`; what could not
    be written goes into `notes`."""
    from .export import write_selection_files
    from .report.files import segments_document, write_segments, write_timeline_csv

    doc = segments_document(
        sel.segments, input_path=analysis_doc["input"], fingerprint=analysis_doc["fingerprint"],
        duration_s=analysis_doc["duration"], config=cfg.to_dict(), detector=analysis_doc["detector"],
        weights_used=sel.weights_used, notes=sel.notes, target_s=sel.target_s,
    )
    stale = set_aside_stale_reel(out, doc)  # a reel of another selection must not pass for this one's
    paths = {
        "segments": write_segments(out, doc),
        "timeline_csv": write_timeline_csv(out, timeline, sel.score),
        "config": write_text(out / "config.yaml", cfg.to_yaml()),
    }
    paths |= write_selection_files(out, sel.segments, analysis_doc["input"], source_fps(analysis_doc),
                                   analysis_doc["duration"], notes)
    if stale is not None:
        paths["stale_reel"] = stale
    return paths


def source_fps(doc: dict) -> float | None:
    """The footage's frame rate from an analysis document (analysis.json or `analysis_doc`)."""
    return doc.get("fps") or (doc.get("media") or {}).get("fps")


def analysis_doc(a: Analysis) -> dict:
    # Absolute paths: rescore, render and report must find them from any working directory.
    return {"input": str(Path(a.video).resolve()), "fingerprint": a.fingerprint, "duration": a.info.duration_s,
            "fps": a.info.fps, "detector": a.detector, "cache_dir": str(Path(a.cache_dir).resolve()), "key": a.key}


def save_state(out: Path, a: Analysis, cfg: Config) -> None:
    """What rescore/render need to find the cached analysis again without the video decode."""
    write_json(out / "analysis.json", analysis_doc(a) | {
        "media": a.info.to_dict(), "notes": a.notes, "config_sections": cache.analysis_config(cfg)})


def _damaged_state(out: Path, what: str) -> OutputError:
    return OutputError(f"{out}/analysis.json is damaged or was edited by hand ({what}); "
                       f"run `highlights run` (or `analyze`) into {out} again")


def read_state(out: Path) -> dict:
    """OUT/analysis.json, every value checked before use: it names the input, its
    fingerprint and the cache folder that later commands read and write."""
    from .report.files import HEX64, is_finite

    p = Path(out) / "analysis.json"
    if not p.exists():
        raise OutputError(f"{out} holds no analysis (run `highlights run` or `analyze` first)")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _damaged_state(out, f"not readable JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise _damaged_state(out, "not an object")
    for name in ("fingerprint", "key"):
        if not isinstance(doc.get(name), str) or not HEX64.match(doc[name]):
            raise _damaged_state(out, f"{name} is not 64 hex digits")
    for name in ("input", "cache_dir"):
        if not isinstance(doc.get(name), str) or not doc[name] or "\0" in doc[name]:
            raise _damaged_state(out, f"{name} is not a path")
    if not is_finite(doc.get("duration")) or doc["duration"] <= 0:
        raise _damaged_state(out, "duration is not a positive number of seconds")
    if not isinstance(doc.get("detector"), dict) or not isinstance(doc.get("notes", []), list):
        raise _damaged_state(out, "detector or notes missing")
    return doc


def check_input(doc: dict, required: bool) -> Path | None:
    """The analysed input, proved to be the same file still (its fingerprint): a render or
    rescore must never cut a reel from footage other than the one analysed. None when it
    is gone and not `required` (evidence can still be rewritten without it)."""
    video = Path(doc["input"])
    if not video.is_file():
        if required:
            raise MediaError(f"{video}: no such file (the input analysed into this folder has moved or gone)")
        return None
    if media.fingerprint(video, float(doc["duration"])) != doc["fingerprint"]:
        raise MediaError(f"{video} has changed since it was analysed (its fingerprint differs), so the segments "
                         "would be cut from other footage; run `highlights run` on it again")
    return video


def load_state(out: Path, cfg: Config | None = None, reporter: Reporter | None = None,
               *, need_input: bool = False) -> tuple[dict, Timeline]:
    """What rescore, render and report start from: OUT/analysis.json and the cached timeline.

    The input is checked against its fingerprint where it can be read (`need_input`: it
    must). A cached timeline that is damaged, or not this input's, is analysed again when
    the input and a `cfg` are at hand (with the analysis settings recorded in OUT), else
    refused: it is never used.
    """
    out = Path(out)
    reporter = reporter or QuietReporter()
    doc = read_state(out)
    video = check_input(doc, need_input)
    cache_dir = Path(doc["cache_dir"])
    if not cache.has_entry(cache_dir) and cache.has_entry(cache.entry_dir(out / "cache", doc["key"])):
        cache_dir = cache.entry_dir(out / "cache", doc["key"])  # the folder moved with its cache inside
    try:
        _, timeline = cache.read_entry(cache_dir, doc["fingerprint"], doc["key"])
        return doc | {"cache_dir": str(cache_dir.resolve())}, timeline
    except cache.CacheDamaged as exc:
        problem = f"cached analysis {cache_dir} cannot be used ({exc})"
    if video is None or cfg is None:
        raise OutputError(f"{problem}; run `highlights analyze` on the input into {out} again")
    reporter.message(f"note: {problem}: analysing {video.name} again")
    from .config import _merge, from_dict, migrate_moved

    recorded = doc.get("config_sections")
    recorded = migrate_moved(recorded, f"{out}/analysis.json") if isinstance(recorded, dict) else recorded
    same = from_dict(_merge(cfg.to_dict(), recorded)) if isinstance(recorded, dict) else cfg
    a = analyze(video, same, cache_dir.parent, reporter, reuse_cache=False)
    save_state(out, a, same)
    return read_state(out), a.timeline


REEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_reel_name(name: str | None) -> str | None:
    """A --name for OUT/reels/<name>.mp4: letters, digits, '.', '_', '-', up to 64."""
    if name is not None and (not REEL_NAME.match(name) or name.endswith(".mp4")):
        raise ConfigError(f"--name {name[:70]!r}: use up to 64 letters, digits, '.', '_' or '-' "
                          "(starting with a letter or digit, without .mp4)")
    return name


def render_to(out: Path, video: str | Path, segments: list[Segment], cfg: Config, mode: str | None = None,
              reporter: Reporter | None = None, split: bool = False, name: str | None = None,
              selection_doc: dict | None = None) -> tuple[Path, dict, float]:
    """Render `segments` of `video` into OUT/reel.mp4, with a chapter per segment, and note
    it as ours in OUT's marker (so a later run may replace or remove it, and never a user's
    file of that name). With `split`, also one file per segment in OUT/segments/.

    With `name`, the reel is OUT/reels/<name>.mp4 instead, kept beside the others, with its
    editor files (reels/<name>.otio, ...) and `selection_doc` as reels/<name>.selection.json
    (`highlights render OUT --selection` renders it again)."""
    from .export import SPLIT_DIR, add_chapters, split_segments, write_editor_files
    from .render import render_reel

    reporter = reporter or QuietReporter()
    t0 = time.perf_counter()
    reel = Path(out) / "reel.mp4" if name is None else Path(out) / "reels" / f"{name}.mp4"
    with reporter.stage("render", 1.0) as update:
        info = render_reel(video, segments, reel, cfg.render, progress=update, mode=mode)
        rendered = info.pop("rendered")
        info["chapters"] = add_chapters(reel, rendered, info.get("fps"), info.get("lengths_s"))
    record_output(out, reel)
    if name is not None:
        info.setdefault("notes", [])
        write_editor_files(reel.parent, name, rendered, video, info.get("fps"), info["source_s"], info["notes"])
        if selection_doc is not None:
            write_json(reel.parent / f"{name}.selection.json", selection_doc)
    if split:
        with reporter.stage("split", None):
            info["split"] = [str(p) for p in split_segments(video, segments, Path(out) / SPLIT_DIR, cfg.render, mode)]
    return reel, info, time.perf_counter() - t0


# Wall-clock steps of a command, one after another; the other timings are stages inside the
# analysis, which overlap (decoding, audio and detection run side by side).
WALL_STEPS = ("analysis", "select", "report", "render")


def total_seconds(timings: dict) -> float:
    return sum(timings.get(k, 0.0) for k in WALL_STEPS)


HISTORY_MAX = 200  # run.json keeps this many of the commands that wrote into OUT


def write_run_json(out: Path, command: str, timings: dict, extra: dict | None = None,
                   record: dict | None = None) -> Path:
    """OUT/run.json: this command's timings, versions and device, and `history`, one entry
    per command that changed OUT's choice (oldest first): what it was, when (UTC), and
    `record` (the selection file, weights, target, the reel and the segments it holds)."""
    import datetime

    try:
        old = json.loads((out / "run.json").read_text(encoding="utf-8"))
        history = [h for h in old.get("history", []) if isinstance(h, dict)] if isinstance(old, dict) else []
    except (OSError, ValueError):
        history = []  # none yet, or a file that is not ours to read: start again
    at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    history = (history + [{"command": command, "at": at, **(record or {})}])[-HISTORY_MAX:]
    return write_json(out / "run.json", {
        "command": command, "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "total_s": round(total_seconds(timings), 3),
        "versions": versions(), "device": device_info(), **(extra or {}), "history": history,
    })


def _choice_record(sel: Selection, reel: Path | None) -> dict:
    """What run.json's history says of a selection: weights, target, segments, reel."""
    return {"weights": sel.weights_used, "target_s": sel.target_s, "selected": [s.id for s in sel.selected],
            "reel": str(reel) if reel else None}


def prepare(out: Path, force: bool) -> Path:
    return prepare_output_dir(out, force)


@dataclass
class MatchResult:
    """What `run_match` did for one match: the selection itself and the figures the
    terminal summary, `batch.json` and the completion record show."""

    input: str
    output: Path
    fingerprint: str
    cache_hit: bool
    detector: dict
    selection: Selection
    reel: Path | None
    reel_s: float
    timings: dict[str, float]
    notes: list[str]
    split: list[str] = field(default_factory=list)  # OUT/segments/<id>.mp4 with --split

    def summary(self) -> dict:
        """`{"input", "output", "fingerprint", "cache_hit", "detector", "segments", "selected",
        "reel", "reel_s", "target_s", "timings", "notes", "split"}` (JSON-ready)."""
        sel = self.selection
        return {
            "input": self.input, "output": str(self.output), "fingerprint": self.fingerprint,
            "cache_hit": self.cache_hit, "detector": self.detector, "segments": len(sel.segments),
            "selected": len(sel.selected), "reel": str(self.reel) if self.reel else None,
            "reel_s": round(self.reel_s, 3), "target_s": sel.target_s,
            "timings": {k: round(v, 3) for k, v in self.timings.items()}, "notes": self.notes,
            "split": self.split,
        }

    def report(self) -> dict:
        """`summary()` with the selected segments (id, start, end, kind, confidence, minute,
        rank, score, reason): what `--json` prints."""
        keys = ("id", "start", "end", "kind", "confidence", "minute", "rank", "score", "reason")
        chosen = sorted(self.selection.selected, key=lambda s: s.start)
        return self.summary() | {"selection": [{k: v for k, v in s.to_dict().items() if k in keys} for s in chosen]}


def run_match(
    video: str | Path,
    out: str | Path,
    cfg: Config,
    target_s: float | None = None,
    render: bool = True,
    reporter: Reporter | None = None,
    force: bool = False,
    detector=None,
    cache_dir: str | Path | None = None,
    render_mode: str | None = None,
    split: bool = False,
    name: str | None = None,
) -> MatchResult:
    """What `highlights run` does for one match, and `highlights batch` for each: analyze,
    select, write segments.json, timeline.csv, config.yaml, timeline.png and report.html,
    render the reel, write run.json. The one composer of these stages.

    `target_s` goes through the config (validated, and recorded in OUT/config.yaml, so a
    later rescore keeps it); `detector`: one built by the caller and reused across matches
    (batch workers); `cache_dir`: where the analysis cache lives (default OUT/cache).
    """
    from .config import with_updates

    if target_s is not None:
        cfg = with_updates(cfg, **{"segments.target_duration_s": target_s})
    reel_opts = ReelOptions(render, render_mode, split, check_reel_name(name))  # before any work
    reporter = reporter or QuietReporter()
    out = prepare(Path(out), force)
    a = analyze(video, cfg, Path(cache_dir) if cache_dir else out / "cache", reporter, detector=detector)
    save_state(out, a, cfg)
    sel, timings, reel, reel_s, render_info = _select_and_publish(out, analysis_doc(a), video, a.timeline, cfg, True,
                                                                  reel_opts, reporter)
    timings = dict(a.timings, **timings)
    notes = list(sel.notes) + list(render_info.get("notes", []))
    if render and not sel.selected:
        notes.append("no segment was selected: nothing to render")
    write_run_json(out, "run", timings, {"cache_hit": a.cache_hit, "detector": a.detector, "render": render_info},
                   _choice_record(sel, reel))
    return MatchResult(str(video), out, a.fingerprint, a.cache_hit, a.detector, sel, reel, reel_s, timings, notes,
                       render_info.get("split", []))


@dataclass(frozen=True)
class ReelOptions:
    """How a command renders: whether at all, the renderer (None: `render.mode`), one file
    per segment too, and a name that keeps the reel as OUT/reels/<name>.mp4."""

    render: bool = True
    mode: str | None = None
    split: bool = False
    name: str | None = None


def _select_and_publish(out: Path, doc: dict, video: str | Path, timeline: Timeline, cfg: Config, report: bool,
                        reel_opts: ReelOptions, reporter: Reporter):
    """What `run_match` and `rescore` share after the analysis: select, write the evidence
    files, (with `report`) the plot and the page, (with `render`) the reel. A reel.mp4 of
    an earlier selection that is not rendered again is kept as reel.stale.mp4, with a note.
    Returns (selection, timings, reel or None, reel length s, the renderer's info)."""
    from .report.files import config_fingerprint, selection_document

    t0 = time.perf_counter()
    sel = select_segments(timeline, cfg)
    told: list[str] = []
    stale = write_outputs(out, doc, timeline, sel, cfg, told).get("stale_reel")
    timings = {"select": time.perf_counter() - t0}
    if report:
        t1 = time.perf_counter()
        write_reports(out, timeline, sel.score, cfg, reporter=reporter)
        timings["report"] = time.perf_counter() - t1
    reel, info, reel_s = None, {}, sum(s.duration for s in sel.selected)
    if reel_opts.render and sel.selected:
        chosen = selection_document(doc["fingerprint"], sel.selected, config_fingerprint(doc["fingerprint"], cfg.to_dict())) \
            if reel_opts.name else None  # a named reel keeps the selection that renders it again
        reel, info, timings["render"] = render_to(out, video, sel.selected, cfg, reel_opts.mode, reporter,
                                                  reel_opts.split, reel_opts.name, chosen)
        reel_s = info.get("reel_s", reel_s)
        if reel_opts.name is None:
            drop_stale_reel(out)  # the new reel.mp4 shows this selection
            stale = None
    if stale is not None:
        told.insert(0, stale_note(out, stale))
    info["notes"] = told + list(info.get("notes", []))
    return sel, timings, reel, reel_s, info


def stale_note(out: Path, stale: Path) -> str:
    return (f"reel.mp4 showed an earlier selection: kept as {stale.name}; "
            f"`highlights render {out}` renders this one")


def analyze_match(video: str | Path, out: str | Path, cfg: Config, *, reporter: Reporter | None = None,
                  force: bool = False, cache_dir: str | Path | None = None) -> Analysis:
    """What `highlights analyze` does: the analysis (cached) into OUT, with analysis.json,
    timeline.csv, config.yaml and run.json, ready for `rescore` and `report`."""
    from .report.files import write_timeline_csv
    from .segments import excitement_curve

    reporter = reporter or QuietReporter()
    out = prepare(Path(out), force)
    a = analyze(video, cfg, Path(cache_dir) if cache_dir else out / "cache", reporter)
    save_state(out, a, cfg)
    write_timeline_csv(out, a.timeline, excitement_curve(a.timeline, cfg.weights, column_weights(cfg)).score)
    write_text(out / "config.yaml", cfg.to_yaml())
    write_run_json(out, "analyze", a.timings, {"cache_hit": a.cache_hit, "detector": a.detector})
    return a


@dataclass
class DetectResult:
    """What `detect_and_track` wrote: the detector's record, the tracks' summary, the files."""

    detector: dict
    tracks: dict
    files: list[Path]


def detect_and_track(video: str | Path, out: str | Path, cfg: Config, *, annotate: bool = False,
                     reporter: Reporter | None = None, force: bool = False) -> DetectResult:
    """What `highlights detect` does: detect and track players and ball into
    OUT/detections.parquet and OUT/tracks.parquet (and OUT/preview.mp4 with `annotate`)."""
    from .detect import get_detector, run_detection
    from .detect.base import write_detections
    from .track import track, track_summary, write_tracks

    reporter = reporter or QuietReporter()
    info = media.probe(video)
    check_limits(info, cfg)
    out = prepare(Path(out), force)
    det = get_detector(cfg.detect, grass=cfg.pitch.grass)
    frames = media.frames(video, fps=cfg.media.analysis_fps, width=det.frame_width_px or None,
                          skip_nonref=cfg.media.skip_nonref, skip_loop_filter=cfg.media.skip_loop_filter, info=info)
    camera = None
    if det.name == "yolo" and cfg.detect.people_every_s > 0:
        # People are looked for only once in a while: the tracker carries them between those
        # passes with the camera's own motion, estimated here as the analysis does.
        from .analysis import _small
        from .signals.motion import CameraMotionEstimator

        camera = CameraMotionEstimator(cfg.signals.motion, cfg.pitch.grass)

        def with_camera(stream=frames):
            for f in stream:
                camera.update(_small(f, cfg.media.analysis_width, info))
                yield f

        frames = with_camera()
    with reporter.stage("detect", info.duration_s) as update:
        dets, det_info = run_detection(frames, det, cfg.detect, progress=lambda f: update(f.t_s))
    with reporter.stage("track", None):
        tracks = track(dets, cfg.track, info.width, camera=camera.finish() if camera is not None else None)
    summary = track_summary(tracks)
    files = [write_detections(dets, out / "detections.parquet", det_info),
             write_tracks(tracks, out / "tracks.parquet", {"detector": det_info, **summary}),
             write_text(out / "config.yaml", cfg.to_yaml())]
    if annotate:
        from .detect.annotate import write_preview

        with reporter.stage("annotate", None):
            files.append(write_preview(media.frames(video, fps=cfg.media.analysis_fps, width=min(960, info.width), info=info),
                                       tracks, out / "preview.mp4", fps=cfg.media.analysis_fps))
    return DetectResult(det_info, summary, files)


@dataclass
class RenderResult:
    """What `render_selection` rendered: the reel, its length and segments, the notes."""

    reel: Path
    reel_s: float
    segments: int
    seconds: float
    notes: list[str]
    split: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """What `render --json` prints."""
        return {"reel": str(self.reel), "reel_s": round(self.reel_s, 3), "segments": self.segments,
                "seconds": round(self.seconds, 3), "notes": self.notes, "split": self.split}


def rescore(out: str | Path, cfg: Config, *, render: bool = True, report: bool = True,
            reporter: Reporter | None = None, render_mode: str | None = None, split: bool = False,
            name: str | None = None) -> MatchResult:
    """What `highlights rescore` does: select again from OUT's cached analysis with `cfg`
    (new weights, target), rewrite segments.json, timeline.csv, config.yaml and (with
    `report`) the plot and the page, render the reel (with `render`), write run.json. The
    video is only opened to render (and re-fingerprinted first). A note says which analysis
    settings of `cfg` changed but only apply to a new analysis."""
    from .outputs import open_output_dir

    reel_opts = ReelOptions(render, render_mode, split, check_reel_name(name))  # before any work
    reporter = reporter or QuietReporter()
    out = open_output_dir(Path(out))  # no other run writes here meanwhile
    doc, timeline = load_state(out, cfg, reporter, need_input=render)
    used = doc.get("config_sections", {})
    now = cache.analysis_config(cfg)
    changed = [k for k in cache.SECTIONS if isinstance(used, dict) and k in used and now[k] != used[k]]
    sel, timings, reel, reel_s, info = _select_and_publish(out, doc, doc["input"], timeline, cfg, report, reel_opts,
                                                           reporter)
    notes = list(info.get("notes", []))
    write_run_json(out, "rescore", timings, {"cache_hit": True, "render": info}, _choice_record(sel, reel))
    if changed:
        notes.append(f"{', '.join(changed)} settings changed but only apply to a new analysis (`highlights run`)")
    return MatchResult(str(doc["input"]), out, doc["fingerprint"], True, doc.get("detector") or {}, sel, reel,
                       reel_s, timings, list(sel.notes) + notes, info.get("split", []))


def reviewed_candidates(candidates: list[Segment], chosen: list[Segment]) -> list[Segment]:
    """The candidates as a review chose them (`chosen`, from `read_selection`): those named
    are selected, at the times the review gave them (a trim or extension says so in its
    reason), moments the review added are new candidates with the next free ids, and every
    other candidate is left out. Chronological."""
    out = [dataclasses.replace(c, selected=False) for c in candidates]
    by_id = {c.id: c for c in out}
    next_n = max((int(c.id[1:]) for c in out if c.id[1:].isdigit()), default=0) + 1
    last_rank = max((c.rank for c in out), default=0)
    for ch in chosen:
        c = by_id.get(ch.id)
        if c is None:  # a moment the review added by its times
            last_rank += 1
            c = Segment(id=f"s{next_n:03d}", start=ch.start, end=ch.end, peak=(ch.start + ch.end) / 2, score=0.0,
                        components={}, rank=last_rank, reason="added in review")
            next_n += 1
            out.append(c)
        elif abs(c.start - ch.start) > 1e-3 or abs(c.end - ch.end) > 1e-3:
            c.reason = (c.reason + "; " if c.reason else "") + \
                f"set to {ch.start:.1f}-{ch.end:.1f} s in review (candidate {c.start:.1f}-{c.end:.1f} s)"
            c.start, c.end = ch.start, ch.end
            c.peak = min(max(c.peak, c.start), c.end)
            if c.anchor is not None:
                c.anchor = min(max(c.anchor, c.start), c.end)
        c.selected = True
    return sorted(out, key=lambda s: s.start)


def render_selection(out: str | Path, cfg: Config, selection: str | Path | None = None, *,
                     reporter: Reporter | None = None, render_mode: str | None = None,
                     split: bool = False, name: str | None = None) -> RenderResult:
    """What `highlights render` does: OUT/reel.mp4 (or OUT/reels/<name>.mp4) from OUT's
    selected segments, or from a selection file (by id and time, checked against OUT's
    input and segments). A selection file's choice becomes OUT's: segments.json, the
    editor files, the plot and the page are rewritten to it, and run.json records which
    file it was."""
    from .export import write_selection_files
    from .outputs import open_output_dir
    from .report.files import (read_segments, read_selection, segments_from_document, selection_document,
                               write_segments)

    check_reel_name(name)
    reporter = reporter or QuietReporter()
    out = open_output_dir(Path(out))  # no other run writes here meanwhile
    doc, _ = load_state(out, cfg, reporter, need_input=True)
    seg_doc = read_segments(out)
    if seg_doc["input"]["fingerprint"] != doc["fingerprint"]:
        raise OutputError(f"{out}/segments.json describes another input than {out}/analysis.json; "
                          f"run `highlights rescore {out}` to rewrite it")
    segs = segments_from_document(seg_doc)
    notes: list[str] = []
    record: dict = {"selection": None}
    stale = None
    if selection:
        chosen = read_selection(selection, doc["fingerprint"], segs, doc["duration"],
                                config_fp=seg_doc.get("config_fingerprint"), notes=notes)
        segs = reviewed_candidates(segs, chosen)
        chosen = [s for s in segs if s.selected]
        new_doc = dict(seg_doc, segments=[s.to_dict() for s in segs],
                       notes=list(seg_doc.get("notes", [])) + [f"selection from {Path(selection).resolve()} (review)"])
        stale = set_aside_stale_reel(out, new_doc)
        write_segments(out, new_doc)
        write_selection_files(out, segs, doc["input"], source_fps(doc), doc["duration"], notes)
        write_reports(out, cfg=cfg, reporter=reporter)
        record["selection"] = {"file": str(Path(selection).resolve()), "sha256": cache.sha256(Path(selection))}
    else:
        chosen = [s for s in segs if s.selected]
    chosen = sorted(chosen, key=lambda s: s.start)
    again = selection_document(doc["fingerprint"], chosen, seg_doc.get("config_fingerprint")) if name else None
    reel, info, seconds = render_to(out, doc["input"], chosen, cfg, render_mode, reporter, split, name, again)
    if name is None:
        drop_stale_reel(out)  # reel.mp4 shows the current selection again
    elif stale is not None:
        notes.append(stale_note(out, stale))
    write_run_json(out, "render", {"render": seconds}, {"render": info}, record | {
        "reel": str(reel), "selected": [s.id for s in chosen]})
    return RenderResult(reel, info.get("reel_s", sum(s.duration for s in chosen)), info.get("segments", len(chosen)),
                        seconds, notes + list(info.get("notes", [])), info.get("split", []))


def write_reports(out: Path, timeline: Timeline | None = None, score: np.ndarray | None = None,
                  cfg: Config | None = None, *, truth: str | Path | None = None,
                  reporter: Reporter | None = None) -> dict[str, Path]:
    """OUT/timeline.png and OUT/report.html from OUT/segments.json (written just before).

    `timeline` defaults to OUT's cached one, `score` to the `score` column of OUT/timeline.csv
    (else the curve recomputed with `cfg`), `cfg` to OUT/config.yaml. `truth` is a truth or
    labels file whose events are marked on both. Returns {"timeline_png", "report_html"}.
    """
    from .config import load_config
    from .report.files import read_segments, read_truth, segments_problems
    from .report.html import write_report
    from .report.plot import plot_timeline

    out = Path(out)
    reporter = reporter or QuietReporter()
    if cfg is None:
        base = out / "config.yaml"
        cfg = load_config(base if base.exists() else None, [])
    if timeline is None:
        _, timeline = load_state(out, cfg, reporter)
    doc = read_segments(out)
    for problem in segments_problems(doc)[:5]:
        reporter.message(f"warning: segments.json: {problem}")
    from .segments import excitement_curve

    # The page's group lanes are the ones the score summed, column weights and all.
    curve = excitement_curve(timeline, cfg.weights, column_weights(cfg))
    if score is None:
        score = _saved_score(out, len(timeline.t_s))
    if score is None:
        score = curve.score
    events = read_truth(truth) if truth else []
    title = f"{Path(doc['input']['path']).name}: {sum(s['selected'] for s in doc['segments'])} of {len(doc['segments'])} candidate segments selected"
    with reporter.stage("plot", None):
        png = plot_timeline(timeline, score, doc["segments"], out / "timeline.png", truth=events, title=title)
    with reporter.stage("report", float(len(doc["segments"])) or None) as update:
        html = write_report(out, doc, timeline, score, thumbnails=cfg.report.thumbnails, truth=events, progress=update,
                            group_levels=curve.groups)
    return {"timeline_png": png, "report_html": html}


def _saved_score(out: Path, n: int) -> np.ndarray | None:
    """The excitement curve as written beside segments.json (timeline.csv's `score` column)."""
    import csv

    p = out / "timeline.csv"
    if not p.exists():
        return None
    with p.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != n or not rows or "score" not in rows[0]:
        return None
    return np.array([float(r["score"]) if r["score"] else np.nan for r in rows])
