"""Parts of the app made on first use, so that the server answers before they are loaded.

The AWS protocol layer (botocore's models and signer) and the console (Jinja) took 0.2 s of
imports at every start, before `/v2/` could answer, for APIs a registry client never calls.
They are made when a request first needs them, in a worker thread so that the event loop goes
on answering meanwhile, or earlier by `warm_up`, which `serve` runs once it listens.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from anyio import CapacityLimiter, to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Deferred(Generic[T]):
    """A value made once, by the first caller that needs it; the others wait for it. A making
    that raises is tried again by the next caller (`make` never returns None)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._lock = threading.Lock()
        self._turns = CapacityLimiter(1)
        """The worker thread `ready` makes (or waits) in: one at a time, its own. Requests that
        arrive while the part is made wait for their turn without a thread, so that many
        first requests at once (AWS clients retrying at a restart) do not take every thread of
        the pool the rest of the app runs its database calls in."""

    def get(self) -> T:
        """The value, made now if no caller made it yet."""
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._make()
                value = self._value
        return value

    async def ready(self) -> T:
        """`get` from the event loop: while the value is still to be made, it is made (or
        waited for) in a worker thread of its own."""
        value = self._value
        if value is not None:
            return value
        return await to_thread.run_sync(self.get, limiter=self._turns)


class PrefixedPart:
    """HTTP requests under `prefix` (the path itself or below it) to a part made on first use,
    everything else to `rest`: how the console (`/console`) and the JSON API (`/api/v1`) are
    served next to `/v2/` on one port."""

    def __init__(self, prefix: str, part: Deferred[ASGIApp], rest: ASGIApp) -> None:
        self.prefix = prefix
        self.part = part
        self.rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one request by its path."""
        path = scope.get("path", "")
        prefix = self.prefix
        if scope["type"] == "http" and (path == prefix or path.startswith(prefix + "/")):
            app = await self.part.ready()
            await app(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


def warm_up(parts: Iterable[Deferred[Any]]) -> threading.Thread:
    """Make `parts` in a background thread, in order; a part that fails is made again, and
    fails again, by the request that needs it."""

    def run() -> None:
        for part in parts:
            try:
                part.get()
            except Exception:  # noqa: BLE001 - the request that needs it answers the error
                logger.exception("making a part of the app ahead of its first request failed")

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    return thread
