"""Delivering events to the apps' notify URLs (R-NTF-5, R-SEC-1).

Each round claims up to ``batch_size`` due deliveries under a lease (only the first unfinished
delivery of each trade, so a trade's events arrive in order), sends them concurrently,
signed the Standard Webhooks way (:mod:`paygate.kit.webhooks`), and records every attempt in
one transaction. A 2xx answer acknowledges. Otherwise the next attempt follows the retry
schedule (16 attempts over about 24 h, with jitter); after the last one the delivery is dead:
an ``alert.event_dead`` log line and ``paygate_alerts_total{kind="event_dead"}``, and an
operator may re-send it.

Crash safety: the claim is committed before anything is sent, and the result after. A
dispatcher that dies in between leaves its deliveries leased; when the lease ends another
dispatcher sends them again — at least once, each acknowledgement recorded once (only the
holder of the lease records).
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from cachetools import TTLCache

from paygate.accounts.apps import WebhookKeys
from paygate.domain.events import DEFAULT_RETRY_SCHEDULE, AttemptOutcome, DeliveryState
from paygate.events.sender import SendTimeout, SendUnreachable, WebhookSender
from paygate.kit import metrics, webhooks
from paygate.kit.clock import utc_now
from paygate.kit.failpoints import Failpoints
from paygate.repositories import ClaimedDelivery, Database, DeliveryResult

__all__ = ["DispatchSettings", "Dispatcher"]

log = structlog.get_logger("paygate.events")

#: How much of an app's answer is kept with the attempt.
EXCERPT_CHARS = 256
USER_AGENT = "paygate-webhooks/1"


@dataclass(frozen=True)
class DispatchSettings:
    timeout_seconds: float = 10.0
    batch_size: int = 200
    concurrency: int = 64
    #: seconds before each attempt; the first is normally 0 (see DEFAULT_RETRY_SCHEDULE)
    schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    jitter: float = 0.2
    poll_seconds: float = 0.5
    #: a lease outlives the longest a round can take by this much
    lease_margin_seconds: float = 30.0

    @property
    def lease_seconds(self) -> float:
        waves = math.ceil(self.batch_size / max(1, self.concurrency))
        return waves * self.timeout_seconds + self.lease_margin_seconds


class Dispatcher:
    """A claiming job (:mod:`paygate.jobs`): run it in as many worker processes as needed."""

    name = "deliveries"

    def __init__(
        self,
        db: Database,
        sender: WebhookSender,
        keys: Callable[[str], Awaitable[WebhookKeys | None]],
        platform_key: str,
        settings: DispatchSettings,
        *,
        owner: str = "dispatcher",
        failpoints: Failpoints | None = None,
    ) -> None:
        if not settings.schedule:
            raise ValueError("the retry schedule needs at least one attempt")
        self._db = db
        self._sender = sender
        self._load_keys = keys
        self._platform_key = platform_key
        self._settings = settings
        self._owner = owner
        self._failpoints = failpoints or Failpoints()
        self._keys: TTLCache[str, WebhookKeys | None] = TTLCache(maxsize=10_000, ttl=5.0)
        self.interval = settings.poll_seconds

    def forget(self, app_id: str) -> None:
        """Drop the cached keys of an app (its secret was rotated in this process; other
        processes see a rotation within 5 s)."""
        self._keys.pop(app_id, None)

    async def run_once(self) -> int:
        s = self._settings
        now = utc_now()
        token = f"{self._owner}:{secrets.token_hex(4)}"[:64]
        lease_until = now + timedelta(seconds=s.lease_seconds)
        claimed = await self._db.run(
            lambda uow: uow.outbox.claim_deliveries(now, s.batch_size, lease_until, token)
        )
        if not claimed:
            return 0
        self._failpoints.hit("dispatch.after_claim")
        keys = {app_id: await self._keys_of(app_id) for app_id in {d.app_id for d in claimed}}
        results: list[DeliveryResult] = []
        queue = iter(claimed)

        async def lane() -> None:
            # ``concurrency`` lanes share one iterator: no task or semaphore per delivery
            for delivery in queue:
                results.append(await self._attempt(delivery, keys.get(delivery.app_id)))

        await asyncio.gather(*(lane() for _ in range(min(s.concurrency, len(claimed)))))
        self._failpoints.hit("dispatch.before_record")
        written = await self._db.run(lambda uow: uow.outbox.record_results(results, token))
        by_id = {d.delivery_id: d for d in claimed}
        for outcome, n in Counter(r.outcome.value for r in written).items():
            metrics.EVENT_DELIVERIES.labels(outcome).inc(n)
        for result in written:
            if result.state is DeliveryState.DEAD:
                dead = by_id[result.delivery_id]
                metrics.ALERTS.labels("event_dead", "").inc()
                log.warning(
                    "alert.event_dead",
                    event_id=dead.event_key,
                    type=dead.event_type,
                    app_id=dead.app_id,
                    url=dead.url,
                    delivery_id=result.delivery_id,
                    attempts=result.attempt_no,
                    status=result.http_status,
                    error=result.error,
                )
        if len(written) < len(results):
            log.warning("events.lease_lost", lost=len(results) - len(written))
        return len(claimed)

    async def _keys_of(self, app_id: str) -> WebhookKeys | None:
        """An app's keys, read once per app and round (and kept for 5 s), not once per send."""
        keys = self._keys.get(app_id)
        if keys is None:
            keys = self._keys[app_id] = await self._load_keys(app_id)
        return keys

    def _signature(
        self, delivery: ClaimedDelivery, keys: WebhookKeys | None, timestamp: int, body: bytes
    ) -> str:
        if keys is None or not keys.secrets:
            raise LookupError(f"app {delivery.app_id!r} has no webhook secret")
        return webhooks.signature_header(
            [k.reveal() for k in keys.secrets],
            delivery.event_key,
            timestamp,
            body,
            rsa_private_key=self._platform_key if keys.rsa else None,
        )

    async def _attempt(self, delivery: ClaimedDelivery, keys: WebhookKeys | None) -> DeliveryResult:
        attempt_no = delivery.attempts + 1
        started_at = utc_now()
        started = time.perf_counter()
        status: int | None = None
        excerpt: str | None = None
        error: str | None = None
        body = delivery.body.encode()
        try:
            timestamp = int(time.time())
            headers = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                webhooks.HEADER_ID: delivery.event_key,
                webhooks.HEADER_TIMESTAMP: str(timestamp),
                webhooks.HEADER_SIGNATURE: self._signature(delivery, keys, timestamp, body),
            }
            answer = await self._sender.post(delivery.url, body, headers)
            status, excerpt = answer.status, answer.excerpt[:EXCERPT_CHARS]
            outcome = AttemptOutcome.ACKNOWLEDGED if 200 <= status < 300 else AttemptOutcome.REFUSED
        except SendTimeout as exc:
            outcome, error = AttemptOutcome.TIMEOUT, f"timeout: {exc}"[:256]
        except (SendUnreachable, LookupError) as exc:
            outcome, error = AttemptOutcome.UNREACHABLE, str(exc)[:256]
        duration = time.perf_counter() - started
        metrics.EVENT_DELIVERY_LATENCY.observe(duration)
        state, next_at = self._next(outcome, attempt_no, started_at)
        return DeliveryResult(
            delivery_id=delivery.delivery_id,
            attempt_no=attempt_no,
            started_at=started_at,
            duration_ms=int(duration * 1000),
            outcome=outcome,
            http_status=status,
            response_excerpt=excerpt,
            error=error,
            state=state,
            next_attempt_at=next_at,
            sent_by=self._owner[:64],
        )

    def _next(
        self, outcome: AttemptOutcome, attempt_no: int, now: datetime
    ) -> tuple[DeliveryState, datetime | None]:
        if outcome is AttemptOutcome.ACKNOWLEDGED:
            return DeliveryState.SUCCEEDED, None
        schedule = self._settings.schedule
        if attempt_no >= len(schedule):
            return DeliveryState.DEAD, None
        jitter = self._settings.jitter
        delay = schedule[attempt_no] * random.uniform(1 - jitter, 1 + jitter)
        return DeliveryState.PENDING, now + timedelta(seconds=delay)
