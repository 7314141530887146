"""The methods that manage existing trades: query, close, cancel, refund, refund query,
and the bill download URL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paygate.sandbox.alipay.amounts import format_fen
from paygate.sandbox.alipay.bills import (
    DOWNLOAD_TTL,
    BillFile,
    BillStore,
    bill_period,
    render_signcustomer_bill,
    render_trade_bill,
)
from paygate.sandbox.alipay.calls import Call, bad_parameter
from paygate.sandbox.alipay.clock import BEIJING, format_time
from paygate.sandbox.alipay.core import AlipayCore
from paygate.sandbox.alipay.errors import invalid
from paygate.sandbox.alipay.ordering import paid_fields

__all__ = ["bill_download_url", "cancel", "close", "query", "refund", "refund_query"]

_SUCCESS = {"code": "10000", "msg": "Success"}


def query(core: AlipayCore, call: Call) -> dict[str, Any]:
    trade, events = core.book.query(call.app.app_id, *call.trade_ref())
    core.publish(events)
    fields = paid_fields(trade)
    if "gmt_payment" in fields:
        fields["send_pay_date"] = fields.pop("gmt_payment")
    fields["trade_status"] = trade.state.value
    return _SUCCESS | dict(sorted(fields.items()))


def close(core: AlipayCore, call: Call) -> dict[str, Any]:
    trade, events = core.book.close(call.app.app_id, *call.trade_ref())
    core.publish(events)
    return _SUCCESS | {"out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no}


def cancel(core: AlipayCore, call: Call) -> dict[str, Any]:
    trade, events = core.book.cancel(call.app.app_id, *call.trade_ref())
    core.publish(events)
    answer: dict[str, Any] = _SUCCESS | {
        "action": trade.cancel_action,
        "out_trade_no": trade.out_trade_no,
        "retry_flag": "N",
        "trade_no": trade.trade_no,
    }
    if trade.cancel_action == "refund" and trade.refunds:
        answer["gmt_refund_pay"] = format_time(trade.refunds[-1].at)
    return answer


def refund(core: AlipayCore, call: Call) -> dict[str, Any]:
    """Synchronous; ``out_request_no`` (default: the ``out_trade_no``) makes it
    idempotent: the same request again answers ``fund_change=N``."""
    out_trade_no, trade_no = call.trade_ref()
    amount = call.amount("refund_amount")
    out_request_no = call.text("out_request_no", max_len=64)
    if not out_request_no:
        found = core.book.by_trade_no(trade_no) if trade_no else None
        out_request_no = out_trade_no or (found.out_trade_no if found else trade_no)
    trade, done, moved, events = core.book.refund(
        call.app.app_id,
        out_trade_no,
        trade_no,
        amount=amount,
        out_request_no=out_request_no,
        reason=call.text("refund_reason"),
    )
    core.publish(events)
    buyer = trade.buyer
    return _SUCCESS | {
        "buyer_logon_id": buyer.masked_logon_id if buyer else "",
        "buyer_user_id": buyer.user_id if buyer else "",
        "fund_change": "Y" if moved else "N",
        "gmt_refund_pay": format_time(done.at),
        "out_trade_no": trade.out_trade_no,
        "refund_fee": format_fen(trade.refunded_amount),
        "send_back_fee": format_fen(done.amount),
        "trade_no": trade.trade_no,
    }


def refund_query(core: AlipayCore, call: Call) -> dict[str, Any]:
    """A refund that does not exist is *not* an error: the answer just carries no
    ``refund_status`` / ``refund_amount`` (Alipay's rule: absent means not refunded)."""
    out_trade_no, trade_no = call.trade_ref()
    out_request_no = call.text("out_request_no", required=True, max_len=64)
    trade, found = core.book.refund_query(call.app.app_id, out_trade_no, trade_no, out_request_no)
    if found is None:
        return dict(_SUCCESS)
    answer = _SUCCESS | {
        "out_request_no": found.out_request_no,
        "out_trade_no": trade.out_trade_no,
        "refund_amount": format_fen(found.amount),
        "refund_status": "REFUND_SUCCESS",
        "total_amount": format_fen(trade.total_amount),
        "trade_no": trade.trade_no,
    }
    options = call.biz.get("query_options") or []
    if isinstance(options, list) and "gmt_refund_pay" in options:
        answer["gmt_refund_pay"] = format_time(found.at)
    return answer


def bill_download_url(core: AlipayCore, call: Call) -> dict[str, Any]:
    bill_type = call.text("bill_type")
    if bill_type not in ("trade", "signcustomer"):
        raise invalid("isv.invalid-parameter", "参数无效: bill_type")
    bill_date = call.text("bill_date")
    if not bill_date:
        raise bad_parameter("bill_date")
    now = core.clock.now()
    start, end, label = bill_period(bill_date, now)
    merchant = call.app
    if bill_type == "trade":
        entries = core.book.bill_entries(merchant.seller_id, start, end)
        name, content = render_trade_bill(entries, merchant, start, end, label, now)
    else:
        origin = datetime(2000, 1, 1, tzinfo=BEIJING)
        entries = core.book.bill_entries(merchant.seller_id, origin, end)
        name, content = render_signcustomer_bill(entries, merchant, start, end, label, now)
    token = core.bills.put(BillFile(name, content, now + DOWNLOAD_TTL))
    query_string = BillStore.query_string(
        bill_type=bill_type, merchant=merchant, label=label, name=name, token=token, now=now
    )
    return _SUCCESS | {"bill_download_url": f"{core.public_url}/downloadBillFile.resource?{query_string}"}
