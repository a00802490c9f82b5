"""Two-pass analysis windows: on a long match the audio pass over the whole file picks the
stretches that get the full video pass (decode, detect, track, motion). Pure maths over the
audio columns, testable alone; `analysis.analyse_input` calls it.
"""

from __future__ import annotations

import numpy as np

from ..config import Config
from ..peaks import find_peaks, moving_mean
from .timeline import robust_z


def cascade_windows(audio_cols: dict[str, np.ndarray], duration_s: float, cfg: Config) -> list[tuple[float, float]]:
    """Windows for the full video pass, from the audio pass alone.

    Each audio column's robust z (loudness, roar bed, voice pitch) is smoothed over
    `cascade.smooth_s`, so a sustained roar stands out and a lone shout does not, and the
    highest of them is taken, so an excited commentator over a flat crowd counts as much as a
    roar. Every stretch where that reaches `cascade.min_z` opens a window, widened by the
    margins (the attack before a roar, the celebration after it). Windows cover at least
    `min_fraction` of the match: the next-highest peaks are added until they do, so a quiet
    broadcast still gets its loudest moments looked at.
    """
    c = cfg.cascade
    sc = cfg.signals
    bin_s = sc.bin_s
    zs = []
    for name in ("audio_loudness", "audio_roar", "audio_voice"):
        if name in audio_cols:
            z, _, _ = robust_z(audio_cols[name], sc.min_scale.get(name, 1.0), sc.clip_z)
            zs.append(z)
    if not zs:
        return [(0.0, duration_s)]
    size = max(int(round(c.smooth_s / bin_s)), 1)
    curve = np.max([moving_mean(np.nan_to_num(z, nan=0.0), size) for z in zs], axis=0)

    # Bins get the video pass; each chosen bin brings its margins along.
    n = len(curve)
    pre, post = int(np.ceil(c.margin_pre_s / bin_s)), int(np.ceil(c.margin_post_s / bin_s))
    analysed = np.zeros(n, bool)

    def choose(i: int) -> None:
        analysed[max(i - pre, 0): i + 1 + post] = True

    for i in np.flatnonzero(curve >= c.min_z):
        choose(int(i))
    peaks, _ = find_peaks(np.r_[-np.inf, curve, -np.inf])
    peaks = peaks - 1
    for i in peaks[np.argsort(-curve[peaks], kind="stable")]:
        if analysed.sum() * bin_s >= c.min_fraction * duration_s:
            break
        choose(int(i))
    edges = np.flatnonzero(np.diff(np.r_[0, analysed.astype(np.int8), 0]))
    return [(float(a * bin_s), float(min(b * bin_s, duration_s))) for a, b in zip(edges[::2], edges[1::2])]
