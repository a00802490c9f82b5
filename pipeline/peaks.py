"""The two 1-D curve operations selection and the cascade use, as SciPy answers them,
without importing SciPy's subpackages on the way to a selection:

- `find_peaks`: peaks by prominence and distance, `scipy.signal.find_peaks`' answer for
  those two conditions. SciPy 1.17 rewrites the docstring of every `scipy.signal` function
  when the package is imported, about 0.65 s of CPU on this project's machine: more than a
  fifth of a `highlights rescore`. The same algorithm follows, step for step (local maxima
  with plateaus at their middle, then the distance condition by height priority, then the
  prominence condition with an unbounded window).
- `moving_mean`: `scipy.ndimage.uniform_filter1d(mode="nearest")`, bit for bit (importing
  `scipy.ndimage` costs about 0.2 s).

`tests/test_peaks.py` checks both against SciPy on random curves.
"""

from __future__ import annotations

import math

import numpy as np


def _local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of local maxima; a flat top counts once, at its middle (rounded down)."""
    out = []
    i, i_max = 1, len(x) - 1
    while i < i_max:
        if x[i - 1] < x[i]:
            ahead = i + 1
            while ahead < i_max and x[ahead] == x[i]:
                ahead += 1
            if x[ahead] < x[i]:
                out.append((i + ahead - 1) // 2)
                i = ahead
        i += 1
    return np.asarray(out, dtype=np.intp)


def _by_distance(peaks: np.ndarray, heights: np.ndarray, distance: float) -> np.ndarray:
    """Keep the higher of peaks closer than `distance` samples (ties: scipy's argsort order)."""
    d = math.ceil(distance)
    keep = np.ones(len(peaks), dtype=bool)
    for j in np.argsort(heights)[::-1]:
        if not keep[j]:
            continue
        k = j - 1
        while k >= 0 and peaks[j] - peaks[k] < d:
            keep[k] = False
            k -= 1
        k = j + 1
        while k < len(peaks) and peaks[k] - peaks[j] < d:
            keep[k] = False
            k += 1
    return keep


def prominences(x: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Each peak's height above the higher of the lowest points on either side before the
    curve rises above the peak again (or the curve's end)."""
    out = np.empty(len(peaks))
    for n, p in enumerate(peaks):
        top = x[p]
        # the walk stops at the first sample not <= the peak (a higher one, or NaN)
        higher = np.flatnonzero(~(x[:p] <= top))
        lo = higher[-1] + 1 if len(higher) else 0
        higher = np.flatnonzero(~(x[p + 1:] <= top))
        hi = p + 1 + higher[0] if len(higher) else len(x)
        out[n] = top - max(x[lo:p + 1].min(), x[p:hi].min())
    return out


def find_peaks(x, prominence: float | None = None, distance: float | None = None) -> tuple[np.ndarray, dict]:
    """(peak indices, {"prominences": ...} when asked), as `scipy.signal.find_peaks(x,
    prominence=prominence, distance=distance)` gives them."""
    x = np.asarray(x, dtype=np.float64)
    peaks = _local_maxima(x)
    if distance is not None and len(peaks):
        if distance < 1:
            raise ValueError("`distance` must be greater or equal to 1")
        peaks = peaks[_by_distance(peaks, x[peaks], distance)]
    props: dict = {}
    if prominence is not None:
        prom = prominences(x, peaks)
        keep = prom >= prominence
        peaks, props["prominences"] = peaks[keep], prom[keep]
    return peaks, props


def moving_mean(x, size: int) -> np.ndarray:
    """`scipy.ndimage.uniform_filter1d(x, size, mode="nearest")`, bit for bit, without
    importing `scipy.ndimage` (about 0.2 s, a tenth of a `highlights rescore`).

    SciPy's filter keeps one running sum over the input extended by its edge values
    (`size // 2` before, `(size - 1) // 2` after): the first window's sum, then per step the
    entering value minus the leaving one, each sum divided by `size`. `np.add.accumulate`
    adds in the same order, so the rounding is the same and a flat stretch stays exactly
    flat (the peak finder reads it as one plateau)."""
    x = np.asarray(x, dtype=np.float64)
    size = int(size)
    if size < 1:
        raise ValueError(f"moving_mean: size must be at least 1, got {size}")
    if len(x) == 0:
        return x.copy()
    ext = np.pad(x, (size // 2, (size - 1) // 2), mode="edge")
    first = np.add.accumulate(ext[:size])[-1]
    return np.add.accumulate(np.r_[first, ext[size:] - ext[:-size]]) / size
