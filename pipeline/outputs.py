"""Output folders and atomic writes shared by every command that writes results.

Every file is written to a temp file in the same folder and renamed into place, so a run
killed at any moment leaves either the old file, the new file, or nothing: never a half
file that looks complete. An output folder the tool did not create is not written into
without `force`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from .errors import OutputError

MARKER = ".highlights-output"


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
    clean_stale_temps(out)
    return out


def clean_stale_temps(out: Path) -> list[Path]:
    """Remove temp files a killed run left behind (they all start with '.' and end in .tmp*)."""
    removed = []
    for p in out.rglob(".*"):
        if p.is_file() and (p.suffix == ".tmp" or ".tmp" in p.name or ".part" in p.name) and p.name != MARKER:
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
