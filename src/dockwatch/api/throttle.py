"""Bounds on password guessing: a failure limiter and a gate on concurrent verifications.

`FailureLimiter` keeps a decaying failure score per key (a client address, a user name). Past a
number of free failures every further one blocks the key for a time that doubles with each
failure, up to a maximum; the score halves every `half_life` seconds without failures, and a
success clears it. Its table is an LRU of bounded size, so a flood of addresses or names costs
a fixed amount of memory.

`VerificationGate` bounds how many scrypt runs (16 MiB each) happen at once; a caller waits a
short time for a slot, and a caller that finds too many others waiting is turned away at once,
so the waiting room is bounded too.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from dockwatch.value_class import frozen


@dataclass(slots=True)
class _Score:
    failures: float
    at: float
    blocked_until: float


@frozen
class LimiterPolicy:
    """How a `FailureLimiter` counts."""

    free_failures: int
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    half_life: float = 300.0
    max_entries: int = 10_000


class FailureLimiter:
    """Failure scores per key, with exponential backoff and decay; `now` gives seconds."""

    def __init__(self, policy: LimiterPolicy, now: Callable[[], float]) -> None:
        self.policy = policy
        self._now = now
        self._scores: OrderedDict[bytes, _Score] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._scores)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return _slot(key) in self._scores

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may try again (0: now)."""
        with self._lock:
            score = self._scores.get(_slot(key))
            if score is None:
                return 0.0
            return max(0.0, score.blocked_until - self._now())

    def failed(self, key: str) -> float:
        """Record a failure; the seconds `key` is now blocked for (0: not blocked)."""
        now = self._now()
        p = self.policy
        with self._lock:
            slot = _slot(key)
            score = self._scores.pop(slot, None)
            if score is None:
                score = _Score(0.0, now, 0.0)
            elapsed = max(0.0, now - score.at)
            score.failures = score.failures * 0.5 ** (elapsed / p.half_life) + 1.0
            score.at = now
            over = score.failures - p.free_failures
            if over > 0:
                wait = min(p.backoff_max, p.backoff_base * 2 ** (math.ceil(over) - 1))
                score.blocked_until = max(score.blocked_until, now + wait)
            self._scores[slot] = score
            while len(self._scores) > p.max_entries:
                self._scores.popitem(last=False)
            return max(0.0, score.blocked_until - now)

    def succeeded(self, key: str) -> None:
        """Forget `key`'s failures."""
        with self._lock:
            self._scores.pop(_slot(key), None)


def _slot(key: str) -> bytes:
    """A fixed-size table key: user names are chosen by clients and may be long."""
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


class GateBusy(Exception):
    """Too many password verifications are running or waiting; retry shortly."""


class VerificationGate:
    """At most `slots` verifications at once; at most `max_waiting` callers wait, each at most
    `wait` seconds."""

    def __init__(self, slots: int, max_waiting: int, wait: float) -> None:
        self.slots = slots
        self.max_waiting = max_waiting
        self.wait = wait
        self._semaphore = anyio.Semaphore(slots)
        self.running = 0
        self.waiting = 0
        self.peak_running = 0
        """The most verifications ever seen at once (what tests observe)."""

    async def run(self, fn: Callable[[], bool]) -> bool:
        """`fn()` in a worker thread once a slot is free; GateBusy when none frees in time."""
        try:
            self._semaphore.acquire_nowait()
        except anyio.WouldBlock:
            if self.waiting >= self.max_waiting:
                raise GateBusy from None
            self.waiting += 1
            try:
                with anyio.move_on_after(self.wait) as scope:
                    await self._semaphore.acquire()
            finally:
                self.waiting -= 1
            if scope.cancelled_caught:
                raise GateBusy from None
        self.running += 1
        self.peak_running = max(self.peak_running, self.running)
        try:
            return await anyio.to_thread.run_sync(fn)
        finally:
            self.running -= 1
            self._semaphore.release()
