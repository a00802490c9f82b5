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
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()


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
