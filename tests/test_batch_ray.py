"""Batch on Ray: a local Ray with 2 CPUs, two short matches and a broken file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import batch
from pipeline.config import load_config

from .test_batch import assert_complete, make_matches, read_batch

try:
    import ray
except ImportError:
    ray = None

pytestmark = pytest.mark.skipif(ray is None, reason="ray is not installed (pip install 'football-highlights[ray]')")


@pytest.fixture(scope="module")
def local_ray():
    import shutil
    import tempfile

    # A short temp folder of its own (Ray's socket paths must fit in 107 bytes), not /tmp/ray.
    temp_dir = tempfile.mkdtemp(prefix="hl-test-ray-", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING", _temp_dir=temp_dir)
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_ray_engine_streams_results_and_writes_the_same_batch_json(tmp_path, small_match, local_ray):
    m = make_matches(tmp_path / "in", small_match)
    out = tmp_path / "out"
    cfg = load_config(None, ["detect.backend=classic", "batch.engine=ray", "batch.workers=2",
                             "segments.min_prominence=0", "segments.min_score=-10"])
    jobs = batch.plan_jobs([m["a"], m["bad"], m["b"]], out)
    seen: list[dict] = []

    def on_result(res: dict) -> None:
        # batch.json is rewritten as each match finishes, not once at the end
        seen.append(res)
        assert len(read_batch(out)["matches"]) == len(seen)

    res = batch.run_batch(jobs, out, cfg, batch.JobOptions(target_s=6.0), on_result=on_result)
    assert len(seen) == 3
    doc = read_batch(out)
    assert [Path(x["input"]).name for x in doc["matches"]] == ["small.mp4", "broken.mp4", "second.mp4"]
    assert [x["status"] for x in doc["matches"]] == ["done", "failed", "done"], doc
    # A worker's PipelineError comes back as a failed match with its one-line message.
    assert "broken.mp4" in doc["matches"][1]["error"] and res.exit_code == 3
    for x in doc["matches"]:
        if x["status"] == "done":
            assert_complete(Path(x["output"]))
    assert ray.is_initialized()  # a Ray the caller started is left running for the caller

    # Resumable on Ray as on the local engine: nothing is redone.
    again = batch.run_batch(jobs, out, cfg, batch.JobOptions(target_s=6.0))
    assert [x["status"] for x in again.matches] == ["skipped", "failed", "skipped"]
    assert json.loads((out / "batch.json").read_text())["matches"][0]["status"] == "skipped"


def _ray_sessions() -> set[str]:
    root = Path("/tmp/ray")
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


def _highlights_temp_dirs() -> set[Path]:
    import tempfile

    return {p for base in {Path("/tmp"), Path(tempfile.gettempdir())} for p in base.glob("highlights-ray-*")}


def test_a_ray_the_batch_starts_leaves_no_session_files_behind(tmp_path, small_match):
    """`--engine ray` without --address starts its own Ray; its session files (logs,
    sockets, spilled objects) go to a temp folder that is removed after Ray shuts down,
    not to /tmp/ray where every run used to leave a session_* folder."""
    from .conftest import run_cli
    from .test_batch import CLASSIC, SETTINGS

    # The CLI subprocess starts a Ray of its own even while this process runs one: without
    # --address it never joins another (its fresh temp folder names no running cluster).
    before_sessions, before_dirs = _ray_sessions(), _highlights_temp_dirs()
    out = tmp_path / "out"
    r = run_cli("batch", small_match, "-o", out, "--engine", "ray", "--workers", "1", "--no-render", *SETTINGS,
                timeout=300)
    assert r.returncode == 0, r.stderr
    (m,) = read_batch(out)["matches"]
    assert m["status"] == "done" and m["detector"] == CLASSIC
    assert _ray_sessions() - before_sessions == set(), "the batch left session files in /tmp/ray"
    assert _highlights_temp_dirs() - before_dirs == set(), "the batch's Ray temp folder is still there"
