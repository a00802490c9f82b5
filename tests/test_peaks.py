"""pipeline.peaks.find_peaks gives scipy.signal.find_peaks' peaks for the conditions the
pipeline uses (prominence, distance), on random curves with plateaus, ties and infinities."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import find_peaks as scipy_find_peaks

from pipeline.peaks import find_peaks


@st.composite
def curves(draw):
    n = draw(st.integers(0, 300))
    levels = draw(st.integers(2, 40))  # few levels: plateaus and equal heights are common
    x = np.asarray(draw(st.lists(st.integers(0, levels), min_size=n, max_size=n)), float) / 4
    if draw(st.booleans()) and n:
        x = np.r_[-np.inf, x, -np.inf]  # as the cascade pads its curve
    return x


@settings(max_examples=400, deadline=None)
@given(x=curves(), prominence=st.one_of(st.none(), st.floats(0, 3)), distance=st.one_of(st.none(), st.floats(1, 30)))
def test_same_peaks_as_scipy(x, prominence, distance):
    ours, props = find_peaks(x, prominence=prominence, distance=distance)
    theirs, tprops = scipy_find_peaks(x, prominence=prominence, distance=distance)
    assert ours.tolist() == theirs.tolist()
    if prominence is not None:
        np.testing.assert_allclose(props["prominences"], tprops["prominences"])


def test_smoothed_real_like_curve():
    rng = np.random.default_rng(0)
    x = np.convolve(rng.normal(size=5000), np.ones(8) / 8, "same")
    for prom, dist in ((0.5, 12), (0.1, None), (None, 3)):
        assert find_peaks(x, prominence=prom, distance=dist)[0].tolist() == \
            scipy_find_peaks(x, prominence=prom, distance=dist)[0].tolist()


@settings(max_examples=300, deadline=None)
@given(x=st.lists(st.one_of(st.floats(-50, 50), st.sampled_from([0.0, 1.5])), max_size=200),
       size=st.integers(1, 40))
def test_moving_mean_is_scipys_uniform_filter(x, size):
    """The smoothing selection and the cascade use: equal to SciPy's bit for bit (flat
    stretches, which the peak finder reads as plateaus, stay exactly flat)."""
    from scipy.ndimage import uniform_filter1d

    from pipeline.peaks import moving_mean

    x = np.asarray(x, float)
    ours = moving_mean(x, size)
    if len(x):
        assert np.array_equal(ours, uniform_filter1d(x, size, mode="nearest"))
    else:
        assert len(ours) == 0
