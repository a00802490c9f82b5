"""Many matches: inputs (or a manifest) in, one output folder per match and batch.json out.

Each match is what `highlights run` does (`run.run_match`), followed by a completion record
`OUT/<match>/done.json` written last and atomically; a re-run skips a match whose record
holds the same input fingerprint and config hash and redoes every other one, so a batch
killed at any moment resumes cleanly. Engines: `local` (in-process, or a spawn process pool
for `workers > 1`) and `ray` (one actor per worker with declared CPUs/GPUs, detector built
once per actor, results streamed back with `ray.wait`). `OUT/batch.json` is rewritten after
every finished match: `{"matches": [{"input", "output", "status", "seconds", "error", "detector"}]}`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .config import Config, from_dict
from .errors import ConfigError, PipelineError
from .outputs import MARKER, release_output_dir, write_json

log = logging.getLogger(__name__)

BATCH_FILE = "batch.json"
DONE_FILE = "done.json"
DONE_VERSION = 1  # bump when what a completion record promises changes (forces re-runs)
STATUSES = ("done", "failed", "skipped")


@dataclass(frozen=True)
class Job:
    """One match: the input file and the folder its outputs go to."""

    input: str
    output: str


@dataclass(frozen=True)
class JobOptions:
    """What every match of a batch shares besides the config."""

    target_s: float | None = None
    render: bool = True
    force: bool = False


# ----------------------------------------------------------------------------- inputs


def read_manifest(path: str | os.PathLike) -> list[Path]:
    """Input paths from a manifest: a JSON list of paths, or text with one path per line.

    Text manifests ignore blank lines and comment lines, whose first non-blank character is
    `#`; nothing is cut from a path line, so `my match #2.mp4` is a file name. A relative
    path is relative to the manifest's folder, as are the JSON list's. A byte order mark
    (as Windows editors write) is ignored.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"manifest {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read manifest {path}: {getattr(exc, 'strerror', None) or exc}") from None
    items = _json_manifest(path, text)
    if items is not _TEXT:
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            raise ConfigError(f"manifest {path}: a JSON manifest must be a list of path strings")
        entries = [i.strip() for i in items]
    else:
        entries = []
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                entries.append(line)
    base = path.resolve().parent
    return [Path(os.path.normpath(base / os.path.expanduser(e))) for e in entries]


_TEXT = object()  # _json_manifest's answer for a text manifest


def _json_manifest(path: Path, text: str):
    """The manifest's JSON value, or _TEXT when it is a text manifest.

    JSON is a `.json` file, or text that starts with `[` or `{` and parses as JSON (so a
    JSON object is refused, not read as one path); a text line such as `[HD] final.mp4`
    stays a file name.
    """
    is_json_file = path.suffix.lower() == ".json"
    if not is_json_file and text.lstrip()[:1] not in ("[", "{"):
        return _TEXT
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if not is_json_file:
            return _TEXT
        raise ConfigError(f"manifest {path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None


def collect_inputs(inputs: Iterable[str | os.PathLike], manifest: str | os.PathLike | None = None) -> list[Path]:
    """Command-line inputs followed by the manifest's, in order, duplicates dropped."""
    paths = [Path(p) for p in inputs]
    if manifest is not None:
        paths += read_manifest(manifest)
    seen: set[str] = set()
    out = []
    for p in paths:
        key = os.path.normcase(os.path.abspath(p))
        if key not in seen:
            seen.add(key)
            out.append(p)
    if not out:
        raise ConfigError("no input: give video files, or --manifest FILE")
    return out


def plan_jobs(inputs: Iterable[Path], outdir: str | os.PathLike) -> list[Job]:
    """One output folder per input, named after the file stem; a repeated stem gets -2, -3...

    Names depend only on the order of the inputs, so re-running the same command maps every
    match onto the same folder (which is what makes a batch resumable). Names are compared
    case-insensitively so they stay distinct on case-insensitive file systems.
    """
    outdir = Path(outdir)
    taken: set[str] = {BATCH_FILE.lower(), "cache"}
    jobs = []
    for p in inputs:
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(p).stem).strip(".") or "match"
        name, n = stem, 1
        while name.lower() in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name.lower())
        jobs.append(Job(str(p), str(outdir / name)))
    return jobs


# ----------------------------------------------------------------------------- completion records


def config_hash(cfg: Config, options: JobOptions) -> str:
    """Hash of everything that changes a match's outputs: the config (less the `batch`
    section, which only says how matches are spread over workers), target and render."""
    doc = {k: v for k, v in cfg.to_dict().items() if k != "batch"}
    doc["_job"] = {"target_s": options.target_s, "render": options.render, "done_version": DONE_VERSION}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def input_fingerprint(path: str | os.PathLike) -> str:
    from . import media

    return media.fingerprint(path)


