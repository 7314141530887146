"""Delivering a channel's notifications to the merchant the way the channel does.

The channel decides what a notification is and how it is signed (a ``render`` callable,
called anew for each attempt: Alipay re-signs with a fresh ``notify_time``, WeChat Pay and
Stripe with a fresh timestamp), what acknowledges it and its real retry schedule (a
:class:`DeliveryPolicy`). The harness does the rest, the same way for every channel:
queueing, time scaling, retries, one record per attempt, the notification faults, and
stop/start — nothing is sent before :meth:`Notifier.start`; what was published meanwhile is
sent then; an attempt cut short by ``stop()`` is forgotten and made again after a restart.

An attempt is recorded in ``Delivery.attempts`` once it is over: ``success``
(acknowledged), ``failed`` (answered, not acknowledged), ``error`` (no answer: refused,
timed out), ``dropped`` (a fault lost it). The one being made meanwhile is
``Delivery.sending``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

import httpx

from paygate.sandbox.harness.clock import Clock
from paygate.sandbox.harness.faults import Faults
from paygate.sandbox.harness.scheduler import Scheduler

__all__ = ["Attempt", "Delivery", "DeliveryPolicy", "Notifier", "Undeliverable"]

log = logging.getLogger(__name__)

#: How much of a receiver's answer an attempt record keeps.
RESPONSE_KEPT: Final = 200

Outcome = Literal["sending", "success", "failed", "error", "dropped"]  # "sending": in flight
#: One attempt's body and headers, signed for this attempt.
Render = Callable[[], tuple[bytes, Mapping[str, str]]]


class Undeliverable(Exception):
    """Raised by a channel's ``render`` when the notification can no longer be sent (a
    Stripe endpoint deleted meanwhile): recorded as an ``error`` and not retried."""


@dataclass(frozen=True)
class DeliveryPolicy:
    """A channel's delivery rules. ``retry_delays`` are the seconds waited before each
    retry (so ``len + 1`` attempts in all), in the channel's time; ``timeout`` how long an
    answer is awaited (real seconds); ``acknowledged(status, body)`` whether an answer
    ends the delivery; ``in_order``: a receiver gets one notification at a time, in the
    order they were published (retries join the queue when they fall due)."""

    retry_delays: tuple[float, ...]
    timeout: float
    acknowledged: Callable[[int, bytes], bool]
    in_order: bool = False


@dataclass
class Attempt:
    number: int
    at: datetime
    scheduled_delay: float  # channel seconds waited since the previous attempt (0 first)
    outcome: Outcome = "sending"
    status: int | None = None
    duplicate: bool = False
    error: str | None = None
    response: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "at": self.at.isoformat(timespec="seconds"),
            "scheduled_delay": self.scheduled_delay,
            "outcome": self.outcome,
            "status": self.status,
            "duplicate": self.duplicate,
            "error": self.error,
            "response": self.response,
        }


@dataclass
class Delivery:
    """One notification to one URL and every attempt made at it. ``tags`` say what it is
    about (``out_trade_no``, ``event_type``, …): the control API filters on them."""

    id: str
    url: str
    tags: dict[str, str]
    render: Render = field(repr=False)
    on_acknowledged: Callable[[], None] | None = field(default=None, repr=False)
    attempts: list[Attempt] = field(default_factory=list)
    sending: Attempt | None = None  # the attempt in flight
    retries: int = 0  # retries scheduled so far
    succeeded: bool = False
    gave_up: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            **self.tags,
            "attempts": [a.to_json() for a in self.attempts],
            "sending": self.sending is not None,
            "succeeded": self.succeeded,
            "gave_up": self.gave_up,
        }


class Notifier:
    def __init__(
        self,
        policy: DeliveryPolicy,
        *,
        scheduler: Scheduler,
        faults: Faults,
        clock: Clock,
        http: httpx.AsyncClient | None = None,
        name: str = "sandbox",
    ) -> None:
        self.policy = policy
        self._scheduler = scheduler
        self._faults = faults
        self._clock = clock
        self._http = http
        self._own_http: httpx.AsyncClient | None = None
        self._name = name
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._held: list[tuple[Delivery, float]] = []
        self._waiting = 0  # attempts queued or being sent
        self._lanes: dict[str, asyncio.Lock] = {}
        faults.subscribe(self._faults_changed)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every notification published so far, oldest first."""
        with self._lock:
            return list(self._deliveries)

    def matching(self, **tags: str | None) -> list[Delivery]:
        """The deliveries whose tags have these values (``None`` matches anything)."""
        wanted = {k: v for k, v in tags.items() if v is not None}
        return [d for d in self.deliveries if all(d.tags.get(k) == v for k, v in wanted.items())]

    def idle(self) -> bool:
        """True when no attempt is in flight, scheduled or held."""
        with self._lock:
            return self._waiting == 0 and not self._held

    def publish(
        self,
        url: str,
        render: Render,
        *,
        tags: Mapping[str, str],
        delivery_id: str | None = None,
        on_acknowledged: Callable[[], None] | None = None,
    ) -> Delivery:
        """Queue a notification; its first attempt goes out at once (once started)."""
        delivery = Delivery(
            delivery_id or f"{self._name}-{next(self._ids)}", url, dict(tags), render, on_acknowledged
        )
        with self._lock:
            self._deliveries.append(delivery)
        self._queue(delivery, 0.0)
        return delivery

    async def start(self) -> None:
        if self._http is None and self._own_http is None:
            self._own_http = httpx.AsyncClient(follow_redirects=False, trust_env=False)

    async def stop(self) -> None:
        """Close the client the notifier made (the scheduler's stop cancelled the sends)."""
        own, self._own_http = self._own_http, None
        if own is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(own.aclose(), timeout=1.0)

    # -- scheduling -----------------------------------------------------------------------

    def _count(self, change: int) -> None:
        with self._lock:
            self._waiting += change

    def _queue(self, delivery: Delivery, delay: float) -> None:
        """Attempt ``delivery`` after ``delay``. An attempt cut short by ``stop()`` is run
        again by the scheduler after the next start (its record was removed)."""
        self._count(1)

        async def attempt() -> None:
            await self._attempt(delivery, delay)
            self._count(-1)

        self._scheduler.later(delay, attempt)

    def _next(self, delivery: Delivery) -> None:
        if delivery.succeeded or delivery.gave_up:
            return
        delays = self.policy.retry_delays
        if delivery.retries < len(delays):
            delay = delays[delivery.retries]
            delivery.retries += 1
            self._queue(delivery, delay)
        else:
            delivery.gave_up = True
            log.info("%s sandbox gave up notifying %s (%s)", self._name, delivery.url, delivery.tags)

    # -- one attempt ----------------------------------------------------------------------

    async def _attempt(self, delivery: Delivery, delay: float) -> None:
        if self._faults.take_drop():
            delivery.attempts.append(self._record(delivery, delay, outcome="dropped"))
            self._next(delivery)
            return
        window = self._faults.reorder_window
        if window > 0 or self._held:
            # Held deliveries go first, so a delivery that comes while some are held waits too.
            self._held.append((delivery, delay))
            self._faults_changed()
            return
        await self._send(delivery, delay)

    def _faults_changed(self) -> None:
        """Release held deliveries when their window is full (newest first) or when the
        reorder fault is gone (in their own order)."""
        if not self._held:
            return
        window = self._faults.reorder_window
        if window == 0:
            self._scheduler.later(0, lambda: self._release(reverse=False))
        elif len(self._held) >= window:
            self._scheduler.later(0, lambda: self._release(reverse=True))

    async def _release(self, *, reverse: bool) -> None:
        batch, self._held = self._held, []
        order = list(reversed(batch)) if reverse else batch
        self._count(len(order))
        for index, (delivery, delay) in enumerate(order):
            try:
                await self._send(delivery, delay)
            except asyncio.CancelledError:  # stopped: what was not sent is held again
                rest = order[index:]
                self._held[:0] = list(reversed(rest)) if reverse else rest
                self._count(-len(rest))
                raise
            self._count(-1)

    async def _send(self, delivery: Delivery, delay: float) -> None:
        copies = 2 if self._faults.take_duplicate() else 1
        async with self._lane(delivery.url):
            for copy in range(copies):
                await self._post(delivery, delay, duplicate=copy > 0)
        self._next(delivery)

    @contextlib.asynccontextmanager
    async def _lane(self, url: str) -> AsyncIterator[None]:
        if not self.policy.in_order:
            yield
            return
        lock = self._lanes.setdefault(url, asyncio.Lock())
        async with lock:
            yield

    def _record(self, delivery: Delivery, delay: float, **values: Any) -> Attempt:
        return Attempt(len(delivery.attempts) + 1, self._clock.now(), delay, **values)

    async def _post(self, delivery: Delivery, delay: float, *, duplicate: bool) -> None:
        attempt = delivery.sending = self._record(delivery, delay, duplicate=duplicate)
        try:
            await self._exchange(delivery, attempt)
        finally:  # recorded once over; an attempt cut short by stop() never happened
            delivery.sending = None
        delivery.attempts.append(attempt)

    async def _exchange(self, delivery: Delivery, attempt: Attempt) -> None:
        http = self._http or self._own_http
        try:
            if http is None:
                raise RuntimeError("the notifier is not started")
            body, headers = delivery.render()
            response = await http.post(
                delivery.url, content=body, headers=dict(headers), timeout=self.policy.timeout
            )
        except Undeliverable as exc:
            attempt.outcome, attempt.error = "error", str(exc)
            delivery.gave_up = True
            return
        except Exception as exc:  # refused, timed out, or a URL httpx cannot even send to
            attempt.outcome, attempt.error = "error", f"{type(exc).__name__}: {exc}"[:RESPONSE_KEPT]
            return
        content = response.content
        ok = self.policy.acknowledged(response.status_code, content)
        attempt.status = response.status_code
        attempt.response = content[:RESPONSE_KEPT].decode("utf-8", "replace")
        attempt.outcome = "success" if ok else "failed"
        if ok and not delivery.succeeded:
            delivery.succeeded = True
            if delivery.on_acknowledged is not None:
                delivery.on_acknowledged()
