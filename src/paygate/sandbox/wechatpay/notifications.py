"""Building WeChat Pay notifications (§2.4): the resource encrypted with the merchant's
APIv3 key (AEAD_AES_256_GCM, 12-character nonce, ``associated_data`` ``transaction`` or
``refund``), wrapped in the event envelope. The body is built once, so ``id`` and the
ciphertext are identical on every retry; only the signature headers are fresh."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any

from paygate.kit.crypto import aes_gcm_encrypt

from .keys import Merchant
from .state import Refund, Trade, rfc3339
from .wire import dump_json

__all__ = ["Event", "encrypt_resource", "payment_event", "refund_event"]

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
