"""Webhook events and the 3-D Secure return, mapped to neutral terms (pure; the signature
is checked by the adapter with :mod:`.protocol` before anything here runs).

=================================  ========================================================
event type                         Notification
=================================  ========================================================
payment_intent.succeeded,          PAYMENT; ``payment_status`` from the intent's status
.payment_failed, .canceled,        (SUCCEEDED, FAILED, CLOSED, PAYING, PAYING: the map in
.processing, .requires_action      :mod:`.transformers`), ``amount`` the intent's amount
charge.refunded                    PAYMENT with REFUNDED (the payment itself succeeded),
                                   ``amount`` the charge's amount
refund.created / .updated /        REFUND; ``refund_status`` from the refund's status,
.failed                            ``amount`` the refund's amount
anything else                      OTHER (acknowledged, ignored)
=================================  ========================================================

``attempt_no`` comes from the object's ``metadata.attempt_no`` (``refund_no`` from the
refund's ``metadata.refund_no``): paygate writes them on every intent and refund it makes.
An object without them (made in the Dashboard, by another integration) gives OTHER too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from paygate.channels.contract import (
    Notification,
    NotificationKind,
    PaymentStatus,
    ReturnInfo,
)
from paygate.channels.stripe.protocol import mask_wire
from paygate.channels.stripe.transformers import (
    ResponseMismatch,
    intent_status,
    map_refund_status,
    metadata_of,
    object_id,
    stripe_money,
    timestamp,
)

__all__ = ["PAYMENT_EVENTS", "REFUND_EVENTS", "notification_from_event", "return_info"]

PAYMENT_EVENTS: Final = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.processing",
        "payment_intent.requires_action",
    }
)
REFUND_EVENTS: Final = frozenset({"refund.created", "refund.updated", "refund.failed"})


def notification_from_event(event: Mapping[str, Any]) -> Notification:
    """A *verified* event → Notification. Raises ValueError (unusable) or
    UnknownChannelStatus. Objects paygate did not create (no ``attempt_no`` / ``refund_no``
    in their metadata) and other event types are OTHER: acknowledged, ignored."""
    event_id = object_id(event, "event")
    event_type = event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(event_type, str) or not isinstance(obj, Mapping):
        raise ResponseMismatch(f"event {event_id} has no type or data.object")
    payload = mask_wire(event)
    other = Notification(kind=NotificationKind.OTHER, notification_id=event_id, payload=payload)
    metadata = metadata_of(obj)
    common: dict[str, Any] = {
        "notification_id": event_id,
        "occurred_at": timestamp(event.get("created")),
        "payload": payload,
    }
    if event_type in PAYMENT_EVENTS:
        attempt_no = metadata.get("attempt_no")
        if not attempt_no:
            return other
        status, word = intent_status(obj)
        return Notification(
            kind=NotificationKind.PAYMENT,
            attempt_no=str(attempt_no),
            channel_trade_no=object_id(obj, "payment_intent"),
            payment_status=status,
            amount=stripe_money(obj),
            channel_status=word,
            **common,
        )
    if event_type == "charge.refunded":
        attempt_no = metadata.get("attempt_no")
        intent_id = obj.get("payment_intent")
        if not attempt_no or not isinstance(intent_id, str):
            return other
        object_id(obj, "charge")
        return Notification(
            kind=NotificationKind.PAYMENT,
            attempt_no=str(attempt_no),
            channel_trade_no=intent_id,
            payment_status=PaymentStatus.REFUNDED,
            amount=stripe_money(obj),
            channel_status=f"charge.refunded (amount_refunded={obj.get('amount_refunded')})",
            **common,
        )
    if event_type in REFUND_EVENTS:
        refund_no = metadata.get("refund_no")
        if not refund_no:
            return other
        object_id(obj, "refund")
        intent_id = obj.get("payment_intent")
        return Notification(
            kind=NotificationKind.REFUND,
            attempt_no=str(metadata.get("attempt_no") or ""),
            channel_trade_no=intent_id if isinstance(intent_id, str) else None,
            refund_no=str(refund_no),
            refund_status=map_refund_status(str(obj.get("status", ""))),
            amount=stripe_money(obj),
            channel_status=f"{event_type}: {obj.get('status')}",
            **common,
        )
    return other


def return_info(query: Mapping[str, str]) -> ReturnInfo:
    """The 3-D Secure return (``payment_intent``, ``payment_intent_client_secret``,
    ``redirect_status`` and our ``attempt_no``) is unsigned: it only names the attempt."""
    return ReturnInfo(attempt_no=query.get("attempt_no", ""), verified=False)
