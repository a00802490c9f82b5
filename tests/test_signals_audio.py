"""Audio signals: crowd roar vs calm, gaps for silence, streaming, and the real clips."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import media
from pipeline.config import load_config
from pipeline.segments import build_segments, excitement_curve
from pipeline.signals.audio import COLUMNS, audio_signals, missing_audio
from pipeline.signals.timeline import build_timeline

from .conftest import real_clip

SR = 22050


@pytest.fixture(scope="module")
def cfg():
    return load_config().signals


AUDIO_ONLY = {"audio": 1.0, "motion": 0.0, "shots": 0.0}


def audio_moments(tl) -> list[tuple[float, float]]:
    """The candidates the pipeline itself finds on an audio-only timeline: (peak, score)."""
    full = load_config()
    cw = {f"audio_{k}": v for k, v in full.signals.audio.column_weights.items()}
    curve = excitement_curve(tl, AUDIO_ONLY, cw)
    return [(s.peak, s.score) for s in build_segments(tl, curve, full.segments)
            if s.score >= full.segments.min_score]


def _chunks(y: np.ndarray, chunk_s: float, sr: int = SR):
    n = int(chunk_s * sr)
    for i in range(0, len(y), n):
        yield i / sr, y[i : i + n]


def _crowd(seconds: float, seed: int = 0, roar=(), shout=()) -> np.ndarray:
    """Pink-ish crowd bed at about -35 dBFS, louder broadband roars and short shouts."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    y = rng.normal(0, 0.02, n).astype(np.float32)
    env = np.ones(n, np.float32)
    for t0, t1 in roar:
        env[int(t0 * SR) : int(t1 * SR)] = 8.0  # +18 dB, sustained
    y *= env
    for t0, dur in shout:
        t = np.arange(int(dur * SR)) / SR
        y[int(t0 * SR) : int(t0 * SR) + len(t)] += 0.3 * np.sin(2 * np.pi * 300 * t).astype(np.float32)
    return y


