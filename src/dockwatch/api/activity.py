"""Whether requests are being answered, so that background loading can wait for a quiet moment.

Once `serve` listens, a thread starts the embedded services and makes the app's deferred parts:
about 0.3 s of imports and index loading, which hold the interpreter's lock while the event loop
answers the first requests of a restart. Each time the loop wanted the lock back it waited up
to the switch interval (5 ms), several times a request: a restart's first `/v2/` came 50 ms
later, and its first signed-in `/v2/` 125 ms later, than with that thread held back
(`bench/startup.py`). That thread now first waits until no request is in flight and none has
ended for a short while (`wait_quiet`), for at most a bounded time, so a steady stream of
requests delays the scanner's start by that bound at most.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send


class RequestActivity:
    """Counts the requests in flight and remembers when the last one ended."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._in_flight = 0
        self._last_end = clock()

    def begin(self) -> None:
        with self._changed:
            self._in_flight += 1

    def end(self) -> None:
        with self._changed:
            self._in_flight -= 1
            self._last_end = self._clock()
            self._changed.notify_all()

    def wait_quiet(self, quiet: float, most: float) -> bool:
        """Wait until no request is in flight and none has ended for `quiet` seconds (nor has
        the wait begun less than `quiet` seconds ago: the first request of a server that has
        just started to listen may be on its way), or until `most` seconds have passed;
        whether the quiet came first."""
        start = self._clock()
        deadline = start + most
        with self._changed:
            while True:
                now = self._clock()
                quiet_since = max(self._last_end, start)
                if self._in_flight == 0 and now - quiet_since >= quiet:
                    return True
                if now >= deadline:
                    return False
                until = deadline if self._in_flight else min(deadline, quiet_since + quiet)
                self._changed.wait(until - now)


class ActivityMiddleware:
    """Tells `activity` when each HTTP request starts and ends."""

    def __init__(self, app: ASGIApp, activity: RequestActivity) -> None:
        self.app = app
        self.activity = activity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.activity.begin()
        try:
            await self.app(scope, receive, send)
        finally:
            self.activity.end()
