"""All SQL of reconciliation (R-REC-1..5): runs claimed once per account and day, bill lines
staged in bulk (COPY on PostgreSQL), matched against trades, repeat payments and refunds by
set-based UPDATEs, and what is left over read back for classification.

The matching statements are ``UPDATE … FROM`` (PostgreSQL, SQLite) or multi-table ``UPDATE``
(MariaDB); SQLAlchemy renders each. They only touch lines still ``unmatched``, so running
them again after auto-resolution matches what the resolution fixed and nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, and_, case, delete, exists, func, insert, literal, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.domain.reconciliation import (
    DiscrepancyKind,
    DiscrepancyState,
    LineKind,
    LineStatus,
    RunState,
)
from paygate.domain.refunds import RefundRoute, RefundState
from paygate.domain.trades import TradeState
from paygate.models import (
    BillLineRow,
    ChannelAttempt,
    Discrepancy,
    ExtraPayment,
    ReconRun,
    Refund,
    Settlement,
    StagedLine,
    Trade,
)

__all__ = ["LINE_COLUMNS", "LeftOver", "MissingItem", "Reconciled", "ReconciliationRepository"]

_T = TypeVar("_T")
L = cast(Table, BillLineRow.__table__)
A = cast(Table, ChannelAttempt.__table__)
T = cast(Table, Trade.__table__)
E = cast(Table, ExtraPayment.__table__)
R = cast(Table, Refund.__table__)
S = cast(Table, StagedLine.__table__)

#: The columns a staged line is written with, in COPY order.
LINE_COLUMNS = (
    "run_id",
    "channel_account_id",
    "seq",
    "kind",
    "channel_trade_no",
    "attempt_no",
    "refund_no",
    "amount",
    "fee",
    "currency",
    "occurred_at",
    "status",
)


@dataclass(frozen=True)
class LeftOver:
    """A line no matching statement took, with what paygate knows of it."""

    line_id: int
    kind: LineKind
    attempt_no: str
    channel_trade_no: str
    refund_no: str | None
    amount: int
    currency: str
    trade_id: int | None
    trade_no: str | None
    trade_state: TradeState | None
    trade_paid_attempt_no: str | None
    trade_channel_trade_no: str | None
    trade_paid_amount: int | None
    trade_currency: str | None
    refund_id: int | None
    refund_state: RefundState | None
    refund_amount: int | None
    refund_currency: str | None


@dataclass(frozen=True)
class Reconciled:
    """What paygate holds for a settlement's trades: those a matched line reconciled."""

    paid: int
    paid_count: int
    refunded: int
    refund_count: int


@dataclass(frozen=True)
class MissingItem:
    """Money paygate counts for an account's day that no bill line matched."""

    kind: LineKind
    trade_id: int
    trade_no: str
    amount: int
    currency: str
    at: datetime
    attempt_no: str | None = None
    channel_trade_no: str | None = None
    refund_id: int | None = None
    refund_no: str | None = None
    extra_payment_id: int | None = None


class ReconciliationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # ------------------------------------------------------------------ runs

    async def run(self, run_id: int) -> ReconRun | None:
        return await self._session.get(ReconRun, run_id)

    async def run_for(self, account_id: int, bill_date: date) -> ReconRun | None:
        rows = await self._session.execute(
            select(ReconRun).where(ReconRun.channel_account_id == account_id, ReconRun.bill_date == bill_date)
        )
        return rows.scalar_one_or_none()

    async def runs(
        self,
        *,
        account_id: int | None = None,
        bill_date: date | None = None,
        channel: str | None = None,
        limit: int = 50,
    ) -> list[ReconRun]:
        query = select(ReconRun).order_by(ReconRun.id.desc()).limit(limit)
        if channel is not None:
            query = query.where(ReconRun.channel == channel)
        if account_id is not None:
            query = query.where(ReconRun.channel_account_id == account_id)
        if bill_date is not None:
            query = query.where(ReconRun.bill_date == bill_date)
        return list((await self._session.execute(query)).scalars())

    async def create_run(self, row: ReconRun) -> bool:
        """Insert the (account, day) run; False when it exists (another process made it)."""
        try:
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            return False
        return True

    async def take_run(
        self,
        run_id: int,
        now: datetime,
        lease_until: datetime,
        owner: str,
        *,
        again: bool = False,
        due_only: bool = False,
    ) -> bool:
        """Win the run: one conditional UPDATE, so one process of all those asking gets it —
        a new, waiting or failed run (with ``due_only``, only once its next try is due), a
        done one only with ``again``; never one another process holds a live lease on."""
        states = [RunState.WAITING, RunState.FAILED, RunState.RUNNING]
        if again:
            states.append(RunState.DONE)
        result = await self._session.execute(
            update(ReconRun)
            .where(
                ReconRun.id == run_id,
                ReconRun.state.in_(states),
                or_(ReconRun.lease_until.is_(None), ReconRun.lease_until < now),
                or_(
                    literal(not due_only),
                    ReconRun.next_try_at.is_(None),
                    ReconRun.next_try_at <= now,
                ),
            )
            .values(
                state=RunState.RUNNING,
                owner=owner,
                lease_until=lease_until,
                attempts=ReconRun.attempts + 1,
                started_at=now,
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def finish_run(self, run_id: int, owner: str, **values: Any) -> None:
        await self._session.execute(
            update(ReconRun)
            .where(ReconRun.id == run_id, ReconRun.owner == owner)
            .values(lease_until=None, **values)
            .execution_options(synchronize_session=False)
        )

    async def forget_results(self, run_id: int) -> None:
        """A run done again starts clean: its lines, discrepancies and settlements go."""
        for model in (Settlement, Discrepancy, BillLineRow, StagedLine):
            await self._session.execute(delete(model).where(model.run_id == run_id))

    # ------------------------------------------------------------------ staging

    async def stage(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Write bill lines (tuples in :data:`LINE_COLUMNS` order) into ``recon_stage``: COPY on
        PostgreSQL (asyncpg), one executemany elsewhere. :meth:`promote` moves them on."""
        if not rows:
            return
        connection = await self._session.connection()
        if connection.dialect.name == "postgresql":
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.copy_records_to_table("recon_stage", records=rows, columns=list(LINE_COLUMNS))
            return
        await self._session.execute(insert(S), [dict(zip(LINE_COLUMNS, row, strict=True)) for row in rows])

    async def promote(self, run_id: int) -> None:
        """Move the run's staged lines into ``recon_lines`` with one INSERT … SELECT that
        writes each line once, already compared: a line repeating an earlier one of the bill
        (same kind, channel trade number, refund number) is ``duplicate``; a payment that is
        exactly a trade's kept payment is ``matched`` with its trade; the rest ``unmatched``
        for :meth:`match`. The staged rows are then deleted (same transaction)."""
        n = func.row_number().over(
            partition_by=(S.c.kind, S.c.channel_trade_no, func.coalesce(S.c.refund_no, "")), order_by=S.c.seq
        )
        kept = and_(
            T.c.id == A.c.trade_id,
            T.c.state == TradeState.SUCCEEDED,
            func.coalesce(T.c.paid_attempt_no, T.c.attempt_no) == S.c.attempt_no,
            or_(T.c.channel_trade_no.is_(None), T.c.channel_trade_no == S.c.channel_trade_no),
            T.c.paid_amount == S.c.amount,
            T.c.currency == S.c.currency,
        )
        attempt = and_(
            A.c.attempt_no == S.c.attempt_no,
            A.c.channel_account_id == S.c.channel_account_id,
            S.c.kind == LineKind.PAYMENT,
        )
        joined = (
            select(*(S.c[c] for c in LINE_COLUMNS if c != "status"), n.label("n"), T.c.id.label("tid"))
            .select_from(S.outerjoin(A, attempt).outerjoin(T, kept))
            .where(S.c.run_id == run_id)
            .subquery()
        )
        status = case(
            (joined.c.n > 1, literal(LineStatus.DUPLICATE.value)),
            (joined.c.tid.is_not(None), literal(LineStatus.MATCHED.value)),
            else_=literal(LineStatus.UNMATCHED.value),
        )
        trade_id = case((joined.c.n > 1, None), else_=joined.c.tid)
        columns = [c for c in LINE_COLUMNS if c != "status"]
        connection = await self._session.connection()
        if connection.dialect.name == "postgresql":  # sort and hash a day's lines in memory
            await self._session.execute(text("SET LOCAL work_mem = '256MB'"))
        await self._session.execute(
            insert(L).from_select(
                [*columns, "status", "trade_id"], select(*(joined.c[c] for c in columns), status, trade_id)
            )
        )
        await self._session.execute(delete(S).where(S.c.run_id == run_id))

    # ------------------------------------------------------------------ matching

    async def mark_duplicates(self, run_id: int, account_id: int) -> list[int]:
        """Lines that repeat one before them — in this bill (:meth:`promote` marked them), or
        kept from an earlier one of the account (same kind, channel trade number and refund
        number): ``duplicate``, matching nothing. Their ids."""
        within = [
            r
            for (r,) in await self._session.execute(
                select(L.c.id).where(L.c.run_id == run_id, L.c.status == LineStatus.DUPLICATE)
            )
        ]
        earlier = L.alias("earlier")
        before = await self._session.execute(
            select(L.c.id).where(
                L.c.run_id == run_id,
                exists().where(
                    earlier.c.channel_account_id == account_id,
                    earlier.c.run_id != run_id,
                    earlier.c.status != LineStatus.DUPLICATE,
                    earlier.c.kind == L.c.kind,
                    earlier.c.channel_trade_no == L.c.channel_trade_no,
                    func.coalesce(earlier.c.refund_no, "") == func.coalesce(L.c.refund_no, ""),
                ),
            )
        )
        ids = sorted({*within, *(r for (r,) in before)})
        for chunk in _chunks(ids, 500):
            await self._session.execute(
                update(L)
                .where(L.c.id.in_(chunk))
                .values(status=LineStatus.DUPLICATE, trade_id=None, refund_id=None, extra_payment_id=None)
            )
        return ids

    async def match(self, run_id: int) -> int:
        """Match every unmatched line that is exactly what paygate holds; how many."""
        matched = 0
        for statement in (self._payments(run_id), self._extra_payments(run_id), *self._refunds(run_id)):
            result = await self._session.execute(statement.execution_options(synchronize_session=False))
            matched += int(getattr(result, "rowcount", 0) or 0)
        return matched

    def _open(self, run_id: int, kind: LineKind) -> list[Any]:
        return [L.c.run_id == run_id, L.c.status == LineStatus.UNMATCHED, L.c.kind == kind]

    def _payments(self, run_id: int) -> Any:
        """A payment line is the trade's kept payment: its paid attempt (this account's),
        its channel trade number, its amount and currency."""
        return (
            update(L)
            .where(
                *self._open(run_id, LineKind.PAYMENT),
                A.c.attempt_no == L.c.attempt_no,
                A.c.channel_account_id == L.c.channel_account_id,
                T.c.id == A.c.trade_id,
                T.c.state == TradeState.SUCCEEDED,
                func.coalesce(T.c.paid_attempt_no, T.c.attempt_no) == L.c.attempt_no,
                or_(T.c.channel_trade_no.is_(None), T.c.channel_trade_no == L.c.channel_trade_no),
                T.c.paid_amount == L.c.amount,
                T.c.currency == L.c.currency,
            )
            .values(status=LineStatus.MATCHED, trade_id=T.c.id)
        )

    def _extra_payments(self, run_id: int) -> Any:
        """…or a payment paygate recorded beyond the kept one (R-PAY-5/6)."""
        return (
            update(L)
            .where(
                *self._open(run_id, LineKind.PAYMENT),
                E.c.attempt_no == L.c.attempt_no,
                E.c.channel_account_id == L.c.channel_account_id,
                or_(E.c.channel_trade_no.is_(None), E.c.channel_trade_no == L.c.channel_trade_no),
                E.c.amount == L.c.amount,
                E.c.currency == L.c.currency,
            )
            .values(status=LineStatus.MATCHED, trade_id=E.c.trade_id, extra_payment_id=E.c.id)
        )

    def _refunds(self, run_id: int) -> list[Any]:
        """A refund line is a refund that succeeded (or, at Stripe, one that failed after its
        money left: the bill then also holds its ``refund_failure``)."""
        failure = L.alias("failure")
        failed_later = exists().where(
            failure.c.channel_account_id == L.c.channel_account_id,
            failure.c.kind == LineKind.REFUND_FAILURE,
            failure.c.refund_no == L.c.refund_no,
        )
        same = [R.c.refund_no == L.c.refund_no, R.c.amount == L.c.amount, R.c.currency == L.c.currency]
        values = {"status": LineStatus.MATCHED, "trade_id": R.c.trade_id, "refund_id": R.c.id}
        return [
            update(L)
            .where(
                *self._open(run_id, LineKind.REFUND),
                *same,
                or_(R.c.state == RefundState.SUCCEEDED, and_(R.c.state == RefundState.FAILED, failed_later)),
            )
            .values(**values),
            update(L)
            .where(*self._open(run_id, LineKind.REFUND_FAILURE), *same, R.c.state == RefundState.FAILED)
            .values(**values),
        ]

    async def left_over(self, run_id: int, *, limit: int = 10_000) -> list[LeftOver]:
        """Unmatched lines with what paygate knows of their attempt, trade and refund."""
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
            .where(L.c.run_id == run_id, L.c.status == LineStatus.UNMATCHED)
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
        for chunk in _chunks(sorted(line_ids), 500):
            await self._session.execute(update(L).where(L.c.id.in_(chunk)).values(status=status))

    async def fee_mismatches(self, run_id: int, fee_rate_bp: int) -> list[tuple[int, int, int, int, str]]:
        """Matched payment lines whose fee is not the account's rate of their amount,
        rounded half up (integer arithmetic on every backend): ``(line, trade, amount, fee,
        currency)``."""
        scaled = L.c.amount * fee_rate_bp + 5000
        expected_times_10000 = scaled - scaled % 10000
        rows = await self._session.execute(
            select(L.c.id, L.c.trade_id, L.c.amount, L.c.fee, L.c.currency).where(
                L.c.run_id == run_id,
                L.c.status == LineStatus.MATCHED,
                L.c.kind == LineKind.PAYMENT,
                L.c.fee.is_not(None),
                L.c.fee * 10000 != expected_times_10000,
            )
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
                    line.c.status == LineStatus.DISCREPANCY,
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
        for chunk in _chunks(sorted(set(channel_trade_nos)), 500):
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
        for chunk in _chunks(sorted(set(refund_nos)), 500):
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


def _chunks(ids: Sequence[_T], size: int) -> Iterable[Sequence[_T]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]
