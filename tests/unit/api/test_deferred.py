"""Parts of the app made on first use: made once whoever asks first, never on the event loop's
thread, made again after a failure."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import anyio
import pytest
from anyio import to_thread

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


def test_requests_waiting_for_the_making_leave_the_thread_pool_to_the_rest() -> None:
    """Sixty first requests at once while the part is made (more than the pool's 40
    threads): a database call of another request still gets a thread at once."""
    release = threading.Event()

    def make() -> str:
        release.wait(30)
        return "made"

    part = Deferred(make)

    async def restart() -> tuple[list[str], str]:
        got: list[str] = []

        async def first_request() -> None:
            got.append(await part.ready())

        async with anyio.create_task_group() as tg:
            for _ in range(60):
                tg.start_soon(first_request)
            await anyio.sleep(0.1)  # every request is waiting now
            with anyio.fail_after(10):
                other = await to_thread.run_sync(lambda: "a database call")
            release.set()
        return got, other

    got, other = asyncio.run(restart())
    assert other == "a database call"
    assert got == ["made"] * 60
