"""Overlap of pipeline stages on a few cores.

Decoding (FFmpeg), OpenCV and onnxruntime release the GIL, so a stage running in a thread
beside another really runs at the same time. `background` moves an iterator (the decoder
and the per-frame signals) into a thread that stays up to `depth` items ahead of its
consumer (the detector); an error in the thread is raised in the consumer, and a consumer
that stops early (an error, Ctrl-C) stops the thread.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


def background(items: Iterable[T], depth: int = 8, name: str = "highlights-producer") -> Iterator[T]:
    """Iterate `items` in a daemon thread, holding at most `depth` items in between."""
    q: queue.Queue = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    it = iter(items)

    def produce() -> None:
        try:
            for item in it:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))
            return
        finally:
            close = getattr(it, "close", None)
            if close is not None:  # a generator: run its clean-up (close the file) here
                close()
        put(_DONE)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=5.0)
