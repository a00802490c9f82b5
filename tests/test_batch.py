"""Batch: many matches, one folder each, batch.json; a bad file fails alone; resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import batch
from pipeline.errors import ConfigError

from .conftest import REPO, run_cli

MATCH_KEYS = {"input", "output", "status", "seconds", "error", "detector"}
# Short generated clips hold no goal; a low bar lets a segment through so reels get rendered.
SETTINGS = ("--detector", "classic", "--target-duration", "6",
            "--set", "segments.min_prominence=0", "--set", "segments.min_score=-10")


CLASSIC = {"backend": "classic", "weights": None, "auto_reason": None}


def make_matches(root: Path, first: Path) -> dict[str, Path]:
    """Two short playable matches (the session's 8 s clip and a 10 s one) and a broken file."""
    from pipeline import synth

    root.mkdir(parents=True, exist_ok=True)
    b = root / "other" / "second.mp4"
    if not b.exists():
        synth.generate(b, duration_s=10.0, seed=1, size=(320, 180))
    bad = root / "broken.mp4"
    bad.write_text("this is not a video\n" * 20)
    return {"a": first, "b": b, "bad": bad}


def read_batch(out: Path) -> dict:
    doc = json.loads((out / "batch.json").read_text())
    assert set(doc) >= {"matches"}
    for m in doc["matches"]:
        assert set(m) == MATCH_KEYS
        assert m["status"] in ("done", "failed", "skipped")
        assert isinstance(m["seconds"], (int, float)) and m["seconds"] >= 0
        assert (m["error"] is None) == (m["status"] != "failed")
    return doc


def assert_complete(match_dir: Path) -> None:
    """What a finished match folder holds: the run outputs and a completion record."""
    for name in ("segments.json", "timeline.csv", "config.yaml", "run.json", "done.json"):
        assert (match_dir / name).is_file(), f"{match_dir}/{name}"
    doc = json.loads((match_dir / "segments.json").read_text())
    if any(s["selected"] for s in doc["segments"]):
        assert (match_dir / "reel.mp4").stat().st_size > 1000
    assert json.loads((match_dir / "done.json").read_text())["fingerprint"] == doc["input"]["fingerprint"]


def stale_temps(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.is_file() and (".tmp" in p.name or ".part" in p.name)]


# ----------------------------------------------------------------------------- inputs and names


def test_manifest_text_comments_blank_lines_relative_paths(tmp_path):
    (tmp_path / "lists").mkdir()
    m = tmp_path / "lists" / "matches.txt"
    m.write_text("# round 1\n\nmatch1.mp4\n  # the away game:\n  ../clips/match2.mp4  \n/abs/match3.mp4\n")
    paths = batch.read_manifest(m)
    root = tmp_path.resolve()
    assert paths == [root / "lists" / "match1.mp4", root / "clips" / "match2.mp4", Path("/abs/match3.mp4")]


def test_manifest_keeps_every_real_file_name(tmp_path):
    """`#` inside a name, a leading `[`, and the byte order mark a Windows editor writes
    before the first line: each names the file it says."""
    names = ["my match #2.mp4", "final #3 # replay.mp4", "[HD] derby.mp4"]
    m = tmp_path / "matches.txt"
    m.write_bytes("\ufeff".encode() + "".join(f"{n}\n" for n in names).encode())
    assert batch.read_manifest(m) == [tmp_path.resolve() / n for n in names]
    m.write_bytes("\ufeff".encode() + json.dumps(names).encode())  # a JSON list with a BOM
    assert batch.read_manifest(m) == [tmp_path.resolve() / n for n in names]


def test_manifest_end_to_end_with_bom_and_hash_in_a_name(tmp_path, small_match):
    clip = tmp_path / "my match #2.mp4"
    clip.write_bytes(small_match.read_bytes())
    m = tmp_path / "round.txt"
    m.write_text("\ufeff# round 12\nmy match #2.mp4\n", encoding="utf-8")  # what Notepad saves
    r = run_cli("batch", "--manifest", m, "-o", tmp_path / "out", "--no-render", *SETTINGS)
    assert r.returncode == 0, r.stderr
    (match,) = read_batch(tmp_path / "out")["matches"]
    assert match["status"] == "done" and Path(match["input"]) == clip.resolve()


def test_manifest_json_list_and_bad_manifests(tmp_path):
    m = tmp_path / "m.json"
    m.write_text(json.dumps(["a.mp4", "/x/b.mp4"]))
    assert batch.read_manifest(m) == [tmp_path.resolve() / "a.mp4", Path("/x/b.mp4")]
    m.write_text("[\"a.mp4\", ")
    with pytest.raises(ConfigError, match="not valid JSON"):
        batch.read_manifest(m)
    m.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="list of path strings"):
        batch.read_manifest(m)
    for suffix in (".json", ".txt"):  # a JSON object is not one path named `{"a": 1}`
        obj = tmp_path / f"obj{suffix}"
        obj.write_text('{"a": 1}')
        with pytest.raises(ConfigError, match="JSON manifest must be a list of path strings"):
            batch.read_manifest(obj)
    with pytest.raises(ConfigError, match="not found"):
        batch.read_manifest(tmp_path / "absent.txt")
    with pytest.raises(ConfigError, match="no input"):
        batch.collect_inputs([], None)


