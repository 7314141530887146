"""What the matching left: left-over lines with what paygate knows of them, fees off the
account's fee terms, money missing at the channel, the run's totals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.domain.reconciliation import (
    LineKind,
    LineStatus,
)
from paygate.domain.refunds import RefundRoute, RefundState
from paygate.domain.trades import TradeState
from paygate.models import (
    Discrepancy,
)
from paygate.repositories.recon_base import (
    A,
    E,
    L,
    LeftOver,
    MissingItem,
    R,
    T,
    chunks,
    open_status,
)

__all__ = ["Findings"]


class Findings:
    _session: AsyncSession

    async def left_over(
        self, run_id: int, *, status: LineStatus = LineStatus.UNMATCHED, limit: int = 10_000
    ) -> list[LeftOver]:
        """The run's lines of ``status`` (unmatched: what the matching left; duplicate: money
        the bill lists again) with what paygate knows of their attempt, trade and refund."""
        trade_of_attempt = select(A.c.attempt_no, A.c.trade_id, A.c.channel_account_id).subquery("att")
        query = (
            select(
                L.c.id,
                L.c.kind,
                L.c.attempt_no,
                L.c.channel_trade_no,
                L.c.refund_no,
                L.c.amount,
                L.c.currency,
                T.c.id,
                T.c.trade_no,
                T.c.state,
                func.coalesce(T.c.paid_attempt_no, T.c.attempt_no),
                T.c.channel_trade_no,
                T.c.paid_amount,
                T.c.currency,
                R.c.id,
                R.c.state,
                R.c.amount,
                R.c.currency,
            )
            .select_from(L)
            .outerjoin(R, R.c.refund_no == L.c.refund_no)
            .outerjoin(
                trade_of_attempt,
                and_(
                    trade_of_attempt.c.attempt_no == L.c.attempt_no,
                    trade_of_attempt.c.channel_account_id == L.c.channel_account_id,
                ),
            )
            .outerjoin(T, T.c.id == func.coalesce(R.c.trade_id, trade_of_attempt.c.trade_id))
            .where(L.c.run_id == run_id, open_status(L, status))
            .order_by(L.c.seq)
            .limit(limit)
        )
        out = []
        for row in await self._session.execute(query):
            out.append(
                LeftOver(
                    row[0],
                    LineKind(row[1]),
                    row[2],
                    row[3],
                    row[4],
                    row[5],
                    row[6],
                    row[7],
                    row[8],
                    TradeState(row[9]) if row[9] else None,
                    row[10],
                    row[11],
                    row[12],
                    row[13],
                    row[14],
                    RefundState(row[15]) if row[15] else None,
                    row[16],
                    row[17],
                )
            )
        return out

    async def line_matched(self, line_id: int) -> bool:
        status = await self._session.scalar(select(L.c.status).where(L.c.id == line_id))
        return bool(status == LineStatus.MATCHED)

    async def set_line_status(self, line_ids: Iterable[int], status: LineStatus) -> None:
        for chunk in chunks(sorted(line_ids), 500):
            await self._session.execute(update(L).where(L.c.id.in_(chunk)).values(status=status))

    async def fee_mismatches(
        self, run_id: int, fee_rate_bp: int, fee_fixed: int = 0, currency: str | None = None
    ) -> list[tuple[int, int, int, int, str]]:
        """Matched payment lines whose fee is not the account's terms for their amount — the
        rate of the amount rounded half up, plus the fixed fee — in one set-based query
        (integer arithmetic on every backend): ``(line, trade, amount, fee, currency)``. With
        ``currency``, only the lines in that currency (the one the terms are stated in)."""
        scaled = L.c.amount * fee_rate_bp + 5000
        rate_part_times_10000 = scaled - scaled % 10000
        conditions = [
            L.c.run_id == run_id,
            L.c.status == LineStatus.MATCHED,
            L.c.kind == LineKind.PAYMENT,
            L.c.fee.is_not(None),
            (L.c.fee - fee_fixed) * 10000 != rate_part_times_10000,
        ]
        if currency is not None:
            conditions.append(L.c.currency == currency)
        rows = await self._session.execute(
            select(L.c.id, L.c.trade_id, L.c.amount, L.c.fee, L.c.currency).where(*conditions)
        )
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def missing_at_channel(self, account_id: int, start: datetime, end: datetime) -> list[MissingItem]:
        """What paygate counts for the account in ``[start, end)`` — kept payments, extra
        payments, refunds sent to the channel that succeeded — that no bill line (of any
        day) matched."""
        line = L.alias("seen")
        out: list[MissingItem] = []
        paid = await self._session.execute(
            select(
                T.c.id,
                T.c.trade_no,
                T.c.paid_amount,
                T.c.currency,
                T.c.paid_at,
                func.coalesce(T.c.paid_attempt_no, T.c.attempt_no),
                T.c.channel_trade_no,
            )
            .select_from(T.join(A, A.c.attempt_no == func.coalesce(T.c.paid_attempt_no, T.c.attempt_no)))
            .where(
                A.c.channel_account_id == account_id,
                T.c.state == TradeState.SUCCEEDED,
                T.c.paid_at >= start,
                T.c.paid_at < end,
                # two anti-joins, each on an index (an OR of both would scan the lines per trade)
                ~exists().where(
                    line.c.trade_id == T.c.id,
                    line.c.kind == LineKind.PAYMENT,
                    line.c.status == LineStatus.MATCHED,
                    line.c.extra_payment_id.is_(None),
                ),
                ~exists().where(  # in a bill, but different (its own discrepancy says how)
                    line.c.attempt_no == func.coalesce(T.c.paid_attempt_no, T.c.attempt_no),
                    line.c.kind == LineKind.PAYMENT,
                    open_status(line, LineStatus.DISCREPANCY),  # the partial index's own condition
                    line.c.channel_account_id == account_id,
                ),
            )
        )
        for p in paid:
            out.append(MissingItem(LineKind.PAYMENT, p[0], p[1], p[2] or 0, p[3], p[4], p[5], p[6]))
        extras = await self._session.execute(
            select(
                E.c.id,
                E.c.trade_id,
                T.c.trade_no,
                E.c.amount,
                E.c.currency,
                E.c.created_at,
                E.c.attempt_no,
                E.c.channel_trade_no,
            )
            .select_from(E.join(T, T.c.id == E.c.trade_id))
            .where(
                E.c.channel_account_id == account_id,
                E.c.created_at >= start,
                E.c.created_at < end,
                ~exists().where(line.c.extra_payment_id == E.c.id, line.c.status == LineStatus.MATCHED),
            )
        )
        for x in extras:
            out.append(
                MissingItem(LineKind.PAYMENT, x[1], x[2], x[3], x[4], x[5], x[6], x[7], extra_payment_id=x[0])
            )
        refunds = await self._session.execute(
            select(
                R.c.id,
                R.c.trade_id,
                T.c.trade_no,
                R.c.amount,
                R.c.currency,
                R.c.refunded_at,
                R.c.attempt_no,
                R.c.payment_channel_trade_no,
                R.c.refund_no,
            )
            .select_from(R.join(T, T.c.id == R.c.trade_id))
            .where(
                R.c.channel_account_id == account_id,
                R.c.state == RefundState.SUCCEEDED,
                R.c.route == RefundRoute.ORIGINAL,
                R.c.refunded_at >= start,
                R.c.refunded_at < end,
                ~exists().where(  # matched, or in a bill but different (refund numbers are unique)
                    line.c.refund_no == R.c.refund_no,
                    line.c.kind == LineKind.REFUND,
                    line.c.status.in_([LineStatus.MATCHED, LineStatus.DISCREPANCY]),
                ),
            )
        )
        for r in refunds:
            out.append(
                MissingItem(
                    LineKind.REFUND, r[1], r[2], r[3], r[4], r[5], r[6], r[7], refund_id=r[0], refund_no=r[8]
                )
            )
        return out

    async def seen_in_a_bill(self, d: Discrepancy) -> bool:
        """Whether the item a missing-at-channel discrepancy names is now matched by a line."""
        if d.refund_id is not None and d.refund_no:
            cond = and_(L.c.refund_no == d.refund_no, L.c.refund_id == d.refund_id)
        elif d.extra_payment_id is not None:
            cond = L.c.extra_payment_id == d.extra_payment_id
        else:
            cond = and_(
                L.c.trade_id == d.trade_id, L.c.kind == LineKind.PAYMENT, L.c.extra_payment_id.is_(None)
            )
        found = await self._session.scalar(
            select(L.c.id).where(cond, L.c.status == LineStatus.MATCHED).limit(1)
        )
        return found is not None

    async def line_totals(self, run_id: int) -> list[tuple[str, str, str, int, int, int]]:
        """Per currency, kind and status: ``(currency, kind, status, lines, amount, fees)``."""
        rows = await self._session.execute(
            select(
                L.c.currency,
                L.c.kind,
                L.c.status,
                func.count(),
                func.coalesce(func.sum(L.c.amount), 0),
                func.coalesce(func.sum(L.c.fee), 0),
            )
            .where(L.c.run_id == run_id)
            .group_by(L.c.currency, L.c.kind, L.c.status)
        )
        return [(r[0], str(r[1]), str(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]

    async def paygate_totals(self, run_id: int) -> list[tuple[str, str, int]]:
        """What paygate holds for the matched lines, per currency and kind: ``(currency,
        kind, amount)`` — the trades' kept payments, extra payments and refunds."""
        paid = (
            select(T.c.currency, func.coalesce(func.sum(T.c.paid_amount), 0))
            .select_from(L.join(T, T.c.id == L.c.trade_id))
            .where(
                L.c.run_id == run_id,
                L.c.status == LineStatus.MATCHED,
                L.c.kind == LineKind.PAYMENT,
                L.c.extra_payment_id.is_(None),
            )
            .group_by(T.c.currency)
        )
        extra = (
            select(E.c.currency, func.coalesce(func.sum(E.c.amount), 0))
            .select_from(L.join(E, E.c.id == L.c.extra_payment_id))
            .where(L.c.run_id == run_id, L.c.status == LineStatus.MATCHED)
            .group_by(E.c.currency)
        )
        refunded = (
            select(R.c.currency, func.coalesce(func.sum(R.c.amount), 0))
            .select_from(L.join(R, R.c.id == L.c.refund_id))
            .where(L.c.run_id == run_id, L.c.status == LineStatus.MATCHED, L.c.kind == LineKind.REFUND)
            .group_by(R.c.currency)
        )
        out: list[tuple[str, str, int]] = []
        for kind, query in (("payment", paid), ("payment", extra), ("refund", refunded)):
            out += [(r[0], kind, int(r[1])) for r in await self._session.execute(query)]
        return out
