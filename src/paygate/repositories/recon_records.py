"""Discrepancies, settlements, and reading a run's lines (pages, exports, an app's share)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.domain.reconciliation import (
    DiscrepancyKind,
    DiscrepancyState,
    LineKind,
    LineStatus,
)
from paygate.models import (
    BillLineRow,
    Discrepancy,
    Settlement,
)
from paygate.repositories.recon_base import (
    L,
    R,
    Reconciled,
    T,
    chunks,
)

__all__ = ["Records"]


class Records:
    _session: AsyncSession

    # ------------------------------------------------------------------ discrepancies

    def add_discrepancy(self, row: Discrepancy) -> None:
        self._session.add(row)

    async def flush(self) -> None:
        await self._session.flush()

    async def discrepancy(self, discrepancy_id: int) -> Discrepancy | None:
        return await self._session.get(Discrepancy, discrepancy_id)

    async def discrepancies_of_run(self, run_id: int) -> list[Discrepancy]:
        rows = await self._session.execute(
            select(Discrepancy).where(Discrepancy.run_id == run_id).order_by(Discrepancy.id)
        )
        return list(rows.scalars())

    async def deferred(self, account_id: int) -> list[Discrepancy]:
        rows = await self._session.execute(
            select(Discrepancy)
            .where(
                Discrepancy.channel_account_id == account_id, Discrepancy.state == DiscrepancyState.DEFERRED
            )
            .order_by(Discrepancy.id)
        )
        return list(rows.scalars())

    async def open_for_item(self, kind: DiscrepancyKind, d: Discrepancy) -> bool:
        """An unresolved discrepancy of ``kind`` about the same trade / refund / extra payment
        exists (so a later run does not report the same missing money twice)."""
        cond = [
            Discrepancy.kind == kind,
            Discrepancy.state != DiscrepancyState.RESOLVED,
            Discrepancy.trade_id == d.trade_id,
        ]
        cond.append(
            Discrepancy.refund_id == d.refund_id
            if d.refund_id is not None
            else Discrepancy.refund_id.is_(None)
        )
        cond.append(
            Discrepancy.extra_payment_id == d.extra_payment_id
            if d.extra_payment_id is not None
            else Discrepancy.extra_payment_id.is_(None)
        )
        return await self._session.scalar(select(Discrepancy.id).where(*cond).limit(1)) is not None

    async def list_discrepancies(
        self,
        *,
        state: DiscrepancyState | None = None,
        kind: DiscrepancyKind | None = None,
        account_id: int | None = None,
        run_id: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Discrepancy]:
        query = select(Discrepancy).order_by(Discrepancy.id).limit(limit)
        for column, value in (
            (Discrepancy.state, state),
            (Discrepancy.kind, kind),
            (Discrepancy.channel_account_id, account_id),
            (Discrepancy.run_id, run_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if after is not None:
            query = query.where(Discrepancy.id > after)
        return list((await self._session.execute(query)).scalars())

    async def count_discrepancies(self, run_id: int) -> dict[str, int]:
        rows = await self._session.execute(
            select(Discrepancy.state, func.count())
            .where(Discrepancy.run_id == run_id)
            .group_by(Discrepancy.state)
        )
        return {str(r[0]): int(r[1]) for r in rows}

    # ------------------------------------------------------------------ settlements

    def add_settlement(self, row: Settlement) -> None:
        self._session.add(row)

    async def settlements(
        self, *, account_ids: Sequence[int] | None = None, settle_date: date | None = None, limit: int = 100
    ) -> list[Settlement]:
        query = select(Settlement).order_by(Settlement.id).limit(limit)
        if account_ids is not None:
            query = query.where(Settlement.channel_account_id.in_(list(account_ids)))
        if settle_date is not None:
            query = query.where(Settlement.settle_date == settle_date)
        return list((await self._session.execute(query)).scalars())

    async def reconciled_in(
        self, account_id: int, channel_trade_nos: Sequence[str], refund_nos: Sequence[str]
    ) -> Reconciled:
        """The kept payments (by channel trade number) and refunds (by number) of the account
        that a matched line of any bill reconciled, with paygate's amounts."""
        paid = count = refunded = refund_count = 0
        for chunk in chunks(sorted(set(channel_trade_nos)), 500):
            matched = (
                select(T.c.id, T.c.paid_amount)
                .select_from(L.join(T, T.c.id == L.c.trade_id))
                .where(
                    L.c.channel_account_id == account_id,
                    L.c.kind == LineKind.PAYMENT,
                    L.c.status == LineStatus.MATCHED,
                    L.c.extra_payment_id.is_(None),
                    L.c.channel_trade_no.in_(list(chunk)),
                )
                .distinct()
                .subquery()
            )
            row = (
                await self._session.execute(
                    select(func.count(), func.coalesce(func.sum(matched.c.paid_amount), 0))
                )
            ).one()
            count, paid = count + int(row[0]), paid + int(row[1])
        for chunk in chunks(sorted(set(refund_nos)), 500):
            matched = (
                select(R.c.id, R.c.amount)
                .select_from(L.join(R, R.c.id == L.c.refund_id))
                .where(
                    L.c.channel_account_id == account_id,
                    L.c.kind == LineKind.REFUND,
                    L.c.status == LineStatus.MATCHED,
                    L.c.refund_no.in_(list(chunk)),
                )
                .distinct()
                .subquery()
            )
            row = (
                await self._session.execute(
                    select(func.count(), func.coalesce(func.sum(matched.c.amount), 0))
                )
            ).one()
            refund_count, refunded = refund_count + int(row[0]), refunded + int(row[1])
        return Reconciled(paid, count, refunded, refund_count)

    async def settlements_of_run(self, run_id: int) -> list[Settlement]:
        rows = await self._session.execute(
            select(Settlement).where(Settlement.run_id == run_id).order_by(Settlement.id)
        )
        return list(rows.scalars())

    async def app_share(self, run_ids: Sequence[int], app_id: str) -> list[tuple[str, str, int, int, int]]:
        """The app's matched lines in the runs: ``(currency, kind, lines, amount, fees)``."""
        if not run_ids:
            return []
        rows = await self._session.execute(
            select(
                L.c.currency,
                L.c.kind,
                func.count(),
                func.coalesce(func.sum(L.c.amount), 0),
                func.coalesce(func.sum(L.c.fee), 0),
            )
            .select_from(L.join(T, T.c.id == L.c.trade_id))
            .where(L.c.run_id.in_(list(run_ids)), L.c.status == LineStatus.MATCHED, T.c.app_id == app_id)
            .group_by(L.c.currency, L.c.kind)
        )
        return [(r[0], str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]

    # ------------------------------------------------------------------ reading lines

    async def lines_page(
        self,
        *,
        run_ids: Sequence[int],
        app_id: str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> list[tuple[BillLineRow, str | None, str | None]]:
        """Lines of the runs in bill order (``id``), with the trade and refund numbers they
        matched; only those of ``app_id``'s trades when given."""
        query = (
            select(BillLineRow, T.c.trade_no, R.c.refund_no)
            .outerjoin(T, T.c.id == BillLineRow.trade_id)
            .outerjoin(R, R.c.id == BillLineRow.refund_id)
            .where(BillLineRow.run_id.in_(list(run_ids)))
            .order_by(BillLineRow.id)
            .limit(limit)
        )
        if app_id is not None:
            query = query.where(T.c.app_id == app_id)
        if after is not None:
            query = query.where(BillLineRow.id > after)
        return [(r[0], r[1], r[2]) for r in await self._session.execute(query)]

    async def export_rows(self, run_id: int, *, after_seq: int = -1, limit: int = 5000) -> list[list[Any]]:
        """A page of a run's lines (bill order, ``seq`` after ``after_seq``) with the trade
        number each matched: the CSV export reads these page by page (bounded memory)."""
        rows = await self._session.execute(
            select(
                L.c.seq,
                L.c.kind,
                L.c.status,
                L.c.attempt_no,
                L.c.channel_trade_no,
                L.c.refund_no,
                T.c.trade_no,
                L.c.amount,
                L.c.fee,
                L.c.currency,
                L.c.occurred_at,
            )
            .select_from(L.outerjoin(T, T.c.id == L.c.trade_id))
            .where(L.c.run_id == run_id, L.c.seq > after_seq)
            .order_by(L.c.seq)
            .limit(limit)
        )
        return [list(r) for r in rows]
