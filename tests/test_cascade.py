"""Two-pass analysis: the audio pass picks the windows that get the full video analysis."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.signals.cascade import cascade_windows
from pipeline.signals.timeline import read_timeline

from .conftest import run_cli

BIN = 0.5
SEED = 20  # goals at 9.7 s and 98.9 s, calm play between them


def _cfg(**cascade):
    cfg = load_config()
    return cfg.model_copy(update={"cascade": cfg.cascade.model_copy(update=cascade)})


def _calm_match(seconds: float, seed: int = 0) -> dict[str, np.ndarray]:
    """Audio columns of a calm stretch: the crowd and the commentator at their usual level."""
    rng = np.random.default_rng(seed)
    n = int(seconds / BIN)
    return {"audio_loudness": rng.normal(0, 1.0, n), "audio_roar": rng.normal(0, 1.0, n),
            "audio_voice": rng.normal(0, 1.0, n)}


def _covers(windows, a, b) -> bool:
    return any(lo <= a and b <= hi for lo, hi in windows)


def test_a_sustained_roar_opens_a_window_with_its_margins():
    cols = _calm_match(1200)
    i = int(600 / BIN)
    cols["audio_loudness"][i: i + 16] += 15.0  # 8 s roar, +15 dB
    cols["audio_roar"][i: i + 16] += 15.0
    cfg = _cfg(min_fraction=0.0)
    windows = cascade_windows(cols, 1200.0, cfg)
    # The attack before the roar and the celebration after it are analysed too.
    assert _covers(windows, 600 - cfg.cascade.margin_pre_s + 1, 608 + cfg.cascade.margin_post_s - 1)
    assert sum(b - a for a, b in windows) < 0.1 * 1200


def test_lone_shouts_do_not_pull_in_video_analysis():
    """Single loud 0.5 s bins (a shout, a door) are not moments: they open no window."""
    cols = _calm_match(1200, seed=1)
    for t in (100, 250, 430, 700, 910, 1100):
        cols["audio_loudness"][int(t / BIN)] += 15.0
    assert cascade_windows(cols, 1200.0, _cfg(min_fraction=0.0)) == []


def test_commentator_alone_opens_a_window():
    """A celebration the broadcast mixes under an excited commentator (crowd level flat,
    voice pitch up) is found from the voice column alone."""
    cols = _calm_match(1200, seed=2)
    i = int(300 / BIN)
    cols["audio_voice"][i: i + 20] += 6.0
    windows = cascade_windows(cols, 1200.0, _cfg(min_fraction=0.0))
    assert _covers(windows, 300, 310)


def test_a_quiet_broadcast_still_gets_its_loudest_moments_looked_at():
    cols = _calm_match(1200, seed=3)
    i = int(800 / BIN)
    cols["audio_roar"][i: i + 12] += 1.0  # a mild swell, far below min_z
    cfg = _cfg(min_fraction=0.15)
    windows = cascade_windows(cols, 1200.0, cfg)
    assert sum(b - a for a, b in windows) >= 0.15 * 1200
    assert _covers(windows, 801, 805)


def test_no_audio_columns_means_the_whole_match():
    assert cascade_windows({}, 700.0, _cfg()) == [(0.0, 700.0)]


@pytest.fixture(scope="module")
def calm_match(synth_dir):
    """150 s, 320x180, long calm stretches between attacks (a real match's pace, compressed)."""
    from pipeline import synth

    out = synth_dir / "calm.mp4"
    truth = synth.generate(out, duration_s=150.0, seed=SEED, size=(320, 180), calm_s=110.0)
    assert [e["type"] for e in truth["events"]].count("goal") >= 1
    return out


def test_cascade_run_analyses_only_windows_and_keeps_the_goals(calm_match, tmp_path):
    out = tmp_path / "out"
    r = run_cli("run", calm_match, "-o", out, "--no-render", "--detector", "classic",
                "--set", "cascade.min_duration_s=0")
    assert r.returncode == 0, r.stderr
    state = json.loads((out / "analysis.json").read_text())
    assert any("two-pass analysis" in n for n in state["notes"])
    timeline = read_timeline(state["cache_dir"])
    windows = timeline.analysed_windows
    covered = sum(b - a for a, b in windows)
    assert 0 < covered < 0.8 * state["duration"]
    # Video signals exist inside the windows and are a gap (not zero) outside them.
    t = timeline.t_s
    inside = np.zeros(len(t), bool)
    for a, b in windows:
        inside |= (t >= a) & (t + BIN <= b)
    outside = np.ones(len(t), bool)
    for a, b in windows:
        outside &= (t + BIN <= a) | (t >= b)
    cut = timeline.columns["shots_cut"]
    assert np.isnan(cut[outside]).all()
    assert np.isfinite(cut[inside]).mean() > 0.9
    truth = calm_match.with_name(calm_match.stem + ".truth.json")
    ev = json.loads(run_cli("eval", out, "--truth", truth, "--json").stdout)
    assert ev["goal_recall"] == 1.0
