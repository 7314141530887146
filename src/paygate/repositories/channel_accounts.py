"""Channel-account rows (credentials sealed at rest, R-SEC-4)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.models import ChannelAccountRow

__all__ = ["ChannelAccountRepository"]


class ChannelAccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, account_id: int) -> ChannelAccountRow | None:
        return await self._session.get(ChannelAccountRow, account_id)

    async def enabled_for(self, channel: str) -> list[ChannelAccountRow]:
        rows = await self._session.execute(
            select(ChannelAccountRow)
            .where(ChannelAccountRow.channel == channel, ChannelAccountRow.enabled.is_(True))
            .order_by(ChannelAccountRow.priority.desc(), ChannelAccountRow.id)
        )
        return list(rows.scalars())

    async def by_merchant(self, channel: str, merchant_id: str) -> ChannelAccountRow | None:
        rows = await self._session.execute(
            select(ChannelAccountRow).where(
                ChannelAccountRow.channel == channel, ChannelAccountRow.merchant_id == merchant_id
            )
        )
        return rows.scalars().first()

    async def all(self) -> list[ChannelAccountRow]:
        rows = await self._session.execute(select(ChannelAccountRow).order_by(ChannelAccountRow.id))
        return list(rows.scalars())

    async def add(self, row: ChannelAccountRow) -> int:
        self._session.add(row)
        await self._session.flush([row])
        return row.id
