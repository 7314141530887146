"""WeChat Pay's objects: orders (trades) and refunds, their state machines, identifiers.

Trade states are WeChat's ``trade_state`` values; refund states its refund ``status``.
Every change goes through ``transition``, which refuses moves the table does not list.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CST",
    "REFUND_TRANSITIONS",
    "TRADE_STATE_DESC",
    "TRADE_TRANSITIONS",
    "InvalidTransition",
    "Refund",
    "Trade",
    "rfc3339",
]

CST = dt.timezone(dt.timedelta(hours=8), "CST")

TradeState = Literal["NOTPAY", "USERPAYING", "SUCCESS", "REFUND", "CLOSED", "REVOKED", "PAYERROR"]
RefundStatus = Literal["PROCESSING", "SUCCESS", "ABNORMAL", "CLOSED"]
TradeType = Literal["NATIVE", "JSAPI", "APP", "MWEB"]

TRADE_TRANSITIONS: dict[str, frozenset[str]] = {
    "NOTPAY": frozenset({"USERPAYING", "SUCCESS", "PAYERROR", "CLOSED", "REVOKED"}),
    "USERPAYING": frozenset({"SUCCESS", "PAYERROR", "CLOSED", "REVOKED"}),
    "SUCCESS": frozenset({"REFUND"}),
    "REFUND": frozenset(),
    "CLOSED": frozenset(),
    "REVOKED": frozenset(),
    "PAYERROR": frozenset(),
}

REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    "PROCESSING": frozenset({"SUCCESS", "ABNORMAL", "CLOSED"}),
    # An abnormal refund is re-driven by the merchant (abnormal-refund API, or the
    # merchant platform) and may then succeed or be closed.
    "ABNORMAL": frozenset({"SUCCESS", "CLOSED"}),
    "SUCCESS": frozenset(),
    "CLOSED": frozenset(),
}

TRADE_STATE_DESC: dict[str, str] = {
    "NOTPAY": "订单未支付",
    "USERPAYING": "需要用户输入支付密码",
    "SUCCESS": "支付成功",
    "REFUND": "订单发生过退款，退款详情请查询退款单",
    "CLOSED": "订单已关闭",
    "REVOKED": "订单已撤销",
    "PAYERROR": "支付失败，请重新下单支付",
}


class InvalidTransition(Exception):
    def __init__(self, kind: str, current: str, target: str) -> None:
        super().__init__(f"{kind} cannot go from {current} to {target}")
        self.current = current
        self.target = target


def rfc3339(moment: dt.datetime) -> str:
    """``2024-05-01T12:00:00+08:00``, the only time format WeChat Pay v3 emits."""
    return moment.astimezone(CST).replace(microsecond=0).isoformat()


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def new_transaction_id(now: dt.datetime) -> str:
    """28 digits: ``4200`` + 6 + ``yyyyMMdd`` + 10, like real ones."""
    return "4200" + _digits(6) + now.strftime("%Y%m%d") + _digits(10)


def new_refund_id(now: dt.datetime) -> str:
    """29 digits starting ``503``, like real ``refund_id`` values."""
    return "503" + _digits(7) + now.strftime("%Y%m%d") + _digits(11)


def new_prepay_id(now: dt.datetime) -> str:
    """36 characters: ``wx`` + ``yyyyMMddHHmmss`` + 16 hex + ``0000``."""
    return "wx" + now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(8) + "0000"


def new_openid() -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "o" + "".join(secrets.choice(alphabet) for _ in range(27))


def new_token() -> str:
    return secrets.token_urlsafe(12)


@dataclass
class Trade:
    mchid: str
    appid: str
    out_trade_no: str
    trade_type: TradeType
    description: str
    notify_url: str
    total: int
    currency: str
    created_at: dt.datetime
    prepay_id: str
    token: str
    fingerprint: tuple[Any, ...]
    public_key_mode: bool
    attach: str | None = None
    time_expire: dt.datetime | None = None
    payer_openid: str | None = None
    payer_client_ip: str | None = None
    state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: dt.datetime | None = None
    bank_type: str | None = None
    refunds: list[Refund] = field(default_factory=list)

    def transition(self, target: str) -> None:
        if target not in TRADE_TRANSITIONS[self.state]:
            raise InvalidTransition("trade", self.state, target)
        self.state = target

    @property
    def paid(self) -> bool:
        return self.state in ("SUCCESS", "REFUND")

    def refunded_amount(self) -> int:
        """Fen reserved by refunds that are not closed (a closed refund gives the
        money back to the refundable balance)."""
        return sum(r.refund for r in self.refunds if r.status != "CLOSED")

    def expired(self, now: dt.datetime) -> bool:
        return self.time_expire is not None and now > self.time_expire

    def to_wire(self) -> dict[str, Any]:
        """The query-order JSON (also the decrypted payment notification resource)."""
        body: dict[str, Any] = {
            "appid": self.appid,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
        }
        if self.transaction_id is not None:
            body["transaction_id"] = self.transaction_id
            body["trade_type"] = self.trade_type
        body["trade_state"] = self.state
        body["trade_state_desc"] = TRADE_STATE_DESC[self.state]
        if self.bank_type is not None:
            body["bank_type"] = self.bank_type
        body["attach"] = self.attach or ""
        if self.success_time is not None:
            body["success_time"] = rfc3339(self.success_time)
        if self.payer_openid is not None and self.transaction_id is not None:
            body["payer"] = {"openid": self.payer_openid}
        amount: dict[str, Any] = {"total": self.total}
        if self.paid:
            amount["payer_total"] = self.total
        amount["currency"] = self.currency
        amount["payer_currency"] = self.currency
        body["amount"] = amount
        if self.paid:
            body["promotion_detail"] = []
        return body


@dataclass
class Refund:
    trade: Trade
    refund_id: str
    out_refund_no: str
    refund: int
    created_at: dt.datetime
    notify_url: str | None
    reason: str | None
    funds_account: str | None
    public_key_mode: bool
    status: str = "PROCESSING"
    success_time: dt.datetime | None = None

    def transition(self, target: str) -> None:
        if target not in REFUND_TRANSITIONS[self.status]:
            raise InvalidTransition("refund", self.status, target)
        self.status = target

    @property
    def user_received_account(self) -> str:
        return "支付用户零钱" if self.trade.bank_type in (None, "OTHERS") else "招商银行信用卡0403"

    def to_wire(self) -> dict[str, Any]:
        """The refund JSON of the refund and refund-query APIs."""
        trade = self.trade
        body: dict[str, Any] = {
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": trade.transaction_id,
            "out_trade_no": trade.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": self.user_received_account,
        }
        if self.success_time is not None:
            body["success_time"] = rfc3339(self.success_time)
        body["create_time"] = rfc3339(self.created_at)
        body["status"] = self.status
        body["funds_account"] = self.funds_account or "AVAILABLE"
        body["amount"] = {
            "total": trade.total,
            "refund": self.refund,
            "from": [],
            "payer_total": trade.total,
            "payer_refund": self.refund,
            "settlement_refund": self.refund,
            "settlement_total": trade.total,
            "discount_refund": 0,
            "currency": trade.currency,
            "refund_fee": 0,
        }
        body["promotion_detail"] = []
        return body

    def notification_resource(self) -> dict[str, Any]:
        """The decrypted resource of a ``REFUND.*`` notification."""
        trade = self.trade
        body: dict[str, Any] = {
            "mchid": trade.mchid,
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.transaction_id,
            "out_refund_no": self.out_refund_no,
            "refund_id": self.refund_id,
            "refund_status": self.status,
        }
        if self.success_time is not None:
            body["success_time"] = rfc3339(self.success_time)
        body["user_received_account"] = self.user_received_account
        body["amount"] = {
            "total": trade.total,
            "refund": self.refund,
            "payer_total": trade.total,
            "payer_refund": self.refund,
        }
        return body
