"""Refunds."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from paygate.domain.refunds import RefundState
from paygate.models import Refund, TradeLog
from paygate.repositories.errors import ConcurrentUpdate

if TYPE_CHECKING:
    from paygate.repositories.unit_of_work import UnitOfWork

__all__ = ["RefundRepository"]

_ASKABLE = (RefundState.PROCESSING, RefundState.UNKNOWN)


class RefundRepository:
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self._session = session
        self._uow = uow

    async def by_no(self, refund_no: str) -> Refund | None:
        rows = await self._session.execute(select(Refund).where(Refund.refund_no == refund_no))
        return rows.scalar_one_or_none()

    async def by_id(self, refund_id: int) -> Refund | None:
        return await self._session.get(Refund, refund_id)

    async def by_out_no(self, app_id: str, out_refund_no: str) -> Refund | None:
        rows = await self._session.execute(
            select(Refund).where(Refund.app_id == app_id, Refund.out_refund_no == out_refund_no)
        )
        return rows.scalar_one_or_none()

    async def for_trade(self, trade_id: int) -> list[Refund]:
        rows = await self._session.execute(
            select(Refund).where(Refund.trade_id == trade_id).order_by(Refund.id)
        )
        return list(rows.scalars())

    async def listing(
        self, *, state: RefundState | None = None, app_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[Refund]:
        query = select(Refund).order_by(Refund.id.desc()).limit(limit).offset(offset)
        if state is not None:
            query = query.where(Refund.state == state)
        if app_id is not None:
            query = query.where(Refund.app_id == app_id)
        return list((await self._session.execute(query)).scalars())

    async def total_since(self, app_id: str, since: datetime, currency: str) -> int:
        """What the app asked to refund since ``since`` in ``currency``, failed and rejected
        refunds excepted (the base of a daily-total approval rule)."""
        rows = await self._session.execute(
            select(func.coalesce(func.sum(Refund.amount), 0)).where(
                Refund.app_id == app_id,
                Refund.currency == currency,
                Refund.created_at >= since,
                Refund.state.not_in([RefundState.FAILED, RefundState.REJECTED]),
            )
        )
        return int(rows.scalar_one())

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[int]:
        """Refunds whose check is due, claimed for this worker (see TradeRepository.claim_due)."""
        rows = await self._session.execute(
            select(Refund.id)
            .where(Refund.next_check_at <= now)
            .order_by(Refund.next_check_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [int(i) for i in rows.scalars()]
        if ids:
            await self._session.execute(
                update(Refund)
                .where(Refund.id.in_(ids))
                .values(next_check_at=lease_until, checks=Refund.checks + 1)
                .execution_options(synchronize_session=False)
            )
        return ids

    async def schedule_check(self, refund_id: int, at: datetime | None) -> None:
        await self._session.execute(
            update(Refund)
            .where(Refund.id == refund_id, Refund.state.in_(_ASKABLE))
            .values(next_check_at=at)
            .execution_options(synchronize_session=False)
        )

    async def unscheduled_open(self, now: datetime) -> int:
        result = await self._session.execute(
            update(Refund)
            .where(Refund.next_check_at.is_(None), Refund.state.in_(_ASKABLE))
            .values(next_check_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def insert(self, refund: Refund, logs: list[TradeLog]) -> bool:
        """False when the app's refund number is taken (the unit of work is then
        rollback-only)."""
        if not await self._uow.insert_unique(refund):
            return False
        for row in logs:
            row.refund_id = refund.id
            row.trade_id = refund.trade_id
        self._session.add_all(logs)
        return True

    async def save_state(self, refund: Refund) -> None:
        """Write the refund now; a concurrent writer's newer version is detected here."""
        try:
            await self._session.flush([refund])
        except StaleDataError as exc:
            raise ConcurrentUpdate(str(exc)) from exc
