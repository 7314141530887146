"""Pure mapping between paygate's neutral model and WeChat Pay v3's wire JSON.

No I/O here: request bodies per pay form, the client-side parameters of JSAPI and APP
(given the signature), the exhaustive ``trade_state`` and refund ``status`` maps, answer
and notification mapping. Amounts are CNY only (direct merchants in mainland China) and
travel as integer fen; every amount, currency and order number WeChat echoes is checked
against what was asked (:class:`ResponseMismatch`). Bill files are parsed in :mod:`.bill`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, urlencode

from paygate.channels.contract import (
    ActionKind,
    CreatePayment,
    Notification,
    NotificationKind,
    PayAction,
    PaymentStatus,
    PaymentStatusResult,
    RefundRequest,
    RefundResult,
    RefundStatus,
    ResponseMismatch,
    UnknownChannelStatus,
    UnsupportedOperation,
    expect_echo,
)
from paygate.channels.wechatpay.protocol import client_sign_message, format_time, masked, parse_time
from paygate.kit.money import Money

__all__ = [
    "CURRENCY",
    "MAX_AMOUNT_MINOR",
    "PAY_FORMS",
    "ResponseMismatch",
    "app_action",
    "build_pay",
    "h5_action",
    "jsapi_action",
    "map_refund_status",
    "map_trade_state",
    "native_action",
    "notification_from_event",
    "prepay_id_of",
    "query_result",
    "refund_body",
    "refund_query_result",
    "refund_result",
    "segment",
    "validate_create",
]

CURRENCY: Final = "CNY"
#: WeChat's ``amount.total`` is a 32-bit integer of fen.
MAX_AMOUNT_MINOR: Final = 2**31 - 1
#: WeChat moves an earlier ``time_expire`` to one minute after the order.
MIN_LIFETIME: Final = timedelta(minutes=1)
#: Pay form → the last segment of ``POST /v3/pay/transactions/{…}``.
PAY_FORMS: Final = frozenset({"native", "jsapi", "h5", "app"})
H5_TYPES: Final = frozenset({"Wap", "iOS", "Android"})
_OUT_TRADE_NO: Final = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")


def segment(value: str) -> str:
    """A path segment, percent-encoded (``|`` and ``*`` are legal in out_trade_no)."""
    return quote(value, safe="")


# --------------------------------------------------------------------------- amounts


def _fen(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ResponseMismatch(f"{field} is not an amount in fen: {value!r}")
    return value


def _amount(data: Mapping[str, Any], field: str = "total") -> Money:
    """``amount.{field}`` with ``amount.currency`` (CNY when absent, as in refund events)."""
    amount = data.get("amount")
    if not isinstance(amount, Mapping):
        raise ResponseMismatch("the answer has no amount")
    currency = amount.get("currency", CURRENCY)
    if currency != CURRENCY:
        raise ResponseMismatch(f"amount.currency {currency!r} is not {CURRENCY}")
    return Money(_fen(amount.get(field), f"amount.{field}"), CURRENCY)


# --------------------------------------------------------------------------- create


def validate_create(request: CreatePayment, now: datetime) -> None:
    """What WeChat would refuse, refused before anything is sent (R-API-6)."""
    if request.method not in PAY_FORMS:
        raise UnsupportedOperation(f"wechatpay has no pay form {request.method!r}")
    if request.amount.currency != CURRENCY:
        raise ValueError(f"wechatpay takes CNY only, not {request.amount.currency}")
    if not 1 <= request.amount.minor <= MAX_AMOUNT_MINOR:
        raise ValueError(f"wechatpay amounts must be between 1 and {MAX_AMOUNT_MINOR} fen")
    if not _OUT_TRADE_NO.fullmatch(request.attempt_no):
        raise ValueError("wechatpay out_trade_no must be 6-32 characters of [0-9A-Za-z_-|*]")
    if not request.subject.strip() or len(request.subject) > 127:
        raise ValueError("wechatpay description (subject) must be 1-127 characters")
    if request.expire_at.tzinfo is None:
        raise ValueError("expire_at must be timezone-aware")
    if request.expire_at - now < MIN_LIFETIME:
        raise ValueError("expire_at must be at least one minute ahead for wechatpay")
    if request.client_ip:
        try:
            ipaddress.ip_address(request.client_ip)
        except ValueError:
            raise ValueError(f"client_ip {request.client_ip!r} is not an IP address") from None
    openid = request.extra.get("openid")
    if request.method == "jsapi" and (not isinstance(openid, str) or not 1 <= len(openid.strip()) <= 128):
        raise ValueError("wechatpay jsapi payments need extra.openid (the payer's openid for the appid)")
    if request.method == "h5":
        if not request.client_ip:
            raise ValueError("wechatpay h5 payments need client_ip (the payer's IP address)")
        if request.extra.get("h5_type", "Wap") not in H5_TYPES:
            raise ValueError(f"wechatpay extra.h5_type must be one of {', '.join(sorted(H5_TYPES))}")


@dataclass(frozen=True)
class PayCall:
    path: str
    body: dict[str, Any]


def build_pay(request: CreatePayment, *, appid: str, mchid: str, notify_url: str, now: datetime) -> PayCall:
    """The pay request of the request's form; ``time_expire`` bounds the order's life."""
    validate_create(request, now)
    body: dict[str, Any] = {
        "appid": appid,
        "mchid": mchid,
        "description": request.subject,
        "out_trade_no": request.attempt_no,
        "time_expire": format_time(request.expire_at),
        "notify_url": notify_url,
        "amount": {"total": request.amount.minor, "currency": CURRENCY},
    }
    if request.method == "jsapi":
        body["payer"] = {"openid": str(request.extra["openid"]).strip()}
    if request.client_ip:
        body["scene_info"] = {"payer_client_ip": request.client_ip}
    if request.method == "h5":
        body["scene_info"]["h5_info"] = {"type": str(request.extra.get("h5_type", "Wap"))}
    return PayCall(path=f"/v3/pay/transactions/{request.method}", body=body)


def _string(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise ResponseMismatch(f"the answer has no {field}")
    return value


def native_action(data: Mapping[str, Any]) -> PayAction:
    return PayAction(kind=ActionKind.QR_CODE, qr_code=_string(data, "code_url"))


def h5_action(data: Mapping[str, Any], return_url: str = "") -> PayAction:
    """Open ``h5_url``; WeChat's cashier sends the payer back to ``redirect_url``."""
    url = _string(data, "h5_url")
    if return_url:
        url += ("&" if "?" in url else "?") + urlencode({"redirect_url": return_url})
    return PayAction(kind=ActionKind.REDIRECT, url=url, method="GET")