def test_output_names_from_stems_unique_and_stable(tmp_path):
    inputs = [Path("/d1/match.mp4"), Path("/d2/match.mp4"), Path("/d3/Match.mkv"), Path("/d4/batch.mp4"),
              Path("/d5/final day.mp4")]
    jobs = batch.plan_jobs(inputs, tmp_path)
    names = [Path(j.output).name for j in jobs]
    assert names == ["match", "match-2", "Match-3", "batch", "final_day"]
    assert len({n.lower() for n in names}) == len(names)
    assert batch.plan_jobs(inputs, tmp_path) == jobs  # same command, same folders: resumable
    # The same file given twice (on the command line and in a manifest) runs once.
    assert len(batch.collect_inputs(["/d1/match.mp4", "/d1/../d1/match.mp4"])) == 1


def test_exit_code_is_the_first_failures():
    def m(status, code=0):
        return {"input": "x", "output": "y", "status": status, "seconds": 0.0, "error": None, "exit_code": code}

    assert batch.BatchResult([m("done"), m("skipped")], 1.0).exit_code == 0
    assert batch.BatchResult([m("done"), m("failed", 3), m("failed", 5)], 1.0).exit_code == 3
    assert batch.BatchResult([m("failed", 0)], 1.0).exit_code == 1


def test_usage_errors_exit_2(tmp_path):
    r = run_cli("batch", "-o", tmp_path / "out")
    assert r.returncode == 2 and "no input" in r.stderr
    r = run_cli("batch", "x.mp4", "-o", tmp_path / "out", "--address", "auto")
    assert r.returncode == 2 and "--engine ray" in r.stderr


# ----------------------------------------------------------------------------- local engine, end to end


@pytest.fixture(scope="module")
def matches(tmp_path_factory, small_match) -> dict[str, Path]:
    return make_matches(tmp_path_factory.mktemp("batch_in"), small_match)


@pytest.fixture(scope="module")
def first_batch(tmp_path_factory, matches):
    """a, broken, b through two worker processes."""
    out = tmp_path_factory.mktemp("batch_out") / "out"
    t0 = time.perf_counter()
    r = run_cli("batch", matches["a"], matches["bad"], matches["b"], "-o", out, "--workers", "2",
                *SETTINGS, timeout=300)
    return out, r, time.perf_counter() - t0


def test_one_bad_file_fails_alone_with_its_error(first_batch, matches):
    out, r, _ = first_batch
    assert r.returncode == 3, r.stderr  # MediaError's code: the first (only) failure
    doc = read_batch(out)
    by_input = {Path(m["input"]).name: m for m in doc["matches"]}
    assert [Path(m["input"]).name for m in doc["matches"]] == ["small.mp4", "broken.mp4", "second.mp4"]
    assert by_input["small.mp4"]["status"] == "done" and by_input["second.mp4"]["status"] == "done", doc
    bad = by_input["broken.mp4"]
    assert bad["status"] == "failed" and "broken.mp4" in bad["error"] and "\n" not in bad["error"]
    assert Path(bad["output"]).name == "broken" and not (Path(bad["output"]) / "done.json").exists()
    for name in ("small", "second"):
        assert_complete(out / name)
    assert "broken.mp4" in r.stderr and "1 failed" in r.stderr  # the summary lists the failure
    assert by_input["small.mp4"]["detector"] == CLASSIC and bad["detector"] is None


