"""The parameters of Alipay's asynchronous notifications and synchronous return redirects
(§1.4), built from a trade snapshot. Nothing here signs or sends; empty values are left
out because Alipay never sends an empty parameter."""

from __future__ import annotations

import json
from datetime import datetime

from paygate.sandbox.alipay.amounts import format_fen
from paygate.sandbox.alipay.clock import format_time, format_time_ms
from paygate.sandbox.alipay.keys import MerchantApp
from paygate.sandbox.alipay.trades import Trade, TradeEvent

__all__ = ["charset_label", "notification_params", "return_params"]


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