def prepay_id_of(data: Mapping[str, Any]) -> str:
    return _string(data, "prepay_id")


Signer = Callable[[bytes], str]


def jsapi_action(appid: str, prepay_id: str, timestamp: str, nonce: str, sign: Signer) -> PayAction:
    """``WeixinJSBridge`` / ``wx.requestPayment`` parameters, signed over
    ``appid\\ntimeStamp\\nnonceStr\\npackage\\n``."""
    package = f"prepay_id={prepay_id}"
    params = {
        "appId": appid,
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": sign(client_sign_message(appid, timestamp, nonce, package)),
    }
    return PayAction(kind=ActionKind.JSAPI, params=params)


def app_action(appid: str, mchid: str, prepay_id: str, timestamp: str, nonce: str, sign: Signer) -> PayAction:
    """The app SDK's ``PayReq``, signed over ``appid\\ntimestamp\\nnoncestr\\nprepayid\\n``."""
    params = {
        "appid": appid,
        "partnerid": mchid,
        "prepayid": prepay_id,
        "package": "Sign=WXPay",
        "noncestr": nonce,
        "timestamp": timestamp,
        "sign": sign(client_sign_message(appid, timestamp, nonce, prepay_id)),
    }
    return PayAction(kind=ActionKind.APP, params=params)


# --------------------------------------------------------------------------- statuses


def map_trade_state(trade_state: str) -> PaymentStatus:
    """WeChat ``trade_state`` → PaymentStatus. Exhaustive: anything else raises."""
    match trade_state:
        case "SUCCESS":
            return PaymentStatus.SUCCEEDED
        case "REFUND":
            return PaymentStatus.REFUNDED
        case "NOTPAY":
            return PaymentStatus.PENDING
        case "USERPAYING":
            return PaymentStatus.PAYING
        case "CLOSED" | "REVOKED":
            return PaymentStatus.CLOSED
        case "PAYERROR":
            return PaymentStatus.FAILED
        case _:
            raise UnknownChannelStatus(f"unknown wechatpay trade_state {trade_state!r}", code=trade_state)


def map_refund_status(status: str) -> RefundStatus:
    """WeChat refund ``status`` → RefundStatus. ABNORMAL (money not returned, e.g. a closed
    card; the merchant must re-drive it) counts as FAILED. Exhaustive: anything else raises."""
    match status:
        case "SUCCESS":
            return RefundStatus.SUCCEEDED
        case "PROCESSING":
            return RefundStatus.PROCESSING
        case "CLOSED" | "ABNORMAL":
            return RefundStatus.FAILED
        case _:
            raise UnknownChannelStatus(f"unknown wechatpay refund status {status!r}", code=status)


