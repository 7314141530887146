"""What operators see of events and do with them (R-NTF-5, R-OPS-2): list, inspect with
every attempt, re-send. The operator API and the CLI both call this; every re-send is
audited by the caller's ``audit``."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from paygate.domain.events import DeliveryState, EventType
from paygate.kit.clock import iso_utc, utc_now
from paygate.kit.errors import ConflictError, ErrorCode, NotFoundError, RequestError
from paygate.models import DeliveryAttempt, EventDelivery, OutboxMessage
from paygate.repositories import Database, UnitOfWork

__all__ = ["Audit", "EventConsole"]

#: (actor, action, target, refused, detail) → recorded (``OperatorDirectory.audit``)
Audit = Callable[[str, str, str, bool, dict[str, Any]], Awaitable[None]]
EVENT_ID: Final = re.compile(r"evt_[0-9]{26}")
MAX_LIMIT: Final = 500


_iso = iso_utc


def _delivery(d: EventDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "url": d.url,
        "state": d.state.value,
        "attempts": d.attempts,
        "next_attempt_at": _iso(d.next_attempt_at) if d.state is DeliveryState.PENDING else None,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "requested_by": d.requested_by,
        "created_at": _iso(d.created_at),
        "finished_at": _iso(d.finished_at),
    }


def _attempt(a: DeliveryAttempt) -> dict[str, Any]:
    return {
        "attempt_no": a.attempt_no,
        "at": _iso(a.started_at),
        "outcome": a.outcome.value,
        "http_status": a.http_status,
        "duration_ms": a.duration_ms,
        "response_excerpt": a.response_excerpt,
        "error": a.error,
        "sent_by": a.sent_by,
    }


def _summary(event: OutboxMessage, deliveries: list[EventDelivery]) -> dict[str, Any]:
    states = [d.state for d in deliveries]
    if not states:
        delivery = "none"  # nothing to notify (no notify URL)
    elif DeliveryState.SUCCEEDED in states:
        delivery = "succeeded"
    elif DeliveryState.PENDING in states:
        delivery = "pending"
    else:
        delivery = "dead"
    return {
        "event_id": event.key,
        "type": event.topic,
        "aggregate": event.aggregate,
        "app_id": event.app_id,
        "created_at": _iso(event.created_at),
        "delivery": delivery,
        "attempts": sum(d.attempts for d in deliveries),
        "published_at": _iso(event.published_at),
    }


def check_event_id(event_id: str) -> str:
    if not EVENT_ID.fullmatch(event_id):
        raise RequestError(
            "an event id looks like evt_ followed by 26 digits", code=ErrorCode.INVALID_EVENT_ID
        )
    return event_id


class EventConsole:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(
        self,
        *,
        app_id: str | None = None,
        type_: str | None = None,
        aggregate: str | None = None,
        delivery: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """Events newest first; ``next`` is the ``before`` of the next page (or null)."""
        if type_ is not None and type_ not in {t.value for t in EventType}:
            raise RequestError(
                f"unknown event type {type_!r}; types: {', '.join(t.value for t in EventType)}",
                code=ErrorCode.INVALID_REQUEST,
            )
        state = None
        if delivery is not None:
            try:
                state = DeliveryState(delivery)
            except ValueError:
                raise RequestError(
                    f"unknown delivery state {delivery!r}; states: {', '.join(DeliveryState)}"
                ) from None
        if not 1 <= limit <= MAX_LIMIT:
            raise RequestError(f"limit is 1 to {MAX_LIMIT}")
        async with self._db.reading() as uow:
            before_id = None
            if before is not None:
                anchor = await uow.outbox.event(check_event_id(before))
                if anchor is None:
                    raise NotFoundError(f"no event {before}", code=ErrorCode.EVENT_NOT_FOUND)
                before_id = anchor.id
            found = await uow.outbox.events(
                app_id=app_id,
                type_=type_,
                aggregate=aggregate,
                delivery_state=state,
                before_id=before_id,
                limit=limit,
            )
        items = [_summary(e, ds) for e, ds in found]
        return {"items": items, "next": items[-1]["event_id"] if len(items) == limit else None}

    async def show(self, event_id: str) -> dict[str, Any]:
        """The event as sent, each delivery, and every attempt of each."""
        async with self._db.reading() as uow:
            event = await uow.outbox.event(check_event_id(event_id))
            if event is None:
                raise NotFoundError(f"no event {event_id}", code=ErrorCode.EVENT_NOT_FOUND)
            deliveries = await uow.outbox.deliveries(event.id)
            attempts = await uow.outbox.attempts([d.id for d in deliveries])
        by_delivery: dict[int, list[dict[str, Any]]] = {}
        for a in attempts:
            by_delivery.setdefault(a.delivery_id, []).append(_attempt(a))
        return {
            **_summary(event, deliveries),
            "body": json.loads(event.body),
            "publish_attempts": event.publish_attempts,
            "publish_error": event.publish_error,
            "deliveries": [{**_delivery(d), "attempt_log": by_delivery.get(d.id, [])} for d in deliveries],
        }

    async def resend(self, event_id: str, actor: str, audit: Audit) -> dict[str, Any]:
        """Deliver the event again, now (R-NTF-5): a delivery still pending is made due at
        once; otherwise a new delivery is added to the event's notify URL (the app's, if the
        event never had one). The app gets the same event id and body: it de-duplicates."""
        check_event_id(event_id)

        async def unit(uow: UnitOfWork) -> dict[str, Any]:
            event = await uow.outbox.event(event_id)
            if event is None:
                raise NotFoundError(f"no event {event_id}", code=ErrorCode.EVENT_NOT_FOUND)
            deliveries = await uow.outbox.deliveries(event.id)
            now = utc_now()
            pending = [d for d in deliveries if d.state is DeliveryState.PENDING]
            if pending:
                delivery = pending[-1]
                delivery.next_attempt_at = now
                delivery.requested_by = actor[:64]
                return {"event_id": event_id, "resend": "rescheduled", "delivery": _delivery(delivery)}
            url = deliveries[-1].url if deliveries else await uow.outbox.app_notify_url(event.app_id or "")
            if not url or event.app_id is None:
                raise ConflictError(
                    f"event {event_id} has no notify URL to send to (nor has its app)",
                    code=ErrorCode.EVENT_NOT_DELIVERABLE,
                )
            delivery = EventDelivery(
                event_id=event.id,
                app_id=event.app_id,
                url=url,
                sequence_key=deliveries[-1].sequence_key if deliveries else event.aggregate,
                state=DeliveryState.PENDING,
                attempts=0,
                next_attempt_at=now,
                requested_by=actor[:64],
                created_at=now,
            )
            uow.outbox.add_delivery(delivery)
            await uow.flush()
            return {"event_id": event_id, "resend": "queued", "delivery": _delivery(delivery)}

        try:
            answer = await self._db.run(unit)
        except (NotFoundError, ConflictError) as exc:
            await audit(actor, "resend_event", event_id, True, {"error": exc.code.name})
            raise
        await audit(actor, "resend_event", event_id, False, {"resend": answer["resend"]})
        return answer
