"""The short-lived cache in front of trade queries (R-PAY-8): front-end polling reads
paygate's own state, and a burst of polls costs one database read per ``ttl`` seconds.

Every change a process commits drops the trade's entry at once, in that process and — through
the invalidation bus (Redis pub/sub when configured) — in every other. A view read from the
database before an invalidation arrived is not cached afterwards (the tombstone says so), so
a slow reader cannot put a stale view back.
"""

from __future__ import annotations

import time

from cachetools import TTLCache

from paygate.kit.invalidation import InvalidationBus
from paygate.payments.trade_view import TradeView

__all__ = ["TradeQueryCache"]


class TradeQueryCache:
    def __init__(
        self, ttl_seconds: float, max_entries: int = 50_000, bus: InvalidationBus | None = None
    ) -> None:
        self.enabled = ttl_seconds > 0
        ttl = max(ttl_seconds, 0.001)
        self._views: TTLCache[str, TradeView] = TTLCache(maxsize=max_entries, ttl=ttl)
        #: trade_no → when it was last invalidated (kept as long as a view could live)
        self._tombstones: TTLCache[str, float] = TTLCache(maxsize=max_entries, ttl=ttl + 1.0)
        self._bus = bus or InvalidationBus()
        self._bus.subscribe(self._drop)

    @staticmethod
    def order_key(app_id: str, out_order_no: str) -> str:
        return f"{app_id}\x00{out_order_no}"

    @staticmethod
    def now() -> float:
        """The moment to pass to :meth:`put` as ``read_at``: take it before reading."""
        return time.monotonic()

    def get(self, key: str) -> TradeView | None:
        return self._views.get(key) if self.enabled else None

    def put(self, view: TradeView, read_at: float) -> None:
        """Cache a view read from the database at ``read_at`` — unless the trade changed since."""
        if not self.enabled:
            return
        dropped = self._tombstones.get(view["trade_no"])
        if dropped is not None and dropped >= read_at:
            return
        self._views[view["trade_no"]] = view
        self._views[self.order_key(view["app_id"], view["out_order_no"])] = view

    def invalidate(self, view: TradeView) -> None:
        self.invalidate_trade(view["trade_no"], view["app_id"], view["out_order_no"])

    def invalidate_trade(self, trade_no: str, app_id: str, out_order_no: str) -> None:
        """Here at once, and in every other process through the bus."""
        key = f"{trade_no}\x00{app_id}\x00{out_order_no}"
        self._drop(key)
        self._bus.publish(key)

    def _drop(self, key: str) -> None:
        trade_no, app_id, out_order_no = key.split("\x00", 2)
        self._tombstones[trade_no] = time.monotonic()
        self._views.pop(trade_no, None)
        self._views.pop(self.order_key(app_id, out_order_no), None)
