"""Webhook delivery: at least once, signed, retried with exponential backoff.

Two steps, each safe to interrupt at any point:

1. **Fan-out.** In one transaction: read outbox events after the `webhooks` cursor, write
   attempt 1 (PENDING) for each (matching subscription, event), move the cursor. Either all of
   it commits or none, so an event is never skipped and never fanned out twice.
2. **Delivery.** Claim due PENDING attempts (a lease keeps a concurrent round from sending them
   too), POST each signed body (`signing.py`) with bounded concurrency, then record the result:
   DELIVERED after a 2xx only; otherwise FAILED plus the next attempt, scheduled on the injected
   clock after an exponential backoff with jitter, until `max_attempts` or `max_age`, when the
   last attempt is GAVE_UP. A crash between sending and recording leaves the attempt PENDING,
   so it is sent again with the same event id and the same body: the only duplicates.

Event ids and bodies come from `eventbridge.py` (finding events are first expanded from their
outbox snapshot by `findings.events.materialize`). Redirects are not followed (a 3xx is a
failure); HTTPS certificates are verified unless the subscription sets `insecureSkipVerify`.
Connections go only to addresses `egress.py` allows, checked on the resolved address at connect
time; `sender.py` sends one request and says what the log may keep of it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dockwatch.clock import Clock
from dockwatch.findings.events import materialize
from dockwatch.model.events import FindingChanged, OutboxEvent, WebhookTest
from dockwatch.storage import webhook_repo as repo
from dockwatch.storage.unit_of_work import Store

from . import secretbox
from .egress import EgressPolicy
from .eventbridge import (
    Unrenderable,
    deliverable,
    encode,
    event_id,
    to_eventbridge,
)
from .secretbox import SecretBox
from .sender import DeliveryPolicy, Outcome, Sender

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

CURSOR = "webhooks"
"""The outbox subscriber name of the fan-out."""


def backoff(attempt: int, policy: DeliveryPolicy, rng: random.Random) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based) before the next one.

    Exponential (`base * 2**(attempt-1)`, capped at `max_delay`) with "equal jitter": half the
    step is fixed, the other half random, so retries of many deliveries failing together spread
    out while each retry still waits at least half its step.
    """
    doublings = min(max(attempt, 1) - 1, 40)
    step = min(policy.max_delay, policy.base_delay * (1 << doublings))
    half = step / 2
    return half + half * rng.random()


def matches(hook: repo.WebhookRow, event: OutboxEvent) -> bool:
    """Whether `event` goes to `hook`."""
    if (event.tenant.account_id, event.tenant.region) != (hook.account_id, hook.region):
        return False
    if event.id <= hook.start_after_id:
        return False
    if isinstance(event.event, WebhookTest):
        return event.event.webhook_id == hook.id
    if not deliverable(event.event):
        return False
    return not hook.event_types or event.event_type in hook.event_types


def _log_failure(future: Future[Outcome]) -> None:
    """A background send that raised (a database error): its lease runs out, it is retried."""
    exc = future.exception()
    if exc is not None:
        logger.error("webhook send failed", exc_info=exc)


