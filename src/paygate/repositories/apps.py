"""Apps (the business systems calling paygate) and their channel-account bindings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.models import App, AppChannelAccount

__all__ = ["AppRepository"]


class AppRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, app_id: str) -> App | None:
        result = await self._session.execute(select(App).where(App.app_id == app_id))
        return result.scalar_one_or_none()

    async def add(self, app: App) -> bool:
        """False when the app id is taken."""
        self._session.add(app)
        try:
            await self._session.flush([app])
        except IntegrityError:
            return False
        return True

    async def bound_accounts(self, app_id: str) -> list[tuple[int, int]]:
        """(channel_account_id, priority) bound to the app."""
        rows = await self._session.execute(
            select(AppChannelAccount.channel_account_id, AppChannelAccount.priority).where(
                AppChannelAccount.app_id == app_id
            )
        )
        return [(int(a), int(p)) for a, p in rows.all()]

    async def bind(self, app_id: str, channel_account_id: int, priority: int) -> None:
        """Serve the app's payments of that account's channel from it (R-CH-3); binding
        again changes the priority."""
        rows = await self._session.execute(
            select(AppChannelAccount).where(
                AppChannelAccount.app_id == app_id, AppChannelAccount.channel_account_id == channel_account_id
            )
        )
        existing = rows.scalar_one_or_none()
        if existing is None:
            self._session.add(
                AppChannelAccount(app_id=app_id, channel_account_id=channel_account_id, priority=priority)
            )
        else:
            existing.priority = priority
