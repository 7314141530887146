"""Request nonces, when Redis is not configured (R-SEC-1)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.models import RequestNonce

if TYPE_CHECKING:
    from paygate.repositories.unit_of_work import UnitOfWork

__all__ = ["NonceRepository"]


class NonceRepository:
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self._session = session
        self._uow = uow

    async def remember(self, app_id: str, nonce: str, expires_at: datetime) -> bool:
        """True if the nonce is new; False if it was seen within the window (the unit of
        work is then rollback-only)."""
        return await self._uow.insert_unique(RequestNonce(app_id=app_id, nonce=nonce, expires_at=expires_at))

    async def purge_expired(self, now: datetime, limit: int = 5000) -> int:
        """Forget up to ``limit`` nonces whose window has passed; how many went."""
        ids = list(
            (
                await self._session.execute(
                    select(RequestNonce.id).where(RequestNonce.expires_at < now).limit(limit)
                )
            ).scalars()
        )
        if ids:
            await self._session.execute(delete(RequestNonce).where(RequestNonce.id.in_(ids)))
        return len(ids)
