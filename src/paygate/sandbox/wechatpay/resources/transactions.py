"""Orders: pay (native, jsapi, app, h5), query (by out_trade_no and by transaction_id),
close — and what the payer does (:func:`apply_outcome`), used by the control API and the
cashier pages."""

from __future__ import annotations

import datetime as dt
import secrets
import urllib.parse
from typing import Literal

from ..api import Call, Reply
from ..errors import WechatError, param_error
from ..notifications import payment_event, publish
from ..state import (
    TRADE_TRANSITIONS,
    InvalidTransition,
    Trade,
    new_openid,
    new_prepay_id,
    new_token,
    new_transaction_id,
)
from ..store import WechatStore
from ..validation import PayRequest, validate_pay

__all__ = [
    "OUTCOMES",
    "TRADE_TYPES",
    "TradeExpired",
    "apply_outcome",
    "close",
    "code_url",
    "h5_url",
    "pay",
    "query_by_out_trade_no",
    "query_by_transaction_id",
]

TRADE_TYPES: dict[str, Literal["NATIVE", "JSAPI", "APP", "MWEB"]] = {
    "native": "NATIVE",
    "jsapi": "JSAPI",
    "app": "APP",
    "h5": "MWEB",
}
OUTCOMES: dict[str, str] = {
    "pay": "SUCCESS",
    "fail": "PAYERROR",
    "cancel": "CLOSED",
    "revoke": "REVOKED",
    "userpaying": "USERPAYING",
}


MIN_PAYABLE = dt.timedelta(minutes=1)


class TradeExpired(Exception):
    """The payer tried to pay after ``time_expire``."""


def code_url(store: WechatStore, trade: Trade) -> str:
    return f"{store.base_url}/bizpayurl?pr={trade.token}"


def h5_url(store: WechatStore, trade: Trade) -> str:
    query = urllib.parse.urlencode(
        {"prepay_id": trade.prepay_id, "package": str(secrets.randbelow(9 * 10**9) + 10**9)}
    )
    return f"{store.base_url}/checkmweb?{query}"


def _pay_reply(store: WechatStore, kind: str, trade: Trade) -> Reply:
    if kind == "native":
        return Reply(200, {"code_url": code_url(store, trade)})
    if kind == "h5":
        return Reply(200, {"h5_url": h5_url(store, trade)})
    return Reply(200, {"prepay_id": trade.prepay_id})


def _check_mchid(call: Call, mchid: str | None, location: str = "body") -> None:
    if mchid is None:
        raise param_error(
            f"输入源“/{location}/mchid”映射到值字段“直连商户号”必填性规则校验失败，此字段为必填项",
            location=location,
            field="mchid",
        )
    if mchid != call.merchant.mchid:
        raise param_error(
            "商户号mchid与请求头Authorization中的商户号不一致",
            location=location,
            field="mchid",
            value=mchid,
        )


def _resubmission(store: WechatStore, existing: Trade, req: PayRequest, kind: str) -> Reply:
    match existing.state:
        case "SUCCESS" | "REFUND":
            raise WechatError(400, "ORDERPAID", "该订单已支付")
        case "CLOSED" | "REVOKED" | "PAYERROR":
            raise WechatError(400, "ORDER_CLOSED", "订单已关闭")
        case "NOTPAY" | "USERPAYING":
            if existing.fingerprint != req.fingerprint(TRADE_TYPES[kind]):
                raise WechatError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
            return _pay_reply(store, kind, existing)
        case other:
            raise AssertionError(f"unknown trade state {other}")