def test_batch_writes_what_run_writes_and_its_target_survives_a_rescore(first_batch, matches, tmp_path):
    """`run` and `batch` are one composer (`run.run_match`): the same files, the same
    selection; the batch's --target-duration is recorded in config.yaml, so a later rescore
    keeps it."""
    out, _, _ = first_batch
    single = tmp_path / "single"
    r = run_cli("run", matches["a"], "-o", single, *SETTINGS)
    assert r.returncode == 0, r.stderr
    in_batch = out / "small"
    ours = {p.name for p in single.iterdir() if p.is_file()}
    assert ours >= {"segments.json", "timeline.csv", "timeline.png", "report.html", "config.yaml", "run.json"}
    assert ours <= {p.name for p in in_batch.iterdir() if p.is_file()}

    def chosen(folder):
        return [(s["id"], s["start"], s["end"]) for s in json.loads((folder / "segments.json").read_text())["segments"]
                if s["selected"]]

    assert chosen(single) == chosen(in_batch)
    assert "target_duration_s: 6.0" in (in_batch / "config.yaml").read_text()
    copy = tmp_path / "rescored"
    import shutil
    shutil.copytree(in_batch, copy)
    r = run_cli("rescore", copy, "--no-render")
    assert r.returncode == 0, r.stderr
    assert json.loads((copy / "segments.json").read_text())["target_duration"] == pytest.approx(6.0)


def test_rerun_skips_completed_matches(first_batch, matches):
    out, _, first_s = first_batch
    before = {p: p.stat().st_mtime_ns for p in (out / "small").iterdir() if p.is_file()}
    t0 = time.perf_counter()
    r = run_cli("batch", matches["a"], matches["bad"], matches["b"], "-o", out, *SETTINGS)
    assert r.returncode == 3, r.stderr
    doc = read_batch(out)
    statuses = [m["status"] for m in doc["matches"]]
    assert statuses == ["skipped", "failed", "skipped"], r.stderr  # the failed one is tried again
    assert doc["matches"][0]["detector"] == CLASSIC  # a skipped match still says what detected it
    assert {p: p.stat().st_mtime_ns for p in (out / "small").iterdir() if p.is_file()} == before
    assert "2 skipped" in r.stderr
    print(f"first batch {first_s:.1f} s, re-run with everything skipped {time.perf_counter() - t0:.1f} s")


def test_changed_config_reruns(first_batch, matches):
    out, _, _ = first_batch
    old = json.loads((out / "small" / "done.json").read_text())["config_hash"]
    r = run_cli("batch", matches["a"], matches["b"], "-o", out, *SETTINGS, "--set", "weights.audio=0.3")
    assert r.returncode == 0, r.stderr
    assert [m["status"] for m in read_batch(out)["matches"]] == ["done", "done"], r.stderr
    assert json.loads((out / "small" / "done.json").read_text())["config_hash"] != old
    assert json.loads((out / "small" / "segments.json").read_text())["config"]["weights"]["audio"] == 0.3


def test_changed_input_reruns(tmp_path, matches):
    from pipeline.config import load_config

    src = tmp_path / "m.mp4"
    src.write_bytes(matches["a"].read_bytes())
    out = tmp_path / "out"
    cfg = load_config(None, ["detect.backend=classic"])
    jobs = batch.plan_jobs([src], out)
    options = batch.JobOptions(render=False)

    def status() -> str:
        (m,) = batch.run_batch(jobs, out, cfg, options).matches
        return m["error"] or m["status"]

    assert status() == "done"
    assert status() == "skipped"
    src.write_bytes(matches["b"].read_bytes())  # same name, other footage
    assert status() == "done"
    assert read_batch(out)["matches"][0]["status"] == "done"


def test_sigkill_mid_run_then_rerun_completes_cleanly(tmp_path, matches):
    out = tmp_path / "out"
    args = ["batch", str(matches["a"]), str(matches["b"]), "-o", str(out), *SETTINGS]
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "small"
    try:
        deadline = time.monotonic() + 120
        while not first.is_dir() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # into the analysis of the first match
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert first.is_dir(), "the batch never started the first match"
    assert not (first / "done.json").exists(), "the first match finished before the kill; nothing was tested"

    r = run_cli("batch", *args[1:])
    assert r.returncode == 0, r.stderr
    doc = read_batch(out)
    assert [m["status"] for m in doc["matches"]] == ["done", "done"], r.stderr
    for m in doc["matches"]:
        assert_complete(Path(m["output"]))
    assert stale_temps(out) == []


