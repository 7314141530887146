"""Runs (claimed once per account and day), staging (COPY into ``recon_stage``, one INSERT …
SELECT into ``recon_lines``) and the set-based matching statements."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    MetaData,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from paygate.domain.reconciliation import (
    LineKind,
    LineStatus,
    RunState,
)
from paygate.domain.refunds import RefundState
from paygate.domain.trades import TradeState
from paygate.models import (
    BillLineRow,
    Discrepancy,
    ReconRun,
    Settlement,
    StagedLine,
)
from paygate.repositories.recon_base import (
    LINE_COLUMNS,
    A,
    E,
    L,
    R,
    S,
    T,
    chunks,
    open_status,
)

if TYPE_CHECKING:
    import polars as pl

__all__ = ["RunsAndMatching"]

#: PostgreSQL stages a bill's lines in a temporary table of ``recon_stage``'s shape
_TEMP_STAGE = Table("recon_stage_run", MetaData(), *(c._copy() for c in S.columns))


class RunsAndMatching:
    _session: AsyncSession
    _temp_stage = False  # PostgreSQL: this transaction's stage table exists

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
            driver = await self._copy_target()
            await driver.copy_records_to_table(_TEMP_STAGE.name, records=rows, columns=list(LINE_COLUMNS))
            return
        await self._session.execute(insert(S), [dict(zip(LINE_COLUMNS, row, strict=True)) for row in rows])

    async def _copy_target(self) -> Any:
        """PostgreSQL: the driver connection, with this transaction's own stage table — a
        temporary copy of ``recon_stage`` dropped at commit (no other run's lines to step
        over, nothing to delete afterwards)."""
        connection = await self._session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        if not self._temp_stage:
            await self._session.execute(
                text(f"CREATE TEMPORARY TABLE {_TEMP_STAGE.name} (LIKE recon_stage) ON COMMIT DROP")
            )
            self._temp_stage = True
        return driver

    def _staged(self) -> Table:
        return _TEMP_STAGE if self._temp_stage else S

    async def stage_frame(self, run_id: int, account_id: int, frame: pl.DataFrame) -> None:
        """Write a frame of normalised lines (the columns of a columnar bill reader) into
        ``recon_stage``: on PostgreSQL one COPY of the frame written as CSV by Polars (no
        Python object per line), elsewhere the rows as :meth:`stage` takes them."""
        import polars as pl  # only where a bill is read in columns: ≈ 0.2 s to import

        if frame.height == 0:
            return
        rows = frame.select(
            run_id=pl.lit(run_id, pl.Int64),
            channel_account_id=pl.lit(account_id, pl.Int64),
            seq=pl.col("seq"),
            kind=pl.col("kind"),
            channel_trade_no=pl.col("channel_trade_no").str.slice(0, 64),
            attempt_no=pl.col("attempt_no").str.slice(0, 64),
            refund_no=pl.col("refund_no").str.slice(0, 64),
            amount=pl.col("amount"),
            fee=pl.col("fee"),
            currency=pl.col("currency"),
            occurred_at=pl.col("occurred_at"),
            status=pl.lit(LineStatus.UNMATCHED.value),
        )
        connection = await self._session.connection()
        if connection.dialect.name != "postgresql":
            await self.stage(rows.rows())
            return
        text_rows = rows.with_columns(pl.col("occurred_at").dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00"))
        data = io.BytesIO()
        text_rows.write_csv(data, include_header=False, null_value=r"\N")
        driver = await self._copy_target()

        async def block() -> AsyncIterator[bytes]:  # an async source: asyncpg reads a file
            yield data.getvalue()  # object in its thread pool, which made RSS creep

        await driver.copy_to_table(
            _TEMP_STAGE.name, source=block(), columns=list(LINE_COLUMNS), format="csv", null=r"\N"
        )

    async def promote(self, run_id: int) -> None:
        """Move the run's staged lines into ``recon_lines`` with one INSERT … SELECT that
        writes each line once, already compared: a line repeating an earlier one of the bill
        (same kind, channel trade number, refund number) is ``duplicate``; a payment that is
        exactly a trade's kept payment is ``matched`` with its trade; the rest ``unmatched``
        for :meth:`match`. The staged rows are then deleted in the same transaction (on
        PostgreSQL their temporary table goes at commit)."""
        stage = self._staged()
        n = func.row_number().over(
            partition_by=(stage.c.kind, stage.c.channel_trade_no, func.coalesce(stage.c.refund_no, "")),
            order_by=stage.c.seq,
        )
        kept = and_(
            T.c.id == A.c.trade_id,
            T.c.state == TradeState.SUCCEEDED,
            func.coalesce(T.c.paid_attempt_no, T.c.attempt_no) == stage.c.attempt_no,
            or_(T.c.channel_trade_no.is_(None), T.c.channel_trade_no == stage.c.channel_trade_no),
            T.c.paid_amount == stage.c.amount,
            T.c.currency == stage.c.currency,
        )
        attempt = and_(
            A.c.attempt_no == stage.c.attempt_no,
            A.c.channel_account_id == stage.c.channel_account_id,
            stage.c.kind == LineKind.PAYMENT,
        )
        joined = (
            select(*(stage.c[c] for c in LINE_COLUMNS if c != "status"), n.label("n"), T.c.id.label("tid"))
            .select_from(stage.outerjoin(A, attempt).outerjoin(T, kept))
            .where(stage.c.run_id == run_id)
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
        postgres = connection.dialect.name == "postgresql"
        if postgres:  # sort and hash a day's lines in memory, planned on the stage's real figures
            await self._session.execute(text("SET LOCAL work_mem = '256MB'"))
            await self._session.execute(text(f"ANALYZE {stage.name}"))
        await self._session.execute(
            insert(L).from_select(
                [*columns, "status", "trade_id"], select(*(joined.c[c] for c in columns), status, trade_id)
            )
        )
        if stage is not _TEMP_STAGE:  # the temporary stage goes at commit
            await self._session.execute(delete(stage).where(stage.c.run_id == run_id))

    async def refresh_statistics(self) -> None:
        """PostgreSQL: ``ANALYZE recon_lines`` once a bill's lines are in (committed). Before
        autovacuum gets to it, the planner takes a run of a million lines for a handful and
        joins them to the trades by a million index probes, sorting to disk (3.5 s instead
        of 1.4 s for the settlement's totals alone)."""
        connection = await self._session.connection()
        if connection.dialect.name == "postgresql":
            await self._session.execute(text("ANALYZE recon_lines"))

    # ------------------------------------------------------------------ matching

    async def mark_duplicates(self, run_id: int, account_id: int) -> list[int]:
        """Lines that repeat one before them — in this bill (:meth:`promote` marked them), or
        kept from an earlier one of the account (same kind, channel trade number and refund
        number): ``duplicate``, matching nothing. Their ids."""
        within = [
            r
            for (r,) in await self._session.execute(
                select(L.c.id).where(L.c.run_id == run_id, open_status(L, LineStatus.DUPLICATE))
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
        for chunk in chunks(ids, 500):
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
        return [L.c.run_id == run_id, open_status(L, LineStatus.UNMATCHED), L.c.kind == kind]

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