class WebhookDeliverer:
    """Fans outbox events out to subscriptions and sends them; embedded mode runs it in a thread."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        policy: DeliveryPolicy | None = None,
        *,
        box: SecretBox,
        egress: EgressPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy or DeliveryPolicy()
        self.box = box
        self.egress = egress or EgressPolicy()
        self.sender = Sender(self.policy, box, self.egress, transport)
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_flight: set[int] = set()
        """Attempts being sent by this process: never claimed again, even past their lease."""
        self._in_flight_lock = threading.Lock()
        self.after_send: Callable[[repo.DueAttempt], None] | None = None
        """Test hook: runs after a request got its answer, before the result is recorded."""

    # --- fan-out ------------------------------------------------------------------------------

    def fan_out(self) -> int:
        """Turn the next outbox events into first attempts; returns how many events were read."""
        with self.store.read() as uow:
            if uow.outbox.last_id() <= uow.outbox.cursor(CURSOR):
                return 0
        with self.store.write() as uow:
            box = uow.outbox
            if not box.hold_cursor(CURSOR):
                return 0  # another process of the cluster is fanning these events out
            events = box.read_after(box.cursor(CURSOR), limit=self.policy.fan_out_batch)
            if not events:
                return 0
            hooks = uow.webhooks.enabled_webhooks()
            now = self.clock.now()
            for event in events:
                for hook in hooks:
                    if matches(hook, event):
                        uow.webhooks.insert_attempt(
                            webhook_id=hook.id,
                            event_id=event.id,
                            attempt=1,
                            next_attempt_at=now,
                            started_at=now,
                            at=now,
                        )
            box.advance(CURSOR, events[-1].id, now)
        return len(events)

    # --- delivery -----------------------------------------------------------------------------

    def claim(self, limit: int | None = None) -> list[repo.DueAttempt]:
        """Lease up to `limit` (default: a batch) of the attempts that are due now."""
        limit = self.policy.batch if limit is None else limit
        if limit <= 0:
            return []
        now = self.clock.now()
        with self.store.read() as uow:
            if not uow.webhooks.any_due(now):
                return []
        with self._in_flight_lock:
            busy = set(self._in_flight)
        with self.store.write() as uow:
            now = self.clock.now()
            claimed = uow.webhooks.claim_due(now, now + self.policy.lease, limit, exclude=busy)
        with self._in_flight_lock:
            self._in_flight.update(a.id for a in claimed)
        return claimed

    def deliver(self, due: repo.DueAttempt) -> Outcome:
        """Send one attempt and record its result."""
        try:
            return self._deliver(due)
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(due.id)

    def _deliver(self, due: repo.DueAttempt) -> Outcome:
        event = due.event
        try:
            if event is None:
                raise Unrenderable(0, "?", "the outbox event no longer exists")
            body = encode(to_eventbridge(event, self._materialize(event)))
        except Unrenderable as exc:
            outcome = Outcome(False, None, str(exc), None)
            self._record(due, outcome, final=True)
            return outcome
        outcome = self.sender.send(
            due.webhook,
            body,
            event_id=event_id(event.tenant.account_id, event.tenant.region, event.id),
            event_type=event.event_type,
            timestamp=int(self.clock.now().timestamp()),
        )
        if self.after_send is not None:
            self.after_send(due)
        self._record(due, outcome, final=False)
        return outcome

    def _materialize(self, event: OutboxEvent) -> dict[str, Any] | None:
        """A finding event's snapshot expanded into the Inspector `Finding` it describes
        (None for other events).

        The snapshot and the content-addressed detail it names never change, so every attempt
        renders the same body.
        """
        if not isinstance(event.event, FindingChanged):
            return None
        try:
            with self.store.read() as uow:
                detail = uow.webhooks.finding_detail(event.event.detail_ref)
            return materialize(event.event, detail)
        except (KeyError, TypeError, ValueError) as exc:
            raise Unrenderable(event.id, event.event_type, f"{type(exc).__name__}: {exc}") from exc

    def _record(self, due: repo.DueAttempt, outcome: Outcome, *, final: bool) -> None:
        with self.store.write() as uow:
            now = self.clock.now()
            exhausted = (
                final
                or due.attempt >= self.policy.max_attempts
                or now - due.started_at >= self.policy.max_age
            )
            if outcome.ok:
                status = repo.DELIVERED
            else:
                status = repo.GAVE_UP if exhausted else repo.FAILED
            written = uow.webhooks.finish_attempt(
                due.id,
                status=status,
                http_status=outcome.http_status,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
                at=now,
            )
            if not written or status != repo.FAILED or due.event is None:
                return
            with self._rng_lock:
                wait = backoff(due.attempt, self.policy, self._rng)
            uow.webhooks.insert_attempt(
                webhook_id=due.webhook.id,
                event_id=due.event.id,
                attempt=due.attempt + 1,
                next_attempt_at=now + wait,
                started_at=due.started_at,
                at=now,
            )
        if status == repo.GAVE_UP:
            logger.warning(
                "webhook %s gave up on event %s after attempt %d: %s",
                due.webhook.id,
                due.event.id if due.event else "?",
                due.attempt,
                outcome.error,
            )

    def run_once(self, *, wait: bool = True) -> int:
        """Fan out everything new, then start sending the attempts due now; returns how many.

        With `wait=False` (the background loop) sends run on in the pool while the next round
        claims more, up to `batch` in flight: a slow endpoint holds its own sends only, never
        the other subscriptions'.
        """
        while not self._stop.is_set() and self.fan_out():
            pass
        with self._in_flight_lock:
            room = self.policy.batch - len(self._in_flight)
        due = self.claim(room)
        if not due:
            return 0
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.policy.concurrency, thread_name_prefix="webhook-send"
            )
        futures = [self._pool.submit(self.deliver, d) for d in due]
        for future in futures:
            if wait:
                future.result()
            else:
                future.add_done_callback(_log_failure)
        return len(due)

    def drain(self, rounds: int = 1000) -> int:
        """Run rounds until nothing is due (tests and one-shot use); returns attempts made."""
        made = 0
        for _ in range(rounds):
            n = self.run_once()
            if n == 0:
                return made
            made += n
        return made

    def seal_plaintext_secrets(self) -> int:
        """Seal the secrets of subscriptions stored before secrets were sealed; returns how
        many (run at start, before any delivery)."""
        with self.store.write() as uow:
            rows = uow.webhooks.unsealed_secrets(secretbox.PREFIX)
            for webhook_id, secret in rows:
                uow.webhooks.set_secret(webhook_id, self.box.seal(secret, webhook_id))
        if rows:
            logger.info("sealed the secrets of %d webhooks", len(rows))
        return len(rows)

    def recover(self) -> int:
        """Release attempts leased by a killed process (embedded mode runs one deliverer)."""
        with self.store.write() as uow:
            return uow.webhooks.release_leases(self.clock.now())

    def start(self, interval: float = 0.2) -> None:
        """Run in a daemon thread until `stop`."""
        self.recover()
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    while not self._stop.is_set() and self.run_once(wait=False):
                        pass
                except Exception:  # keep going: the next round retries
                    logger.exception("webhook delivery round failed")
                self._stop.wait(interval)

        self._thread = threading.Thread(target=loop, name="webhook-deliverer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the current round, then release threads and connections."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.sender.close()
