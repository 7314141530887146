"""Alipay's objects: trades and their refunds, the transition tables, identifiers.

An order the merchant prepares (a precreate QR code, a page/wap pay URL, an app order
string) is **ISSUED**: Alipay knows it but it is not a trade yet, so query and close
answer ``ACQ.TRADE_NOT_EXIST``. The buyer scanning the code or opening the cashier
creates the trade (``WAIT_BUYER_PAY``). From there the transition table below is the
only way a trade's state moves.

A refund is answered synchronously. Usually its money moves at once (``fund_change=Y``);
when the sandbox is told to make refunds slow or fail (the ``refunds`` fault) it is
``PROCESSING`` first (``fund_change=N``; the refund query shows no ``refund_status``, which
is how Alipay says "not refunded (yet)"), then ``SUCCESS`` — or ``FAILED``, and the amount
may be refunded again, with the same ``out_request_no`` as Alipay asks.
"""

from __future__ import annotations

import copy
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from paygate.sandbox.alipay.keys import Buyer
from paygate.sandbox.alipay.wire import BEIJING

__all__ = [
    "PRODUCT_CODES",
    "REFUND_TRANSITIONS",
    "TRANSITIONS",
    "IllegalTransition",
    "Refund",
    "RefundStatus",
    "Trade",
    "TradeEvent",
    "TradeState",
    "new_cashier_token",
    "new_notify_id",
    "new_qr_token",
    "new_trade_no",
]


class TradeState(StrEnum):
    ISSUED = "ISSUED"  # sandbox-internal: not visible through the OpenAPI
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    TRADE_SUCCESS = "TRADE_SUCCESS"
    TRADE_CLOSED = "TRADE_CLOSED"
    TRADE_FINISHED = "TRADE_FINISHED"


TRANSITIONS: Final[dict[TradeState, frozenset[TradeState]]] = {
    TradeState.ISSUED: frozenset({TradeState.WAIT_BUYER_PAY}),
    TradeState.WAIT_BUYER_PAY: frozenset({TradeState.TRADE_SUCCESS, TradeState.TRADE_CLOSED}),
    TradeState.TRADE_SUCCESS: frozenset({TradeState.TRADE_CLOSED, TradeState.TRADE_FINISHED}),
    TradeState.TRADE_CLOSED: frozenset(),
    TradeState.TRADE_FINISHED: frozenset(),
}


class RefundStatus(StrEnum):
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


REFUND_TRANSITIONS: Final[dict[RefundStatus, frozenset[RefundStatus]]] = {
    RefundStatus.PROCESSING: frozenset({RefundStatus.SUCCESS, RefundStatus.FAILED}),
    # Retried by the merchant with the same out_request_no.
    RefundStatus.FAILED: frozenset({RefundStatus.PROCESSING, RefundStatus.SUCCESS}),
    RefundStatus.SUCCESS: frozenset(),
}

#: The product each creating method sells when the merchant names none.
PRODUCT_CODES: Final[dict[str, str]] = {
    "alipay.trade.precreate": "FACE_TO_FACE_PAYMENT",
    "alipay.trade.pay": "FACE_TO_FACE_PAYMENT",
    "alipay.trade.create": "JSAPI_PAY",
    "alipay.trade.page.pay": "FAST_INSTANT_TRADE_PAY",
    "alipay.trade.wap.pay": "QUICK_WAP_WAY",
    "alipay.trade.app.pay": "QUICK_MSECURITY_PAY",
}


class IllegalTransition(RuntimeError):
    pass


@dataclass
class Refund:
    out_request_no: str
    amount: int
    reason: str
    at: datetime  # accepted; once it succeeded, when the money moved (gmt_refund_pay)
    status: RefundStatus = RefundStatus.SUCCESS

    def move_to(self, status: RefundStatus) -> None:
        if status not in REFUND_TRANSITIONS[self.status]:
            raise IllegalTransition(f"refund {self.out_request_no}: {self.status} -> {status}")
        self.status = status

    @property
    def done(self) -> bool:
        return self.status is RefundStatus.SUCCESS


@dataclass
class Trade:
    """One ``out_trade_no`` of one merchant app. Amounts are integer fen."""

    app_id: str
    seller_id: str
    out_trade_no: str
    total_amount: int
    subject: str
    method: str
    product_code: str
    issued_at: datetime
    deadline: datetime
    token: str
    body: str = ""
    notify_url: str = ""
    return_url: str = ""
    passback_params: str = ""
    store_id: str = ""
    operator_id: str = ""
    terminal_id: str = ""
    sign_type: str = "RSA2"
    codec: str = "utf-8"
    state: TradeState = TradeState.ISSUED
    trade_no: str = ""
    buyer: Buyer | None = None
    gmt_create: datetime | None = None
    gmt_payment: datetime | None = None
    gmt_close: datetime | None = None
    cancel_action: str = ""
    refunds: list[Refund] = field(default_factory=list)
    payment_failures: list[str] = field(default_factory=list)

    def move_to(self, state: TradeState) -> None:
        if state not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"{self.out_trade_no}: {self.state} -> {state}")
        self.state = state

    @property
    def exists(self) -> bool:
        """Whether Alipay's OpenAPI can see the trade (it has been scanned/opened)."""
        return self.state is not TradeState.ISSUED

    @property
    def paid(self) -> bool:
        return self.gmt_payment is not None

    @property
    def refunded_amount(self) -> int:
        """What was refunded (``refund_fee``): refunds whose money moved."""
        return sum(r.amount for r in self.refunds if r.done)

    @property
    def refundable_amount(self) -> int:
        """What may still be refunded: processing refunds hold their amount."""
        held = sum(r.amount for r in self.refunds if r.status is not RefundStatus.FAILED)
        return self.total_amount - held

    @property
    def receipt_amount(self) -> int:
        """What the merchant received (the whole amount once paid, no discounts)."""
        return self.total_amount if self.paid else 0

    def refund(self, out_request_no: str) -> Refund | None:
        return next((r for r in self.refunds if r.out_request_no == out_request_no), None)

    def snapshot(self) -> Trade:
        return copy.deepcopy(self)


EventKind = Literal["paid", "closed", "refunded", "finished"]


@dataclass(frozen=True)
class TradeEvent:
    """Something Alipay notifies the merchant about; ``trade`` is a snapshot taken when
    it happened, so a notification's content never changes across retries."""

    kind: EventKind
    trade: Trade
    refund: Refund | None = None


# -- identifiers shaped like Alipay's own ------------------------------------------------

_LOWER_ALNUM = string.ascii_lowercase + string.digits


def _digits(n: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


def new_trade_no(now: datetime) -> str:
    """28 digits: the date, ``2200``, then 16 more (``2026060522001419931441931972``)."""
    return now.astimezone(BEIJING).strftime("%Y%m%d") + "2200" + _digits(16)


def new_notify_id(now: datetime) -> str:
    """34 digits like ``2019091700222171638024131420866155``."""
    return now.astimezone(BEIJING).strftime("%Y%m%d") + "00222" + _digits(21)


def new_qr_token() -> str:
    """The path of a QR code, like ``bax03431ljhokirwl38f00a7``."""
    return "bax0" + "".join(secrets.choice(_LOWER_ALNUM) for _ in range(20))


def new_cashier_token() -> str:
    return secrets.token_urlsafe(18)
