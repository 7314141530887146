"""Trade queries (R-PAY-8, R-PAY-9): paygate's own state, cached briefly — front-end polling
never reaches the channel — or, with ``sync``, the channel's answer recorded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from paygate.kit.errors import ErrorCode, NotFoundError, RequestError
from paygate.models import Trade
from paygate.payments.commands import TradeRef
from paygate.payments.query_cache import TradeQueryCache
from paygate.payments.state_changes import Source
from paygate.payments.syncing import ChannelSync
from paygate.payments.trade_view import TradeView, trade_view
from paygate.repositories import Database, UnitOfWork

__all__ = ["TradeDetails", "TradeQueries", "load_trade"]

#: More of a trade for its query view, read in the same unit of work (e.g. its refunds,
#: which the refunds package provides: payments never imports it).
TradeDetails = Callable[[UnitOfWork, Trade], Awaitable[dict[str, Any]]]


async def load_trade(uow: UnitOfWork, app_id: str, ref: TradeRef) -> Trade:
    """The app's trade named by ``ref``; another app's trade is as unknown as a missing one."""
    if ref.trade_no:
        trade = await uow.trades.by_no(ref.trade_no)
    elif ref.out_order_no:
        trade = await uow.trades.by_order(app_id, ref.out_order_no)
    else:
        raise RequestError("give trade_no or out_order_no")
    if trade is None or trade.app_id != app_id:
        raise NotFoundError(code=ErrorCode.TRADE_NOT_FOUND)
    return trade


class TradeQueries:
    def __init__(
        self, db: Database, cache: TradeQueryCache, sync: ChannelSync, details: TradeDetails | None = None
    ) -> None:
        self._db = db
        self._cache = cache
        self._sync = sync
        self._details = details

    async def query(self, app_id: str, ref: TradeRef, *, sync: bool = False) -> TradeView:
        if sync:
            async with self._db.reading() as uow:
                trade = await load_trade(uow, app_id, ref)
            await self._sync.sync(trade, source=Source.QUERY)
        else:
            key = ref.trade_no or TradeQueryCache.order_key(app_id, ref.out_order_no or "")
            cached = self._cache.get(key)
            if cached is not None and cached["app_id"] == app_id:
                return cached
        read_at = self._cache.now()
        async with self._db.reading() as uow:
            trade = await load_trade(uow, app_id, ref)
            view = trade_view(trade)
            if self._details is not None:
                view.update(await self._details(uow, trade))
        self._cache.put(view, read_at)
        return view
