"""What apps see of a trade and its refunds (the ``data`` of /gopay, /query/trade, /close,
/refund, /query/refund, and of the events sent about them)."""

from __future__ import annotations

from typing import Any

from paygate.kit.clock import iso_utc
from paygate.models import Refund, Trade
from paygate.repositories import UnitOfWork

__all__ = [
    "RefundView",
    "TradeView",
    "full_trade_view",
    "has_refunds",
    "refund_status",
    "refund_view",
    "trade_view",
]

#: A trade as the query API shows it (JSON-ready).
TradeView = dict[str, Any]
#: A refund as the query API shows it (JSON-ready).
RefundView = dict[str, Any]


_iso = iso_utc  # UTC always, six fractional digits: a channel's own time is converted


def trade_view(trade: Trade, action: dict[str, Any] | None = None) -> TradeView:
    view: TradeView = {
        "trade_no": trade.trade_no,
        "app_id": trade.app_id,
        "out_order_no": trade.out_order_no,
        "pay_type": trade.pay_type,
        "state": str(trade.state),
        "amount": trade.amount,
        "currency": trade.currency,
        "subject": trade.subject,
        "paid_amount": trade.paid_amount,
        "refunded_amount": trade.refunded_amount,
        "refund_status": refund_status(trade),
        "extra_paid_amount": trade.extra_paid_amount,
        "channel_trade_no": trade.channel_trade_no,
        "expire_at": _iso(trade.expire_at),
        "paid_at": _iso(trade.paid_at),
        "closed_at": _iso(trade.closed_at),
        "created_at": _iso(trade.created_at),
        "metadata": trade.metadata_ or {},
    }
    if action is not None:
        view["action"] = action
    return view


def refund_status(trade: Trade) -> str:
    """``none``, ``partially_refunded`` or ``fully_refunded`` — by money that went back."""
    if not trade.refunded_amount:
        return "none"
    paid = trade.paid_amount if trade.paid_amount is not None else trade.amount
    return "fully_refunded" if trade.refunded_amount >= paid else "partially_refunded"


def refund_view(refund: Refund, trade: Trade) -> RefundView:
    return {
        "refund_no": refund.refund_no,
        "out_refund_no": refund.out_refund_no,
        "trade_no": trade.trade_no,
        "out_order_no": trade.out_order_no,
        "app_id": refund.app_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "state": refund.state.value,
        "kind": refund.kind.value,
        "route": refund.route.value,
        "reason": refund.reason,
        "channel_refund_no": refund.channel_refund_no,
        "failure_reason": refund.failure_reason,
        "requested_by": refund.requested_by,
        "decided_by": refund.decided_by,
        "decision_reason": refund.decision_reason,
        "payout_reference": refund.payout_reference,
        "replaces_refund_no": refund.replaces_refund_no,
        "created_at": _iso(refund.created_at),
        "refunded_at": _iso(refund.refunded_at),
        "finished_at": _iso(refund.finished_at),
    }


def has_refunds(trade: Trade) -> bool:
    """Whether the trade may have refunds to show (business or system): else it has none."""
    return bool(trade.refund_reserved or trade.refunded_amount or trade.extra_paid_amount)


async def full_trade_view(uow: UnitOfWork, trade: Trade) -> TradeView:
    """The trade as ``/query/trade`` shows it: with its refunds (read only when it has any)."""
    view = trade_view(trade)
    if has_refunds(trade):
        view["refunds"] = [refund_view(r, trade) for r in await uow.refunds.for_trade(trade.id)]
    else:
        view["refunds"] = []
    return view
