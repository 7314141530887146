"""Trades, their channel attempts and their trade-log rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from paygate.domain.trades import AttemptStatus, TradeState
from paygate.models import ChannelAttempt, EventDelivery, ExtraPayment, OutboxMessage, Trade, TradeLog
from paygate.repositories.errors import ConcurrentUpdate
from paygate.repositories.rows import insert_family, update_guarded

if TYPE_CHECKING:
    from paygate.repositories.unit_of_work import UnitOfWork

__all__ = ["TradeRepository"]

_OPEN = (TradeState.CREATED, TradeState.PENDING, TradeState.UNKNOWN)

#: the hot reads (every query, every notification), built once: a statement is immutable, and
#: building it again per call — the column comparisons, the join — cost more than SQLAlchemy's
#: compiled-statement cache saves (issue 11's profiles)
_BY_NO = select(Trade).where(Trade.trade_no == bindparam("trade_no"))
_BY_ORDER = select(Trade).where(
    Trade.app_id == bindparam("app_id"), Trade.out_order_no == bindparam("out_order_no")
)
_BY_ATTEMPT = (
    select(Trade, ChannelAttempt)
    .join(ChannelAttempt, ChannelAttempt.trade_id == Trade.id)
    .where(ChannelAttempt.attempt_no == bindparam("attempt_no"))
)


class TradeRepository:
    def __init__(self, session: AsyncSession, uow: UnitOfWork) -> None:
        self._session = session
        self._uow = uow

    # ------------------------------------------------------------------ reads

    async def by_no(self, trade_no: str) -> Trade | None:
        rows = await self._session.execute(_BY_NO, {"trade_no": trade_no})
        return rows.scalar_one_or_none()

    async def by_order(self, app_id: str, out_order_no: str) -> Trade | None:
        rows = await self._session.execute(_BY_ORDER, {"app_id": app_id, "out_order_no": out_order_no})
        return rows.scalar_one_or_none()

    async def by_id(self, trade_id: int) -> Trade | None:
        return await self._session.get(Trade, trade_id)

    async def by_attempt(self, attempt_no: str) -> tuple[Trade, ChannelAttempt] | None:
        """The trade an attempt number (the channel's merchant order number) belongs to."""
        rows = await self._session.execute(_BY_ATTEMPT, {"attempt_no": attempt_no})
        row = rows.first()
        return None if row is None else (row[0], row[1])

    async def attempt(self, attempt_no: str) -> ChannelAttempt | None:
        rows = await self._session.execute(
            select(ChannelAttempt).where(ChannelAttempt.attempt_no == attempt_no)
        )
        return rows.scalar_one_or_none()

    async def live_attempts(self, trade_id: int) -> list[ChannelAttempt]:
        """The trade's attempts that reached (or may have reached) a channel, newest first."""
        rows = await self._session.execute(
            select(ChannelAttempt)
            .where(
                ChannelAttempt.trade_id == trade_id,
                ChannelAttempt.status.in_(
                    [AttemptStatus.SENT, AttemptStatus.ACCEPTED, AttemptStatus.UNKNOWN]
                ),
            )
            .order_by(ChannelAttempt.id.desc())
        )
        return list(rows.scalars())

    async def count_attempts(self, trade_id: int) -> int:
        rows = await self._session.execute(
            select(func.count()).select_from(ChannelAttempt).where(ChannelAttempt.trade_id == trade_id)
        )
        return int(rows.scalar_one())

    async def logs(self, trade_id: int) -> list[TradeLog]:
        rows = await self._session.execute(
            select(TradeLog).where(TradeLog.trade_id == trade_id).order_by(TradeLog.id)
        )
        return list(rows.scalars())

    # ------------------------------------------------------------------ writes

    async def insert(self, trade: Trade, attempt: ChannelAttempt, logs: list[TradeLog]) -> Trade | None:
        """Insert a new trade with its first attempt and log rows. ``None`` when the app's
        order number is taken (a repeat or a concurrent duplicate, R-PAY-7): the unit of
        work is then rollback-only.

        Written with Core statements (the pay path's hot spot) — on PostgreSQL one statement,
        atomic by itself, so it may run in :meth:`Database.single_statement`. ``trade`` and
        ``attempt`` come back detached with their ids, ready to be attached by a later unit of
        work."""
        try:
            await insert_family(
                self._session, trade, [([attempt], "trade_id", True), (logs, "trade_id", False)]
            )
        except IntegrityError:
            self._uow.mark_rollback_only()
            return None
        return trade

    def attach(self, *rows: Trade | ChannelAttempt) -> None:
        """Take rows read by an earlier unit of work into this one (their version is checked
        when they are written)."""
        self._session.add_all(rows)

    def add_attempt(self, attempt: ChannelAttempt) -> None:
        self._session.add(attempt)

    async def save_state(self, trade: Trade) -> None:
        """Write the trade now, so that a concurrent writer's newer version is detected
        before anything that depends on this change is added."""
        try:
            await self._session.flush([trade])
        except StaleDataError as exc:
            raise ConcurrentUpdate(str(exc)) from exc

    async def move(
        self,
        trade: Trade,
        rows: Sequence[object],
        event: OutboxMessage | None = None,
        deliveries: Sequence[EventDelivery] = (),
    ) -> bool:
        """Write a change made to a trade read by an earlier unit of work — under its version
        check — with the rows that go with it (its log row, …) and the event announcing it:
        on PostgreSQL one statement, atomic on its own (:meth:`Database.single_statement`).
        False, with nothing written, when a concurrent writer changed the trade since it was
        read or when one of ``rows`` collides with a unique key (e.g. a notification already
        claimed): the unit of work is then rollback-only and the caller decides again on
        fresh data."""
        try:
            written = await update_guarded(self._session, trade, rows, event, deliveries, "event_id")
        except IntegrityError:
            written = False
        if not written:
            self._uow.mark_rollback_only()
        return written

    def add_log(self, row: TradeLog) -> None:
        self._session.add(row)

    # ------------------------------------------------------------------ checks (R-NTF-3, R-NTF-4)

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[int]:
        """Trades whose check is due, claimed for this worker: their ``next_check_at`` moves to
        ``lease_until`` in this transaction, and rows another worker holds are skipped
        (``FOR UPDATE SKIP LOCKED`` on PostgreSQL and MariaDB; SQLite has one writer)."""
        rows = await self._session.execute(
            select(Trade.id)
            .where(Trade.next_check_at <= now)
            .order_by(Trade.next_check_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [int(i) for i in rows.scalars()]
        if ids:
            await self._session.execute(
                update(Trade)
                .where(Trade.id.in_(ids))
                .values(next_check_at=lease_until, checks=Trade.checks + 1)
                .execution_options(synchronize_session=False)
            )
        return ids

    async def schedule_check(self, trade_id: int, at: datetime | None) -> None:
        """When to ask about the trade next (None: never again — it is final)."""
        await self._session.execute(
            update(Trade)
            .where(Trade.id == trade_id, Trade.state.in_(_OPEN))
            .values(next_check_at=at)
            .execution_options(synchronize_session=False)
        )

    async def unscheduled_open(self, now: datetime) -> int:
        """Open trades with no check planned (rows from before checks existed): due now."""
        result = await self._session.execute(
            update(Trade)
            .where(Trade.next_check_at.is_(None), Trade.state.in_(_OPEN))
            .values(next_check_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ extra payments (R-PAY-5/6)

    async def add_extra_payment(self, row: ExtraPayment) -> bool:
        """Record a payment beyond the one the trade kept; False when it was recorded before."""
        return await self._uow.insert_if_absent(row)

    async def extra_payments(self, trade_id: int) -> list[ExtraPayment]:
        rows = await self._session.execute(
            select(ExtraPayment).where(ExtraPayment.trade_id == trade_id).order_by(ExtraPayment.id)
        )
        return list(rows.scalars())

    async def extra_payment(self, extra_id: int) -> ExtraPayment | None:
        return await self._session.get(ExtraPayment, extra_id)

    async def unrefunded_extra_payments(self, limit: int) -> list[ExtraPayment]:
        rows = await self._session.execute(
            select(ExtraPayment)
            .where(ExtraPayment.refund_no.is_(None))
            .order_by(ExtraPayment.id)
            .limit(limit)
        )
        return list(rows.scalars())

    # ------------------------------------------------------------------ refund money (R-REF-1)

    async def reserve_refund(self, trade: Trade, amount: int) -> bool:
        """Reserve ``amount`` of a paid trade for a refund — one conditional UPDATE, so
        concurrent refunds of one trade can never reserve more than was paid, on any backend
        (the row lock serialises them). False when the remainder is too small (or the trade is
        not paid). ``trade`` is refreshed either way."""
        result = await self._session.execute(
            update(Trade)
            .where(
                Trade.id == trade.id,
                Trade.state == TradeState.SUCCEEDED,
                Trade.refund_reserved + amount <= func.coalesce(Trade.paid_amount, Trade.amount),
            )
            .values(refund_reserved=Trade.refund_reserved + amount, version=Trade.version + 1)
            .execution_options(synchronize_session=False)
        )
        await self._session.refresh(trade)
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def settle_refund(self, trade_id: int, amount: int, *, refunded: bool) -> None:
        """A refund of ``amount`` ended: it counts as refunded, or its reservation is released."""
        values = (
            {"refunded_amount": Trade.refunded_amount + amount}
            if refunded
            else {"refund_reserved": Trade.refund_reserved - amount}
        )
        await self._session.execute(
            update(Trade)
            .where(Trade.id == trade_id)
            .values(**values, version=Trade.version + 1)
            .execution_options(synchronize_session=False)
        )
        loaded = [o for o in self._session.identity_map.values() if isinstance(o, Trade) and o.id == trade_id]
        for trade in loaded:
            await self._session.refresh(trade)