def query_result(
    data: Mapping[str, Any],
    attempt_no: str,
    *,
    mchid: str,
    appid: str,
    transaction_id: str | None = None,
) -> PaymentStatusResult:
    """An order answer (query by out_trade_no or by transaction_id)."""
    expect_echo(data, "out_trade_no", attempt_no)
    expect_echo(data, "mchid", mchid, required=False)
    expect_echo(data, "appid", appid, required=False)
    if transaction_id is not None:
        expect_echo(data, "transaction_id", transaction_id)
    trade_state = str(data.get("trade_state", ""))
    return PaymentStatusResult(
        attempt_no=attempt_no,
        status=map_trade_state(trade_state),
        channel_trade_no=data.get("transaction_id") or None,
        amount=_amount(data),
        paid_at=parse_time(data.get("success_time")),
        channel_status=trade_state,
    )


# --------------------------------------------------------------------------- refunds


def refund_body(request: RefundRequest, notify_url: str) -> dict[str, Any]:
    if request.amount.currency != CURRENCY or request.total.currency != CURRENCY:
        raise ValueError("wechatpay refunds are in CNY only")
    if not 1 <= request.amount.minor <= request.total.minor:
        raise ValueError("the refund amount must be between 1 fen and the payment's amount")
    body: dict[str, Any] = {}
    if request.channel_trade_no:
        body["transaction_id"] = request.channel_trade_no
    else:
        body["out_trade_no"] = request.attempt_no
    body["out_refund_no"] = request.refund_no
    if request.reason:
        body["reason"] = request.reason[:80]
    if notify_url:
        body["notify_url"] = notify_url
    body["amount"] = {
        "refund": request.amount.minor,
        "total": request.total.minor,
        "currency": CURRENCY,
    }
    return body


def refund_query_result(data: Mapping[str, Any], refund_no: str, attempt_no: str) -> RefundResult:
    """A refund answer (apply or query)."""
    expect_echo(data, "out_refund_no", refund_no)
    expect_echo(data, "out_trade_no", attempt_no)
    status = str(data.get("status", ""))
    return RefundResult(
        refund_no=refund_no,
        status=map_refund_status(status),
        channel_refund_no=data.get("refund_id") or None,
        amount=_amount(data, "refund"),
        refunded_at=parse_time(data.get("success_time")),
        channel_status=status,
    )


def refund_result(data: Mapping[str, Any], request: RefundRequest) -> RefundResult:
    """The refund apply answer: this refund's amount and the order's total must be ours."""
    result = refund_query_result(data, request.refund_no, request.attempt_no)
    if result.amount != request.amount:
        raise ResponseMismatch(f"amount.refund {result.amount} is not {request.amount}")
    total = _amount(data)
    if total != request.total:
        raise ResponseMismatch(f"amount.total {total} is not {request.total}")
    return result


# --------------------------------------------------------------------------- notifications


def notification_from_event(
    event: Mapping[str, Any], resource: Mapping[str, Any], *, mchid: str, appid: str
) -> Notification:
    """A verified, decrypted event → Notification. Raises ResponseMismatch when the
    resource belongs to another merchant or app, ValueError when it is unreadable,
    UnknownChannelStatus for a status outside the maps."""
    event_id, event_type = str(event.get("id") or ""), str(event.get("event_type") or "")
    if not event_id:
        raise ValueError("the event has no id")
    expect_echo(resource, "mchid", mchid)
    payload = {
        "id": event_id,
        "event_type": event_type,
        "create_time": event.get("create_time"),
        "summary": event.get("summary"),
        "resource": masked(dict(resource)),
    }
    common: dict[str, Any] = {
        "notification_id": event_id,
        "attempt_no": _string(resource, "out_trade_no") if "out_trade_no" in resource else "",
        "channel_trade_no": resource.get("transaction_id") or None,
        "payload": payload,
    }
    if event_type.startswith("TRANSACTION."):
        expect_echo(resource, "appid", appid)
        trade_state = str(resource.get("trade_state", ""))
        return Notification(
            kind=NotificationKind.PAYMENT,
            payment_status=map_trade_state(trade_state),
            amount=_amount(resource),
            occurred_at=parse_time(resource.get("success_time")) or parse_time(event.get("create_time")),
            channel_status=trade_state,
            **common,
        )
    if event_type.startswith("REFUND."):
        status = str(resource.get("refund_status", ""))
        refund_status = map_refund_status(status)
        return Notification(
            kind=NotificationKind.REFUND,
            payment_status=PaymentStatus.REFUNDED if refund_status is RefundStatus.SUCCEEDED else None,
            refund_no=_string(resource, "out_refund_no"),
            refund_status=refund_status,
            amount=_amount(resource, "refund"),
            occurred_at=parse_time(resource.get("success_time")) or parse_time(event.get("create_time")),
            channel_status=status,
            **common,
        )
    return Notification(kind=NotificationKind.OTHER, notification_id=event_id, payload=payload)