async def pay(store: WechatStore, call: Call, kind: str) -> Reply:
    """``kind`` is the URL's last segment: native, jsapi, app or h5."""
    req = validate_pay(call.json(), kind)
    _check_mchid(call, req.mchid)
    merchant = call.merchant
    if req.appid not in merchant.appids:
        raise WechatError(400, "APPID_MCHID_NOT_MATCH", "AppID和mch_id不匹配")
    existing = store.trade(merchant.mchid, req.out_trade_no)
    if existing is not None:
        return _resubmission(store, existing, req, kind)
    now = store.now()
    time_expire = req.time_expire
    if time_expire is not None and time_expire < now + MIN_PAYABLE:
        # WeChat moves an earlier time_expire to one minute after the order.
        time_expire = now + MIN_PAYABLE
    trade = Trade(
        mchid=merchant.mchid,
        appid=req.appid,
        out_trade_no=req.out_trade_no,
        trade_type=TRADE_TYPES[kind],
        description=req.description,
        notify_url=req.notify_url,
        total=req.total,
        currency=req.currency,
        created_at=now,
        prepay_id=new_prepay_id(now),
        token=new_token(),
        fingerprint=req.fingerprint(TRADE_TYPES[kind]),
        public_key_mode=call.public_key_mode,
        attach=req.attach,
        time_expire=time_expire,
        payer_openid=req.payer_openid,
        payer_client_ip=req.payer_client_ip,
    )
    store.add_trade(trade)
    return _pay_reply(store, kind, trade)


def _not_exist() -> WechatError:
    return WechatError(404, "ORDER_NOT_EXIST", "订单不存在")


async def query_by_out_trade_no(store: WechatStore, call: Call) -> Reply:
    _check_mchid(call, call.query.get("mchid"), "query")
    trade = store.trade(call.merchant.mchid, call.path_params["out_trade_no"])
    if trade is None:
        raise _not_exist()
    return Reply(200, trade.to_wire())


async def query_by_transaction_id(store: WechatStore, call: Call) -> Reply:
    _check_mchid(call, call.query.get("mchid"), "query")
    trade = store.by_transaction_id.get(call.path_params["transaction_id"])
    if trade is None or trade.mchid != call.merchant.mchid:
        raise _not_exist()
    return Reply(200, trade.to_wire())


async def close(store: WechatStore, call: Call) -> Reply:
    data = call.json()
    _check_mchid(call, data.get("mchid") if isinstance(data, dict) else None)
    trade = store.trade(call.merchant.mchid, call.path_params["out_trade_no"])
    if trade is None:
        raise _not_exist()
    match trade.state:
        case "SUCCESS" | "REFUND":
            raise WechatError(400, "ORDERPAID", "订单已支付")
        case "NOTPAY" | "USERPAYING":
            trade.transition("CLOSED")
        case "CLOSED" | "REVOKED" | "PAYERROR":
            pass  # closing an order that can no longer be paid is a no-op
        case other:
            raise AssertionError(f"unknown trade state {other}")
    return Reply(204)


def apply_outcome(
    store: WechatStore,
    trade: Trade,
    outcome: str,
    *,
    openid: str | None = None,
    bank_type: str | None = None,
) -> Trade:
    """What the payer did. ``pay`` makes the trade SUCCESS and notifies the merchant;
    ``fail`` → PAYERROR, ``cancel`` → CLOSED, ``revoke`` → REVOKED, ``userpaying`` →
    USERPAYING (no notification: WeChat only notifies successful payments)."""
    target = OUTCOMES.get(outcome)
    if target is None:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    now = store.now()
    if target not in TRADE_TRANSITIONS[trade.state]:
        raise InvalidTransition("trade", trade.state, target)
    if target in ("SUCCESS", "USERPAYING", "PAYERROR") and trade.expired(now):
        raise TradeExpired(f"trade {trade.out_trade_no} expired at {trade.time_expire}")
    trade.transition(target)
    if target in ("SUCCESS", "PAYERROR") and trade.transaction_id is None:
        trade.transaction_id = new_transaction_id(now)
        store.index_transaction(trade)
    if target == "SUCCESS":
        trade.success_time = now
        trade.bank_type = bank_type or "OTHERS"
        if trade.payer_openid is None:
            trade.payer_openid = openid or new_openid()
        publish(store, payment_event(trade, store.merchants[trade.mchid], now))
    return trade
