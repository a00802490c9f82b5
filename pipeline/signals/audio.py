"""Crowd and commentary excitement from the soundtrack, per timeline bin.

Takes mono float32 chunks (streamed: only the features of the bin being filled are kept,
never the waveform); gives raw per-bin columns `audio_loudness` (dB over a rolling baseline),
`audio_roar` (sustained broadband bed, dB over its baseline), `audio_voice` (commentator
pitch rise, semitones) and `audio_onsets` (per second).
"""

from __future__ import annotations

from typing import Iterable

import librosa
import numpy as np
import scipy.fft
import scipy.ndimage

from .timeline import n_bins

COLUMNS = ("audio_loudness", "audio_roar", "audio_voice", "audio_onsets")
UNITS = {
    "audio_loudness": "dB over baseline",
    "audio_roar": "dB over baseline",
    "audio_voice": "semitones over baseline",
    "audio_onsets": "onsets/s",
}
# Columns averaged into the excitement curve that audio peaks are picked on. Onsets are
# left out: dense onsets are as often fast talk as excitement.
_VOICE_MAX_HZ = 2000.0  # pitch autocorrelation uses the spectrum below this (voice harmonics)
_VOICED_MIN_SHARE = 0.2  # a bin with fewer voiced frames has no voice pitch
_EPS = 1e-12


