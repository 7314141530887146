"""WeChat Pay notifications (§2.4): the resource encrypted with the merchant's APIv3 key
(AEAD_AES_256_GCM, 12-character nonce, ``associated_data`` ``transaction`` or ``refund``),
wrapped in the event envelope. The body is built once, so ``id`` and the ciphertext are
identical on every retry; only the signature headers are fresh.

A notification is a JSON POST to the order's ``notify_url`` (refunds: the refund request's;
none without one). It is acknowledged by HTTP 200 or 204; anything else is tried again
after 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h — 16 attempts in
about 24 hours (the harness runs the schedule, scaled by ``time_scale``).
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any, Final

from paygate.kit.crypto import aes_gcm_encrypt
from paygate.sandbox.harness import DeliveryPolicy

from .keys import Merchant
from .state import Refund, Trade, rfc3339
from .store import WechatStore
from .wire import dump_json, signature_headers

__all__ = [
    "DELIVERY",
    "RETRY_SCHEDULE_SECONDS",
    "Event",
    "encrypt_resource",
    "payment_event",
    "publish",
    "refund_event",
]

#: Seconds between one attempt and the next (before time_scale).
RETRY_SCHEDULE_SECONDS: Final[tuple[int, ...]] = (
    15, 15, 30, 3 * 60, 10 * 60, 20 * 60, 30 * 60, 30 * 60, 30 * 60,
    60 * 60, 3 * 3600, 3 * 3600, 3 * 3600, 6 * 3600, 6 * 3600,
)  # fmt: skip
ACK_STATUSES: Final = frozenset({200, 204})

DELIVERY: Final = DeliveryPolicy(
    tuple(float(s) for s in RETRY_SCHEDULE_SECONDS),
    timeout=5.0,
    acknowledged=lambda status, body: status in ACK_STATUSES,
)

_REFUND_EVENTS = {
    "SUCCESS": ("REFUND.SUCCESS", "退款成功"),
    "ABNORMAL": ("REFUND.ABNORMAL", "退款异常"),
    "CLOSED": ("REFUND.CLOSED", "退款关闭"),
}


@dataclass(frozen=True)
class Event:
    id: str
    event_type: str
    url: str
    body: bytes
    public_key_mode: bool
    mchid: str
    out_trade_no: str
    out_refund_no: str | None = None


def new_gcm_nonce() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(12))


def encrypt_resource(
    apiv3_key: str, plaintext: bytes, associated_data: str, original_type: str
) -> dict[str, str]:
    nonce = new_gcm_nonce()
    sealed = aes_gcm_encrypt(apiv3_key.encode(), nonce.encode(), plaintext, associated_data.encode())
    return {
        "original_type": original_type,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def _envelope(event_type: str, summary: str, resource: dict[str, str], now: dt.datetime) -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    body: dict[str, Any] = {
        "id": event_id,
        "create_time": rfc3339(now),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": resource,
    }
    return event_id, dump_json(body)


def payment_event(trade: Trade, merchant: Merchant, now: dt.datetime) -> Event:
    resource = encrypt_resource(merchant.apiv3_key, dump_json(trade.to_wire()), "transaction", "transaction")
    event_id, body = _envelope("TRANSACTION.SUCCESS", "支付成功", resource, now)
    return Event(
        id=event_id,
        event_type="TRANSACTION.SUCCESS",
        url=trade.notify_url,
        body=body,
        public_key_mode=trade.public_key_mode,
        mchid=trade.mchid,
        out_trade_no=trade.out_trade_no,
    )


def refund_event(refund: Refund, merchant: Merchant, now: dt.datetime) -> Event | None:
    """The ``REFUND.*`` event for a refund's final status; None without a notify_url."""
    if refund.notify_url is None or refund.status not in _REFUND_EVENTS:
        return None
    event_type, summary = _REFUND_EVENTS[refund.status]
    resource = encrypt_resource(
        merchant.apiv3_key, dump_json(refund.notification_resource()), "refund", "refund"
    )
    event_id, body = _envelope(event_type, summary, resource, now)
    return Event(
        id=event_id,
        event_type=event_type,
        url=refund.notify_url,
        body=body,
        public_key_mode=refund.public_key_mode,
        mchid=refund.trade.mchid,
        out_trade_no=refund.trade.out_trade_no,
        out_refund_no=refund.out_refund_no,
    )


def publish(store: WechatStore, event: Event) -> None:
    """Deliver ``event``: the same body each time, signature headers signed anew."""

    def render() -> tuple[bytes, dict[str, str]]:
        headers = signature_headers(store.platform, event.body, public_key_mode=event.public_key_mode)
        return event.body, {**headers, "Content-Type": "application/json", "User-Agent": "Mozilla/4.0"}

    tags = {"event_type": event.event_type, "mchid": event.mchid, "out_trade_no": event.out_trade_no}
    if event.out_refund_no is not None:
        tags["out_refund_no"] = event.out_refund_no
    store.harness.notifier.publish(event.url, render, tags=tags, delivery_id=event.id)
