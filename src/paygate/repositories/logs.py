"""The call log and the inbox of channel notifications."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.models import CallLog, ChannelNotification

if TYPE_CHECKING:
    from paygate.repositories.unit_of_work import UnitOfWork

__all__ = ["CallLogRepository", "InboxRepository"]


#: the table itself: a Core executemany, not the ORM's bulk path
_CALL_LOG = cast(Table, CallLog.__table__)


class CallLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """One executemany of Core INSERTs (the ORM's bulk path costs more than the write)."""
        if rows:
            await self._session.execute(insert(_CALL_LOG), list(rows))


class InboxRepository:
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self._session = session
        self._uow = uow

    async def claim(self, row: ChannelNotification) -> bool:
        """Store a verified notification under its channel identity. False when it was
        stored before (a repeat, or the same one being processed concurrently): the unit of
        work is then rollback-only."""
        return await self._uow.insert_unique(row)

    def add(self, row: ChannelNotification) -> None:
        """Keep a notification that has no identity to de-duplicate on (a rejected one)."""
        self._session.add(row)

    async def for_trade(self, trade_id: int) -> list[ChannelNotification]:
        rows = await self._session.execute(
            select(ChannelNotification)
            .where(ChannelNotification.trade_id == trade_id)
            .order_by(ChannelNotification.id)
        )
        return list(rows.scalars())
