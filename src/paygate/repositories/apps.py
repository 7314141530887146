from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.models import App, AppChannelAccount


class AppRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, app_id: str) -> App | None:
        result = await self.session.execute(select(App).where(App.app_id == app_id))
        return result.scalar_one_or_none()

    async def add(self, app: App) -> App:
        self.session.add(app)
        await self.session.flush()
        return app

    async def bound_accounts(self, app_id: str) -> list[tuple[int, int]]:
        """(channel_account_id, priority) bound to the app."""
        rows = await self.session.execute(
            select(AppChannelAccount.channel_account_id, AppChannelAccount.priority).where(
                AppChannelAccount.app_id == app_id
            )
        )
        return [(int(a), int(p)) for a, p in rows.all()]

    async def bind_account(self, app_id: str, channel_account_id: int, priority: int = 0) -> None:
        self.session.add(
            AppChannelAccount(app_id=app_id, channel_account_id=channel_account_id, priority=priority)
        )
        await self.session.flush()
