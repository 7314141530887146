"""Stripe's notifications: events and the webhooks that carry them.

Every change to an object records an :class:`Event` holding a snapshot of the object as it
was then (``/v1/events`` lists them). Each event goes to every enabled
:class:`WebhookEndpoint` that wants its type, as pretty-printed JSON signed with
``Stripe-Signature`` (:func:`.wire.signature_header`, a fresh timestamp on every attempt).
Any 2xx acknowledges; anything else (another status, no answer within 10 s, a refused
connection) is retried after 1, 2, 4, 8, 16, 32, 64, 128, 256, 512 minutes, then every 12
hours four times — 15 attempts over about 65 hours ("up to three days"). Each endpoint gets
its events one at a time, in order. The harness runs the schedule (scaled by
``time_scale``) and records the attempts; :func:`webhook_attempts` shows them the way
Stripe's dashboard words them (``delivered``, ``rejected``, ``error``, ``dropped``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from paygate.kit.crypto import Secret
from paygate.sandbox.harness import DeliveryPolicy, Notifier, Undeliverable

from .state import Record
from .wire import signature_header

__all__ = [
    "DELIVERY",
    "EVENT_TYPES",
    "RETRY_SCHEDULE_SECONDS",
    "Event",
    "WebhookAttempt",
    "WebhookEndpoint",
    "deliver",
    "webhook_attempts",
]

RETRY_SCHEDULE_SECONDS: Final[tuple[int, ...]] = (
    60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720,
    43200, 43200, 43200, 43200,
)  # fmt: skip
USER_AGENT: Final = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"

DELIVERY: Final = DeliveryPolicy(
    tuple(float(s) for s in RETRY_SCHEDULE_SECONDS),
    timeout=10.0,
    acknowledged=lambda status, body: 200 <= status < 300,
    in_order=True,
)

#: The event types this sandbox emits. ``enabled_events`` may name any well-formed Stripe
#: event type (Stripe has hundreds); those not listed here are simply never sent.
EVENT_TYPES: Final = frozenset(
    {
        "payment_intent.created",
        "payment_intent.requires_action",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.succeeded",
        "charge.failed",
        "charge.refunded",
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
        "refund.failed",
        "payout.created",
        "payout.paid",
        "payout.updated",
    }
)


@dataclass(kw_only=True)
class Event(Record):
    type: str
    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None
    request_id: str | None
    idempotency_key: str | None
    api_version: str
    pending_webhooks: int = 0
    delivered: bool = False

    def to_wire(self) -> dict[str, Any]:
        data: dict[str, Any] = {"object": self.object}
        if self.previous_attributes is not None:
            data["previous_attributes"] = self.previous_attributes
        return {
            "id": self.id,
            "object": "event",
            "api_version": self.api_version,
            "created": self.created,
            "data": data,
            "livemode": False,
            "pending_webhooks": self.pending_webhooks,
            "request": {"id": self.request_id, "idempotency_key": self.idempotency_key},
            "type": self.type,
        }

    def payload(self) -> str:
        """The webhook body: pretty-printed JSON, as Stripe sends it."""
        return json.dumps(self.to_wire(), indent=2, ensure_ascii=False)


@dataclass(kw_only=True)
class WebhookEndpoint(Record):
    url: str
    enabled_events: list[str]
    secret: Secret
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    status: str = "enabled"
    api_version: str | None = None

    def wants(self, event_type: str) -> bool:
        if self.status != "enabled":
            return False
        return "*" in self.enabled_events or event_type in self.enabled_events

    def to_wire(self, *, with_secret: bool = False) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": self.api_version,
            "application": None,
            "created": self.created,
            "description": self.description,
            "enabled_events": list(self.enabled_events),
            "livemode": False,
            "metadata": dict(self.metadata),
            "status": self.status,
            "url": self.url,
        }
        if with_secret:
            wire["secret"] = self.secret.reveal()
        return wire


def deliver(notifier: Notifier, event: Event, endpoints: list[WebhookEndpoint]) -> None:
    """Queue ``event`` for each endpoint that wants it (oldest endpoint first)."""
    targets = [e for e in endpoints if e.wants(event.type)]
    event.pending_webhooks = len(targets)
    for endpoint in targets:
        notifier.publish(
            endpoint.url,
            _renderer(event, endpoint),
            tags={"event_id": event.id, "event_type": event.type, "endpoint_id": endpoint.id},
            on_acknowledged=_acknowledger(event),
        )


def _renderer(event: Event, endpoint: WebhookEndpoint) -> Callable[[], tuple[bytes, dict[str, str]]]:
    def render() -> tuple[bytes, dict[str, str]]:
        if endpoint.status != "enabled":
            raise Undeliverable("endpoint disabled or deleted")
        payload = event.payload()
        return payload.encode(), {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": signature_header(payload, endpoint.secret),
        }

    return render


def _acknowledger(event: Event) -> Callable[[], None]:
    def acknowledged() -> None:
        event.delivered = True
        event.pending_webhooks = max(0, event.pending_webhooks - 1)

    return acknowledged


#: The harness's attempt outcomes in the words of Stripe's dashboard.
_OUTCOME_WORDS: Final = {"success": "delivered", "failed": "rejected"}


@dataclass(frozen=True)
class WebhookAttempt:
    """One delivery attempt, as ``sandbox.webhook_attempts`` and ``GET /_sandbox/webhooks``
    show it."""

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


def webhook_attempts(notifier: Notifier) -> list[WebhookAttempt]:
    """Every webhook attempt so far, in the order they were made (one in flight: ``sending``)."""
    made = [
        (a.at, n, d, a)
        for n, d in enumerate(notifier.deliveries)
        for a in (*d.attempts, *([d.sending] if d.sending is not None else []))
        if "event_id" in d.tags
    ]
    made.sort(key=lambda item: (item[0], item[1]))
    return [
        WebhookAttempt(
            event_id=d.tags["event_id"],
            event_type=d.tags["event_type"],
            endpoint_id=d.tags["endpoint_id"],
            url=d.url,
            attempt=a.number,
            scheduled_delay=int(a.scheduled_delay),
            at=int(a.at.timestamp()),
            outcome=_OUTCOME_WORDS.get(a.outcome, a.outcome),
            status=a.status,
            error=a.error,
            duplicate=a.duplicate,
        )
        for _, _, d, a in made
    ]
