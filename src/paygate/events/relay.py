"""Publishing events to the message broker (R-NTF-6): the outbox relay.

Each round claims up to ``batch_size`` events the broker has not confirmed (oldest first,
under a lease), hands them to a :class:`Publisher` and marks those the broker confirmed. The
others — all of them while the broker is down — stay in the outbox and are offered again
after a growing pause (1 s, 2 s, 4 s … at most 60 s); nothing is lost and nothing waits on a
payment. Delivery is at least once: a relay that dies after the broker confirmed and before
the mark publishes those events again, with the same message id.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from paygate.broker.contract import BrokerMessage, Publisher, PublishError
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.kit.failpoints import Failpoints
from paygate.models import OutboxMessage
from paygate.repositories import Database, UnitOfWork

__all__ = ["BrokerRelay"]

log = structlog.get_logger("paygate.events")

MAX_BACKOFF_SECONDS = 60.0


class BrokerRelay:
    """A claiming job (:mod:`paygate.jobs`)."""

    name = "broker"

    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        *,
        batch_size: int = 200,
        poll_seconds: float = 0.5,
        lease_seconds: float = 60.0,
        failpoints: Failpoints | None = None,
    ) -> None:
        self._db = db
        self._publisher = publisher
        self._batch = batch_size
        self._lease = lease_seconds
        self._failpoints = failpoints or Failpoints()
        self.interval = poll_seconds

    async def run_once(self) -> int:
        now = utc_now()
        lease_until = now + timedelta(seconds=self._lease)
        events: list[OutboxMessage] = await self._db.run(
            lambda uow: uow.outbox.claim_unpublished(now, self._batch, lease_until)
        )
        if not events:
            return 0
        messages = [BrokerMessage(e.key, e.topic, e.body.encode(), e.app_id) for e in events]
        try:
            confirmed = await self._publisher.publish(messages)
            error = "not confirmed by the broker"
        except PublishError as exc:
            confirmed, error = set(), str(exc) or type(exc).__name__
        self._failpoints.hit("relay.after_publish")
        done = [e.id for e in events if e.key in confirmed]
        failed = [e for e in events if e.key not in confirmed]
        attempts = max((e.publish_attempts for e in failed), default=0)
        retry_at = utc_now() + timedelta(seconds=min(MAX_BACKOFF_SECONDS, 2.0**attempts))

        async def mark(uow: UnitOfWork) -> None:
            await uow.outbox.mark_published(done, utc_now())
            await uow.outbox.mark_unpublished([e.id for e in failed], retry_at, error)

        await self._db.run(mark)
        metrics.EVENTS_PUBLISHED.labels("confirmed").inc(len(done))
        if failed:
            metrics.EVENTS_PUBLISHED.labels("failed").inc(len(failed))
            log.warning(
                "events.publish_failed", count=len(failed), error=error, retry_at=retry_at.isoformat()
            )
            return 0  # the broker is in trouble: wait for the next round instead of spinning
        return len(events)
