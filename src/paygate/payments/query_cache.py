"""The short-lived cache in front of trade queries (R-PAY-8): front-end polling reads
paygate's own state, and a burst of polls costs one database read per ``ttl`` seconds.

Every change this process commits invalidates its entry at once (see :mod:`.after_commit`);
other processes see a change within ``ttl``."""

from __future__ import annotations

from cachetools import TTLCache

from paygate.payments.trade_view import TradeView

__all__ = ["TradeQueryCache"]


class TradeQueryCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 50_000) -> None:
        self.enabled = ttl_seconds > 0
        self._views: TTLCache[str, TradeView] = TTLCache(maxsize=max_entries, ttl=max(ttl_seconds, 0.001))

    @staticmethod
    def order_key(app_id: str, out_order_no: str) -> str:
        return f"{app_id}\x00{out_order_no}"

    def get(self, key: str) -> TradeView | None:
        return self._views.get(key) if self.enabled else None

    def put(self, view: TradeView) -> None:
        if self.enabled:
            self._views[view["trade_no"]] = view
            self._views[self.order_key(view["app_id"], view["out_order_no"])] = view

    def invalidate(self, view: TradeView) -> None:
        self.invalidate_trade(view["trade_no"], view["app_id"], view["out_order_no"])

    def invalidate_trade(self, trade_no: str, app_id: str, out_order_no: str) -> None:
        self._views.pop(trade_no, None)
        self._views.pop(self.order_key(app_id, out_order_no), None)
