"""Operators and their audit trail."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.models import Operator, OperatorAction

__all__ = ["OperatorRepository"]


class OperatorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, name: str) -> Operator | None:
        rows = await self._session.execute(select(Operator).where(Operator.name == name))
        return rows.scalar_one_or_none()

    async def all(self) -> list[Operator]:
        rows = await self._session.execute(select(Operator).order_by(Operator.name))
        return list(rows.scalars())

    async def add(self, operator: Operator) -> bool:
        """False when the name is taken."""
        self._session.add(operator)
        try:
            await self._session.flush([operator])
        except IntegrityError:
            return False
        return True

    def record(self, action: OperatorAction) -> None:
        self._session.add(action)

    async def actions(self, *, target: str | None = None, limit: int = 100) -> list[OperatorAction]:
        query = select(OperatorAction).order_by(OperatorAction.id.desc()).limit(limit)
        if target is not None:
            query = query.where(OperatorAction.target == target)
        return list((await self._session.execute(query)).scalars())