def _commentary(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    """A commentator talking without a break longer than a breath: voiced phrases of 1-4 s
    with syllables, pitch gliding over 135-305 Hz, harmonics to ~5 kHz falling 6 dB an octave."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    f0 = 220 + 60 * np.sin(2 * np.pi * 0.7 * t) + 25 * np.sin(2 * np.pi * 4.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voice = sum(np.sin(h * phase) / h for h in range(1, 18))
    env = np.zeros(n)
    s = 0.0
    while s < seconds:
        d = rng.uniform(1.0, 4.0)
        a, b = int(s * SR), int(min(s + d, seconds) * SR)
        env[a:b] = 0.6 + 0.4 * np.sin(2 * np.pi * 5.0 * t[a:b]) ** 2
        s += d + rng.uniform(0.2, 0.5)
    return (level * voice * env).astype(np.float32)


def _timeline(cols, meta, duration_s, cfg):
    return build_timeline(duration_s, cfg.bin_s, cols, {"audio": meta}, clip_z=cfg.clip_z, min_scale=cfg.min_scale)


def _run(y, cfg, chunk_s=7.3):
    duration = len(y) / SR
    cols, meta = audio_signals(_chunks(y, chunk_s), SR, duration, cfg.audio, cfg.bin_s)
    return _timeline(cols, meta, duration, cfg), cols


def test_roar_is_a_moment_and_a_shout_is_not(cfg):
    y = _crowd(60.0, roar=[(30.0, 34.0)], shout=[(12.0, 0.25)])
    tl, cols = _run(y, cfg)
    assert set(COLUMNS) <= set(cols)
    moments = audio_moments(tl)
    assert len(moments) == 1, moments
    assert 29.0 <= moments[0][0] <= 35.0
    b = slice(int(30.5 / 0.5), int(33.5 / 0.5))
    assert np.nanmin(tl.columns["audio_roar"][b]) > 2.0
    assert np.nanmax(tl.raw["audio_loudness"][b]) > 10.0, "the reason text can quote real dB"


def test_streaming_does_not_depend_on_chunk_size(cfg):
    y = _crowd(40.0, seed=3, roar=[(20.0, 23.0)])
    _, a = _run(y, cfg, chunk_s=40.0)
    _, b = _run(y, cfg, chunk_s=1.37)
    for k in ("audio_loudness", "audio_roar"):
        assert np.allclose(a[k], b[k], atol=1e-3, equal_nan=True), k


def test_digital_silence_and_missing_audio_are_gaps_not_calm(cfg):
    y = _crowd(20.0)
    y[int(5 * SR) : int(10 * SR)] = 0.0
    _, cols = _run(y, cfg)
    for k in COLUMNS:
        # bins 5.5-9.5 s (the edge bins hold frames that straddle the silence)
        assert np.isnan(cols[k][11:19]).all(), k
        assert np.isfinite(cols[k][:10]).all(), k
    cols, meta = missing_audio(6.0, cfg.bin_s, "no audio stream in x.mp4")
    assert all(np.isnan(v).all() and len(v) == 12 for v in cols.values())
    assert meta["gap"] == "no audio stream in x.mp4"


def _real(rel, cfg):
    path = real_clip(rel)
    info = media.probe(path)
    track = media.audio(path, sr=SR, info=info)
    cols, meta = audio_signals(track.chunks(), track.sr, info.duration_s, cfg.audio, cfg.bin_s)
    return _timeline(cols, meta, info.duration_s, cfg), meta


def test_a_crowd_only_clip_never_rises_like_a_goal(cfg):
    """A murmuring crowd with no commentary: its audio excitement stays under 1.5 z all
    through, and the Benfica goal call, alone in its 12 s clip, rises above anything it
    reaches. (The goal's curve tops at 1.7: the commentator's cry counts in the voice and
    loudness columns, not again in the crowd's bed, which is read between the voice's harmonics.)"""
    cw = {f"audio_{k}": v for k, v in load_config().signals.audio.column_weights.items()}
    crowd, _ = _real("tactical_cam_crowd_only_audio/football.mp4", cfg)
    goal, _ = _real("goal_benfica_porto_audio/goal.mp4", cfg)
    crowd_top = np.nanmax(excitement_curve(crowd, AUDIO_ONLY, cw).score)
    assert crowd_top < 1.5
    assert np.nanmax(excitement_curve(goal, AUDIO_ONLY, cw).score) > crowd_top + 0.25


def test_laliga_loud_passages_score_higher_than_quiet_middle(cfg):
    tl, _ = _real("laliga_rm_sevilla_audio/soccer.mp4", cfg)
    cw = {f"audio_{k}": v for k, v in load_config().signals.audio.column_weights.items()}
    ex = excitement_curve(tl, AUDIO_ONLY, cw).score
    t = tl.t_s
    loud = ex[((t >= 14.0) & (t < 16.5)) | ((t >= 19.5) & (t < 21.0))]
    quiet = ex[(t >= 6.0) & (t < 13.0)]
    assert np.nanmean(loud) > np.nanmean(quiet) + 1.0
    assert np.nanmean(tl.columns["audio_loudness"][(t >= 14.0) & (t < 16.5)]) > np.nanmax(
        tl.columns["audio_loudness"][(t >= 11.0) & (t < 13.0)])
    assert any(13.0 <= peak <= 17.5 for peak, _ in audio_moments(tl))


def test_benfica_goal_has_an_audio_moment_near_it(cfg):
    tl, _ = _real("goal_benfica_porto_audio/goal.mp4", cfg)
    goal_s = 4.9  # labels.json
    moments = audio_moments(tl)
    assert moments, "the goal call must make a moment"
    assert any(abs(peak - goal_s) <= 2.5 for peak, _ in moments), moments


def test_silent_audio_stream_gives_gaps(cfg):
    tl, meta = _real("amateur_indoor_noaudio/football.mp4", cfg)  # AAC stream of zeros
    assert all(np.isnan(tl.columns[k]).all() for k in COLUMNS)
    assert meta["gap"] == "audio silent"


@pytest.mark.parametrize("level", [0.1, 0.2])  # the voice ~13 and ~19 dB over the crowd
def test_a_commentator_talking_over_the_crowd_is_not_a_roar_and_does_not_hide_one(cfg, level):
    """The bed is read between the voice's harmonics: talk alone never holds the roar column
    up for the time a chance needs, and the crowd's roar under the talk still reads as one."""
    from pipeline.events import _longest

    ev = load_config().events
    y = _crowd(90.0, seed=5, roar=[(60.0, 64.0)]) + _commentary(90.0, level)
    tl, _ = _run(y, cfg)
    z, b = tl.columns["audio_roar"], cfg.bin_s
    talk = np.r_[z[: int(59 / b)], z[int(66 / b):]]
    assert _longest(talk >= ev.sustain_z)[1] * b < ev.chance_min_sound_s
    assert np.nanmin(z[int(60.5 / b): int(63.5 / b)]) >= ev.sustain_z
