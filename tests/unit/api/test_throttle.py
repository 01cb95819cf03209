"""The failure limiter's backoff, decay and bounded table; the verification gate's bounds."""

from __future__ import annotations

import threading

import anyio
import pytest

from dockwatch.api.throttle import FailureLimiter, GateBusy, LimiterPolicy, VerificationGate


class Ticks:
    """A hand-moved clock in seconds."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_free_failures_then_doubling_waits_up_to_the_maximum() -> None:
    now = Ticks()
    limiter = FailureLimiter(LimiterPolicy(free_failures=3, backoff_max=16), now)
    assert [limiter.failed("a") for _ in range(3)] == [0, 0, 0]
    waits = [limiter.failed("a") for _ in range(7)]
    assert waits == [1, 2, 4, 8, 16, 16, 16]
    assert limiter.retry_after("a") == 16
    assert limiter.retry_after("b") == 0  # other keys are untouched


def test_the_wait_runs_out_and_failures_decay() -> None:
    now = Ticks()
    limiter = FailureLimiter(LimiterPolicy(free_failures=2, half_life=60), now)
    for _ in range(3):
        limiter.failed("a")
    assert limiter.retry_after("a") == 1
    now.t += 1
    assert limiter.retry_after("a") == 0
    # one more failure right away continues the series (score 4: wait 2) ...
    assert limiter.failed("a") == 2
    # ... while after ten half-lives the score is ~0 and one failure is free again
    now.t += 600
    assert limiter.failed("a") == 0


def test_success_clears_a_key() -> None:
    now = Ticks()
    limiter = FailureLimiter(LimiterPolicy(free_failures=1), now)
    limiter.failed("a")
    limiter.failed("a")
    assert limiter.retry_after("a") > 0
    limiter.succeeded("a")
    assert limiter.retry_after("a") == 0


def test_the_table_is_bounded() -> None:
    limiter = FailureLimiter(LimiterPolicy(free_failures=1, max_entries=100), Ticks())
    for i in range(10_000):
        limiter.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) == 100
    # the most recent keys are the ones kept
    assert limiter.retry_after("10.0.39.15") == 0  # one failure: free, but present
    assert "10.0.39.15" in limiter and "10.0.0.0" not in limiter
    # long keys (user names are the client's choice) cost a fixed-size entry
    for i in range(200):
        limiter.failed(f"{i}" + "x" * 10_000)
    assert len(limiter) == 100 and sum(len(k) for k in limiter._scores) == 100 * 16


@pytest.mark.anyio
async def test_the_gate_runs_at_most_its_slots_and_turns_away_the_excess() -> None:
    gate = VerificationGate(slots=2, max_waiting=3, wait=30)
    release = threading.Event()
    inside = 0
    most = 0
    lock = threading.Lock()

    def work() -> bool:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        release.wait(10)
        with lock:
            inside -= 1
        return True

    results: list[object] = []

    async def one() -> None:
        try:
            results.append(await gate.run(work))
        except GateBusy:
            results.append("busy")

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(one)
        while gate.running < 2 or gate.waiting < 3 or inside < 2:
            await anyio.sleep(0.01)
        # 2 run (both inside the work, not only holding a slot), 3 wait, the other 3 were
        # turned away at once
        assert results == ["busy", "busy", "busy"]
        release.set()
    assert results.count(True) == 5 and results.count("busy") == 3
    assert most == 2 and gate.peak_running == 2
    assert gate.running == 0 and gate.waiting == 0


@pytest.mark.anyio
async def test_a_caller_that_waits_too_long_is_turned_away() -> None:
    gate = VerificationGate(slots=1, max_waiting=5, wait=0.05)
    release = threading.Event()

    async def holder() -> None:
        await gate.run(lambda: release.wait(10))

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        while gate.running < 1:
            await anyio.sleep(0.01)
        with pytest.raises(GateBusy):
            await gate.run(lambda: True)
        release.set()
    assert gate.waiting == 0
