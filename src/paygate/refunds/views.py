"""What apps and operators see of a refund (the ``data`` of /refund and /query/refund)."""

from __future__ import annotations

from typing import Any

from paygate.models import Refund, Trade
from paygate.repositories import UnitOfWork

__all__ = ["RefundView", "refund_view", "refunds_of_trade"]

#: A refund as the query API shows it (JSON-ready).
RefundView = dict[str, Any]


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


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


async def refunds_of_trade(uow: UnitOfWork, trade: Trade) -> dict[str, Any]:
    """The ``refunds`` of a trade's query view (nothing to read when none was ever asked)."""
    if not (trade.refund_reserved or trade.refunded_amount or trade.extra_paid_amount):
        return {"refunds": []}
    return {"refunds": [refund_view(r, trade) for r in await uow.refunds.for_trade(trade.id)]}
