"""Stages side by side (pipeline/threads.py): the frames arrive complete and in order, a
decoder error reaches the detector's side, and a consumer that stops early stops the
decoder thread and closes its file."""

from __future__ import annotations

import threading
import time

import pytest

from pipeline.threads import background


def test_items_arrive_in_order_and_complete():
    assert list(background(iter(range(1000)), depth=3)) == list(range(1000))


def test_an_error_in_the_producer_is_raised_in_the_consumer():
    def frames():
        yield 1
        yield 2
        raise ValueError("damaged packet")

    got = []
    with pytest.raises(ValueError, match="damaged packet"):
        for x in background(frames(), depth=1):
            got.append(x)
    assert got == [1, 2]


def test_stopping_early_stops_the_producer_and_runs_its_cleanup():
    closed = threading.Event()
    produced = []

    def frames():
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()  # where a FrameStream closes its container

    it = background(frames(), depth=4)
    for x in it:
        if x == 10:
            break
    it.close()  # what a for loop's caller does when an exception (Ctrl-C) unwinds it
    assert closed.wait(5.0)
    time.sleep(0.05)
    assert len(produced) < 100  # it stayed a few items ahead, then stopped
    assert not any(t.name == "highlights-producer" and t.is_alive() for t in threading.enumerate())
