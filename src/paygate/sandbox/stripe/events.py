"""Events, webhook endpoints and Stripe's webhook signature.

Every change to an object records an :class:`Event` holding a snapshot of the object as it
was then. Webhooks carry the event as JSON signed with ``Stripe-Signature:
t=<unix>,v1=<hex>``, where ``v1`` is HMAC-SHA256 of ``f"{t}.{payload}"`` keyed with the
whole ``whsec_…`` string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from paygate.kit.crypto import Secret, hmac_sha256_hex

__all__ = [
    "EVENT_TYPES",
    "Event",
    "WebhookEndpoint",
    "sign_payload",
    "signature_header",
]

from .store import Record

#: The event types this sandbox emits. ``enabled_events`` may name any well-formed Stripe
#: event type (Stripe has hundreds); those not listed here are simply never sent.
EVENT_TYPES = frozenset(
    {
        "payment_intent.created",
        "payment_intent.requires_action",
        "payment_intent.processing",
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.pending",
        "charge.succeeded",
        "charge.failed",
        "charge.captured",
        "charge.refunded",
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


def sign_payload(payload: str, secret: Secret, timestamp: int) -> str:
    signed = f"{timestamp}.{payload}".encode()
    return hmac_sha256_hex(secret.reveal().encode(), signed)


def signature_header(payload: str, secret: Secret, timestamp: int) -> str:
    return f"t={timestamp},v1={sign_payload(payload, secret, timestamp)}"
