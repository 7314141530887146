"""Pure mapping between paygate's neutral model and Alipay's wire fields.

No I/O here: request builders per pay form, the exhaustive ``trade_status`` map, response,
refund and notification mapping. Amounts are CNY only (Alipay domestic) and travel as yuan
strings (``"19.99"``) made and read by :mod:`paygate.kit.money`; every amount or order number
the channel echoes is checked against what was asked (:class:`ResponseMismatch`).
Bill files are parsed in :mod:`.bill`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from paygate.channels.alipay.protocol import BEIJING, TIME_FORMAT
from paygate.channels.contract import (
    ActionKind,
    CreatePayment,
    CreateResult,
    Notification,
    NotificationKind,
    PayAction,
    PaymentStatus,
    PaymentStatusResult,
    RefundRequest,
    RefundResult,
    RefundStatus,
    ResponseMismatch,
    ReturnInfo,
    UnknownChannelStatus,
    UnsupportedOperation,
    expect_echo,
)
from paygate.kit.money import Money, MoneyError, from_decimal_string, to_decimal_string

__all__ = [
    "CURRENCY",
    "MAX_AMOUNT_MINOR",
    "METHOD_OF_FORM",
    "CreateCall",
    "ResponseMismatch",
    "barcode_result",
    "build_create",
    "format_time",
    "jsapi_result",
    "map_trade_status",
    "notification_from_params",
    "parse_time",
    "parse_yuan",
    "precreate_result",
    "query_result",
    "refund_biz",
    "refund_query_result",
    "refund_result",
    "return_info",
    "validate_create",
    "yuan",
]

CURRENCY: Final = "CNY"
#: Alipay's per-trade ceiling: 100 000 000.00 yuan.
MAX_AMOUNT_MINOR: Final = 100_000_000_00
#: Shortest life a payment may be created with: ``timeout_express`` cannot go below 1m.
MIN_LIFETIME: Final = timedelta(minutes=1)
#: ``timeout_express`` tops out at 15d.
_MAX_TIMEOUT_MINUTES: Final = 15 * 24 * 60

#: Pay form → OpenAPI method.
METHOD_OF_FORM: Final[Mapping[str, str]] = {
    "qr": "alipay.trade.precreate",
    "page": "alipay.trade.page.pay",
    "wap": "alipay.trade.wap.pay",
    "app": "alipay.trade.app.pay",
    "jsapi": "alipay.trade.create",
    "barcode": "alipay.trade.pay",
}
_PRODUCT_CODES: Final[Mapping[str, str]] = {
    "qr": "FACE_TO_FACE_PAYMENT",
    "page": "FAST_INSTANT_TRADE_PAY",
    "wap": "QUICK_WAP_WAY",
    "app": "QUICK_MSECURITY_PAY",
    "jsapi": "JSAPI_PAY",
    "barcode": "FACE_TO_FACE_PAYMENT",
}
#: Optional caller inputs (``CreatePayment.extra``) passed through, per form.
_PASSTHROUGH: Final[Mapping[str, frozenset[str]]] = {
    "qr": frozenset({"store_id", "operator_id", "terminal_id"}),
    "page": frozenset({"qr_pay_mode", "qrcode_width"}),
    "wap": frozenset({"quit_url"}),
    "app": frozenset(),
    "jsapi": frozenset({"op_app_id", "store_id"}),
    "barcode": frozenset({"store_id", "operator_id", "terminal_id"}),
}
_ATTEMPT_NO: Final = re.compile(r"[A-Za-z0-9_]{1,64}")


# --------------------------------------------------------------------------- amounts, times


def yuan(money: Money) -> str:
    if money.currency != CURRENCY:
        raise MoneyError(f"Alipay takes CNY only, not {money.currency}")
    return to_decimal_string(money.minor, CURRENCY)


def parse_yuan(text: object, field: str) -> Money:
    """A yuan string from Alipay → Money (exact; ``"0.1"`` and ``"0.10"`` both work)."""
    if not isinstance(text, str) or not text:
        raise ResponseMismatch(f"{field} is missing or not a string: {text!r}")
    try:
        return Money(from_decimal_string(text, CURRENCY), CURRENCY)
    except MoneyError as exc:
        raise ResponseMismatch(f"{field}: {exc}") from None


def format_time(moment: datetime) -> str:
    """Beijing wall-clock time, seconds truncated (so a bound is never pushed later)."""
    if moment.tzinfo is None:
        raise ValueError("times sent to Alipay must be timezone-aware")
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def parse_time(text: object) -> datetime | None:
    """Alipay's Beijing ``yyyy-MM-dd HH:mm:ss`` (``gmt_refund`` adds ``.SSS``) → aware time."""
    if not isinstance(text, str) or not text:
        return None
    for layout in (TIME_FORMAT, TIME_FORMAT + ".%f"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    return None


# --------------------------------------------------------------------------- create


def validate_create(request: CreatePayment, now: datetime) -> None:
    """The checks Alipay would make, made before anything is sent (R-API-6)."""
    if request.method not in METHOD_OF_FORM:
        raise UnsupportedOperation(f"alipay has no pay form {request.method!r}")
    if request.amount.currency != CURRENCY:
        raise ValueError(f"alipay takes CNY only, not {request.amount.currency}")
    if not 1 <= request.amount.minor <= MAX_AMOUNT_MINOR:
        raise ValueError("alipay amounts must be between 0.01 and 100000000.00 CNY")
    if not _ATTEMPT_NO.fullmatch(request.attempt_no):
        raise ValueError("alipay out_trade_no must be 1-64 characters of [A-Za-z0-9_]")
    if not request.subject.strip() or len(request.subject) > 256:
        raise ValueError("alipay subject must be 1-256 characters")
    if len(request.description) > 128:
        raise ValueError("alipay body (description) must be at most 128 characters")
    if request.expire_at.tzinfo is None:
        raise ValueError("expire_at must be timezone-aware")
    if request.expire_at - now < MIN_LIFETIME:
        raise ValueError("expire_at must be at least one minute ahead for alipay")
    if request.method == "barcode" and not str(request.extra.get("auth_code") or "").strip():
        raise ValueError("alipay barcode payments need extra.auth_code (the buyer's code)")
    if request.method == "jsapi" and not (
        request.extra.get("buyer_id") or request.extra.get("buyer_open_id")
    ):
        raise ValueError("alipay jsapi payments need extra.buyer_id (or buyer_open_id)")


@dataclass(frozen=True)
class CreateCall:
    method: str  # the OpenAPI method
    biz: dict[str, Any]  # biz_content, in the order it is sent


def build_create(request: CreatePayment, now: datetime) -> CreateCall:
    """``biz_content`` for the request's pay form. The trade's life is bounded by
    ``expire_at``: ``time_expire`` everywhere, and for QR also ``timeout_express`` (whole
    minutes, rounded down) since a precreated code stays payable until its own expiry."""
    validate_create(request, now)
    form = request.method
    biz: dict[str, Any] = {
        "out_trade_no": request.attempt_no,
        "total_amount": yuan(request.amount),
        "subject": request.subject,
        "product_code": _PRODUCT_CODES[form],
    }
    if request.description:
        biz["body"] = request.description
    biz["time_expire"] = format_time(request.expire_at)
    if form == "qr":
        minutes = int((request.expire_at - now) / timedelta(minutes=1))
        biz["timeout_express"] = f"{min(minutes, _MAX_TIMEOUT_MINUTES)}m"
    elif form == "barcode":
        biz["scene"] = "bar_code"
        biz["auth_code"] = str(request.extra["auth_code"]).strip()
    elif form == "jsapi":
        for name in ("buyer_id", "buyer_open_id"):
            if request.extra.get(name):
                biz[name] = str(request.extra[name])
    for name in sorted(_PASSTHROUGH[form] & request.extra.keys()):
        if request.extra[name] not in (None, ""):
            biz[name] = request.extra[name]
    return CreateCall(method=METHOD_OF_FORM[form], biz=biz)


def precreate_result(data: Mapping[str, Any], request: CreatePayment) -> CreateResult:
    expect_echo(data, "out_trade_no", request.attempt_no, required=False)
    qr_code = data.get("qr_code")
    if not isinstance(qr_code, str) or not qr_code:
        raise ResponseMismatch("precreate answered without a qr_code")
    return CreateResult(action=PayAction(kind=ActionKind.QR_CODE, qr_code=qr_code))


def jsapi_result(data: Mapping[str, Any], request: CreatePayment) -> CreateResult:
    expect_echo(data, "out_trade_no", request.attempt_no, required=False)
    trade_no = data.get("trade_no")
    if not isinstance(trade_no, str) or not trade_no:
        raise ResponseMismatch("trade.create answered without a trade_no")
    return CreateResult(
        action=PayAction(kind=ActionKind.JSAPI, params={"trade_no": trade_no}),
        channel_trade_no=trade_no,
    )


def barcode_result(data: Mapping[str, Any], request: CreatePayment) -> CreateResult:
    """trade.pay: ``10000`` = paid now, ``10003`` = the buyer must confirm in the app."""
    expect_echo(data, "out_trade_no", request.attempt_no, required=False)
    trade_no = data.get("trade_no") or None
    action = PayAction(kind=ActionKind.NONE)
    if data.get("code") == "10003":
        return CreateResult(action=action, status=PaymentStatus.PAYING, channel_trade_no=trade_no)
    paid = parse_yuan(data.get("total_amount"), "total_amount")
    if paid != request.amount:
        raise ResponseMismatch(f"trade.pay total_amount {paid} differs from {request.amount}")
    return CreateResult(
        action=action,
        status=PaymentStatus.SUCCEEDED,
        channel_trade_no=trade_no,
        paid_amount=paid,
        paid_at=parse_time(data.get("gmt_payment")),
    )


# --------------------------------------------------------------------------- statuses


def map_trade_status(trade_status: str, *, was_paid: bool = False) -> PaymentStatus:
    """Alipay ``trade_status`` → PaymentStatus. Exhaustive: anything else raises.

    ``TRADE_CLOSED`` means either "closed unpaid" or "paid, then fully refunded"; the caller
    says which through ``was_paid`` (a payment time is present).
    """
    match trade_status:
        case "WAIT_BUYER_PAY":
            return PaymentStatus.PENDING
        case "TRADE_SUCCESS" | "TRADE_FINISHED":
            return PaymentStatus.SUCCEEDED
        case "TRADE_CLOSED":
            return PaymentStatus.REFUNDED if was_paid else PaymentStatus.CLOSED
        case _:
            raise UnknownChannelStatus(f"unknown alipay trade_status {trade_status!r}", code=trade_status)


def query_result(data: Mapping[str, Any], attempt_no: str) -> PaymentStatusResult:
    expect_echo(data, "out_trade_no", attempt_no, required=False)
    trade_status = str(data.get("trade_status", ""))
    paid_at = parse_time(data.get("send_pay_date"))
    total = data.get("total_amount")
    return PaymentStatusResult(
        attempt_no=attempt_no,
        status=map_trade_status(trade_status, was_paid=paid_at is not None),
        channel_trade_no=data.get("trade_no") or None,
        amount=parse_yuan(total, "total_amount") if total not in (None, "") else None,
        paid_at=paid_at,
        channel_status=trade_status,
    )


# --------------------------------------------------------------------------- refunds


def refund_biz(request: RefundRequest) -> dict[str, Any]:
    if request.amount.currency != CURRENCY or request.total.currency != CURRENCY:
        raise ValueError("alipay refunds are in CNY only")
    if not 1 <= request.amount.minor <= request.total.minor:
        raise ValueError("the refund amount must be between 0.01 and the payment's amount")
    biz: dict[str, Any] = {"out_trade_no": request.attempt_no}
    if request.channel_trade_no:
        biz["trade_no"] = request.channel_trade_no
    biz["refund_amount"] = yuan(request.amount)
    biz["out_request_no"] = request.refund_no
    if request.reason:
        biz["refund_reason"] = request.reason[:256]
    return biz


def refund_result(data: Mapping[str, Any], request: RefundRequest) -> RefundResult:
    """trade.refund answers synchronously. ``refund_fee`` is the trade's *cumulative*
    refunded amount, so it must lie between this refund and the payment's total.
    ``fund_change`` = N (nothing moved by *this* call, e.g. a repeat) gives PROCESSING:
    the adapter then confirms with a refund query."""
    expect_echo(data, "out_trade_no", request.attempt_no, required=False)
    cumulative = parse_yuan(data.get("refund_fee"), "refund_fee")
    if not request.amount <= cumulative <= request.total:
        raise ResponseMismatch(f"refund_fee {cumulative} outside [{request.amount}, {request.total}]")
    fund_change = str(data.get("fund_change", ""))
    match fund_change:
        case "Y":
            status = RefundStatus.SUCCEEDED
        case "N":
            status = RefundStatus.PROCESSING
        case _:
            raise UnknownChannelStatus(f"unknown alipay fund_change {fund_change!r}")
    return RefundResult(
        refund_no=request.refund_no,
        status=status,
        amount=request.amount,
        refunded_at=parse_time(data.get("gmt_refund_pay")),
        channel_status=f"fund_change={fund_change}",
    )


def refund_query_result(data: Mapping[str, Any], refund_no: str, attempt_no: str) -> RefundResult:
    """fastpay.refund.query: no refund data → not found; data with ``refund_status`` empty or
    ``REFUND_SUCCESS`` → succeeded (Alipay's documented rule); another status raises."""
    expect_echo(data, "out_trade_no", attempt_no, required=False)
    expect_echo(data, "out_request_no", refund_no, required=False)
    amount = data.get("refund_amount")
    if amount in (None, ""):
        return RefundResult(refund_no=refund_no, status=RefundStatus.NOT_FOUND)
    refund_status = str(data.get("refund_status") or "")
    match refund_status:
        case "" | "REFUND_SUCCESS":
            status = RefundStatus.SUCCEEDED
        case _:
            raise UnknownChannelStatus(f"unknown alipay refund_status {refund_status!r}")
    return RefundResult(
        refund_no=refund_no,
        status=status,
        amount=parse_yuan(amount, "refund_amount"),
        refunded_at=parse_time(data.get("gmt_refund_pay")),
        channel_status=refund_status or "REFUND_SUCCESS",
    )


# --------------------------------------------------------------------------- inbound


def notification_from_params(params: Mapping[str, str]) -> Notification:
    """A *verified* notification's fields → Notification. Raises ValueError (unreadable) or
    UnknownChannelStatus. A refund notification (``out_biz_no`` + ``refund_fee``) carries
    no amount: Alipay's ``refund_fee`` is the trade's cumulative refunded total, not this
    refund's amount (query the refund for that)."""
    notify_id = params.get("notify_id", "")
    if not notify_id:
        raise ValueError("notify_id is missing")
    payload = {k: v for k, v in params.items() if k != "sign"}
    trade_status = params.get("trade_status", "")
    if not trade_status:
        return Notification(kind=NotificationKind.OTHER, notification_id=notify_id, payload=payload)
    attempt_no = params.get("out_trade_no", "")
    if not attempt_no:
        raise ValueError("out_trade_no is missing")
    was_paid = bool(params.get("gmt_payment"))
    status = map_trade_status(trade_status, was_paid=was_paid)
    common: dict[str, Any] = {
        "notification_id": notify_id,
        "attempt_no": attempt_no,
        "channel_trade_no": params.get("trade_no") or None,
        "channel_status": trade_status,
        "payload": payload,
    }
    if params.get("out_biz_no") and params.get("refund_fee"):
        parse_yuan(params["refund_fee"], "refund_fee")  # must at least be an amount
        return Notification(
            kind=NotificationKind.REFUND,
            payment_status=PaymentStatus.REFUNDED,
            refund_no=params["out_biz_no"],
            refund_status=RefundStatus.SUCCEEDED,
            occurred_at=parse_time(params.get("gmt_refund")) or parse_time(params.get("notify_time")),
            **common,
        )
    moment = parse_time(params.get("gmt_payment") if was_paid else params.get("gmt_close"))
    return Notification(
        kind=NotificationKind.PAYMENT,
        payment_status=status,
        amount=parse_yuan(params.get("total_amount"), "total_amount"),
        occurred_at=moment or parse_time(params.get("notify_time")),
        **common,
    )


def return_info(params: Mapping[str, str], *, verified: bool) -> ReturnInfo:
    amount: Money | None = None
    if verified and params.get("total_amount"):
        amount = parse_yuan(params["total_amount"], "total_amount")
    return ReturnInfo(
        attempt_no=params.get("out_trade_no", ""),
        verified=verified,
        channel_trade_no=(params.get("trade_no") or None) if verified else None,
        amount=amount,
    )
