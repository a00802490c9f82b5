"""Output folders and atomic writes shared by every command that writes results.

Every file is written to a temp file in the same folder and renamed into place, so a run
killed at any moment leaves either the old file, the new file, or nothing: never a half
file that looks complete. An output folder the tool did not create is not written into
without `force`, and one folder is written by one process at a time (a lock on its marker).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

from .errors import OutputError

MARKER = ".highlights-output"
_LOCKS: dict[str, int] = {}  # output folders this process holds: resolved path -> open fd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


TEMP_TOKEN = "hl-tmp"  # in the name of every temp file this package writes, and only those
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\." + re.escape(TEMP_TOKEN) + r"(\.[A-Za-z0-9]+)*$")


def temp_path(target: str | os.PathLike, ext: str = "") -> Path:
    """A new empty temp file beside `target`, named `.<name>.<8 random>.hl-tmp<ext>`.

    Only names of this shape are removed by `clean_stale_temps`: a user's `x.tmp.mp4` or
    `.x.part1.mp4` is never mistaken for one of ours. `ext` keeps tools that choose a format
    by extension (ffmpeg, moviepy) happy: `.mp4`, `.part0.mp4`, `.m4a`.
    """
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".{TEMP_TOKEN}{ext}", dir=target.parent)
    os.close(fd)
    return Path(name)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)`, then rename tmp onto `path`; the temp file never survives."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(path)
    except OSError as exc:
        raise OutputError(f"cannot write in {path.parent}: {exc.strerror}") from None
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno == 28:
            raise OutputError(f"writing {path}: disk full") from None
        raise OutputError(f"writing {path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def finalize_mode(path: str | os.PathLike) -> None:
    """Give a file made by mkstemp (mode 0600) the usual permissions."""
    os.chmod(path, 0o666 & ~_umask())


def prepare_output_dir(out: str | os.PathLike, force: bool = False) -> Path:
    """Create OUT, or accept one this tool made before; refuse a foreign non-empty folder.
    Takes OUT's lock (one writer per folder) and removes temps a killed run left there."""
    out = Path(out)
    try:
        if out.exists() and not out.is_dir():
            raise OutputError(f"{out} exists and is not a folder")
        if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists() and not force:
            raise OutputError(f"{out} exists and was not made by highlights; use --force to write into it")
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).touch()
    except OSError as exc:
        raise OutputError(f"cannot create output folder {_short(out)}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK):
        raise OutputError(f"{out} is not writable")
    _lock(out)
    clean_stale_temps(out)  # safe now: no other process is writing here
    return out


def open_output_dir(out: str | os.PathLike) -> Path:
    """An existing output folder a command rewrites (rescore, render, report): it must be
    one highlights made, and its lock is taken, so no other run writes there meanwhile."""
    out = Path(out)
    try:
        made_here = (out / MARKER).is_file()
    except OSError as exc:
        raise OutputError(f"cannot open output folder {_short(out)}: {exc.strerror or exc}") from None
    if not made_here:
        raise OutputError(f"{out} holds no analysis (run `highlights run` or `analyze` first)")
    if not os.access(out, os.W_OK):
        raise OutputError(f"{out} is not writable")
    _lock(out)
    clean_stale_temps(out)
    return out


def _short(path: Path, limit: int = 120) -> str:
    s = str(path)
    return s if len(s) <= limit else s[: limit // 2] + "..." + s[-limit // 2:]


def _lock(out: Path) -> None:
    """Hold an exclusive lock on OUT's marker until `release_output_dir` (or the end of this
    process), so two runs (or two batches) into one folder cannot overwrite each other's
    files or remove each other's temp files; the second fails at once. The OS drops the lock
    when the process dies, however it dies."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return
    key = str(out.resolve())
    if key in _LOCKS:
        return
    fd = os.open(out / MARKER, os.O_RDONLY)  # flock needs no write access
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise OutputError(f"{out} is in use by another highlights process; wait for it to finish "
                          "or write to another folder") from None
    _LOCKS[key] = fd


def release_output_dir(out: str | os.PathLike | None = None) -> None:
    """Let other processes write to `out` again (every folder this process holds: None)."""
    keys = list(_LOCKS) if out is None else [str(Path(out).resolve())]
    for key in keys:
        fd = _LOCKS.pop(key, None)
        if fd is not None:
            os.close(fd)  # closing the last descriptor of the open file drops its flock


def is_temp_name(name: str) -> bool:
    """True for the names `temp_path` gives: `.<name>.<8 random>.hl-tmp[.<ext>...]`."""
    return name != MARKER and bool(_TEMP_NAME.match(name))


OWN_SUBFOLDERS = ("cache", "thumbs")  # folders of OUT that only this package writes into


def clean_stale_temps(out: Path) -> list[Path]:
    """Remove temp files a killed run left behind (SIGKILL, power cut: no `finally` ran).

    Only files named by `temp_path` go, in OUT itself and in the folders this package makes
    there (`cache/`, `thumbs/`); links are never followed, and a user's file is never
    removed because its name looks like a temp file (`x.tmp.mp4`, `.x.part1.mp4`). Temp files
    never look like outputs, so this is tidiness and disk space, not correctness.
    """
    out = Path(out)
    candidates: list[Path] = []
    try:
        candidates += [e for e in out.iterdir()]
    except OSError:
        return []
    for sub in OWN_SUBFOLDERS:
        root = out / sub
        if root.is_symlink() or not root.is_dir():
            continue
        for folder, dirs, files in os.walk(root, followlinks=False):
            candidates += [Path(folder) / f for f in files]
    removed = []
    for p in candidates:
        if is_temp_name(p.name) and p.is_file() and not p.is_symlink():
            try:
                p.unlink()
            except OSError:  # gone already, or not ours to remove: leave it
                continue
            removed.append(p)
    return removed


def record_output(out: str | os.PathLike, path: str | os.PathLike) -> None:
    """Note in OUT's marker that `path` (a file in OUT) is one this package wrote, with its
    size and time, so a later run may replace or remove it and never a user's file of the
    same name. The marker is rewritten in place: its inode carries the folder's lock."""
    out, path = Path(out), Path(path)
    ledger = _read_ledger(out)
    st = path.stat()
    ledger[_ledger_name(out, path)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    try:
        fd = os.open(out / MARKER, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"written": ledger}, f)
    except OSError as exc:
        raise OutputError(f"cannot update {out / MARKER}: {exc.strerror or exc}") from None


def _ledger_name(out: Path, path: Path) -> str:
    """A file's name in the ledger: its path inside OUT (reel.mp4, reels/final.mp4)."""
    try:
        return path.resolve().relative_to(out.resolve()).as_posix()
    except ValueError:
        return path.name


def _read_ledger(out: Path) -> dict:
    try:
        doc = json.loads((out / MARKER).read_text(encoding="utf-8") or "{}")
        ledger = doc.get("written", {}) if isinstance(doc, dict) else {}
        return ledger if isinstance(ledger, dict) else {}
    except (OSError, ValueError):
        return {}  # no ledger (older folder) or a torn one: nothing counts as ours


def written_here(out: str | os.PathLike, path: str | os.PathLike) -> bool:
    """True when `path` in OUT is the very file this package recorded writing there."""
    out, path = Path(out), Path(path)
    rec = _read_ledger(out).get(_ledger_name(out, path))
    try:
        st = path.stat()
    except OSError:
        return False
    return isinstance(rec, dict) and rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns


def _reel_key(doc: Any) -> tuple | None:
    try:
        chosen = [(round(float(s["start"]), 3), round(float(s["end"]), 3)) for s in doc["segments"] if s.get("selected")]
        return doc["input"]["fingerprint"], tuple(chosen)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


STALE_REEL = "reel.stale.mp4"


def set_aside_stale_reel(out: str | os.PathLike, new_segments_doc: dict, reel_name: str = "reel.mp4") -> Path | None:
    """Before a segments.json with another input or selection replaces the one OUT/reel.mp4
    was rendered from, rename that reel to OUT/reel.stale.mp4 (replacing an older one): a
    reel that no longer matches the evidence must not stand beside it under the name of
    the current reel, and is not deleted either. Only a reel this package wrote
    (`record_output`) is moved. Returns the stale reel's new path, or None."""
    out = Path(out)
    reel = out / reel_name
    if not reel.exists():
        return None
    try:
        old = json.loads((out / "segments.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    old_key = _reel_key(old)
    if old_key is not None and old_key == _reel_key(new_segments_doc):
        return None
    if not written_here(out, reel):
        return None  # a user's own reel.mp4 (a --force folder): never ours to move
    stale = out / STALE_REEL
    try:
        os.replace(reel, stale)
    except OSError as exc:
        raise OutputError(f"cannot set aside the outdated {reel}: {exc.strerror}") from None
    record_output(out, stale)
    return stale


def drop_stale_reel(out: str | os.PathLike) -> bool:
    """Remove OUT/reel.stale.mp4 (ours only) once OUT/reel.mp4 shows the current selection."""
    stale = Path(out) / STALE_REEL
    if stale.exists() and written_here(out, stale):
        stale.unlink()
        return True
    return False


def disk_full(folder: str | os.PathLike, probe_bytes: int = 256 * 1024) -> bool:
    """True when `folder` cannot take `probe_bytes` more: tells a failed external writer
    (ffmpeg reporting only a broken pipe or a missing moov) apart from other failures."""
    try:
        name = temp_path(Path(folder) / "space")
    except OSError as exc:
        return exc.errno == 28
    try:
        with open(name, "wb") as f:
            f.write(b"\0" * probe_bytes)
            f.flush()
            os.fsync(f.fileno())
        return False
    except OSError as exc:
        return exc.errno == 28
    finally:
        Path(name).unlink(missing_ok=True)
