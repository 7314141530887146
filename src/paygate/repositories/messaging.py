from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.models import IdempotencyRecord, OutboxMessage, RequestNonce


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, message: OutboxMessage) -> None:
        self.session.add(message)

    async def for_aggregate(self, aggregate: str) -> list[OutboxMessage]:
        rows = await self.session.execute(
            select(OutboxMessage).where(OutboxMessage.aggregate == aggregate).order_by(OutboxMessage.id)
        )
        return list(rows.scalars())


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, app_id: str, scope: str, key: str) -> IdempotencyRecord | None:
        rows = await self.session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.app_id == app_id,
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key == key,
            )
        )
        return rows.scalar_one_or_none()

    def add(self, record: IdempotencyRecord) -> None:
        self.session.add(record)

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class NonceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def remember(self, app_id: str, nonce: str, expires_at: datetime) -> bool:
        """True if the nonce is new; False if it was seen within the window."""
        try:
            async with self.session.begin_nested():
                self.session.add(RequestNonce(app_id=app_id, nonce=nonce, expires_at=expires_at))
        except IntegrityError:
            return False
        return True

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(delete(RequestNonce).where(RequestNonce.expires_at < now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