def completion_record(job: Job, cfg_hash: str) -> dict | None:
    """job.output's completion record when it is for this very input and config, else None."""
    done = Path(job.output) / DONE_FILE
    try:
        rec = json.loads(done.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("config_hash") != cfg_hash:
        return None
    try:
        return rec if rec.get("fingerprint") == input_fingerprint(job.input) else None
    except PipelineError:
        return None  # the input is gone or broken now: let the job report why


def is_complete(job: Job, cfg_hash: str) -> bool:
    """True when job.output holds a completion record for this very input and config."""
    return completion_record(job, cfg_hash) is not None


def detector_record(describe: dict | None) -> dict | None:
    """What batch.json says about the detector of a match, from its `describe()` (as in
    segments.json): backend, weights file (null for classic) and, when `auto` chose, why."""
    if not isinstance(describe, dict):
        return None
    return {"backend": describe.get("backend"), "weights": describe.get("weights"),
            "auto_reason": describe.get("auto")}


def _skipped(job: Job, rec: dict, seconds: float) -> dict:
    return _result(job, "skipped", seconds, detector=rec.get("detector"))  # absent in older records: null


def _result(job: Job, status: str, seconds: float, error: str | None = None, exit_code: int = 0,
            detector: dict | None = None) -> dict:
    return {"input": job.input, "output": job.output, "status": status, "seconds": round(seconds, 3),
            "error": error, "exit_code": exit_code, "detector": detector}


def one_line(exc: BaseException) -> tuple[str, int]:
    """The message and exit code a failed match reports (as the CLI would for one run)."""
    if isinstance(exc, PipelineError):
        msg, code = str(exc), exc.exit_code
    else:
        msg, code = f"unexpected {type(exc).__name__}: {exc}", 1
    return " ".join(msg.split()) or type(exc).__name__, code


def run_job(job: Job, cfg: Config, options: JobOptions, detector=None) -> dict:
    """Run one match and write its completion record last; never raises for a bad match.

    Returns `{"input", "output", "status", "seconds", "error", "exit_code", "detector"}`.
    """
    from .run import run_match

    t0 = time.perf_counter()
    out = Path(job.output)
    cfg_hash = config_hash(cfg, options)
    try:
        rec = completion_record(job, cfg_hash)
        if rec is not None:
            return _skipped(job, rec, time.perf_counter() - t0)
        if (out / MARKER).exists():
            # What an earlier run left no longer counts as complete. (A reel of ours that no
            # longer matches the selection goes when run_match writes the new segments.json;
            # a user's own reel.mp4 is never removed.)
            (out / DONE_FILE).unlink(missing_ok=True)
        summary = run_match(job.input, out, cfg, target_s=options.target_s, render=options.render,
                            force=options.force, detector=detector).summary()
        seconds = time.perf_counter() - t0
        detector_doc = detector_record(summary.get("detector"))
        write_json(out / DONE_FILE, {
            "version": DONE_VERSION, "input": job.input, "fingerprint": summary["fingerprint"],
            "config_hash": cfg_hash, "seconds": round(seconds, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "detector": detector_doc,
            "summary": {k: summary.get(k) for k in ("segments", "selected", "reel", "reel_s", "cache_hit")},
        })
        return _result(job, "done", seconds, detector=detector_doc)
    except Exception as exc:  # one bad match fails alone, with the line the CLI would print
        log.debug("match %s failed", job.input, exc_info=True)
        msg, code = one_line(exc)
        return _result(job, "failed", time.perf_counter() - t0, msg, code)
    finally:
        release_output_dir(out)  # a worker lives on to run other matches


class MatchWorker:
    """Runs matches one after another with one detector built up front and reused.

    Used as is by the local engine (in-process or one per pool process) and as a Ray actor.
    A detector that cannot be built (missing weights) fails each match with that message.
    """

    def __init__(self, cfg_dict: dict, options: JobOptions):
        self.cfg = from_dict(cfg_dict)
        self.options = options
        self.detector = None
        self.init_error: tuple[str, int] | None = None
        try:
            from .detect import get_detector

            self.detector = get_detector(self.cfg.detect, grass=self.cfg.pitch.grass)  # the model loads once per worker
        except Exception as exc:
            self.init_error = one_line(exc)

    def run(self, job: Job) -> dict:
        if self.init_error:
            return _result(job, "failed", 0.0, *self.init_error)
        return run_job(job, self.cfg, self.options, detector=self.detector)

    def pid(self) -> int:
        return os.getpid()


# ----------------------------------------------------------------------------- engines

OnResult = Callable[[dict], None]

_pool_worker: MatchWorker | None = None  # one per pool process, built by its initializer
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_PARENT_POLL_S = 0.5  # how soon a worker notices its batch process died where prctl is missing


def _die_with_parent(parent_pid: int) -> None:
    """End this worker process when the batch process that started it is gone.

    A worker outliving a `kill -9` of its batch would go on writing into a match folder and
    hold that folder's lock, so the re-run would fail the match as "in use". On Linux the
    kernel kills the worker with its parent (PR_SET_PDEATHSIG); the parent may already have
    died before that took effect, hence the check right after it. Elsewhere, and as a second
    line, a daemon thread polls the parent pid. (The kernel signal follows the parent
    *thread* that started the worker: `run_local` submits every job, and so starts every
    spawn worker, from its own thread, which outlives the pool.)
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl (another libc): the watchdog still works
            pass
    if os.getppid() != parent_pid:
        os._exit(1)

    def watchdog() -> None:
        while True:
            time.sleep(_PARENT_POLL_S)
            if os.getppid() != parent_pid:  # re-parented: the batch process died
                os._exit(1)

    threading.Thread(target=watchdog, name="highlights-parent-watchdog", daemon=True).start()


def _pool_init(cfg_dict: dict, options: JobOptions, parent_pid: int | None = None) -> None:
    global _pool_worker
    if parent_pid is not None:
        _die_with_parent(parent_pid)
    _pool_worker = MatchWorker(cfg_dict, options)


def _pool_run(job: Job) -> dict:
    assert _pool_worker is not None
    return _pool_worker.run(job)


def run_local(jobs: list[Job], cfg: Config, options: JobOptions, workers: int, on_result: OnResult) -> None:
    """`workers` == 1: one after another in this process; more: a spawn process pool."""
    if workers <= 1 or len(jobs) <= 1:
        worker = MatchWorker(cfg.to_dict(), options)
        for job in jobs:
            on_result(worker.run(job))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_pool_init, initargs=(cfg.to_dict(), options, os.getpid()))
    try:
        futures = {pool.submit(_pool_run, job): (job, time.perf_counter()) for job in jobs}
        for fut in as_completed(futures):
            job, t0 = futures[fut]
            try:
                res = fut.result()
            except BrokenProcessPool:
                res = _result(job, "failed", time.perf_counter() - t0,
                              "a worker process died (out of memory or killed); re-run the batch to retry", 1)
            except Exception as exc:  # pickling trouble and the like: this match only
                res = _result(job, "failed", time.perf_counter() - t0, *one_line(exc))
            on_result(res)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_ray(jobs: list[Job], cfg: Config, options: JobOptions, on_result: OnResult) -> None:
    """Actors with declared resources, one detector each, fed one match at a time.

    Joins `cfg.batch.address` (`auto`: the cluster this machine belongs to) or, without an
    address, starts a local Ray with `workers` x `cpus_per_job` (default: all) CPUs whose
    session files go to a temp folder of its own, removed once Ray has shut down. A Ray
    already initialised in this process (tests, notebooks) is used as it is.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs Ray: pip install 'football-highlights[ray]' "
                          "(or pip install 'ray[default]>=2.9')") from None
    b = cfg.batch
    started_here = False
    session_root: str | None = None  # the temp dir of a Ray started here, removed at the end
    if not ray.is_initialized():
        common = dict(logging_level=logging.WARNING, log_to_driver=False)
        try:
            if b.address:
                ray.init(address=b.address, **common)
            else:
                cpus = math.ceil(b.workers * b.cpus_per_job) if b.workers else os.cpu_count()
                session_root = _ray_temp_dir()
                ray.init(num_cpus=cpus, include_dashboard=False, _temp_dir=session_root, **common)
        except ConnectionError as exc:
            _remove_tree(session_root)
            raise ConfigError(f"cannot join the Ray cluster at {b.address!r}: {exc}") from None
        except BaseException:
            _remove_tree(session_root)
            raise
        started_here = True
    try:
        total = ray.cluster_resources()
        fits = int(total.get("CPU", 1) // b.cpus_per_job)
        if b.gpus_per_job > 0:
            gpus = total.get("GPU", 0)
            if gpus < b.gpus_per_job:
                raise ConfigError(f"--gpus-per-job {b.gpus_per_job:g}: the Ray cluster has {gpus:g} GPUs")
            fits = min(fits, int(gpus // b.gpus_per_job))
        if fits < 1:
            raise ConfigError(f"batch.cpus_per_job {b.cpus_per_job:g} is more than the cluster's "
                              f"{total.get('CPU', 0):g} CPUs")
        # An actor holds its resources while it lives: one that does not fit would wait forever.
        n_actors = max(1, min(b.workers or fits, fits, len(jobs)))
        Actor = ray.remote(MatchWorker).options(num_cpus=b.cpus_per_job, num_gpus=b.gpus_per_job,
                                                max_restarts=0)
        cfg_dict = cfg.to_dict()

        def new_actor():
            return Actor.remote(cfg_dict, options)

        pending = deque(jobs)
        in_flight: dict = {}  # object ref -> (actor, job, start)

        def submit(actor) -> None:
            job = pending.popleft()
            in_flight[actor.run.remote(job)] = (actor, job, time.perf_counter())

        actors = [new_actor() for _ in range(n_actors)]
        for actor in actors:
            if pending:
                submit(actor)
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            actor, job, t0 = in_flight.pop(ready[0])
            try:
                res = ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                # The actor itself died (out of memory, node lost): this match fails, a fresh
                # actor takes the next one.
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                res = _result(job, "failed", time.perf_counter() - t0, f"Ray worker failed: {first}", 1)
                if isinstance(exc, ray.exceptions.RayActorError):
                    ray.kill(actor, no_restart=True)
                    actors.remove(actor)
                    actor = new_actor()
                    actors.append(actor)
            on_result(res)
            if pending:
                submit(actor)
        for actor in actors:
            ray.kill(actor, no_restart=True)
    finally:
        if started_here:
            ray.shutdown()
            _remove_tree(session_root)


# Ray binds unix sockets such as <temp dir>/session_2024-05-11_20-15-02_123456_4194304/sockets/
# plasma_store: 65 characters after the temp dir. A socket path holds at most 107 bytes on
# Linux and 103 on macOS, so the temp dir (base + "/highlights-ray-" + 8) keeps under 38.
_RAY_TEMP_BASE_MAX = 14


def _ray_temp_dir() -> str:
    """A fresh folder for the session files of a Ray this batch starts (instead of Ray's
    shared /tmp/ray, where every session stays behind): RAY_TMPDIR or the system temp dir,
    or /tmp where that path is too long for Ray's sockets."""
    import tempfile

    base = os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()
    if len(base) > _RAY_TEMP_BASE_MAX and os.path.isdir("/tmp"):
        base = "/tmp"
    return tempfile.mkdtemp(prefix="highlights-ray-", dir=base)


def _remove_tree(path: str | None) -> None:
    if path:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


# ----------------------------------------------------------------------------- batch


@dataclass
class BatchResult:
    matches: list[dict]  # in input order, each {"input", "output", "status", "seconds", "error", "exit_code",
    #                      "detector"}
    seconds: float

    @property
    def failed(self) -> list[dict]:
        return [m for m in self.matches if m["status"] == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every match is done or skipped, else the exit code of the first failure."""
        return next((m["exit_code"] or 1 for m in self.matches if m["status"] == "failed"), 0)


def batch_document(matches: Iterable[dict]) -> dict:
    keys = ("input", "output", "status", "seconds", "error", "detector")
    return {"matches": [{k: m.get(k) for k in keys} for m in matches]}


def run_batch(
    jobs: list[Job],
    outdir: str | os.PathLike,
    cfg: Config,
    options: JobOptions = JobOptions(),
    on_start: Callable[[int, int], None] | None = None,
    on_result: OnResult | None = None,
) -> BatchResult:
    """Run `jobs` on `cfg.batch.engine`; rewrite OUTDIR/batch.json after each result.

    Matches already complete (same fingerprint, same config) are skipped before any worker
    starts. `on_start(total, skipped)` and `on_result(result)` let the CLI show progress.
    """
    from .outputs import prepare_output_dir

    t0 = time.perf_counter()
    outdir = prepare_output_dir(outdir, options.force)  # also removes temps a killed run left
    order = {job.output: i for i, job in enumerate(jobs)}
    results: dict[str, dict] = {}

    def record(res: dict) -> None:
        results[res["output"]] = res
        finished = sorted(results.values(), key=lambda m: order[m["output"]])
        write_json(outdir / BATCH_FILE, batch_document(finished))
        if on_result:
            on_result(res)

    cfg_hash = config_hash(cfg, options)
    todo = []
    skipped = []
    for job in jobs:
        t = time.perf_counter()
        rec = completion_record(job, cfg_hash)
        if rec is not None:
            skipped.append(_skipped(job, rec, time.perf_counter() - t))
        else:
            todo.append(job)
    if on_start:
        on_start(len(jobs), len(skipped))
    for res in skipped:
        record(res)
    if not results:
        write_json(outdir / BATCH_FILE, batch_document([]))
    try:
        if todo:
            if cfg.batch.engine == "ray":
                run_ray(todo, cfg, options, record)
            else:
                run_local(todo, cfg, options, cfg.batch.workers or 1, record)
    finally:
        release_output_dir(outdir)
    matches = sorted(results.values(), key=lambda m: order[m["output"]])
    return BatchResult(matches, time.perf_counter() - t0)
