from __future__ import annotations

from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import class_mapper

from paygate.models import ChannelAttempt, Trade, TradeLog


class TradeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_no(self, trade_no: str) -> Trade | None:
        rows = await self.session.execute(select(Trade).where(Trade.trade_no == trade_no))
        return rows.scalar_one_or_none()

    async def by_order(self, app_id: str, out_order_no: str) -> Trade | None:
        rows = await self.session.execute(
            select(Trade).where(Trade.app_id == app_id, Trade.out_order_no == out_order_no)
        )
        return rows.scalar_one_or_none()

    async def by_id(self, trade_id: int) -> Trade | None:
        return await self.session.get(Trade, trade_id)

    async def attempt(self, attempt_no: str) -> ChannelAttempt | None:
        rows = await self.session.execute(
            select(ChannelAttempt).where(ChannelAttempt.attempt_no == attempt_no)
        )
        return rows.scalar_one_or_none()

    async def attempts(self, trade_id: int) -> list[ChannelAttempt]:
        rows = await self.session.execute(
            select(ChannelAttempt).where(ChannelAttempt.trade_id == trade_id).order_by(ChannelAttempt.id)
        )
        return list(rows.scalars())

    async def logs(self, trade_id: int) -> list[TradeLog]:
        rows = await self.session.execute(
            select(TradeLog).where(TradeLog.trade_id == trade_id).order_by(TradeLog.id)
        )
        return list(rows.scalars())

    def add(self, *rows: Trade | ChannelAttempt | TradeLog) -> None:
        self.session.add_all(rows)

    async def insert_new(self, trade: Trade, attempt: ChannelAttempt, logs: list[TradeLog]) -> int:
        """Write a new trade with its attempt and log rows in three plain INSERTs (no ORM
        unit of work: this is the hot path of local pay forms). Sets the ids on the objects.
        Raises ``IntegrityError`` when ``(app_id, out_order_no)`` exists."""
        table: Table = Trade.__table__  # type: ignore[assignment]
        result = await self.session.execute(insert(table).values(_values(trade)).returning(table.c.id))
        trade.id = int(result.scalar_one())
        attempt.trade_id = trade.id
        for row in logs:
            row.trade_id = trade.id
        attempts: Table = ChannelAttempt.__table__  # type: ignore[assignment]
        trade_logs: Table = TradeLog.__table__  # type: ignore[assignment]
        await self.session.execute(insert(attempts), [_values(attempt)])
        await self.session.execute(insert(trade_logs), [_values(row) for row in logs])
        return trade.id


def _values(obj: Trade | ChannelAttempt | TradeLog) -> dict[str, Any]:
    """Column name → value of a transient object; unset columns with a default are left to it."""
    out: dict[str, Any] = {}
    for prop in class_mapper(type(obj)).column_attrs:
        column = prop.columns[0]
        value = getattr(obj, prop.key)
        if column.primary_key or (value is None and column.default is not None):
            continue
        out[column.name] = value
    return out
