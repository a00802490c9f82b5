"""Bounded fuzz of media I/O: mutated mp4 files give a result or a MediaError, nothing else.

A tiny generated clip (2 s, 160x90, h264 + aac) is mutated a few hundred times from a fixed
seed: bytes flipped, truncated, chunks duplicated, ranges zeroed, in both mp4 layouts (index
at the front and at the end). For each case `media.probe`, iterating `media.frames` and
`media.audio(...).chunks()` must either succeed or raise `pipeline.errors.MediaError`: no
other exception type, no crash of the interpreter, no hang (each case runs in a worker
process under a timeout). Failing cases are written to a folder and reported by seed so
they can be replayed.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import traceback
from pathlib import Path

import pytest

from .conftest import ffmpeg

CASES_PER_LAYOUT = 150  # 300 cases, about 15-25 s on 2 cores
CASE_TIMEOUT_S = 10.0
SEED = 20240808


def _exercise(path: str) -> str:
    """What a pipeline run does with a file, up to the signals: probe, frames, audio."""
    from pipeline import media
    from pipeline.errors import MediaError

    try:
        info = media.probe(path)
        n_frames = 0
        if info.has_video:
            n_frames = sum(1 for _ in media.frames(path, fps=5, width=80, info=info))
        n_samples = sum(len(x) for _, x in media.audio(path, sr=8000, chunk_s=0.5, info=info).chunks())
        return f"ok frames={n_frames} samples={n_samples}"
    except MediaError as exc:
        return f"media_error {exc}"


def _worker(conn) -> None:
    while True:
        path = conn.recv()
        if path is None:
            return
        try:
            conn.send(("done", _exercise(path)))
        except BaseException as exc:  # noqa: BLE001 - the point is to see every type
            conn.send(("crash", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"))


class Sandbox:
    """One worker process reused across cases; replaced when a case hangs or kills it."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("fork")
        self.proc = None
        self.conn = None

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()

    def run(self, path: Path, timeout_s: float) -> tuple[str, str]:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send(str(path))
        if not self.conn.poll(timeout_s):
            self.proc.kill()
            self.proc.join()
            self.proc = None
            return "hang", f"no answer within {timeout_s} s"
        try:
            return self.conn.recv()
        except EOFError:
            self.proc.join()
            code = self.proc.exitcode
            self.proc = None
            return "died", f"worker exited with {code}"

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(5)
            if self.proc.is_alive():
                self.proc.kill()


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One seeded mutation of the kind disks, transfers and half-finished writes produce."""
    n = len(data)
    kind = rng.choice(["flip", "flip_many", "truncate", "duplicate", "zero", "header_flip", "splice"])
    b = bytearray(data)
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(n)] ^= 1 << rng.randrange(8)
    elif kind == "flip_many":
        lo = rng.randrange(n // 4, n // 2)
        for _ in range(rng.randint(50, 400)):
            b[rng.randrange(lo, min(lo + n // 4, n))] = rng.randrange(256)
    elif kind == "truncate":
        b = b[: rng.randrange(1, n)]
    elif kind == "duplicate":
        a = rng.randrange(n)
        ln = rng.randint(16, 8192)
        at = rng.randrange(n)
        b[at:at] = b[a: a + ln]
    elif kind == "zero":
        a = rng.randrange(n)
        end = min(a + rng.randint(16, 16384), n)
        b[a:end] = bytes(end - a)
    elif kind == "header_flip":  # the box headers and the index: sizes, counts, offsets
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(min(4096, n))] = rng.randrange(256)
    elif kind == "splice":  # the tail of the file moved to the middle
        cut = rng.randrange(n)
        b = b[cut:] + b[:cut]
    return bytes(b), kind


@pytest.fixture(scope="module")
def seed_clips(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("fuzz_seed")
    common = ["-f", "lavfi", "-i", "testsrc2=s=160x90:r=25:d=2", "-f", "lavfi", "-i", "sine=f=440:d=2",
              "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-bf", "2", "-c:a", "aac", "-b:a", "32k", "-shortest"]
    ffmpeg(*common, "-movflags", "+faststart", str(d / "front.mp4"))
    ffmpeg(*common, str(d / "end.mp4"))
    return {"moov_front": (d / "front.mp4").read_bytes(), "moov_end": (d / "end.mp4").read_bytes()}


def test_fuzz_probe_and_decode_raise_only_media_error(seed_clips, tmp_path):
    box = Sandbox()
    failures = []
    outcomes = {"ok": 0, "media_error": 0}
    try:
        # The unmutated clips must decode, or the fuzz proves nothing.
        for layout, data in seed_clips.items():
            p = tmp_path / f"clean_{layout}.mp4"
            p.write_bytes(data)
            status, detail = box.run(p, CASE_TIMEOUT_S * 3)  # first call pays the imports
            assert status == "done" and detail.startswith("ok frames=10"), detail
        for layout, data in seed_clips.items():
            for i in range(CASES_PER_LAYOUT):
                rng = random.Random(f"{SEED}-{layout}-{i}")
                mutated, kind = mutate(data, rng)
                p = tmp_path / f"{layout}_{i:03d}_{kind}.mp4"
                p.write_bytes(mutated)
                status, detail = box.run(p, CASE_TIMEOUT_S)
                if status == "done":
                    outcomes[detail.split()[0]] += 1
                    p.unlink()
                else:
                    failures.append(f"{p.name}: {status}: {detail}")
    finally:
        box.close()
    assert not failures, f"{len(failures)} of {2 * CASES_PER_LAYOUT} mutated files broke media I/O " \
                         f"(kept in {tmp_path}):\n" + "\n".join(failures[:10])
    # Both outcomes happen: the fuzz reaches the decoder, not only the container parser.
    assert outcomes["ok"] > 20 and outcomes["media_error"] > 20, outcomes
