"""Alipay's asynchronous notifications (§1.4) and synchronous return redirects.

A notification is a form POST to the ``notify_url`` the merchant sent with the creating
request, signed with the sandbox's Alipay key (``sign`` and ``sign_type`` left out of the
canonical string, empty values kept — so none is ever sent). It is sent on
``TRADE_SUCCESS``, on ``TRADE_CLOSED`` of a trade that existed, on every refund whose
money moved and on ``TRADE_FINISHED``; built from a trade snapshot taken when it happened,
so its content never changes. Each attempt is signed anew (``notify_time`` changes;
``notify_id`` never does). Alipay is done when the answer's body is exactly ``success``;
otherwise it tries again after 4m, 10m, 10m, 1h, 2h, 6h and 15h — 8 attempts in about 25
hours (the harness runs the schedule, scaled by ``time_scale``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Final

from paygate.sandbox.alipay.keys import MerchantApp
from paygate.sandbox.alipay.state import Trade, TradeEvent, new_notify_id
from paygate.sandbox.alipay.wire import (
    encode_form,
    format_fen,
    format_time,
    format_time_ms,
    sign_notification,
)
from paygate.sandbox.harness import DeliveryPolicy, Harness

__all__ = [
    "DELIVERY",
    "RETRY_SCHEDULE_SECONDS",
    "charset_label",
    "notification_params",
    "publish",
    "return_params",
]

#: Seconds between one attempt and the next.
RETRY_SCHEDULE_SECONDS: Final = (4 * 60.0, 10 * 60.0, 10 * 60.0, 3600.0, 2 * 3600.0, 6 * 3600.0, 15 * 3600.0)


def _acknowledged(status: int, body: bytes) -> bool:
    """Only the exact body ``success`` ends a delivery ("SUCCESS" or "success\\n" do not)."""
    return body == b"success"


DELIVERY: Final = DeliveryPolicy(RETRY_SCHEDULE_SECONDS, timeout=15.0, acknowledged=_acknowledged)


def charset_label(codec: str) -> str:
    return "utf-8" if codec == "utf-8" else "gbk"


def _time(moment: datetime | None) -> str:
    return format_time(moment) if moment else ""


def notification_params(event: TradeEvent, merchant: MerchantApp, notify_id: str) -> dict[str, str]:
    """Everything but ``notify_time``, ``sign_type`` and ``sign`` (added per attempt)."""
    t = event.trade
    params = {
        "notify_type": "trade_status_sync",
        "notify_id": notify_id,
        "app_id": t.app_id,
        "auth_app_id": t.app_id,
        "charset": charset_label(t.codec),
        "version": "1.0",
        "trade_no": t.trade_no,
        "out_trade_no": t.out_trade_no,
        "buyer_id": t.buyer.user_id if t.buyer else "",
        "buyer_logon_id": t.buyer.masked_logon_id if t.buyer else "",
        "seller_id": merchant.seller_id,
        "seller_email": merchant.seller_email,
        "trade_status": t.state.value,
        "total_amount": format_fen(t.total_amount),
        "subject": t.subject,
        "body": t.body,
        "gmt_create": _time(t.gmt_create),
        "passback_params": t.passback_params,
    }
    if t.paid:
        paid = format_fen(t.receipt_amount)
        params |= {
            "receipt_amount": paid,
            "invoice_amount": paid,
            "buyer_pay_amount": paid,
            "point_amount": "0.00",
            "gmt_payment": _time(t.gmt_payment),
            "fund_bill_list": json.dumps(
                [{"amount": paid, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
            ),
        }
    if event.kind == "refunded" and event.refund is not None:
        params |= {
            "refund_fee": format_fen(t.refunded_amount),
            "gmt_refund": format_time_ms(event.refund.at),
            "out_biz_no": event.refund.out_request_no,
        }
    params["gmt_close"] = _time(t.gmt_close)
    return {k: v for k, v in params.items() if v != ""}


def return_params(trade: Trade, merchant: MerchantApp, now: datetime) -> dict[str, str]:
    """The query of the browser redirect to ``return_url`` after a page/wap payment
    (unsigned: the caller adds ``sign_type`` and ``sign`` like a notification)."""
    return {
        "charset": charset_label(trade.codec),
        "out_trade_no": trade.out_trade_no,
        "method": trade.method + ".return",
        "total_amount": format_fen(trade.total_amount),
        "trade_no": trade.trade_no,
        "auth_app_id": trade.app_id,
        "version": "1.0",
        "app_id": trade.app_id,
        "seller_id": merchant.seller_id,
        "timestamp": format_time(now),
    }


def publish(harness: Harness, event: TradeEvent, merchant: MerchantApp, alipay_private_key: str) -> None:
    """Queue the notification of ``event`` (none without a ``notify_url``)."""
    trade = event.trade
    if not trade.notify_url:
        return
    notify_id = new_notify_id(harness.clock.now())
    params = notification_params(event, merchant, notify_id)
    charset = charset_label(trade.codec)

    def render() -> tuple[bytes, dict[str, str]]:
        stamped = {**params, "notify_time": format_time(harness.clock.now())}
        signed = sign_notification(stamped, alipay_private_key, trade.sign_type, trade.codec)
        body = encode_form(signed, trade.codec).encode("ascii")
        return body, {"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"}

    tags = {
        "notify_id": notify_id,
        "app_id": trade.app_id,
        "out_trade_no": trade.out_trade_no,
        "trade_status": params["trade_status"],
    }
    harness.notifier.publish(trade.notify_url, render, tags=tags, delivery_id=notify_id)
