"""What apps see of a trade, and the short-lived cache behind trade queries (R-PAY-8)."""

from __future__ import annotations

import time
from typing import Any

from paygate.models import Trade

__all__ = ["TradeCache", "trade_view"]


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def trade_view(trade: Trade, action: dict[str, Any] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "trade_no": trade.trade_no,
        "app_id": trade.app_id,
        "out_order_no": trade.out_order_no,
        "pay_type": trade.pay_type,
        "state": trade.state,
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


class TradeCache:
    """Trade views for a few seconds, per process; every change made by this process
    invalidates its entry at once. Other processes see a change within ``ttl``."""

    def __init__(self, ttl_seconds: float, max_entries: int = 50_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return hit[1]

    def put(self, view: dict[str, Any], app_id: str) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        expires = time.monotonic() + self._ttl
        self._entries[view["trade_no"]] = (expires, view)
        self._entries[f"{app_id}\x00{view['out_order_no']}"] = (expires, view)

    def invalidate(self, trade: Trade | dict[str, Any]) -> None:
        if isinstance(trade, dict):
            trade_no, app_id, order = trade["trade_no"], trade["app_id"], trade["out_order_no"]
        else:
            trade_no, app_id, order = trade.trade_no, trade.app_id, trade.out_order_no
        self._entries.pop(trade_no, None)
        self._entries.pop(f"{app_id}\x00{order}", None)
