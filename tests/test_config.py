"""Config: defaults from pipeline/configs/default.yaml, --config files, --set overrides, clear errors."""

from __future__ import annotations

import os

import pytest
import yaml

from pipeline.config import DEFAULT_CONFIG_PATH, load_config
from pipeline.errors import ConfigError

from .conftest import run_cli


def test_defaults_come_from_the_yaml_file():
    cfg = load_config()
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    assert cfg.to_dict() == raw


def test_set_overrides_one_value_and_parses_its_type():
    cfg = load_config(overrides=["weights.audio=0.7", "media.analysis_fps=2", "detect.backend=classic", "detect.weights=null"])
    assert cfg.weights.audio == pytest.approx(0.7)
    assert cfg.media.analysis_fps == 2.0
    assert cfg.detect.backend == "classic"
    assert cfg.detect.weights is None
    assert cfg.weights.motion == load_config().weights.motion


def test_config_file_needs_only_the_keys_that_differ(tmp_path):
    f = tmp_path / "fast.yaml"
    f.write_text("media:\n  analysis_fps: 2.5\n")
    cfg = load_config(f, ["media.analysis_width=320"])
    assert cfg.media.analysis_fps == 2.5
    assert cfg.media.analysis_width == 320
    assert cfg.media.audio_sr == load_config().media.audio_sr


