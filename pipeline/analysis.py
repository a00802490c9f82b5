"""The analysis of one input: footage in, a Timeline (and the detections and tracks) out.

Three passes run side by side, each in a thread of its own:
- video (`video_pass`): decode once per window and feed every frame to the detector, the
  shot detector and camera motion;
- audio (`AudioPass`): streamed in chunks through the audio signals; on a long match it
  runs first instead, alone, and picks the windows the video pass decodes
  (`signals.cascade`);
- score bug (`signals.scorebug.read_video`): sparse seeks at native size over the whole
  match.
Then tracking, the motion signals and the timeline (`analyse_input`). The cache is
`pipeline.cache`'s job and the outputs `pipeline.run`'s: nothing here writes a file.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Protocol

import numpy as np

from . import media
from .config import Config
from .errors import MediaError
from .types import Detections, Frame, MediaInfo, Timeline, Tracks

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """How stages report progress; the CLI renders it with rich, batch jobs log it."""

    def stage(self, name: str, total: float | None) -> ContextManager[Callable[[float], None]]: ...

    def message(self, text: str) -> None: ...


class QuietReporter:
    def stage(self, name: str, total: float | None):
        return nullcontext(lambda completed: None)

    def message(self, text: str) -> None:
        log.info(text)


class Timer:
    """Seconds spent per named stage, summed over every time it ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


@dataclass(frozen=True)
class VideoPass:
    """What one decode of the video gave: per-frame detections, the shot signals, the
    camera's motion, and the decoder's counts."""

    detections: list[Detections]
    detector: dict  # run_detection's record: the backend, teams, seconds, frames
    shot_columns: dict[str, np.ndarray]
    shot_meta: dict
    camera: object  # signals.motion.CameraMotion
    frames: dict  # decoded, emitted, decode_errors, skip_nonref, decoder


@dataclass(frozen=True)
class Analysed:
    """One input analysed: what the cache stores and the record beside it."""

    timeline: Timeline
    detections: list[Detections]
    tracks: Tracks
    detector: dict  # run_detection's record (seconds and frames included)
    frames: dict  # the video pass's decoder counts
    notes: list[str]


def _small(frame: Frame, width: int, info: MediaInfo) -> Frame:
    """The analysis-width view of a frame decoded larger (for a tiling detector)."""
    import cv2

    h, w = frame.image.shape[:2]
    if w <= width:
        return frame
    height = int(round(h * width / w / 2)) * 2
    img = cv2.resize(frame.image, (width, height), interpolation=cv2.INTER_AREA)
    return Frame(frame.t_s, img, frame.index, width / info.width)


def video_pass(video: Path, info: MediaInfo, cfg: Config, detector, windows: list[tuple[float, float]] | None,
               reporter: Reporter, timer: Timer) -> VideoPass:
    """Decode once per window (the whole input without windows) and feed each frame to
    detection, shots and camera motion."""
    from .detect import run_detection
    from .signals.motion import CameraMotionEstimator, concat_camera
    from .signals.shots import ShotDetector, merge_shot_columns
    from .threads import background

    duration = info.duration_s
    sc = cfg.signals
    accel, accel_note = media.hwaccel_decoder(cfg.media.hwaccel, video) if cfg.media.hwaccel != "none" else (None, "cpu decoding")
    if cfg.media.hwaccel != "none" and accel is None:
        reporter.message(f"note: {accel_note}")
    spans = windows or [(None, None)]
    total = sum((b - a) for a, b in windows) if windows else duration
    all_dets = []
    det_info: dict = {}
    shot_parts = []
    cams = []
    stats = {"decoded": 0, "emitted": 0, "decode_errors": 0, "skip_nonref": False}
    done = 0.0
    label = "video" if not windows else \
        f"pass 2 of 2: video in {len(windows)} window{'s' if len(windows) != 1 else ''}"
    with reporter.stage(label, total) as update:
        for a, b in spans:
            stream = media.frames(video, fps=cfg.media.analysis_fps, width=detector.frame_width_px or None,
                                  skip_nonref=cfg.media.skip_nonref, skip_nonref_min_ratio=cfg.media.skip_nonref_min_ratio,
                                  threads=cfg.media.decode_threads, info=info, start_s=a, end_s=b, hwaccel=accel,
                                  skip_loop_filter=cfg.media.skip_loop_filter)
            shots = ShotDetector(sc.shots, sc.bin_s, cfg.pitch.grass)
            camera = CameraMotionEstimator(sc.motion, cfg.pitch.grass)
            base = done

            def fed(stream=stream, shots=shots, camera=camera):
                it = iter(stream)
                while True:
                    with timer("decode"):
                        f = next(it, None)
                    if f is None:
                        return
                    small = _small(f, cfg.media.analysis_width, info)
                    with timer("shots"):
                        shots.update(small)
                    with timer("camera"):
                        camera.update(small)
                    yield f

            start_t = a or 0.0
            # Decoding and the per-frame signals run in a thread beside the detector (both
            # release the GIL): on 2 cores the video pass takes the longer of the two, not
            # their sum. Stage timings are each stage's own busy time, so they overlap.
            ahead = cfg.media.decode_ahead
            dets, det_info = run_detection(background(fed(), depth=ahead) if ahead else fed(), detector, cfg.detect,
                                           progress=lambda f, base=base, start_t=start_t: update(base + f.t_s - start_t))
            timer.add("detect", det_info.get("seconds", 0.0))
            all_dets.extend(dets)
            with timer("shots"):
                shot_parts.append(shots.finish(duration))
            with timer("camera"):
                cams.append(camera.finish())
            for k, v in stream.stats().items():
                stats[k] = (stats[k] or v) if isinstance(v, bool) else stats[k] + v
            done += (b - a) if windows else duration
    shot_cols, shot_meta = merge_shot_columns(shot_parts) if len(shot_parts) > 1 else shot_parts[0]
    cam = concat_camera(cams) if len(cams) > 1 else cams[0]
    stats["decoder"] = accel_note
    return VideoPass(all_dets, dict(det_info, frames=len(all_dets)), shot_cols, shot_meta, cam, stats)


