"""The requests in flight, and the quiet moment `serve`'s background loading waits for."""

from __future__ import annotations

import threading

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send

from dockwatch.api.activity import ActivityMiddleware, RequestActivity


def test_with_no_request_the_quiet_comes_at_once_after_the_quiet_time() -> None:
    assert RequestActivity().wait_quiet(0.01, 30) is True


def test_the_quiet_time_runs_from_the_wait_s_start_too() -> None:
    # made at 0; the wait starts at 10 and looks at 10 (quiet for 0 s) and 10.05 (done)
    times = iter([0.0, 10.0, 10.0, 10.05])
    activity = RequestActivity(clock=lambda: next(times))
    assert activity.wait_quiet(0.05, 30) is True
    assert list(times) == []


def test_a_request_in_flight_holds_the_wait_until_its_bound() -> None:
    activity = RequestActivity()
    activity.begin()
    assert activity.wait_quiet(0.0, 0.1) is False


def test_the_wait_ends_only_after_the_last_request_has_ended() -> None:
    activity = RequestActivity()
    activity.begin()
    activity.begin()
    ended: list[str] = []

    def answer_both() -> None:
        for name in ("first", "second"):
            threading.Event().wait(0.05)
            ended.append(name)
            activity.end()

    thread = threading.Thread(target=answer_both)
    thread.start()
    assert activity.wait_quiet(0.02, 30) is True
    assert ended == ["first", "second"]
    thread.join()


def test_the_quiet_time_runs_from_the_last_request_s_end() -> None:
    # the clock's reads: made at 0, the request ends at 0.5, the wait's deadline and its first
    # look at 0.5 (quiet for 0 s: it waits), its second at 0.55 (quiet for 0.05 s: done)
    times = iter([0.0, 0.5, 0.5, 0.5, 0.55])
    activity = RequestActivity(clock=lambda: next(times))
    activity.begin()
    activity.end()
    assert activity.wait_quiet(0.05, 30) is True
    assert list(times) == []  # not done at the first look, 0.5 s after the activity was made


@pytest.mark.parametrize("fails", [False, True], ids=["answered", "raised"])
def test_the_middleware_counts_each_http_request_while_it_runs(fails: bool) -> None:
    activity = RequestActivity()
    seen_during: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen_during.append(activity.wait_quiet(0.0, 0.0))  # False: this request is in flight
        if fails:
            raise RuntimeError("the handler failed")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        pass

    async def request() -> None:
        scope: Scope = {"type": "http", "method": "GET", "path": "/v2/", "headers": []}
        await ActivityMiddleware(app, activity)(scope, receive, send)

    if fails:
        with pytest.raises(RuntimeError):
            anyio.run(request)
    else:
        anyio.run(request)
    assert seen_during == [False]
    assert activity.wait_quiet(0.0, 0.0) is True  # ended, whether answered or raised
