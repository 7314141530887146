from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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