@pytest.mark.parametrize(
    "override, needle",
    [
        ("weights.crowd=1", "weights.crowd"),
        ("nosuch.key=1", "nosuch"),
        ("media.analysis_fps=fast", "media.analysis_fps"),
        ("media.analysis_fps=-1", "media.analysis_fps"),
        ("detect.backend=magic", "detect.backend"),
        ("weights", "section.key=value"),
    ],
)
def test_bad_override_names_the_key(override, needle):
    with pytest.raises(ConfigError) as exc:
        load_config(overrides=[override])
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_unknown_key_in_file_is_named(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("media:\n  analysis_fsp: 5\n")
    with pytest.raises(ConfigError, match="media.analysis_fsp"):
        load_config(f)


def test_missing_and_invalid_config_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("media: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_config_round_trips_through_yaml(tmp_path):
    cfg = load_config(overrides=["weights.shots=0"])
    f = tmp_path / "effective.yaml"
    f.write_text(cfg.to_yaml())
    assert load_config(f) == cfg


def test_cli_config_error_is_one_line_with_exit_2(tmp_path, small_match):
    r = run_cli("synth", "-o", tmp_path / "x.mp4", "--size", "big")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "--size" in r.stderr


# ----------------------------------------------------------------------------- hardening

import resource  # noqa: E402

from pipeline.config import MAX_CONFIG_BYTES, PROFILES_DIR, with_updates  # noqa: E402

CONFIGS = [DEFAULT_CONFIG_PATH] + sorted(PROFILES_DIR.glob("*.yaml"))
# ~340 bytes that expand to 9**9 strings when aliases are resolved ("billion laughs")
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f'{c}: &{c} [{", ".join(["*" + p] * 9)}]\n' for p, c in zip("abcdefgh", "bcdefghi"))


def _message(path=None, *overrides: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(path, list(overrides))
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 300, msg
    return msg


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_profile_in_configs_loads(path):
    cfg = load_config(path)
    assert cfg.render.preset and cfg.signals.bin_s >= 0.05


def test_alias_bomb_in_config_file_is_refused_without_expanding_it(tmp_path):
    f = tmp_path / "bomb.yaml"
    f.write_text(BOMB)
    before = _rss_mib()
    msg = _message(f)
    assert "anchors" in msg and str(f) in msg
    assert _rss_mib() - before < 50


def test_alias_in_config_file_or_set_value_is_refused(tmp_path):
    f = tmp_path / "alias.yaml"
    f.write_text("weights:\n  audio: *a\n")
    assert "YAML aliases (*a) are not allowed" in _message(f)
    before = _rss_mib()
    bomb_value = "{" + BOMB.replace("\n", ", ") + "}"
    msg = _message(None, f"weights.audio={bomb_value}")
    assert "weights.audio" in msg and "anchors" in msg
    assert "YAML aliases (*best)" in _message(None, "detect.weights=*best")
    assert _rss_mib() - before < 50
    assert load_config(overrides=["detect.weights='*best'"]).detect.weights == "*best"


def test_config_file_that_is_not_a_small_regular_file_is_refused_unread(tmp_path):
    assert "not a regular file" in _message("/dev/zero")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "not a regular file" in _message(fifo)  # does not wait for a writer
    assert "is a directory" in _message(tmp_path)
    big = tmp_path / "big.yaml"
    big.write_text("#" * (MAX_CONFIG_BYTES + 1))
    assert "larger than" in _message(big)


@pytest.mark.parametrize("text", ["a: " + "[" * 100_000, "weights:\n  audio: " + "9" * 10_000])
def test_config_file_with_absurd_nesting_or_numbers_is_refused(tmp_path, text):
    f = tmp_path / "odd.yaml"
    f.write_text(text)
    assert str(f) in _message(f)


def test_error_messages_stay_short_for_huge_values():
    msg = _message(None, "render.preset=" + "x" * 100_000)
    assert "render.preset" in msg and len(msg) < 300
    assert "media.analysis_fps" in _message(None, "media.analysis_fps=" + "9" * 100_000)


def test_non_utf8_config_file_is_a_config_error(tmp_path):
    f = tmp_path / "latin1.yaml"
    f.write_bytes(b"media:\n  analysis_fps: 5 # \xff\xfe\n")
    assert f"config file {f} is not UTF-8 text" in _message(f)


@pytest.mark.parametrize(
    "override, needle",
    [
        ("weights.audio=-0.1", "weights.audio"),
        ("signals.audio.column_weights.roar=-1", "signals.audio.column_weights.roar"),
        ("signals.motion.column_weights.pan=-1", "signals.motion.column_weights.pan"),
        ("signals.min_scale.audio_roar=-2", "signals.min_scale.audio_roar"),
        ("pitch.grass_hsv_lo=[200,50,40]", "pitch.grass_hsv_lo"),
        ("pitch.grass_hsv_hi=[90,256,255]", "pitch.grass_hsv_hi"),
        ("pitch.grass_hsv_lo=[95,50,40]", "pitch.grass_hsv_hi"),
        ("segments.max_len_s=5", "'segments.max_len_s' (5) must be >= segments.min_len_s (6)"),
        ("signals.bin_s=0.001", "signals.bin_s"),
        ("weights.motion=0", None),
    ],
)
def test_values_that_quietly_degrade_results_are_refused(override, needle):
    if needle is None:  # all groups off: nothing would score
        assert "weights" in _message(None, override, "weights.audio=0", "weights.shots=0")
    else:
        assert needle in _message(None, override)


def test_unknown_column_in_a_dict_from_config_file_names_the_full_key(tmp_path):
    f = tmp_path / "cw.yaml"
    f.write_text("signals:\n  audio:\n    column_weights:\n      lodness: 1.0\n")
    assert "signals.audio.column_weights.lodness" in _message(f)
    f.write_text("signals:\n  min_scale:\n    shots_cut: 1.0\n")
    assert "signals.min_scale.shots_cut" in _message(f)
    assert "signals.audio.column_weights.lodness" in _message(None, "signals.audio.column_weights={lodness: 2}")


def test_a_dict_given_in_part_keeps_the_other_defaults(tmp_path):
    f = tmp_path / "cw.yaml"
    f.write_text("signals:\n  audio:\n    column_weights:\n      roar: 2.0\n")
    default = load_config().signals.audio.column_weights
    for cfg in (load_config(f), load_config(overrides=["signals.audio.column_weights={roar: 2}"])):
        assert cfg.signals.audio.column_weights == {**default, "roar": 2.0}


@pytest.mark.parametrize(
    "override",
    ["weights.audio=.inf", "media.max_duration_s=.inf", "segments.target_duration_s=nan",
     "segments.target_duration_s=.nan", "cascade.min_z=-.inf", "segments.min_score=.nan",
     "signals.audio.column_weights.voice=.inf", "signals.min_scale.motion_pan=.nan"],
)
def test_nan_and_inf_are_refused_up_front(override):
    key = override.partition("=")[0]
    msg = _message(None, override)
    assert key in msg and "finite" in msg


def test_min_score_and_min_z_take_any_finite_value():
    cfg = load_config(overrides=["segments.min_score=-1e9", "cascade.min_z=-3"])
    assert cfg.segments.min_score == -1e9 and cfg.cascade.min_z == -3


@pytest.mark.parametrize(
    "overrides, needle",
    [
        (["signals.audio.hop_length=4096"], "signals.audio.n_fft"),
        (["signals.audio.voice_fmin_hz=800"], "signals.audio.voice_fmax_hz"),
        (["signals.audio.fmin_hz=8000"], "signals.audio.fmax_hz"),
        (["media.audio_sr=8000"], "'signals.audio.fmax_hz' (8000) must be <= media.audio_sr / 2 (4000 Hz)"),
        (["signals.audio.voice_fmax_hz=12000"], "signals.audio.voice_fmax_hz"),
        (["render.preset=p4"], "render.preset"),
        (["segments.min_pre_s=38"], "segments.min_pre_s + segments.min_post_s"),
        (["signals.motion.sprint_mps=20"], "signals.motion.max_speed_mps"),
        (["signals.shots.medium_min_grass=0.9"], "signals.shots.wide_min_grass"),
    ],
)
def test_cross_field_rules_name_both_keys(overrides, needle):
    assert needle in _message(None, *overrides)


def test_cross_field_rules_accept_consistent_changes():
    cfg = load_config(overrides=["media.audio_sr=16000", "signals.audio.hop_length=2048",
                                 "render.codec=h264_nvenc", "render.preset=slow"])
    assert cfg.signals.audio.fmax_hz == 8000 and cfg.render.preset == "slow"


def test_cli_refuses_a_bad_value_with_exit_2(tmp_path):
    r = run_cli("analyze", tmp_path / "missing.mp4", "-o", tmp_path / "o", "--set", "weights.audio=.inf")
    assert r.returncode == 2, r.stderr
    assert "weights.audio" in r.stderr and "Traceback" not in r.stderr


def test_with_updates_revalidates():
    cfg = load_config()
    new = with_updates(cfg, **{"segments.target_duration_s": 90.0})
    assert new.segments.target_duration_s == 90.0 and cfg.segments.target_duration_s is None
    assert with_updates(cfg, segments__target_duration_s=60).segments.target_duration_s == 60
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ConfigError, match="segments.target_duration_s"):
            with_updates(cfg, **{"segments.target_duration_s": bad})
    with pytest.raises(ConfigError, match="segments.max_len_s"):
        with_updates(cfg, segments__max_len_s=3)
    with pytest.raises(ConfigError, match="segments.nope"):
        with_updates(cfg, segments__nope=3)


def test_from_dict_refuses_unknown_columns_and_bad_values_too():
    from pipeline.config import from_dict

    d = load_config().to_dict()
    d["signals"]["audio"]["column_weights"]["lodness"] = 1.0
    with pytest.raises(ConfigError, match=r"unknown config key 'signals.audio.column_weights.lodness'; .* roar"):
        from_dict(d)
    d = load_config().to_dict()
    d["segments"]["min_len_s"] = 50.0
    with pytest.raises(ConfigError, match=r"'segments.max_len_s' \(40\) must be >= segments.min_len_s \(50\)"):
        from_dict(d)


def test_a_config_file_with_the_old_grass_keys_still_loads_and_says_where_they_went(tmp_path, caplog):
    """An output folder's config.yaml from an earlier version (rescore reads it) keeps working."""
    f = tmp_path / "old.yaml"
    f.write_text("signals:\n  shots:\n    grass_hsv_lo: [30, 40, 40]\n")
    with caplog.at_level("WARNING"):
        cfg = load_config(f)
    assert cfg.pitch.grass_hsv_lo == (30, 40, 40)
    assert "signals.shots.grass_hsv_lo is now pitch.grass_hsv_lo" in caplog.text and str(f) in caplog.text
    # typed on the command line, the old key is an error that names the new one
    assert _message(None, "signals.shots.grass_hsv_lo=[30,40,40]") == \
        "config key signals.shots.grass_hsv_lo is now pitch.grass_hsv_lo"
