"""The outbox: messages written in the same transaction as the change they announce."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from paygate.models import OutboxMessage

__all__ = ["OutboxRepository"]


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, message: OutboxMessage) -> None:
        self._session.add(message)
