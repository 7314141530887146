"""Refund queries (R-API-1 ``/query/refund``) and the refunds of a trade."""

from __future__ import annotations

from paygate.domain.refunds import RefundState
from paygate.kit.errors import ErrorCode, NotFoundError, RequestError
from paygate.models import Refund
from paygate.payments.state_changes import Source
from paygate.refunds.commands import RefundRef
from paygate.refunds.syncing import RefundSync
from paygate.refunds.views import RefundView, refund_view
from paygate.repositories import Database, UnitOfWork

__all__ = ["RefundQueries", "load_refund"]


async def load_refund(uow: UnitOfWork, app_id: str | None, ref: RefundRef) -> Refund:
    """The refund named by ``ref``; for an app, only its own (another app's is as unknown as
    a missing one). ``app_id`` None: an operator, who may see every refund."""
    if ref.refund_no:
        refund = await uow.refunds.by_no(ref.refund_no)
    elif ref.out_refund_no and app_id is not None:
        refund = await uow.refunds.by_out_no(app_id, ref.out_refund_no)
    else:
        raise RequestError("give refund_no or out_refund_no")
    if refund is None or (app_id is not None and refund.app_id != app_id):
        raise NotFoundError(code=ErrorCode.REFUND_NOT_FOUND)
    return refund


class RefundQueries:
    def __init__(self, db: Database, sync: RefundSync) -> None:
        self._db = db
        self._sync = sync

    async def query(self, app_id: str | None, ref: RefundRef, *, sync: bool = False) -> RefundView:
        async with self._db.reading() as uow:
            refund = await load_refund(uow, app_id, ref)
            trade = await uow.trades.by_id(refund.trade_id)
        assert trade is not None
        if sync:
            return await self._sync.sync(refund.refund_no, source=Source.QUERY)
        return refund_view(refund, trade)

    async def listing(
        self, *, state: RefundState | None = None, app_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[RefundView]:
        """Refunds, newest first (the operators' approval queue is ``state=pending_approval``)."""
        async with self._db.reading() as uow:
            refunds = await uow.refunds.listing(state=state, app_id=app_id, limit=limit, offset=offset)
            views = []
            for refund in refunds:
                trade = await uow.trades.by_id(refund.trade_id)
                assert trade is not None
                views.append(refund_view(refund, trade))
        return views
