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


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)`, then rename tmp onto `path`; the temp file never survives."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write in {path.parent}: {exc.strerror}") from None
    tmp = Path(name)
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
    """Create OUT, or accept one this tool made before; refuse a foreign non-empty folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists() and not force:
        raise OutputError(f"{out} exists and was not made by highlights; use --force to write into it")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).touch()
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK):
        raise OutputError(f"{out} is not writable")
    _lock(out)
    clean_stale_temps(out)  # safe now: no other process is writing here
    return out


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


_TEMP_NAME = re.compile(r"(\.tmp$|\.tmp\.|\.tmpTEMP_MPY|^\..+\.part\d+\.mp4$)")


def is_temp_name(name: str) -> bool:
    """Names the writers of this package give their temp files: `*.tmp`, `*.tmp.<ext>`
    (mkstemp names such as `.reel.k3j2h1x0.tmp.mp4`), and moviepy's audio temp beside them."""
    return name != MARKER and bool(_TEMP_NAME.search(name))


def clean_stale_temps(out: Path) -> list[Path]:
    """Remove temp files a killed run left behind (SIGKILL, power cut: no `finally` ran).

    Temp files never look like outputs (their names hold `.tmp`), so this is tidiness and
    disk space, not correctness: a half-written file is never mistaken for a result.
    """
    removed = []
    for p in out.rglob("*"):
        if p.is_file() and is_temp_name(p.name):
            try:
                p.unlink()
            except OSError:  # gone already, or not ours to remove: leave it
                continue
            removed.append(p)
    return removed


def _reel_key(doc: Any) -> tuple | None:
    try:
        chosen = [(round(float(s["start"]), 3), round(float(s["end"]), 3)) for s in doc["segments"] if s.get("selected")]
        return doc["input"]["fingerprint"], tuple(chosen)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def drop_stale_reel(out: str | os.PathLike, new_segments_doc: dict, reel_name: str = "reel.mp4") -> bool:
    """Remove OUT/reel.mp4 before a segments.json with another input or selection replaces
    the one it was rendered from: a reel that no longer matches the evidence must not stay
    beside it (a later render, or an interrupted one, would otherwise leave it lying)."""
    out = Path(out)
    reel = out / reel_name
    if not reel.exists():
        return False
    try:
        old = json.loads((out / "segments.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    old_key = _reel_key(old)
    if old_key is not None and old_key == _reel_key(new_segments_doc):
        return False
    try:
        reel.unlink()
    except OSError as exc:
        raise OutputError(f"cannot remove the outdated {reel}: {exc.strerror}") from None
    return True


def disk_full(folder: str | os.PathLike, probe_bytes: int = 256 * 1024) -> bool:
    """True when `folder` cannot take `probe_bytes` more: tells a failed external writer
    (ffmpeg reporting only a broken pipe or a missing moov) apart from other failures."""
    try:
        fd, name = tempfile.mkstemp(prefix=".space.", suffix=".tmp", dir=folder)
    except OSError as exc:
        return exc.errno == 28
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(b"\0" * probe_bytes)
            f.flush()
            os.fsync(f.fileno())
        return False
    except OSError as exc:
        return exc.errno == 28
    finally:
        Path(name).unlink(missing_ok=True)
