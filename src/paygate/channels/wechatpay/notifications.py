"""Inbound notifications (R-NTF-1, R-SEC-3): verify, decrypt, check the merchant, map.

Order of checks, each failure a :class:`~paygate.channels.contract.NotificationRejected`:
the ``Wechatpay-Signature/Timestamp/Nonce/Serial`` headers are present (a
``Signature-Type`` other than ``WECHATPAY2-SHA256-RSA2048`` is refused); the timestamp is
within 5 minutes of now (a replayed old notification is refused); the signature verifies
over the raw body with the platform key the serial names (public key or a cached
certificate — an unknown serial triggers a background refresh and is refused); the body
is a JSON event whose resource decrypts with the APIv3 key (AEAD_AES_256_GCM, which
also detects tampering); the resource's ``mchid`` is the account's, and a payment's
``appid`` the account's; its status is in the transformer's exhaustive maps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from paygate.channels.contract import (
    ChannelAccount,
    ChannelError,
    Notification,
    NotificationRejected,
    UnknownChannelStatus,
)
from paygate.channels.wechatpay.client import WechatPayClient
from paygate.channels.wechatpay.protocol import decrypt_resource, response_message, signature_headers
from paygate.channels.wechatpay.transformers import notification_from_event
from paygate.kit.crypto import rsa_verify

__all__ = ["NOTIFICATION_TOLERANCE", "parse_notification"]

#: A notification whose Wechatpay-Timestamp is further from now is refused (replays).
NOTIFICATION_TOLERANCE: Final = timedelta(minutes=5)


def _verify(
    client: WechatPayClient, account: ChannelAccount, headers: Mapping[str, str], body: bytes, now: datetime
) -> None:
    try:
        sig = signature_headers(headers, require_type=False)
    except ValueError as exc:
        raise NotificationRejected(f"unsigned notification: {exc}") from None
    try:
        sent_at = datetime.fromtimestamp(int(sig.timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        raise NotificationRejected(f"bad Wechatpay-Timestamp {sig.timestamp!r}") from None
    if abs(now - sent_at) > NOTIFICATION_TOLERANCE:
        raise NotificationRejected(f"Wechatpay-Timestamp {sig.timestamp} is more than 5 minutes away")
    try:
        key = client.public_key_for(account, sig.serial)
    except ChannelError as exc:
        raise NotificationRejected(f"no usable platform key: {exc.message}") from None
    if key is None:
        client.schedule_refresh(account)
        raise NotificationRejected(f"unknown platform serial {sig.serial!r}")
    if not rsa_verify(key, response_message(sig.timestamp, sig.nonce, body), sig.signature):
        raise NotificationRejected("the notification's signature does not verify")


def parse_notification(
    client: WechatPayClient,
    account: ChannelAccount,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
) -> Notification:
    """A genuine notification for ``account`` → Notification, or NotificationRejected."""
    _verify(client, account, headers, body, now)
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise NotificationRejected("the notification is not JSON") from None
    if not isinstance(event, dict):
        raise NotificationRejected("the notification is not a JSON object")
    summary = {k: event.get(k) for k in ("id", "event_type", "create_time", "resource_type")}
    try:
        plain = decrypt_resource(client.apiv3_key(account), event.get("resource"))
        resource = json.loads(plain.decode("utf-8"))
    except ChannelError as exc:
        raise NotificationRejected(exc.message, summary) from None
    except ValueError as exc:  # CryptoError, UnicodeDecodeError, JSONDecodeError
        raise NotificationRejected(f"the resource does not decrypt: {exc}", summary) from None
    if not isinstance(resource, dict):
        raise NotificationRejected("the resource is not a JSON object", summary)
    try:
        return notification_from_event(
            event, resource, mchid=account.merchant_id, appid=account.params.get("appid", "")
        )
    except (ValueError, UnknownChannelStatus) as exc:
        raise NotificationRejected(f"unusable notification: {exc}", summary) from None
