"""The outbox: events written in the same transaction as the change they announce, their
deliveries to apps with every attempt (R-NTF-5), and their publication to the broker
(R-NTF-6). Dispatchers in any number of processes claim work here with
``FOR UPDATE SKIP LOCKED`` and a lease (see :mod:`paygate.repositories.claims`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError

from paygate.domain.events import AttemptOutcome, DeliveryState
from paygate.models import App, DeliveryAttempt, EventDelivery, OutboxMessage
from paygate.repositories.claims import skip_locked
from paygate.repositories.errors import ConcurrentUpdate
from paygate.repositories.rows import insert_family

__all__ = ["ClaimedDelivery", "DeliveryResult", "OutboxRepository"]


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery a dispatcher holds under its lease, with what it needs to send it."""

    delivery_id: int
    attempts: int  # attempts made before this one
    url: str
    app_id: str
    event_key: str
    event_type: str
    sequence_key: str
    body: str


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt came to, and what the delivery becomes."""

    delivery_id: int
    attempt_no: int
    started_at: datetime
    duration_ms: int
    outcome: AttemptOutcome
    http_status: int | None
    response_excerpt: str | None
    error: str | None
    state: DeliveryState
    sent_by: str
    next_attempt_at: datetime | None  # when still pending


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # ------------------------------------------------------------------ writing events

    async def add(
        self, event: OutboxMessage, deliveries: Sequence[EventDelivery] = (), also: Sequence[object] = ()
    ) -> None:
        """Write an event, its deliveries and ``also`` (rows of the same change, e.g. its
        trade-log row) now, in the unit of work's transaction: on PostgreSQL as one statement."""
        try:  # what the change wrote before goes first (log rows keep their order); no-op if nothing
            await self._session.flush()
        except StaleDataError as exc:
            raise ConcurrentUpdate(str(exc)) from exc
        await insert_family(self._session, event, [(deliveries, "event_id", False), (also, None, False)])

    # ------------------------------------------------------------------ app deliveries

    async def claim_deliveries(
        self, now: datetime, limit: int, lease_until: datetime, token: str
    ) -> list[ClaimedDelivery]:
        """Up to ``limit`` due deliveries, each the first unfinished one of its sequence (a
        trade's events go out in order), leased to ``token`` until ``lease_until``."""
        d, earlier = EventDelivery, aliased(EventDelivery)
        blocked = exists().where(
            earlier.sequence_key == d.sequence_key,
            earlier.id < d.id,
            # lower(): the probe must go through the sequence index. With the state index
            # usable here, a planner misled by stale statistics (a burst of new deliveries
            # before autoanalyze) scanned every pending row once per candidate: quadratic
            func.lower(earlier.state) == DeliveryState.PENDING.value,
        )
        ids = list(
            (
                await self._session.execute(
                    skip_locked(
                        select(d.id)
                        .where(
                            d.state == DeliveryState.PENDING,
                            d.next_attempt_at <= now,
                            or_(d.lease_until.is_(None), d.lease_until < now),
                            ~blocked,
                        )
                        .order_by(d.id)
                        .limit(limit)
                    )
                )
            ).scalars()
        )
        if not ids:
            return []
        await self._session.execute(
            update(d).where(d.id.in_(ids)).values(lease_until=lease_until, claimed_by=token)
        )
        rows = await self._session.execute(
            select(
                d.id,
                d.attempts,
                d.url,
                d.app_id,
                d.sequence_key,
                OutboxMessage.key,
                OutboxMessage.topic,
                OutboxMessage.body,
            )
            .join(OutboxMessage, OutboxMessage.id == d.event_id)
            .where(d.id.in_(ids))
            .order_by(d.id)
        )
        return [
            ClaimedDelivery(
                delivery_id=r.id,
                attempts=r.attempts,
                url=r.url,
                app_id=r.app_id,
                event_key=r.key,
                event_type=r.topic,
                sequence_key=r.sequence_key,
                body=r.body,
            )
            for r in rows
        ]

    async def record_results(self, results: Sequence[DeliveryResult], token: str) -> list[DeliveryResult]:
        """Write the attempts and the deliveries' new states — only for deliveries still
        leased to ``token`` (a dispatcher whose lease ran out records nothing: the one that
        took over does). Returns the results written."""
        if not results:
            return []
        d = EventDelivery
        ours = set(
            (
                await self._session.execute(
                    select(d.id)
                    .where(d.id.in_([r.delivery_id for r in results]), d.claimed_by == token)
                    .with_for_update()
                )
            ).scalars()
        )
        kept = [r for r in results if r.delivery_id in ours]
        if not kept:
            return []
        # Core statements (executemany) on the tables: the ORM's bulk paths cost more per row
        await self._session.execute(
            insert(cast(Table, DeliveryAttempt.__table__)),
            [
                {
                    "delivery_id": r.delivery_id,
                    "attempt_no": r.attempt_no,
                    "started_at": r.started_at,
                    "duration_ms": r.duration_ms,
                    "outcome": r.outcome,
                    "http_status": r.http_status,
                    "response_excerpt": r.response_excerpt,
                    "error": r.error,
                    "sent_by": r.sent_by,
                }
                for r in kept
            ],
        )
        table = cast(Table, EventDelivery.__table__)
        await self._session.execute(
            update(table).where(table.c.id == bindparam("delivery_id")),
            [
                {
                    "delivery_id": r.delivery_id,
                    "state": r.state,
                    "attempts": r.attempt_no,
                    "lease_until": None,
                    "claimed_by": None,
                    "last_status": r.http_status,
                    "last_error": r.error,
                    "finished_at": None if r.state is DeliveryState.PENDING else r.started_at,
                    "next_attempt_at": r.next_attempt_at or r.started_at,
                }
                for r in kept
            ],
        )
        return kept

    # ------------------------------------------------------------------ the broker

    async def claim_unpublished(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[OutboxMessage]:
        """Up to ``limit`` events not yet confirmed by the broker, oldest first, held until
        ``lease_until`` (then another relay may take them)."""
        rows = await self._session.execute(
            skip_locked(
                select(OutboxMessage)
                .where(OutboxMessage.published_at.is_(None), OutboxMessage.publish_after <= now)
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )
        events = list(rows.scalars())
        if events:
            await self._session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([e.id for e in events]))
                .values(publish_after=lease_until)
            )
        return events

    async def mark_published(self, event_ids: Sequence[int], now: datetime) -> None:
        if event_ids:
            await self._session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(list(event_ids)))
                .values(published_at=now, publish_error=None)
            )

    async def mark_unpublished(self, event_ids: Sequence[int], retry_at: datetime, error: str) -> None:
        if event_ids:
            await self._session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(list(event_ids)))
                .values(
                    publish_after=retry_at,
                    publish_attempts=OutboxMessage.publish_attempts + 1,
                    publish_error=error[:256],
                )
            )

    # ------------------------------------------------------------------ operators

    async def events(
        self,
        *,
        app_id: str | None = None,
        type_: str | None = None,
        aggregate: str | None = None,
        delivery_state: DeliveryState | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[tuple[OutboxMessage, list[EventDelivery]]]:
        """Events, newest first, with their deliveries."""
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if app_id is not None:
            query = query.where(OutboxMessage.app_id == app_id)
        if type_ is not None:
            query = query.where(OutboxMessage.topic == type_)
        if aggregate is not None:
            query = query.where(OutboxMessage.aggregate == aggregate)
        if before_id is not None:
            query = query.where(OutboxMessage.id < before_id)
        if delivery_state is not None:
            query = query.where(
                exists().where(
                    and_(EventDelivery.event_id == OutboxMessage.id, EventDelivery.state == delivery_state)
                )
            )
        events = list((await self._session.execute(query)).scalars())
        by_event = await self._deliveries_of([e.id for e in events])
        return [(e, by_event.get(e.id, [])) for e in events]

    async def event(self, key: str) -> OutboxMessage | None:
        rows = await self._session.execute(select(OutboxMessage).where(OutboxMessage.key == key))
        return rows.scalar_one_or_none()

    async def deliveries(self, event_id: int) -> list[EventDelivery]:
        return (await self._deliveries_of([event_id])).get(event_id, [])

    async def attempts(self, delivery_ids: Sequence[int]) -> list[DeliveryAttempt]:
        if not delivery_ids:
            return []
        rows = await self._session.execute(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(list(delivery_ids)))
            .order_by(DeliveryAttempt.id)
        )
        return list(rows.scalars())

    def add_delivery(self, delivery: EventDelivery) -> None:
        self._session.add(delivery)

    async def app_notify_url(self, app_id: str) -> str | None:
        rows = await self._session.execute(select(App.notify_url).where(App.app_id == app_id))
        return rows.scalar_one_or_none()

    async def _deliveries_of(self, event_ids: list[int]) -> dict[int, list[EventDelivery]]:
        if not event_ids:
            return {}
        rows = await self._session.execute(
            select(EventDelivery).where(EventDelivery.event_id.in_(event_ids)).order_by(EventDelivery.id)
        )
        out: dict[int, list[EventDelivery]] = {}
        for delivery in rows.scalars():
            out.setdefault(delivery.event_id, []).append(delivery)
        return out
