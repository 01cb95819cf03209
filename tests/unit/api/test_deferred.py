"""Parts of the app made on first use: made once whoever asks first, never on the event loop's
thread, made again after a failure."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from dockwatch.api.deferred import Deferred, warm_up


def test_callers_at_once_share_one_making() -> None:
    made: list[object] = []

    def make() -> object:
        time.sleep(0.05)  # long enough for every caller to arrive while it is being made
        made.append(object())
        return made[-1]

    part = Deferred(make)
    start = threading.Barrier(8)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(part.get())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
    assert got == made * 8


def test_a_failed_making_is_tried_again_by_the_next_caller() -> None:
    attempts: list[int] = []

    def make() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("the disk hiccuped")
        return "made"

    part = Deferred(make)
    with pytest.raises(OSError, match="hiccuped"):
        part.get()
    assert part.get() == "made"
    assert part.get() == "made"
    assert len(attempts) == 2


def test_the_event_loop_does_not_make_it_itself() -> None:
    where: list[int] = []

    def make() -> str:
        where.append(threading.get_ident())
        return "made"

    async def first_request() -> tuple[str, int]:
        return await Deferred(make).ready(), threading.get_ident()

    value, loop_thread = asyncio.run(first_request())
    assert value == "made"
    assert where and where[0] != loop_thread


def test_warm_up_makes_every_part_and_logs_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> str:
        raise RuntimeError("no model")

    first, second = Deferred(broken), Deferred(lambda: "console")
    with caplog.at_level(logging.ERROR, logger="dockwatch.api.deferred"):
        warm_up((first, second)).join(10)
    assert second.get() == "console"
    assert "ahead of its first request failed" in caplog.text
    with pytest.raises(RuntimeError, match="no model"):  # the request that needs it says so
        first.get()
