"""Refunds: apply (partial, idempotent on ``out_refund_no``), query, and settlement.

A refund is accepted as ``PROCESSING`` and settles after :data:`SETTLE_SECONDS` (times
``time_scale``) as ``SUCCESS`` — or as the ``refunds`` fault says: ``ABNORMAL``,
``CLOSED``, another delay (``delay_seconds``), or ``MANUAL`` (it stays ``PROCESSING``
until ``POST /_sandbox/refunds/{out_refund_no}``). Each final status is notified with a
``REFUND.*`` notification to the refund's ``notify_url`` (none without one). The refunds
not closed never exceed the amount paid: a closed refund gives its amount back.
"""

from __future__ import annotations

from typing import Final

from paygate.sandbox.harness import MANUAL

from ..api import Call, Reply
from ..errors import WechatError
from ..notifications import publish, refund_event
from ..state import InvalidTransition, Refund, Trade, new_refund_id
from ..store import WechatStore
from ..validation import RefundRequest, validate_refund

__all__ = ["REFUND_OUTCOMES", "SETTLE_SECONDS", "create_refund", "query_refund", "settle"]

#: How a refund may end (the ``refunds`` fault's outcomes, besides MANUAL).
REFUND_OUTCOMES: Final = ("SUCCESS", "ABNORMAL", "CLOSED")
#: Channel seconds a refund stays PROCESSING (balance refunds take seconds at WeChat,
#: bank-card ones days).
SETTLE_SECONDS: Final = 5.0


def _find_trade(store: WechatStore, mchid: str, req: RefundRequest) -> Trade | None:
    if req.transaction_id is not None:
        trade = store.by_transaction_id.get(req.transaction_id)
        return trade if trade is not None and trade.mchid == mchid else None
    assert req.out_trade_no is not None
    return store.trade(mchid, req.out_trade_no)


def _same_request(refund: Refund, req: RefundRequest) -> bool:
    trade = refund.trade
    same_trade = (
        req.transaction_id == trade.transaction_id
        if req.transaction_id is not None
        else req.out_trade_no == trade.out_trade_no
    )
    return same_trade and req.refund == refund.refund and req.total == trade.total


async def create_refund(store: WechatStore, call: Call) -> Reply:
    req = validate_refund(call.json())
    mchid = call.merchant.mchid
    existing = store.refund(mchid, req.out_refund_no)
    if existing is not None:
        if not _same_request(existing, req):
            raise WechatError(400, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试")
        return Reply(200, existing.to_wire())
    trade = _find_trade(store, mchid, req)
    if trade is None or not trade.paid:
        raise WechatError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    if req.total != trade.total:
        raise WechatError(400, "INVALID_REQUEST", "订单金额与原订单金额不一致，请核实后再试")
    if req.currency != trade.currency:
        raise WechatError(400, "INVALID_REQUEST", "退款币种与原订单币种不一致")
    refundable = trade.total - trade.refunded_amount()
    if refundable <= 0:
        raise WechatError(400, "INVALID_REQUEST", "订单已全额退款")
    if req.refund > refundable:
        raise WechatError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
    now = store.now()
    refund = Refund(
        trade=trade,
        refund_id=new_refund_id(now),
        out_refund_no=req.out_refund_no,
        refund=req.refund,
        created_at=now,
        notify_url=req.notify_url,
        reason=req.reason,
        funds_account=req.funds_account,
        public_key_mode=call.public_key_mode,
    )
    if trade.state == "SUCCESS":
        trade.transition("REFUND")
    store.add_refund(refund)
    fate = store.harness.faults.take_refund_fate()
    outcome = "SUCCESS" if fate is None else fate.outcome
    if outcome != MANUAL:
        delay = SETTLE_SECONDS if fate is None or fate.delay_seconds is None else fate.delay_seconds
        store.harness.scheduler.later(delay, lambda: _settle_if_processing(store, refund, outcome))
    return Reply(200, refund.to_wire())


def _settle_if_processing(store: WechatStore, refund: Refund, outcome: str) -> None:
    if refund.status == "PROCESSING":  # not settled by hand meanwhile
        settle(store, refund, outcome)


def settle(store: WechatStore, refund: Refund, outcome: str) -> Refund:
    """Move ``refund`` to ``SUCCESS``, ``ABNORMAL`` or ``CLOSED`` and notify (raises
    :class:`~..state.InvalidTransition` from a final status)."""
    if outcome not in REFUND_OUTCOMES:
        raise InvalidTransition("refund", refund.status, outcome)
    refund.transition(outcome)
    now = store.now()
    if outcome == "SUCCESS":
        refund.success_time = now
    event = refund_event(refund, store.merchants[refund.trade.mchid], now)
    if event is not None:
        publish(store, event)
    return refund


async def query_refund(store: WechatStore, call: Call) -> Reply:
    refund = store.refund(call.merchant.mchid, call.path_params["out_refund_no"])
    if refund is None:
        raise WechatError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return Reply(200, refund.to_wire())
