"""What apps see of a trade (the ``data`` of /gopay, /query/trade, /close)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from paygate.models import Trade

__all__ = ["TradeView", "trade_view"]

#: A trade as the query API shows it (JSON-ready).
TradeView = dict[str, Any]


def _iso(value: Any) -> str | None:
    # UTC always: a channel's own time (Alipay's is +08:00) is converted, not shown as given
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


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
