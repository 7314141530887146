"""Webhook delivery: each event POSTed to every endpoint that wants it, retried until 2xx.

An attempt succeeds on any 2xx status. Anything else (another status, a timeout, a refused
connection, a dropped attempt) is retried after the delays in :data:`RETRY_SCHEDULE_SECONDS`
(exponential from one minute, capped at twelve hours; each multiplied by ``time_scale``):
15 attempts over about 65 hours, then Stripe gives up — "up to three days". Each endpoint
gets its events one at a time, in order (unless the ``reorder`` fault is on); every attempt
is signed anew with a fresh timestamp.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from .events import Event, WebhookEndpoint, signature_header
from .faults import Faults
from .ids import now
from .scheduler import Scheduler

__all__ = ["DELIVERY_TIMEOUT_SECONDS", "RETRY_SCHEDULE_SECONDS", "Attempt", "Dispatcher"]

log = logging.getLogger(__name__)

RETRY_SCHEDULE_SECONDS: tuple[int, ...] = (
    60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720,
    43200, 43200, 43200, 43200,
)  # fmt: skip
DELIVERY_TIMEOUT_SECONDS = 10.0
# Events created within this window are sent together, newest first, when "reorder" is on.
REORDER_WINDOW_SECONDS = 0.2
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


@dataclass
class Attempt:
    """One delivery attempt, as recorded for tests and ``GET /_sandbox/webhooks``."""

    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    attempt: int
    scheduled_delay: int  # unscaled seconds waited before this attempt
    at: int
    outcome: str  # sending | delivered | rejected | error | dropped
    status: int | None = None
    error: str | None = None
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Job:
    event: Event
    endpoint: WebhookEndpoint
    attempt: int
    delay: int
    duplicate: bool = False


class Dispatcher:
    def __init__(
        self,
        scheduler: Scheduler,
        faults: Faults,
        time_scale: float,
        client: Callable[[], httpx.AsyncClient],
    ) -> None:
        self._scheduler = scheduler
        self._faults = faults
        self._time_scale = time_scale
        self._client = client
        self._queues: dict[str, asyncio.Queue[_Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._reorder_buffer: list[_Job] = []
        self.attempts: list[Attempt] = []

    def publish(self, event: Event, endpoints: list[WebhookEndpoint]) -> None:
        """Queue the first attempt of ``event`` for each endpoint that wants it."""
        targets = [e for e in endpoints if e.wants(event.type)]
        event.pending_webhooks = len(targets)
        for endpoint in targets:
            job = _Job(event, endpoint, attempt=1, delay=0)
            if self._faults.webhooks.reorder:
                if not self._reorder_buffer:
                    self._scheduler.call_later(REORDER_WINDOW_SECONDS, self._flush_reordered)
                self._reorder_buffer.append(job)
            else:
                self._scheduler.call_later(0, functools.partial(self._enqueue, job))

    def _flush_reordered(self) -> None:
        jobs, self._reorder_buffer = self._reorder_buffer, []
        for job in reversed(jobs):
            self._enqueue(job)

    def _enqueue(self, job: _Job) -> None:
        key = job.endpoint.id
        queue = self._queues.setdefault(key, asyncio.Queue())
        worker = self._workers.get(key)
        if worker is None or worker.done():  # first use, or the sandbox was restarted
            self._workers[key] = self._scheduler.spawn(self._worker(queue))
        queue.put_nowait(job)

    async def _worker(self, queue: asyncio.Queue[_Job]) -> None:
        while True:
            job = await queue.get()
            try:
                await self._attempt(job)
            except asyncio.CancelledError:  # stopped mid-attempt: try again after a restart
                queue.put_nowait(job)
                raise
            except Exception:  # keep delivering the others
                log.exception("stripe sandbox: webhook attempt crashed")

    async def _attempt(self, job: _Job) -> None:
        event, endpoint = job.event, job.endpoint
        record = Attempt(
            event_id=event.id,
            event_type=event.type,
            endpoint_id=endpoint.id,
            url=endpoint.url,
            attempt=job.attempt,
            scheduled_delay=job.delay,
            at=now(),
            outcome="sending",
            duplicate=job.duplicate,
        )
        self.attempts.append(record)
        if endpoint.status != "enabled":
            record.outcome, record.error = "error", "endpoint disabled or deleted"
            return
        if not job.duplicate and self._faults.take_drop():
            record.outcome = "dropped"
            self._retry(job)
            return
        payload = event.payload()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": signature_header(payload, endpoint.secret, now()),
        }
        try:
            response = await self._client().post(
                endpoint.url,
                content=payload.encode(),
                headers=headers,
                timeout=DELIVERY_TIMEOUT_SECONDS,
            )
        except asyncio.CancelledError:
            self.attempts.remove(record)  # never happened; it is queued again
            raise
        except httpx.HTTPError as exc:
            record.outcome, record.error = "error", f"{type(exc).__name__}: {exc}"[:200]
            if not job.duplicate:
                self._retry(job)
            return
        record.status = response.status_code
        if 200 <= response.status_code < 300:
            record.outcome = "delivered"
            if not job.duplicate:
                event.delivered = True
                event.pending_webhooks = max(0, event.pending_webhooks - 1)
                if self._faults.take_duplicate():
                    self._enqueue(_Job(event, endpoint, job.attempt, 0, duplicate=True))
            return
        record.outcome = "rejected"
        if not job.duplicate:
            self._retry(job)

    def _retry(self, job: _Job) -> None:
        if job.attempt > len(RETRY_SCHEDULE_SECONDS):
            log.info("stripe sandbox: giving up on %s for %s", job.event.id, job.endpoint.id)
            return
        delay = RETRY_SCHEDULE_SECONDS[job.attempt - 1]
        nxt = _Job(job.event, job.endpoint, job.attempt + 1, delay)
        self._scheduler.call_later(delay * self._time_scale, functools.partial(self._enqueue, nxt))