def _rolling_nanmedian(x: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling median ignoring NaN; window in samples (made odd)."""
    n = len(x)
    if n == 0:
        return x.copy()
    window = max(1, min(window, 2 * n - 1)) | 1
    half = window // 2
    padded = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    view = np.lib.stride_tricks.sliding_window_view(padded, window)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(view, axis=1)


class AudioAnalyzer:
    """Streaming feature extractor: `update(t0_s, samples)` per chunk, then `finish()`.

    State is bounded: the unframed tail of the last chunk and the frame features of bins not
    yet complete (at most one bin plus one chunk's frames), plus a few floats per bin.
    """

    def __init__(self, sr: int, duration_s: float, cfg, bin_s: float) -> None:
        """`cfg`: the `signals.audio` section; `bin_s`: the timeline's bin."""
        a = cfg
        if sr <= 0:
            raise ValueError(f"sr must be positive, got {sr}")
        if a.hop_length > a.n_fft:
            raise ValueError("hop_length must not exceed n_fft")
        self.sr, self.cfg, self.bin_s = sr, a, float(bin_s)
        self.n = n_bins(duration_s, self.bin_s)
        self.n_fft, self.hop = a.n_fft, a.hop_length
        self.window = librosa.filters.get_window("hann", self.n_fft, fftbins=True).astype(np.float32)
        self.mel_fb = librosa.filters.mel(sr=sr, n_fft=self.n_fft, n_mels=a.n_mels, fmin=a.fmin_hz,
                                          fmax=min(a.fmax_hz, sr / 2))
        freqs = np.fft.rfftfreq(self.n_fft, 1.0 / sr)
        self.voice_band = freqs <= _VOICE_MAX_HZ
        # The bed is read between a voice's harmonics: wider than their spacing (the pitch),
        # so each frame's lowest power over this width is the crowd under the commentator.
        self.valley_bins = max(int(round(a.bed_valley_hz / (sr / self.n_fft))), 1) | 1
        # Autocorrelation of the window itself: dividing by it removes the taper's bias
        # (Boersma 1993), so a periodic frame scores near 1 at its period.
        acw = np.fft.irfft(np.abs(np.fft.rfft(self.window)) ** 2, self.n_fft)
        self.acw = np.maximum(acw / acw[0], 1e-3)
        self.lag_lo = max(int(sr / a.voice_fmax_hz), 2)
        self.lag_hi = min(int(sr / a.voice_fmin_hz), self.n_fft // 2)
        self._tail = np.zeros(0, np.float32)
        self._tail_start = 0  # global sample index of _tail[0]
        self._prev_logmel: np.ndarray | None = None
        self._pending: dict[str, np.ndarray] | None = None
        # per-bin results
        self.power = np.full(self.n, np.nan)
        self.bed_power = np.full(self.n, np.nan)
        self.onsets = np.full(self.n, np.nan)
        self.voiced = np.full(self.n, np.nan)
        self.pitch_st = np.full(self.n, np.nan)
        self.samples_seen = 0

    # -- per-frame features -------------------------------------------------------------
    def _frame_features(self, frames: np.ndarray, t_s: np.ndarray) -> dict[str, np.ndarray]:
        # scipy.fft keeps float32 and splits the frames over the cores: 2-3x numpy's rfft here.
        x = frames * self.window
        spec = scipy.fft.rfft(x, axis=1, workers=-1)
        power = (spec.real**2 + spec.imag**2).astype(np.float32)  # (F, n_fft/2+1)
        mel = power @ self.mel_fb.T  # (F, n_mels)
        logmel = 10.0 * np.log10(mel + _EPS)
        valley = scipy.ndimage.minimum_filter1d(power, self.valley_bins, axis=1, mode="nearest")
        bedmel = 10.0 * np.log10(valley @ self.mel_fb.T + _EPS)
        prev = self._prev_logmel if self._prev_logmel is not None else logmel[:1]
        flux = np.maximum(np.diff(np.vstack([prev, logmel]), axis=0), 0.0).mean(axis=1)
        self._prev_logmel = logmel[-1:]
        # Periodicity: normalised autocorrelation from the low band of the power spectrum.
        vp = np.where(self.voice_band, power, 0.0)
        ac = scipy.fft.irfft(vp, self.n_fft, axis=1, workers=-1)[:, : self.lag_hi + 2]
        r = ac / np.maximum(ac[:, :1], _EPS) / self.acw[: ac.shape[1]]
        seg = r[:, self.lag_lo : self.lag_hi + 1]
        rmax = seg.max(axis=1)
        # Shortest lag whose local peak is within 10 % of the best: avoids octave-down errors.
        inner = seg[:, 1:-1]
        is_peak = (inner >= seg[:, :-2]) & (inner >= seg[:, 2:]) & (inner >= 0.9 * rmax[:, None])
        first = np.where(is_peak.any(axis=1), is_peak.argmax(axis=1) + 1, seg.argmax(axis=1))
        f0 = self.sr / (first + self.lag_lo)
        return {
            "t": t_s,
            "ms": np.mean(frames.astype(np.float64) ** 2, axis=1),
            "bedmel": bedmel,
            "flux": flux,
            "rmax": rmax,
            "pitch_st": 12.0 * np.log2(f0 / 100.0),
        }

    def _reduce_bin(self, b: int, f: dict[str, np.ndarray]) -> None:
        a = self.cfg
        self.power[b] = float(np.mean(f["ms"]))
        bed = np.percentile(f["bedmel"], a.bed_percentile, axis=0)  # per band, between the voice's harmonics
        self.bed_power[b] = float(np.mean(10.0 ** (bed / 10.0)))
        flux = f["flux"]
        if len(flux) >= 3:
            peak = (flux[1:-1] > flux[:-2]) & (flux[1:-1] >= flux[2:]) & (flux[1:-1] >= a.onset_delta_db)
            self.onsets[b] = float(peak.sum()) / self.bin_s
        else:
            self.onsets[b] = float(np.sum(flux >= a.onset_delta_db)) / self.bin_s
        voiced = f["rmax"] >= a.voiced_min
        self.voiced[b] = float(voiced.mean())
        if voiced.mean() >= _VOICED_MIN_SHARE:
            self.pitch_st[b] = float(np.median(f["pitch_st"][voiced]))

    def _flush(self, final: bool) -> None:
        p = self._pending
        if p is None or len(p["t"]) == 0:
            return
        bins = np.floor(p["t"] / self.bin_s).astype(np.int64)
        last_complete = bins.max() if final else bins.max() - 1
        done = bins <= last_complete
        if done.any():
            idx = bins[done]
            bounds = np.flatnonzero(np.diff(idx)) + 1
            starts = np.concatenate([[0], bounds])
            ends = np.concatenate([bounds, [len(idx)]])
            for s, e in zip(starts, ends):
                b = int(idx[s])
                if 0 <= b < self.n:
                    self._reduce_bin(b, {k: v[done][s:e] for k, v in p.items()})
        self._pending = {k: v[~done] for k, v in p.items()}

    # -- streaming API ------------------------------------------------------------------
    def update(self, t0_s: float, samples: np.ndarray) -> None:
        """Feed the next contiguous chunk (mono float32; t0_s is checked for gaps)."""
        y = np.asarray(samples, np.float32).reshape(-1)
        start = int(round(t0_s * self.sr))
        if start > self._tail_start + len(self._tail):  # a hole in the stream: pad with zeros
            y = np.concatenate([np.zeros(start - self._tail_start - len(self._tail), np.float32), y])
        buf = np.concatenate([self._tail, y])
        self.samples_seen += len(samples)
        if len(buf) < self.n_fft:
            self._tail = buf
            return
        n_frames = 1 + (len(buf) - self.n_fft) // self.hop
        # numpy's strided view, the same frames as librosa.util.frame: importing librosa.util
        # compiles its numba kernels, 13-18 s on the first run after an install.
        frames = np.lib.stride_tricks.sliding_window_view(buf[: (n_frames - 1) * self.hop + self.n_fft],
                                                          self.n_fft)[:: self.hop]
        t = (self._tail_start + np.arange(n_frames) * self.hop + self.n_fft / 2) / self.sr
        feats = self._frame_features(frames, t)
        if self._pending is None:
            self._pending = feats
        else:
            self._pending = {k: np.concatenate([self._pending[k], feats[k]]) for k in feats}
        consumed = n_frames * self.hop
        self._tail = buf[consumed:].copy()
        self._tail_start += consumed
        self._flush(final=False)

    def finish(self) -> tuple[dict[str, np.ndarray], dict]:
        """Columns in raw units (NaN = gap) and meta (units, raw levels, gaps)."""
        self._flush(final=True)
        a = self.cfg
        level_db = 10.0 * np.log10(self.power + _EPS)
        silent = ~(level_db >= a.silence_dbfs)  # NaN (never fed) counts as silent too
        level_db[silent] = np.nan
        bed_db = 10.0 * np.log10(self.bed_power + _EPS)
        bed_db[silent] = np.nan
        w = int(round(a.baseline_s / self.bin_s))
        loud = level_db - _rolling_nanmedian(level_db, w)
        roar = bed_db - _rolling_nanmedian(bed_db, w)
        pitch = self.pitch_st.copy()
        pitch[silent] = np.nan
        rise = pitch - _rolling_nanmedian(pitch, int(round(a.voice_baseline_s / self.bin_s)))
        # No voiced frames is no evidence of an excited voice, not a gap: 0 semitones.
        voice = np.where(np.isfinite(rise), rise, 0.0)
        voice[silent] = np.nan
        onsets = self.onsets.copy()
        onsets[silent] = np.nan
        columns = {"audio_loudness": loud, "audio_roar": roar, "audio_voice": voice, "audio_onsets": onsets}
        gap_share = float(silent.mean()) if self.n else 1.0
        meta = {
            "units": dict(UNITS),
            "level_dbfs": level_db,
            "silent_share": gap_share,
            "gap": "audio silent" if gap_share == 1.0 else None,
        }
        return columns, meta


def audio_signals(
    chunks: Iterable[tuple[float, np.ndarray]], sr: int, duration_s: float, cfg, bin_s: float
) -> tuple[dict[str, np.ndarray], dict]:
    """Per-bin audio columns from streamed chunks.

    Parameters
    ----------
    chunks : (t0_s, mono float32 samples), contiguous, sample i at t = i / sr.
    sr : sample rate in Hz.
    duration_s : length of the timeline (the video), s.
    cfg : the `signals.audio` section.
    bin_s : the timeline's bin, s.

    Returns (columns, meta): columns are `COLUMNS` in raw units (see `UNITS`), NaN in bins
    quieter than `silence_dbfs` (digital silence is a gap, not calm play).

    Example
    -------
    >>> track = media.audio(path, sr=cfg.media.audio_sr)
    >>> cols, meta = audio_signals(track.chunks(), track.sr, info.duration_s, cfg.signals.audio, cfg.signals.bin_s)
    """
    analyzer = AudioAnalyzer(sr, duration_s, cfg, bin_s)
    for t0_s, samples in chunks:
        analyzer.update(t0_s, samples)
    return analyzer.finish()


def missing_audio(duration_s: float, bin_s: float, reason: str) -> tuple[dict[str, np.ndarray], dict]:
    """All-NaN audio columns for a file without (usable) audio: an explicit gap."""
    n = n_bins(duration_s, bin_s)
    cols = {name: np.full(n, np.nan) for name in COLUMNS}
    return cols, {"units": dict(UNITS), "silent_share": 1.0, "gap": reason}
