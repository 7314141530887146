"""The trade methods: those that create orders — precreate (QR), create (JSAPI), pay
(barcode), and the client-side page/wap/app pay orders the buyer brings to the sandbox —
and those that manage them: query, close, cancel.

Magic barcode auth codes (``alipay.trade.pay``): a real auth code is 16–24 digits
starting with 25–30. Any such code pays at once, except:

=========================== =============================================================
``AUTH_CODE_WAIT_BUYER``    ``10003`` WAIT_BUYER_PAY: the buyer must confirm (pay it later
                            with ``POST /_sandbox/pay``), the merchant polls or cancels
``AUTH_CODE_NO_BALANCE``    ``40004 ACQ.BUYER_BALANCE_NOT_ENOUGH``; no trade is created
``AUTH_CODE_EXPIRED``       ``40004 ACQ.PAYMENT_AUTH_CODE_INVALID``; no trade is created
=========================== =============================================================

Codes of the wrong shape also answer ``ACQ.PAYMENT_AUTH_CODE_INVALID``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Final

from paygate.sandbox.alipay.api import Call, bad_parameter
from paygate.sandbox.alipay.errors import AlipayError, business
from paygate.sandbox.alipay.state import PRODUCT_CODES, Trade, new_cashier_token, new_qr_token
from paygate.sandbox.alipay.store import AlipayStore
from paygate.sandbox.alipay.wire import format_fen, format_time

__all__ = [
    "AUTH_CODE_EXPIRED",
    "AUTH_CODE_NO_BALANCE",
    "AUTH_CODE_SUCCESS",
    "AUTH_CODE_WAIT_BUYER",
    "barcode_pay",
    "cancel",
    "close",
    "create",
    "open_client_order",
    "paid_fields",
    "precreate",
    "query",
]

AUTH_CODE_SUCCESS: Final = "286200000000000001"
AUTH_CODE_WAIT_BUYER: Final = "286200000000000002"
AUTH_CODE_NO_BALANCE: Final = "286200000000000003"
AUTH_CODE_EXPIRED: Final = "286200000000000004"
_AUTH_CODE = re.compile(r"(2[5-9]|30)[0-9]{14,22}")

#: How long an order stays payable when the merchant sets no timeout.
QR_CODE_LIFETIME: Final = timedelta(hours=2)
DEFAULT_LIFETIME: Final = timedelta(days=15)

_SUCCESS: Final = {"code": "10000", "msg": "Success"}
_ZERO_AMOUNTS: Final = {
    "buyer_pay_amount": "0.00",
    "invoice_amount": "0.00",
    "point_amount": "0.00",
    "receipt_amount": "0.00",
}


def draft(store: AlipayStore, call: Call, *, token: str, lifetime: timedelta) -> Trade:
    """The order described by a creating call (validated, not yet recorded)."""
    out_trade_no = call.out_trade_no()
    total = call.amount("total_amount")
    subject = call.text("subject", required=True)
    now = store.harness.clock.now()
    return Trade(
        app_id=call.app.app_id,
        seller_id=call.app.seller_id,
        out_trade_no=out_trade_no,
        total_amount=total,
        subject=subject,
        method=call.method,
        product_code=call.text("product_code") or PRODUCT_CODES[call.method],
        issued_at=now,
        deadline=call.deadline(now, lifetime),
        token=token,
        body=call.text("body", max_len=128),
        notify_url=call.params.get("notify_url", ""),
        return_url=call.params.get("return_url", ""),
        passback_params=call.text("passback_params", max_len=512),
        store_id=call.text("store_id", max_len=32),
        operator_id=call.text("operator_id", max_len=28),
        terminal_id=call.text("terminal_id", max_len=32),
        sign_type=call.sign_type,
        codec=call.codec,
    )


def paid_fields(trade: Trade) -> dict[str, Any]:
    """The buyer and amount fields of pay/query answers, in Alipay's order."""
    buyer = trade.buyer
    received = format_fen(trade.receipt_amount)
    fields: dict[str, Any] = {
        "buyer_logon_id": buyer.masked_logon_id if buyer else "",
        "buyer_pay_amount": received,
        "buyer_user_id": buyer.user_id if buyer else "",
    }
    if trade.paid:
        fields["fund_bill_list"] = [{"amount": received, "fund_channel": "ALIPAYACCOUNT"}]
        fields["gmt_payment"] = format_time(trade.gmt_payment) if trade.gmt_payment else ""
    fields |= {
        "invoice_amount": received,
        "out_trade_no": trade.out_trade_no,
        "point_amount": "0.00",
        "receipt_amount": received,
        "total_amount": format_fen(trade.total_amount),
        "trade_no": trade.trade_no,
    }
    return {k: v for k, v in fields.items() if v != ""}


