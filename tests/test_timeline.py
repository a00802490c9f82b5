"""Timeline assembly: robust normalisation, explicit gaps, parquet + csv round trip, cache key."""

from __future__ import annotations

import dataclasses

import csv

import numpy as np
import pytest

from pipeline.signals.timeline import (
    bin_index, build_timeline, n_bins, read_timeline, robust_z, write_timeline,
)


def _timeline():
    rng = np.random.default_rng(0)
    n = 40
    loud = rng.normal(0, 1.0, n)
    loud[20:24] += 12.0  # a roar
    loud[5] = np.nan  # a gap
    cut = np.zeros(n)
    cut[8] = 1
    cols = {"audio_loudness": loud, "shots_cut": cut}
    meta = {"shots": {"cuts_s": [4.25]}, "audio": {"gap": None}}
    return build_timeline(20.0, 0.5, cols, meta, clip_z=6.0, min_scale={"audio_loudness": 2.0})


def test_bins_cover_duration_with_partial_last_bin():
    assert n_bins(21.04, 0.5) == 43
    assert n_bins(20.0, 0.5) == 40
    idx = bin_index(np.array([-0.1, 0.0, 0.49, 0.5, 19.99, 20.0]), 0.5, 40)
    assert idx.tolist() == [-1, 0, 0, 1, 39, -1]


def test_normalised_columns_are_robust_z_and_others_pass_through():
    tl = _timeline()
    z = tl.columns["audio_loudness"]
    assert np.isnan(z[5]), "a gap must stay a gap, not become calm play"
    assert np.nanmin(z[20:24]) > 3.0, "the roar stands out"
    assert np.nanmax(np.abs(z[np.r_[0:5, 6:20, 24:40]])) < 2.0, "normal noise stays near 0"
    assert np.nanmax(z) <= 6.0
    assert tl.columns["shots_cut"][8] == 1.0 and tl.columns["shots_cut"].sum() == 1.0
    assert tl.raw["audio_loudness"][21] > 8.0, "raw dB kept for the reason text"
    assert tl.meta["norm"]["audio_loudness"]["scale"] >= 2.0


def test_min_scale_keeps_a_flat_signal_flat():
    flat = -35.0 + np.random.default_rng(1).normal(0, 0.2, 100)
    z, _, scale = robust_z(flat, min_scale=2.0, clip_z=6.0)
    assert scale == 2.0
    assert np.max(np.abs(z)) < 1.0


def test_all_nan_column_stays_nan():
    tl = build_timeline(5.0, 0.5, {"audio_roar": np.full(10, np.nan)}, None, clip_z=6.0, min_scale={"audio_roar": 2.0})
    assert np.isnan(tl.columns["audio_roar"]).all()


def test_write_read_round_trip_and_csv_contract(tmp_path):
    tl = _timeline()
    paths = write_timeline(tl, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["timeline.csv", "timeline.parquet"], "no temp files left"
    with open(paths["csv"], newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["t", "audio_loudness", "shots_cut"]
    assert len(rows) == 1 + 40
    assert rows[1 + 5][1] == "", "gaps are empty cells, not zeros"
    assert float(rows[1 + 3][0]) == 1.5
    back = read_timeline(tmp_path)
    assert back.bin_s == 0.5
    assert np.array_equal(back.t_s, tl.t_s)
    for k in tl.columns:
        assert np.allclose(back.columns[k], tl.columns[k], equal_nan=True)
    assert np.allclose(back.raw["audio_loudness"], tl.raw["audio_loudness"], equal_nan=True)
    assert back.meta["shots"]["cuts_s"] == [4.25]
    # The typed contract survives the round trip: cuts, replays, windows, notes, length.
    tl = dataclasses.replace(tl, cuts_s=[4.25], replays=[(10.0, 14.5)], analysed_windows=[(0.0, 15.0)], notes=["a note"])
    write_timeline(tl, tmp_path)
    back = read_timeline(tmp_path)
    assert (back.cuts_s, back.replays, back.analysed_windows, back.notes) == ([4.25], [(10.0, 14.5)], [(0.0, 15.0)], ["a note"])
    assert back.duration_s == tl.duration_s and "cuts" not in back.meta and "raw" not in back.meta
    # overwrite in place works (atomic replace)
    write_timeline(tl, tmp_path)
    assert read_timeline(tmp_path / "timeline.parquet").columns.keys() == tl.columns.keys()


def test_bad_column_name_is_refused():
    with pytest.raises(ValueError):
        build_timeline(1.0, 0.5, {"loudness": np.zeros(2)}, None, clip_z=6.0, min_scale={})


def test_cache_key_depends_on_input_and_config():
    from pipeline.cache import key_of

    a = key_of("abc", {"signals": {"bin_s": 0.5}})
    assert a == key_of("abc", {"signals": {"bin_s": 0.5}})
    assert a != key_of("abd", {"signals": {"bin_s": 0.5}})
    assert a != key_of("abc", {"signals": {"bin_s": 1.0}})