class AudioPass:
    """The audio signals of one input, streamed in chunks. `run` works in the caller's
    thread or in one beside the video pass, and stops early once `abandon` is set (the
    video pass failed or was interrupted). `notes` says what the user should be told."""

    def __init__(self, video: Path, info: MediaInfo, cfg: Config, timer: Timer, abandon: threading.Event):
        self.track = media.audio(video, sr=cfg.media.audio_sr, chunk_s=cfg.media.audio_chunk_s, info=info)
        self.duration = info.duration_s
        self.signals = cfg.signals
        self.timer = timer
        self.abandon = abandon
        self.notes: list[str] = []

    @property
    def present(self) -> bool:
        return self.track.present

    @property
    def silent(self) -> bool:
        return self.track.silent

    def run(self, reporter: Reporter, alone: bool = False) -> tuple[dict, dict]:
        """(columns, meta). `alone`: nothing else runs meanwhile (the cascade's first
        pass), so decoding the next chunk goes to a thread beside the features of this one."""
        from .signals.audio import audio_signals, missing_audio
        from .threads import background

        track, duration, sc = self.track, self.duration, self.signals
        label = "pass 1 of 2: audio" if alone else "audio"
        with reporter.stage(label, duration) as update, self.timer("audio"):
            if not track.present:
                self.notes.append(f"{track.reason}: audio signals skipped, weights redistributed")
                return missing_audio(duration, sc.bin_s, track.reason)

            def chunks():
                source = background(track.chunks(), depth=1, name="highlights-audio") if alone else track.chunks()
                for t0, x in source:
                    if self.abandon.is_set():
                        return
                    update(min(t0 + len(x) / track.sr, duration))
                    yield t0, x
            out = audio_signals(chunks(), track.sr, duration, sc.audio, sc.bin_s)
        if track.silent:
            self.notes.append("audio stream is digital silence: audio signals are a gap")
        if track.decode_errors:
            self.notes.append(f"{track.decode_errors} audio packets could not be decoded and were skipped")
        return out


def _read_scorebug(video: Path, info: MediaInfo, cfg: Config, timer: Timer, abandon: threading.Event):
    """The score bug over the whole match (the cascade's windows do not matter: a bug
    changes after the goal, often after its replays); stops once `abandon` is set."""
    from .signals.scorebug import read_video

    def stop_when_abandoned(_completed: float) -> None:
        if abandon.is_set():
            raise KeyboardInterrupt  # the run failed or was interrupted: stop seeking
    t0 = time.perf_counter()
    try:
        return read_video(video, cfg.signals.scorebug, info=info, progress=stop_when_abandoned)
    finally:
        timer.seconds["scorebug"] = time.perf_counter() - t0