def precreate(store: AlipayStore, call: Call) -> dict[str, Any]:
    """Issue a QR code; the trade exists only once it is scanned."""
    trade, events = store.book.issue(draft(store, call, token=new_qr_token(), lifetime=QR_CODE_LIFETIME))
    store.publish(events)
    return {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": trade.out_trade_no,
        "qr_code": store.qr_url(trade.token),
    }


def create(store: AlipayStore, call: Call) -> dict[str, Any]:
    """JSAPI / mini-program: the trade exists at once, bound to ``buyer_id``."""
    buyer_id = call.text("buyer_id", max_len=28) or call.text("buyer_open_id", max_len=128)
    if not buyer_id:
        raise bad_parameter("buyer_id")
    order = draft(store, call, token=new_cashier_token(), lifetime=DEFAULT_LIFETIME)
    trade, events = store.book.create(order, store.buyer(buyer_id))
    store.publish(events)
    return {"code": "10000", "msg": "Success", "out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no}


def _auth_code_outcome(auth_code: str) -> tuple[bool, AlipayError | None]:
    """``(needs the buyer's confirmation, failure)`` for an auth code."""
    if auth_code == AUTH_CODE_WAIT_BUYER:
        return True, None
    if auth_code == AUTH_CODE_NO_BALANCE:
        return False, business("ACQ.BUYER_BALANCE_NOT_ENOUGH", **_ZERO_AMOUNTS)
    if auth_code == AUTH_CODE_EXPIRED or not _AUTH_CODE.fullmatch(auth_code):
        return False, business("ACQ.PAYMENT_AUTH_CODE_INVALID", **_ZERO_AMOUNTS)
    return False, None


def barcode_pay(store: AlipayStore, call: Call) -> dict[str, Any]:
    """The merchant scans the buyer's payment code."""
    scene = call.text("scene", required=True)
    if scene not in ("bar_code", "wave_code", "security_code"):
        raise bad_parameter("scene")
    confirm, failure = _auth_code_outcome(call.text("auth_code", required=True, max_len=64))
    order = draft(store, call, token=new_cashier_token(), lifetime=DEFAULT_LIFETIME)
    trade, events = store.book.barcode(order, store.buyer(), confirm=confirm, failure=failure)
    store.publish(events)
    head = (
        {"code": "10003", "msg": "order success pay inprocess"}
        if confirm
        else {"code": "10000", "msg": "Success"}
    )
    return head | paid_fields(trade)


def open_client_order(store: AlipayStore, call: Call, buyer_id: str | None = None) -> Trade:
    """A page/wap pay URL opened in a browser, or an app order string handed to the
    sandbox: record the order and open its cashier (the trade exists from now on)."""
    order = draft(store, call, token=new_cashier_token(), lifetime=DEFAULT_LIFETIME)
    issued, events = store.book.issue(order)
    store.publish(events)
    trade, events = store.book.open(issued.token, store.buyer(buyer_id))
    store.publish(events)
    return trade


def query(store: AlipayStore, call: Call) -> dict[str, Any]:
    trade, events = store.book.query(call.app.app_id, *call.trade_ref())
    store.publish(events)
    fields = paid_fields(trade)
    if "gmt_payment" in fields:
        fields["send_pay_date"] = fields.pop("gmt_payment")
    fields["trade_status"] = trade.state.value
    return _SUCCESS | dict(sorted(fields.items()))


def close(store: AlipayStore, call: Call) -> dict[str, Any]:
    trade, events = store.book.close(call.app.app_id, *call.trade_ref())
    store.publish(events)
    return _SUCCESS | {"out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no}


def cancel(store: AlipayStore, call: Call) -> dict[str, Any]:
    trade, events = store.book.cancel(call.app.app_id, *call.trade_ref())
    store.publish(events)
    answer: dict[str, Any] = _SUCCESS | {
        "action": trade.cancel_action,
        "out_trade_no": trade.out_trade_no,
        "retry_flag": "N",
        "trade_no": trade.trade_no,
    }
    if trade.cancel_action == "refund" and trade.refunds:
        answer["gmt_refund_pay"] = format_time(trade.refunds[-1].at)
    return answer
