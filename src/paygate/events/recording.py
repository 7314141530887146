"""Emitting an event: one outbox row, and one delivery row per notify URL, written through
the unit of work of the state change it announces — committed with it or not at all."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from paygate.domain.events import DeliveryState, EventType
from paygate.kit.clock import iso_utc, utc_now
from paygate.kit.ids import new_id
from paygate.models import EventDelivery, OutboxMessage
from paygate.repositories import UnitOfWork

__all__ = ["build", "event_body", "new_event_id", "record"]


def new_event_id(now: datetime | None = None) -> str:
    """``evt_`` + UTC time + 12 random digits: unique without coordination, time-ordered."""
    return new_id("evt_", now)


def event_body(event_id: str, type_: EventType, occurred_at: datetime, data: Mapping[str, Any]) -> str:
    """The JSON every receiver gets: ``{"id", "type", "timestamp", "data"}`` (compact)."""
    return json.dumps(
        {"id": event_id, "type": type_.value, "timestamp": iso_utc(occurred_at), "data": dict(data)},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def build(
    type_: EventType,
    *,
    aggregate: str,
    app_id: str,
    data: Mapping[str, Any],
    notify_url: str | None,
    sequence: str | None = None,
) -> tuple[OutboxMessage, list[EventDelivery]]:
    """An event's outbox row and its delivery rows, not yet written (see :func:`record`)."""
    now = utc_now()
    event_id = new_event_id(now)
    event = OutboxMessage(
        key=event_id,
        topic=type_.value,
        aggregate=aggregate,
        app_id=app_id,
        body=event_body(event_id, type_, now, data),
        created_at=now,
        publish_after=now,
        publish_attempts=0,
    )
    deliveries = []
    if notify_url:
        deliveries.append(
            EventDelivery(
                app_id=app_id,
                url=notify_url,
                sequence_key=(sequence or aggregate)[:64],
                state=DeliveryState.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return event, deliveries


async def record(
    uow: UnitOfWork,
    type_: EventType,
    *,
    aggregate: str,
    app_id: str,
    data: Mapping[str, Any],
    notify_url: str | None,
    sequence: str | None = None,
    also: Sequence[object] = (),
) -> str:
    """Emit an event in ``uow``'s transaction and return its id (``evt_…``).

    ``aggregate`` names the object (``trade_no``, ``refund_no``); ``data`` is the object as
    the query API shows it (JSON-ready); ``notify_url`` is where the app is told (the
    request's, else the app's; ``None``: the app is not notified, the broker still is).
    Events with the same ``sequence`` (default: the aggregate; a refund may pass its
    trade's number) reach the app in the order they were recorded. ``also``: rows of the
    same change written with the event (one statement on PostgreSQL), e.g. its log row.
    """
    event, deliveries = build(
        type_, aggregate=aggregate, app_id=app_id, data=data, notify_url=notify_url, sequence=sequence
    )
    await uow.outbox.add(event, deliveries, also)
    return event.key