@pytest.fixture(scope="module")
def long_matches(tmp_path_factory) -> list[Path]:
    """Two 30 s clips: long enough that a kill lands while both workers are mid-match."""
    from pipeline import synth

    root = tmp_path_factory.mktemp("batch_long")
    paths = [root / "long1.mp4", root / "long2.mp4"]
    for seed, p in enumerate(paths, start=5):
        synth.generate(p, duration_s=30.0, seed=seed, size=(320, 180))
    return paths


def _alive(pids: list[int]) -> list[int]:
    import psutil

    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds worker processes through /proc")
def test_sigkill_of_the_batch_kills_its_workers_and_the_rerun_takes_their_folders(tmp_path, long_matches):
    """`kill -9` of the batch process alone (not its process group): its pool workers must
    die with it, or they keep their match folders locked and the re-run fails them (exit 5)."""
    import psutil

    out = tmp_path / "out"
    args = ["batch", *map(str, long_matches), "-o", str(out), "--workers", "2", *SETTINGS]
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    markers = [out / p.stem / batch.MARKER for p in long_matches]
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline and not all(m.exists() for m in markers):
            time.sleep(0.05)
        time.sleep(1.0)  # both workers hold their folder's lock and are analysing
        workers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert proc.poll() is None and all(m.exists() for m in markers), "the batch never got both matches going"
        os.kill(proc.pid, signal.SIGKILL)  # the batch process only, as `kill -9 PID` does
        proc.wait()
        assert len(workers) >= 2, workers
        deadline = time.monotonic() + 5
        while _alive(workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = _alive(workers)
    finally:
        for pid in _alive(workers):  # never leave them behind, even when the test fails
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert left == [], f"worker processes {left} outlived their batch"
    assert not any((out / p.stem / "done.json").exists() for p in long_matches), "a match finished before the kill"

    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    assert "in use" not in r.stderr
    doc = read_batch(out)
    assert [m["status"] for m in doc["matches"]] == ["done", "done"], r.stderr
    for m in doc["matches"]:
        assert_complete(Path(m["output"]))
    assert stale_temps(out) == []


# ----------------------------------------------------------------------------- detector choice


def test_wrong_weights_with_auto_fail_every_match_with_exit_4(tmp_path, small_match):
    """The default --detector auto with a mistyped --weights must not quietly run classic."""
    out = tmp_path / "out"
    r = run_cli("batch", small_match, "-o", out, "--weights", tmp_path / "typo.onnx", "--no-render")
    assert r.returncode == 4, r.stderr
    (m,) = read_batch(out)["matches"]
    assert m["status"] == "failed" and "typo.onnx not found" in m["error"] and m["detector"] is None
    assert "typo.onnx not found" in r.stderr and not (out / "small" / "done.json").exists()


def test_batch_json_records_why_auto_chose_classic(tmp_path, small_match, monkeypatch):
    from pipeline.config import load_config
    from pipeline.detect import yolo

    empty = tmp_path / "models"
    empty.mkdir()
    real = yolo.resolve_weights
    monkeypatch.setattr(yolo, "resolve_weights", lambda w, models_dir=empty: real(w, models_dir))
    out = tmp_path / "out"
    jobs = batch.plan_jobs([small_match], out)
    cfg = load_config(None, [])  # detect.backend auto, weights null: look in models/
    (m,) = batch.run_batch(jobs, out, cfg, batch.JobOptions(render=False)).matches
    assert m["status"] == "done", m["error"]
    det = read_batch(out)["matches"][0]["detector"]
    assert det["backend"] == "classic" and det["weights"] is None
    assert "no weights given and none in" in det["auto_reason"] and str(empty) in det["auto_reason"]
    (again,) = batch.run_batch(jobs, out, cfg, batch.JobOptions(render=False)).matches
    assert again["status"] == "skipped" and again["detector"] == det  # from done.json


def test_batch_json_prints_every_match_and_the_exit_code_on_stdout(first_batch, matches):
    out, _, _ = first_batch
    r = run_cli("batch", matches["a"], matches["bad"], matches["b"], "-o", out, *SETTINGS, "--json")
    assert r.returncode == 3, r.stderr
    doc = json.loads(r.stdout)  # nothing else on stdout
    statuses = [m["status"] for m in doc["matches"]]
    assert statuses[1] == "failed" and {statuses[0], statuses[2]} <= {"done", "skipped"}
    assert doc["exit_code"] == 3 and doc["counts"] == {k: statuses.count(k) for k in ("done", "skipped", "failed")}
