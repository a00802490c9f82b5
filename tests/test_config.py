"""Config: defaults from configs/default.yaml, --config files, --set overrides, clear errors."""

from __future__ import annotations

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