def analyse_input(video: Path, info: MediaInfo, cfg: Config, detector, reporter: Reporter, timer: Timer,
                  notes: list[str]) -> Analysed:
    """The three passes, then tracking, motion and the timeline. `notes`: what the caller
    already has to say about the input; the passes' notes join it."""
    from .signals.cascade import cascade_windows
    from .signals.motion import motion_signals
    from .signals.scorebug import scorebug_columns
    from .signals.shots import SCALE_NAMES
    from .signals.timeline import build_timeline
    from .track import track as track_objects

    notes = list(notes)
    duration = info.duration_s
    sc = cfg.signals
    abandon = threading.Event()  # the video pass failed or was interrupted: stop the others
    audio = AudioPass(video, info, cfg, timer, abandon)

    # Cascade: on a long match, audio picks the windows worth the full video analysis, so it
    # runs first. Otherwise audio runs in a thread beside the video pass (its own progress
    # bar would fight the video's for the terminal, so it reports nothing while it runs).
    windows = None
    beside = None
    if cfg.cascade.enabled and duration >= cfg.cascade.min_duration_s and audio.present:
        audio_cols, audio_meta = audio.run(reporter, alone=True)
        notes.extend(audio.notes)
        if not audio.silent:
            with timer("cascade"):
                windows = cascade_windows(audio_cols, duration, cfg)
            covered = sum(b - a for a, b in windows)
            notes.append(f"two-pass analysis: full video analysis on {len(windows)} windows ({covered / 60:.1f} of "
                         f"{duration / 60:.1f} min) picked by the audio pass; video signals elsewhere are a gap")
    else:
        beside = ThreadPoolExecutor(1, thread_name_prefix="highlights-audio")
        audio_future = beside.submit(audio.run, QuietReporter())
    # The score bug quietly in a thread of its own beside the video pass (seeks and OCR
    # leave the GIL).
    bug_pool = ThreadPoolExecutor(1, thread_name_prefix="highlights-scorebug")
    bug_future = bug_pool.submit(_read_scorebug, video, info, cfg, timer, abandon)
    try:
        with timer("video_wall"):
            vp = video_pass(video, info, cfg, detector, windows, reporter, timer)
        if beside is not None:
            with timer("audio_wait"):
                audio_cols, audio_meta = audio_future.result()
            notes[:0] = audio.notes
        with reporter.stage("scorebug", None), timer("scorebug_wait"):
            bug = bug_future.result()
    finally:
        abandon.set()  # a no-op once the audio and the score bug are done
        if beside is not None:
            beside.shutdown(wait=True, cancel_futures=True)
        bug_pool.shutdown(wait=True, cancel_futures=True)

    stats = vp.frames
    if stats["decode_errors"]:
        notes.append(f"{stats['decode_errors']} video packets could not be decoded and were skipped")
    if stats["emitted"] == 0:
        raise MediaError(f"{video}: no video frame could be decoded")
    # A file cut short (copy interrupted, recording not finished) still says its full length.
    last_t = vp.detections[-1].t_s if vp.detections else 0.0
    expected_end = windows[-1][1] if windows else duration
    if expected_end - last_t > max(2.0, 2.0 / cfg.media.analysis_fps, 0.05 * expected_end):
        notes.append(f"video ends at {last_t:.1f} s of {duration:.1f} s (file truncated or damaged?): "
                     "video signals after that are a gap")
    notes.extend(n for n in bug.notes if n not in notes)
    with reporter.stage("track", None), timer("track"):
        tracks = track_objects(vp.detections, cfg.track, info.width, camera=vp.camera)
    # detect.people_every_s: people seen only on some frames (yolo), the tracker carrying them
    sparse_s = cfg.detect.people_every_s if any(not d.people for d in vp.detections) else 0.0
    with timer("motion"):
        scale = vp.shot_columns.get("shots_scale")
        off_pitch = SCALE_NAMES.index("off-pitch")
        in_view = None if scale is None else np.nan_to_num(scale, nan=off_pitch) < off_pitch
        motion_cols, motion_meta = motion_signals(tracks, vp.camera, duration, sc.motion, sc.bin_s, pitch_in_view=in_view,
                                                  people_every_s=sparse_s)
    with timer("timeline"):
        columns = {**audio_cols, **motion_cols, **vp.shot_columns, **scorebug_columns(bug, duration, sc.bin_s)}
        meta = {
            "audio": audio_meta, "motion": motion_meta, "shots": vp.shot_meta, "scorebug": bug.to_dict(reads=False),
            "cuts": vp.shot_meta.get("cuts_s", []), "replays": vp.shot_meta.get("replays", []),
            "windows": windows, "notes": notes,
        }
        timeline = build_timeline(duration, sc.bin_s, columns, meta, clip_z=sc.clip_z, min_scale=sc.min_scale)
    return Analysed(timeline, vp.detections, tracks, vp.detector, stats, notes)
