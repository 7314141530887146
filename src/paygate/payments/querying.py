"""Trade queries (R-PAY-8, R-PAY-9): paygate's own state, cached briefly — front-end polling
never reaches the channel — or, with ``sync``, the channel's answer recorded."""

from __future__ import annotations

from paygate.kit.errors import ErrorCode, NotFoundError, RequestError
from paygate.models import Trade
from paygate.payments.commands import TradeRef
from paygate.payments.query_cache import TradeQueryCache
from paygate.payments.state_changes import Source
from paygate.payments.syncing import ChannelSync
from paygate.payments.trade_view import TradeView, full_trade_view, has_refunds
from paygate.repositories import Database, UnitOfWork

__all__ = ["TradeQueries", "load_trade"]


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
    def __init__(self, db: Database, cache: TradeQueryCache, sync: ChannelSync) -> None:
        self._db = db
        self._cache = cache
        self._sync = sync

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
        # most trades have no refunds: their view is one SELECT, read without a transaction
        # (on PostgreSQL no BEGIN/ROLLBACK round trips); a trade with refunds is read again
        # with them in one transaction, so the two agree
        async with self._db.single_statement() as uow:
            trade = await load_trade(uow, app_id, ref)
            view = None if has_refunds(trade) else await full_trade_view(uow, trade)  # no 2nd read
        if view is None:
            async with self._db.reading() as uow:
                trade = await load_trade(uow, app_id, ref)
                view = await full_trade_view(uow, trade)
        self._cache.put(view, read_at)
        return view
