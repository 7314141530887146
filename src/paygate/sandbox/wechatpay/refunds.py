"""Refunds: apply (partial, idempotent on ``out_refund_no``), query, and settlement.

A refund is accepted as ``PROCESSING`` and settles after ``REFUND_SETTLE_SECONDS ×
time_scale`` — ``SUCCESS`` unless the ``refunds`` fault says otherwise — with a
``REFUND.*`` notification to the refund's ``notify_url`` (none without one). The sum of
refunds not closed never exceeds the amount paid.
"""

from __future__ import annotations

import asyncio

from .api import Call, Reply
from .context import Context
from .notifications import refund_event
from .state import Refund, Trade, new_refund_id
from .validation import RefundRequest, validate_refund
from .wire import WechatError

__all__ = ["create_refund", "query_refund", "settle"]


def _find_trade(ctx: Context, mchid: str, req: RefundRequest) -> Trade | None:
    if req.transaction_id is not None:
        trade = ctx.store.by_transaction_id.get(req.transaction_id)
        return trade if trade is not None and trade.mchid == mchid else None
    assert req.out_trade_no is not None
    return ctx.store.trade(mchid, req.out_trade_no)


def _same_request(refund: Refund, req: RefundRequest) -> bool:
    trade = refund.trade
    same_trade = (
        req.transaction_id == trade.transaction_id
        if req.transaction_id is not None
        else req.out_trade_no == trade.out_trade_no
    )
    return same_trade and req.refund == refund.refund and req.total == trade.total


async def create_refund(ctx: Context, call: Call) -> Reply:
    req = validate_refund(call.json())
    mchid = call.merchant.mchid
    existing = ctx.store.refund(mchid, req.out_refund_no)
    if existing is not None:
        if not _same_request(existing, req):
            raise WechatError(400, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试")
        return Reply(200, existing.to_wire())
    trade = _find_trade(ctx, mchid, req)
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
    now = ctx.clock.now()
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
    ctx.store.add_refund(refund)
    outcome = ctx.faults.take_refund_outcome()
    if outcome != "MANUAL":
        ctx.spawn(_settle_later(ctx, refund, outcome))
    return Reply(200, refund.to_wire())


async def _settle_later(ctx: Context, refund: Refund, outcome: str) -> None:
    await asyncio.sleep(ctx.refund_settle_seconds * ctx.time_scale)
    if refund.status == "PROCESSING":
        settle(ctx, refund, outcome)


def settle(ctx: Context, refund: Refund, outcome: str) -> Refund:
    """Move ``refund`` to ``SUCCESS``, ``ABNORMAL`` or ``CLOSED`` and notify (raises
    :class:`~.state.InvalidTransition` from a final status)."""
    refund.transition(outcome)
    now = ctx.clock.now()
    if outcome == "SUCCESS":
        refund.success_time = now
    event = refund_event(refund, ctx.merchants[refund.trade.mchid], now)
    if event is not None:
        ctx.notifier.publish(event)
    return refund


async def query_refund(ctx: Context, call: Call) -> Reply:
    refund = ctx.store.refund(call.merchant.mchid, call.path_params["out_refund_no"])
    if refund is None:
        raise WechatError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return Reply(200, refund.to_wire())
