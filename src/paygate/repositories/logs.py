"""The call log and the inbox of channel notifications."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import JSON, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.kit.clock import utc_now
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
        """PostgreSQL: one binary COPY of the rows (asyncpg encodes them in C — a call-log row
        per API call, so this is on every request's bill of CPU); elsewhere one executemany
        of Core INSERTs (the ORM's bulk path costs more than the write)."""
        if not rows:
            return
        connection = await self._session.connection()
        if connection.dialect.name != "postgresql":
            await self._session.execute(insert(_CALL_LOG), list(rows))
            return
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        now = utc_now()
        records = [
            tuple(
                _json(row.get(name))
                if name in _JSON_COLUMNS
                else row.get(name, now if name == "created_at" else None)
                for name in _COPY_COLUMNS
            )
            for row in rows
        ]
        await driver.copy_records_to_table(_CALL_LOG.name, records=records, columns=_COPY_COLUMNS)


#: every column but the generated id, in COPY order
_COPY_COLUMNS = [c.name for c in _CALL_LOG.columns if c.name != "id"]
_JSON_COLUMNS = frozenset(c.name for c in _CALL_LOG.columns if isinstance(c.type, JSON))


def _json(value: Any) -> str:
    """As SQLAlchemy's JSON type writes it (``none_as_null`` is off: ``None`` is JSON null)."""
    return json.dumps(value)


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
