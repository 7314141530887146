"""Checkouts (the hosted cashier) and console sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.models import Checkout, ConsoleSession

__all__ = ["CheckoutRepository", "ConsoleSessionRepository"]


class CheckoutRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_token(self, token: str) -> Checkout | None:
        rows = await self._session.execute(select(Checkout).where(Checkout.token == token))
        return rows.scalar_one_or_none()

    async def by_order(self, app_id: str, out_order_no: str) -> Checkout | None:
        rows = await self._session.execute(
            select(Checkout).where(Checkout.app_id == app_id, Checkout.out_order_no == out_order_no)
        )
        return rows.scalar_one_or_none()


class ConsoleSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, row: ConsoleSession) -> None:
        self._session.add(row)

    async def by_hash(self, token_hash: str) -> ConsoleSession | None:
        rows = await self._session.execute(
            select(ConsoleSession).where(ConsoleSession.token_hash == token_hash)
        )
        return rows.scalar_one_or_none()

    async def remove(self, token_hash: str) -> None:
        await self._session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash))

    async def remove_of(self, operator: str) -> None:
        await self._session.execute(delete(ConsoleSession).where(ConsoleSession.operator == operator))

    async def purge_expired(self, now: datetime) -> None:
        await self._session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
