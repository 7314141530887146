from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.models import CallLog, ChannelNotification


class CallLogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(CallLog), list(rows))

    async def recent(self, app_id: str | None = None, limit: int = 50) -> list[CallLog]:
        query = select(CallLog).order_by(CallLog.id.desc()).limit(limit)
        if app_id:
            query = query.where(CallLog.app_id == app_id)
        return list((await self.session.execute(query)).scalars())


class InboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, channel: str, notification_id: str) -> ChannelNotification | None:
        rows = await self.session.execute(
            select(ChannelNotification).where(
                ChannelNotification.channel == channel,
                ChannelNotification.notification_id == notification_id,
            )
        )
        return rows.scalar_one_or_none()

    def add(self, row: ChannelNotification) -> None:
        self.session.add(row)

    async def for_trade(self, trade_id: int) -> list[ChannelNotification]:
        rows = await self.session.execute(
            select(ChannelNotification)
            .where(ChannelNotification.trade_id == trade_id)
            .order_by(ChannelNotification.id)
        )
        return list(rows.scalars())

    async def rejected(self, channel: str) -> list[ChannelNotification]:
        rows = await self.session.execute(
            select(ChannelNotification).where(
                ChannelNotification.channel == channel, ChannelNotification.outcome == "rejected"
            )
        )
        return list(rows.scalars())
