"""Request nonces, when Redis is not configured (R-SEC-1)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

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
