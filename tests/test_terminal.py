"""The terminal as a user meets it: the command list, global flags after the command,
-q/-v, the summary's lines in a log file, and `highlights doctor`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline.cli import hoist_global_flags
from pipeline.run import Selection
from pipeline.types import Segment

from .conftest import REPO, run_cli


def _plain_cli(*args: str) -> subprocess.CompletedProcess:
    """`highlights` with stderr to a pipe and no COLUMNS: as in a log file or CI."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=600)


@pytest.fixture(scope="module")
def out(small_match, tmp_path_factory):
    out = tmp_path_factory.mktemp("terminal") / "out"
    r = run_cli("run", small_match, "-o", out, "--no-render", "--target-duration", "4")
    assert r.returncode == 0, r.stderr
    return out


def test_help_lists_run_first():
    r = run_cli("--help")
    commands = r.stdout.split("Commands:")[1].split()
    assert commands[0] == "run" and commands.index("rescore") < commands.index("synth")
    assert "doctor" in commands


def test_global_flags_are_hoisted_before_the_command_but_not_past_a_double_dash():
    assert hoist_global_flags(["run", "x.mp4", "-o", "o", "--debug", "-q"]) == ["--debug", "-q", "run", "x.mp4", "-o", "o"]
    assert hoist_global_flags(["probe", "--", "--debug"]) == ["probe", "--", "--debug"]


def test_debug_after_the_command_shows_the_traceback(tmp_path):
    missing = tmp_path / "none.mp4"
    plain = run_cli("probe", missing)
    debug = run_cli("probe", missing, "--debug")
    assert plain.returncode == debug.returncode == 3
    assert "Traceback" not in plain.stderr and "Traceback" in debug.stderr


def test_quiet_prints_no_progress_or_summary_and_json_still_comes(out):
    r = run_cli("rescore", out, "--no-render", "-q")
    assert r.returncode == 0 and r.stderr == "" and r.stdout == ""
    r = run_cli("-q", "rescore", out, "--no-render", "--json")
    assert r.returncode == 0 and r.stderr == ""
    assert json.loads(r.stdout)["output"] == str(out)


def test_summary_lines_are_not_folded_when_stderr_is_not_a_terminal(out):
    r = _plain_cli("rescore", out, "--no-render")
    assert r.returncode == 0, r.stderr
    outputs = [ln for ln in r.stderr.splitlines() if ln.startswith("outputs ")]
    assert len(outputs) == 1 and outputs[0].rstrip().endswith("run.json")


def test_a_short_reel_says_why_and_names_what_scored_well_but_did_not_fit():
    from pipeline.cli import _left_out_lines

    def seg(i, sel, score, reason="", replay=None, kind="chance"):
        return Segment(f"s00{i}", 10.0 * i, 10.0 * i + 8, 10.0 * i + 4, score, {}, rank=i, selected=sel,
                       reason=reason, replay_of=replay, kind=kind)

    low = Selection([seg(1, True, 2.0), seg(2, False, 0.3, "left out: score 0.30 below the minimum 0.50"),
                     seg(3, False, 1.0, "left out: replay of a moment already shown", replay="s001")],
                    None, {}, [], 30.0)
    assert _left_out_lines(low, 8.0) == [
        "short     22 s under the target: the rest are 1 replay of moments shown and 1 candidate scoring below "
        "segments.min_score"]
    full = Selection([seg(1, True, 2.0), seg(2, False, 1.5, "left out: reel full (8 of 12 s used, this one is 8 s)")],
                     None, {}, [], 12.0)
    assert _left_out_lines(full, 8.0) == [
        "short     4 s under the target: the next 1 candidate would not fit in the 4 s left",
        "left out  s002 (chance, score 1.50, 8 s): the reel is full; --target-duration 20 would hold it"]


def test_doctor_reports_every_check_and_exits_0_here():
    r = run_cli("doctor", "--json")
    assert r.returncode == 0, r.stderr
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    for name in ("python", "av", "ffmpeg", "onnxruntime providers", "torch / CUDA", "NVDEC decoding",
                 "NVENC encoding", "chromium", "ray", "weights"):
        assert name in checks, name
        assert checks[name]["status"] in ("ok", "warn", "fail") and checks[name]["detail"]
    assert checks["ffmpeg"]["status"] == "ok" and "ffmpeg version" in checks["ffmpeg"]["detail"]
    assert "CPUExecutionProvider" in checks["onnxruntime providers"]["detail"]
    text = run_cli("doctor")
    assert text.returncode == 0 and "weights" in text.stdout
