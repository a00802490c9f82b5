"""Assemble per-bin signal columns into one `Timeline`, normalise them, store and reload it.

Takes raw columns (real units, one value per bin) from the audio, shots and motion stages;
gives a `Timeline` whose listed columns are robust z-scores against the match's own baseline
(raw copies kept in `Timeline.raw` for reason texts), written as parquet plus `timeline.csv`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..outputs import atomic_write
from ..types import Timeline

PARQUET_NAME = "timeline.parquet"
CSV_NAME = "timeline.csv"
_RAW_PREFIX = "raw."
_META_KEY = b"timeline_meta"
_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


def n_bins(duration_s: float, bin_s: float) -> int:
    """Number of bins covering [0, duration_s): the last bin may be partial."""
    if bin_s <= 0:
        raise ValueError(f"bin_s must be positive, got {bin_s}")
    if duration_s <= 0:
        return 0
    return max(int(math.ceil(duration_s / bin_s - 1e-9)), 1)


def bin_starts(duration_s: float, bin_s: float) -> np.ndarray:
    """Start time (s) of every bin."""
    return np.arange(n_bins(duration_s, bin_s), dtype=np.float64) * bin_s


def bin_index(t_s: np.ndarray, bin_s: float, n: int) -> np.ndarray:
    """Bin of each time; -1 for times outside [0, n * bin_s)."""
    idx = np.floor(np.asarray(t_s, np.float64) / bin_s + 1e-9).astype(np.int64)
    idx[(idx < 0) | (idx >= n)] = -1
    return idx


def robust_z(x: np.ndarray, min_scale: float, clip_z: float) -> tuple[np.ndarray, float, float]:
    """(x - median) / max(1.4826 * MAD, min_scale), clipped to +/- clip_z; NaN stays NaN.

    The floor `min_scale` (raw units) keeps a flat match flat: without it, the tiny
    fluctuations of a constant crowd bed would be scaled up into the same z as a roar.
    Returns (z, median, scale).
    """
    x = np.asarray(x, np.float64)
    finite = np.isfinite(x)
    if not finite.any():
        return np.full_like(x, np.nan), float("nan"), float(min_scale)
    med = float(np.median(x[finite]))
    mad = float(np.median(np.abs(x[finite] - med)))
    scale = max(_MAD_TO_SIGMA * mad, float(min_scale), 1e-12)
    z = np.clip((x - med) / scale, -clip_z, clip_z)
    return z, med, scale


def build_timeline(
    duration_s: float,
    bin_s: float,
    columns: Mapping[str, np.ndarray],
    meta: Mapping[str, Any] | None = None,
    *,
    clip_z: float,
    min_scale: Mapping[str, float],
) -> Timeline:
    """One row per bin; columns named in `min_scale` become robust z-scores, others pass.

    Parameters
    ----------
    columns : "<group>_<name>" -> per-bin values in raw units (NaN = gap). Arrays shorter or
        longer than the bin count are padded with NaN / cut.
    meta : per-group diagnostics (units, gap reasons), copied into `Timeline.meta`; its
        contract keys become the typed fields (see `split_meta`).
    clip_z : z-scores are clipped to +/- this.
    min_scale : column -> floor of the robust scale in raw units; only these are normalised.

    Returns a Timeline with `raw` (raw copies of the normalised columns) and
    `meta["norm"]` ({column: {"median", "scale"}}) so reasons can quote real units.
    """
    n = n_bins(duration_s, bin_s)
    out: dict[str, np.ndarray] = {}
    raw: dict[str, np.ndarray] = {}
    norm: dict[str, dict[str, float]] = {}
    for name in sorted(columns):
        if "_" not in name:
            raise ValueError(f"column {name!r} must be named <group>_<name>")
        values = np.full(n, np.nan, np.float64)
        src = np.asarray(columns[name], np.float64).reshape(-1)[:n]
        values[: len(src)] = src
        if name in min_scale:
            z, med, scale = robust_z(values, min_scale[name], clip_z)
            out[name] = z
            raw[name] = values
            norm[name] = {"median": med, "scale": scale}
        else:
            out[name] = values
    full_meta = dict(meta or {})
    full_meta["norm"] = norm
    full_meta.pop("raw", None)
    full_meta.pop("duration_s", None)
    return Timeline(bin_s=float(bin_s), t_s=bin_starts(duration_s, bin_s), columns=out, raw=raw,
                    length_s=float(duration_s), **split_meta(full_meta))


# Contract keys of the on-disk header: typed field <- header key.
_FIELDS = {"cuts_s": "cuts", "replays": "replays", "analysed_windows": "windows", "notes": "notes",
           "scorebug": "scorebug"}


def split_meta(meta: dict) -> dict:
    """`meta` (changed in place: the contract keys go) -> the typed fields and what is left
    as `meta` (the diagnostics), as keyword arguments of `Timeline`."""
    fields: dict[str, Any] = {
        "cuts_s": [float(c) for c in meta.pop("cuts", None) or []],
        "replays": [(float(a), float(b)) for a, b in meta.pop("replays", None) or []],
        "analysed_windows": [(float(a), float(b)) for a, b in w] if (w := meta.pop("windows", None)) else None,
        "notes": [str(n) for n in meta.pop("notes", None) or []],
        "scorebug": dict(meta.pop("scorebug", None) or {}),
    }
    return fields | {"meta": meta}


def joined_meta(timeline: Timeline) -> dict:
    """The header as written: `meta` with the typed fields back under their keys."""
    out = dict(timeline.meta)
    for name, key in _FIELDS.items():
        value = getattr(timeline, name)
        if value is not None:
            out[key] = [list(v) for v in value] if name in ("replays", "analysed_windows") else value
    if timeline.length_s is not None:
        out["duration_s"] = float(timeline.length_s)
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def timeline_csv_text(timeline: Timeline, extra: Mapping[str, np.ndarray] | None = None) -> str:
    """`t`, then the `<group>_<name>` columns in order, then `extra` (e.g. `score`); NaN = empty."""
    names = list(timeline.columns)
    extra = dict(extra or {})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["t", *names, *extra])
    cols = [timeline.columns[k] for k in names] + [np.asarray(v, np.float64) for v in extra.values()]
    for i, t in enumerate(timeline.t_s):
        row = [f"{t:.3f}"]
        for c in cols:
            v = float(c[i])
            row.append("" if not math.isfinite(v) else f"{v:.4f}")
        w.writerow(row)
    return buf.getvalue()


def write_timeline(timeline: Timeline, out_dir: str | os.PathLike, *, csv_file: bool = True) -> dict[str, Path]:
    """Write `timeline.parquet` (normalised + raw columns, meta as JSON) and `timeline.csv`.

    Both writes are atomic. Returns {"parquet": path, "csv": path (when written)}.
    """
    out = Path(out_dir)
    meta = joined_meta(timeline)
    raw = timeline.raw or {}
    arrays = {"t": pa.array(np.asarray(timeline.t_s, np.float64))}
    for name, values in timeline.columns.items():
        arrays[name] = pa.array(np.asarray(values, np.float64))
    for name, values in raw.items():
        arrays[_RAW_PREFIX + name] = pa.array(np.asarray(values, np.float64))
    header = {"bin_s": timeline.bin_s, "meta": _jsonable(meta)}
    table = pa.table(arrays).replace_schema_metadata({_META_KEY: json.dumps(header).encode()})
    paths = {"parquet": out / PARQUET_NAME}
    atomic_write(paths["parquet"], lambda tmp: pq.write_table(table, tmp))
    if csv_file:
        text = timeline_csv_text(timeline)
        paths["csv"] = out / CSV_NAME
        atomic_write(paths["csv"], lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return paths


def read_timeline(path: str | os.PathLike) -> Timeline:
    """Load a timeline written by `write_timeline` (the parquet file or its folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / PARQUET_NAME
    table = pq.read_table(p)
    md = table.schema.metadata or {}
    header = json.loads(md.get(_META_KEY, b"{}"))
    meta = dict(header.get("meta") or {})
    columns: dict[str, np.ndarray] = {}
    raw: dict[str, np.ndarray] = {}
    for name in table.column_names:
        if name == "t":
            continue
        values = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        if name.startswith(_RAW_PREFIX):
            raw[name[len(_RAW_PREFIX):]] = values
        else:
            columns[name] = values
    meta.pop("raw", None)
    length = meta.pop("duration_s", None)
    t_s = table.column("t").to_numpy(zero_copy_only=False).astype(np.float64)
    return Timeline(bin_s=float(header.get("bin_s", t_s[1] - t_s[0] if len(t_s) > 1 else 0.5)),
                    t_s=t_s, columns=columns, raw=raw, length_s=float(length) if length is not None else None,
                    **split_meta(meta))
