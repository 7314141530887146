"""The trade model: what the merchant issued, and what exists at Alipay.

An order the merchant prepares (a precreate QR code, a page/wap pay URL, an app order
string) is **ISSUED**: Alipay knows it but it is not a trade yet, so query and close
answer ``ACQ.TRADE_NOT_EXIST``. The buyer scanning the code or opening the cashier
creates the trade (``WAIT_BUYER_PAY``). From there the transition table below is the
only way a trade's state moves.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from paygate.sandbox.alipay.keys import Buyer

__all__ = [
    "PRODUCT_CODES",
    "TRANSITIONS",
    "IllegalTransition",
    "Refund",
    "Trade",
    "TradeEvent",
    "TradeState",
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
    at: datetime


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
        return sum(r.amount for r in self.refunds)

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
