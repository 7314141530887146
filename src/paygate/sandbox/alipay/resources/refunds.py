"""``alipay.trade.refund`` and ``alipay.trade.fastpay.refund.query``.

Alipay answers a refund synchronously; ``out_request_no`` (default: the ``out_trade_no``)
makes it idempotent: the same request again answers ``fund_change=N``. Usually the money
moves at once (``fund_change=Y``). The ``refunds`` fault makes the next refunds slow or
failing, as bank-card refunds can be: accepted with ``fund_change=N``, ``PROCESSING`` for
``delay_seconds`` (default :data:`SETTLE_SECONDS`, times ``time_scale``), then
``REFUND_SUCCESS`` (notified) or ``REFUND_FAILED`` — or, with ``MANUAL``, whatever
``POST /_sandbox/refunds/{out_request_no}`` says. Until it succeeds the refund query
carries no ``refund_status`` and no amount: Alipay's way of saying "not refunded".
"""

from __future__ import annotations

from typing import Any, Final

from paygate.sandbox.alipay.api import Call
from paygate.sandbox.alipay.state import IllegalTransition
from paygate.sandbox.alipay.store import AlipayStore
from paygate.sandbox.alipay.wire import format_fen, format_time
from paygate.sandbox.harness import MANUAL, RefundFate

__all__ = ["REFUND_OUTCOMES", "SETTLE_SECONDS", "refund", "refund_query", "settle"]

#: How a refund may end (the ``refunds`` fault's outcomes).
REFUND_OUTCOMES: Final = ("REFUND_SUCCESS", "REFUND_FAILED")
#: Channel seconds a slow refund stays processing when the fault names no delay.
SETTLE_SECONDS: Final = 10.0

_SUCCESS: Final = {"code": "10000", "msg": "Success"}


def refund(store: AlipayStore, call: Call) -> dict[str, Any]:
    out_trade_no, trade_no = call.trade_ref()
    amount = call.amount("refund_amount")
    out_request_no = call.text("out_request_no", max_len=64)
    if not out_request_no:
        found = store.book.by_trade_no(trade_no) if trade_no else None
        out_request_no = out_trade_no or (found.out_trade_no if found else trade_no)
    fates: list[RefundFate | None] = []

    def at_once() -> bool:  # asked only when a refund is made (not for a repeat)
        fates.append(store.harness.faults.take_refund_fate())
        fate = fates[0]
        return fate is None or (fate.outcome == "REFUND_SUCCESS" and not fate.delay_seconds)

    trade, done, step, events = store.book.refund(
        call.app.app_id,
        out_trade_no,
        trade_no,
        amount=amount,
        out_request_no=out_request_no,
        reason=call.text("refund_reason"),
        at_once=at_once,
    )
    store.publish(events)
    fate = fates[0] if fates else None
    if step == "processing" and fate is not None and fate.outcome != MANUAL:
        delay = SETTLE_SECONDS if fate.delay_seconds is None else fate.delay_seconds
        success = fate.outcome == "REFUND_SUCCESS"
        ref = (trade.app_id, trade.out_trade_no, done.out_request_no)
        store.harness.scheduler.later(delay, lambda: _settle_quietly(store, *ref, success))
    moved = step == "moved"
    buyer = trade.buyer
    return _SUCCESS | {
        "buyer_logon_id": buyer.masked_logon_id if buyer else "",
        "buyer_user_id": buyer.user_id if buyer else "",
        "fund_change": "Y" if moved else "N",
        "gmt_refund_pay": format_time(done.at),
        "out_trade_no": trade.out_trade_no,
        "refund_fee": format_fen(trade.refunded_amount),
        "send_back_fee": format_fen(done.amount if done.done else 0),
        "trade_no": trade.trade_no,
    }


def settle(store: AlipayStore, app_id: str, out_trade_no: str, out_request_no: str, success: bool) -> None:
    """A processing refund's money moves (notified) or the refund fails."""
    store.publish(store.book.settle_refund(app_id, out_trade_no, out_request_no, success))


def _settle_quietly(store: AlipayStore, app_id: str, otn: str, out_request_no: str, success: bool) -> None:
    try:
        settle(store, app_id, otn, out_request_no, success)
    except IllegalTransition:  # settled by hand meanwhile
        pass


def refund_query(store: AlipayStore, call: Call) -> dict[str, Any]:
    """A refund that does not exist — or has not succeeded — is *not* an error: the answer
    just carries no ``refund_status`` / ``refund_amount`` (absent means not refunded)."""
    out_trade_no, trade_no = call.trade_ref()
    out_request_no = call.text("out_request_no", required=True, max_len=64)
    trade, found = store.book.refund_query(call.app.app_id, out_trade_no, trade_no, out_request_no)
    if found is None or not found.done:
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
