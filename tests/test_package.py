"""The package as users install it: a built wheel works away from the source tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import REPO

PROBE = """
import json, pipeline
from pipeline.config import load_config
from pipeline.detect.yolo import default_models_dir
cfg = load_config()
print(json.dumps({"package": pipeline.__file__, "models": str(default_models_dir()),
                  "goal_replays": cfg.segments.goal_replays}))
"""


def test_a_built_wheel_carries_its_defaults_and_runs_away_from_the_source_tree(tmp_path):
    # Built from a copy of the sources, so no build/ folder of an earlier build leaks in.
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "bench", "samples",
                                                              "models", "out", "__pycache__", ".pytest_cache"))
    dist = tmp_path / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(dist), str(src)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    wheel = next(dist.glob("*.whl"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        assert "pipeline/configs/default.yaml" in z.namelist()
        z.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("HIGHLIGHTS_MODELS", None)
    r = subprocess.run([sys.executable, "-c", PROBE], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert Path(got["package"]).resolve().is_relative_to(site.resolve())  # the wheel's copy, not the checkout
    assert got["goal_replays"] is True
    assert Path(got["models"]) == elsewhere / "models"  # no checkout: ./models, never site-packages
    r = subprocess.run([sys.executable, "-c", PROBE], cwd=elsewhere, capture_output=True, text=True, timeout=300,
                       env={**env, "HIGHLIGHTS_MODELS": str(tmp_path / "weights")})
    assert json.loads(r.stdout.strip().splitlines()[-1])["models"] == str(tmp_path / "weights")
    # A command that reads the config, run from the wheel.
    r = subprocess.run([sys.executable, "-c", "from pipeline.cli import main; main()", "synth", "-o", "m.mp4",
                        "--duration", "2", "--size", "320x180"], cwd=elsewhere, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (elsewhere / "m.mp4").stat().st_size > 0
