"""One reconciliation: a channel account's bill of one day against paygate (R-REC-1..4).

:meth:`Reconciler.run` claims the (account, day) run — unique in the database, and leased,
so however many workers and operators ask, one process runs it — then:

1. **download** the bill through the channel gateway; no bill yet → the run *waits* and is
   tried again later; a bill that cannot be read (corrupt, truncated, wrongly encoded,
   lines that do not add up to the totals the channel states) → the run *fails* and nothing
   of it is kept;
2. **keep** the raw file (``data_dir/bills/…``: name, SHA-256, size, source);
3. **stage** the normalised lines (COPY on PostgreSQL), **match** them in SQL;
4. **classify** what is left, **resolve** what a channel query settles (through the normal
   state machine: ``ChannelSync`` / ``RefundSync``), match again;
5. **missing at the channel**: money paygate counted that day that no bill holds — deferred
   when near the cut-off (R-REC-3), open otherwise; earlier deferred items are settled;
6. **fees** against the account's rate, **settlement** figures per currency (R-REC-4);
7. the run's counts and stage times; an alert for every open discrepancy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import structlog

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.channels.contract import (
    Bill,
    BillLine,
    BillTotals,
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    PayoutReport,
    UnknownChannelStatus,
)
from paygate.channels.gateway import ChannelGateway
from paygate.domain.reconciliation import (
    DiscrepancyKind,
    DiscrepancyState,
    LineKind,
    LineStatus,
    Resolution,
    RunState,
)
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.kit.errors import ErrorCode, NotFoundError, RequestError
from paygate.models import Discrepancy, ReconRun
from paygate.reconciliation.classifying import classify
from paygate.reconciliation.resolving import AutoResolver
from paygate.reconciliation.settling import settle, settle_payouts
from paygate.reconciliation.windows import BillWindow, bill_window
from paygate.repositories import Database, UnitOfWork
from paygate.repositories.reconciliation import MissingItem

__all__ = ["BillRefused", "BillSource", "Progress", "Reconciler", "RunOutcome"]

log = structlog.get_logger("paygate.reconciliation")

#: ``progress(stage, done, total)``: the CLI's progress bar
Progress = Callable[[str, int, int], None]
#: channel business codes that mean "no bill (yet)": the run waits and is tried again
NO_BILL_YET = frozenset({"isp.bill_not_exist", "NO_STATEMENT_EXIST", "STATEMENT_CREATING"})
STAGE_BATCH = 20_000


#: what the run records of the raw file: (name, sha256, size, source, path)
Kept = tuple[str | None, str | None, int | None, str | None, str | None]


@dataclass(frozen=True)
class BillSource:
    """A bill to reconcile: its lines (read once, in order: a list, or a streaming parser's
    iterator), the channel's stated totals (asked for once the lines are read: a streamed
    file states them at its end) and what is kept of the raw file."""

    lines: Iterable[BillLine]
    totals: Callable[[], BillTotals | None]
    kept: Kept
    size_hint: int = 0  # how many lines to expect (the progress bar)
    payouts: Sequence[PayoutReport] = ()  # settlements the channel reports apart (Stripe)


class BillRefused(Exception):
    """A bill that cannot be reconciled: nothing of it is kept."""


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    state: RunState
    taken: bool  # False: another process holds it, or it is done (see ``again``)


def _quiet(stage: str, done: int, total: int) -> None:
    return None


class Reconciler:
    def __init__(
        self,
        db: Database,
        accounts: ChannelAccounts,
        gateway: ChannelGateway,
        resolver: AutoResolver,
        *,
        data_dir: Path,
        owner: str,
        cutoff: timedelta = timedelta(minutes=15),
        lease: timedelta = timedelta(minutes=30),
        retry: timedelta = timedelta(hours=1),
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._gateway = gateway
        self._resolver = resolver
        self._data_dir = data_dir
        self._owner = owner
        self._cutoff = cutoff
        self._lease = lease
        self._retry = retry

    async def account(self, account_id: int) -> ChannelAccount:
        account = await self._accounts.get(account_id)
        if account is None:
            raise NotFoundError(f"no channel account {account_id}", code=ErrorCode.NO_CHANNEL_ACCOUNT)
        return account

    async def pick_account(self, channel: str, ref: str | None) -> ChannelAccount:
        """The enabled account of ``channel`` that ``ref`` names (its id or name); without
        ``ref``, the channel's only one."""
        found = [a for a in await self._accounts.all_enabled() if a.channel == channel]
        if ref:
            found = [a for a in found if ref in (str(a.id), a.name)]
        if len(found) == 1:
            return found[0]
        names = ", ".join(f"{a.id} ({a.name})" for a in found) or "none"
        raise RequestError(
            f"name one {channel} account with --account (enabled: {names})", code=ErrorCode.NO_CHANNEL_ACCOUNT
        )

    async def run(
        self,
        account_id: int,
        bill_date: date,
        *,
        again: bool = False,
        due_only: bool = False,
        progress: Progress = _quiet,
    ) -> RunOutcome:
        """Reconcile the account's bill of ``bill_date`` (once; ``again`` re-does a run that
        is done, from a fresh bill; ``due_only``: a waiting or failed run only when its next
        try is due — the daily job's way)."""
        account = await self.account(account_id)
        if bill_date > (utc_now() + timedelta(days=1)).date():  # a day begun somewhere
            raise RequestError(f"{bill_date} has not begun: no bill", code=ErrorCode.INVALID_BILL_DATE)
        run_id, taken = await self._claim(account, bill_date, again=again, due_only=due_only)
        if not taken:
            async with self._db.reading() as uow:
                run = await uow.reconciliation.run(run_id)
            assert run is not None
            return RunOutcome(run_id, run.state, False)
        try:
            state = await self._reconcile(account, run_id, bill_date, again=again, progress=progress)
        except BaseException as exc:
            await self._finish(run_id, RunState.FAILED, error=f"{type(exc).__name__}: {exc}"[:512])
            raise
        return RunOutcome(run_id, state, True)

    async def run_source(
        self,
        account_id: int,
        bill_date: date,
        source: BillSource,
        *,
        again: bool = False,
        progress: Progress = _quiet,
    ) -> RunOutcome:
        """Reconcile a bill that is already at hand (a file the channel delivered another
        way, or the benchmark's generated one) — the same stages as :meth:`run` after the
        download, under the same claim."""
        account = await self.account(account_id)
        run_id, taken = await self._claim(account, bill_date, again=again, due_only=False)
        if not taken:
            async with self._db.reading() as uow:
                run = await uow.reconciliation.run(run_id)
            assert run is not None
            return RunOutcome(run_id, run.state, False)
        try:
            state = await self._process(
                account, run_id, bill_date, source, again=again, progress=progress, stages={}
            )
        except BaseException as exc:
            await self._finish(run_id, RunState.FAILED, error=f"{type(exc).__name__}: {exc}"[:512])
            raise
        return RunOutcome(run_id, state, True)

    async def _claim(
        self, account: ChannelAccount, bill_date: date, *, again: bool, due_only: bool
    ) -> tuple[int, bool]:
        now = utc_now()

        async def unit(uow: UnitOfWork) -> tuple[int, bool]:
            repo = uow.reconciliation
            run = await repo.run_for(account.id, bill_date)
            if run is None:
                fresh = ReconRun(
                    channel=account.channel,
                    channel_account_id=account.id,
                    bill_date=bill_date,
                    state=RunState.WAITING,
                    attempts=0,
                    summary={},
                    created_at=now,
                )
                await repo.create_run(fresh)
                run = await repo.run_for(account.id, bill_date)
                assert run is not None
            taken = await repo.take_run(
                run.id, now, now + self._lease, self._owner, again=again, due_only=due_only
            )
            return run.id, taken

        return await self._db.run(unit)

    async def _finish(self, run_id: int, state: RunState, **values: Any) -> None:
        now = utc_now()
        values = {"state": state, "finished_at": now, **values}
        if state in (RunState.WAITING, RunState.FAILED):
            values["next_try_at"] = now + self._retry
        async with self._db.transaction() as uow:
            await uow.reconciliation.finish_run(run_id, self._owner, **values)

    # ------------------------------------------------------------------ the stages

    async def _reconcile(
        self, account: ChannelAccount, run_id: int, bill_date: date, *, again: bool, progress: Progress
    ) -> RunState:
        progress("download", 0, 1)
        started = time.perf_counter()
        try:
            bill = await self._gateway.bill(account, bill_date)
            payouts = await self._gateway.payouts(account, bill_date)
        except ChannelBusinessError as exc:
            if exc.sub_code in NO_BILL_YET or exc.code in NO_BILL_YET:
                await self._finish(run_id, RunState.WAITING, error=f"no bill yet: {exc.message}"[:512])
                return RunState.WAITING
            raise
        except ChannelError as exc:  # unreadable, corrupt, truncated …: refused, nothing kept
            await self._refuse(account, run_id, str(exc))
            return RunState.FAILED
        progress("download", 1, 1)
        kept = self._keep_raw(account, bill)
        source = BillSource(bill.lines, lambda: bill.totals, kept, size_hint=len(bill.lines), payouts=payouts)
        return await self._process(
            account, run_id, bill_date, source, again=again, progress=progress,
            stages={"download": round(time.perf_counter() - started, 3)},
        )  # fmt: skip

    async def _process(
        self,
        account: ChannelAccount,
        run_id: int,
        bill_date: date,
        source: BillSource,
        *,
        again: bool,
        progress: Progress,
        stages: dict[str, float],
    ) -> RunState:
        clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            stages[name] = round(now - clock, 3)
            clock = now

        window = bill_window(account.channel, bill_date, self._cutoff)
        try:
            totals, promote_seconds = await self._stage(
                account, run_id, source, again=again, progress=progress
            )
        except (BillRefused, ValueError, UnknownChannelStatus) as exc:  # nothing staged is kept
            await self._refuse(account, run_id, str(exc))
            return RunState.FAILED
        lap("parse+stage")
        stages["parse+stage"] = round(stages["parse+stage"] - promote_seconds, 3)
        stages["promote"] = promote_seconds
        async with self._db.transaction() as uow:
            duplicates = await uow.reconciliation.mark_duplicates(run_id, account.id)
            lap("duplicates")
            await uow.reconciliation.match(run_id)
        lap("match")
        progress("classify", 0, 1)
        auto = await self._classify_and_resolve(account, run_id, bill_date, duplicates)
        lap("classify")
        deferred = await self._missing_at_channel(account, run_id, bill_date, window)
        await self._fees(account, run_id, bill_date)
        lap("missing+fees")
        async with self._db.transaction() as uow:
            await settle(uow, account, run_id, bill_date, totals)
            await settle_payouts(uow, account, run_id, bill_date, source.payouts)
        lap("settle")
        counts = await self._counts(run_id)
        lap("count")
        name, checksum, size, origin, path = source.kept
        await self._finish(
            run_id,
            RunState.DONE,
            raw_name=name,
            raw_checksum=checksum,
            raw_size=size,
            raw_source=origin,
            raw_path=path,
            lines=counts["lines"],
            matched=counts["matched"],
            discrepancies=counts["discrepancies"],
            auto_resolved=auto,
            deferred=deferred,
            summary={**counts, "stages": stages},
        )
        progress("classify", 1, 1)
        log.info(
            "reconciliation.done", channel=account.channel, account=account.id, date=str(bill_date), **counts
        )
        return RunState.DONE

    async def _refuse(self, account: ChannelAccount, run_id: int, reason: str) -> None:
        metrics.ALERTS.labels("bill_refused", account.channel).inc()
        log.error("alert.bill_refused", channel=account.channel, account=account.id, reason=reason)
        await self._finish(run_id, RunState.FAILED, error=f"the bill was refused: {reason}"[:512])

    def _keep_raw(self, account: ChannelAccount, bill: Bill) -> Kept:
        raw = bill.raw
        if raw is None:
            return (bill.raw_name or None, None, None, None, None)
        folder = self._data_dir / "bills" / account.channel / str(account.id) / bill.bill_date.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        name = Path(raw.name).name or "bill"
        path = folder / name
        path.write_bytes(raw.content)
        return (raw.name, raw.checksum, raw.size, raw.source[:512], str(path))

    async def _stage(
        self, account: ChannelAccount, run_id: int, source: BillSource, *, again: bool, progress: Progress
    ) -> tuple[BillTotals | None, float]:
        """Stage every line in one transaction, in batches (bounded memory), counting as it
        goes; lines that do not add up to the channel's stated totals roll it all back. The
        totals, and the seconds the promotion took (stage times)."""
        sums = {LineKind.PAYMENT.value: [0, 0], LineKind.REFUND.value: [0, 0]}
        total = source.size_hint
        async with self._db.transaction() as uow:
            if again:
                await uow.reconciliation.forget_results(run_id)
            batch: list[tuple[Any, ...]] = []
            seq = 0
            for line in source.lines:
                row = line_record(run_id, account.id, seq, line)
                seq += 1
                if (figures := sums.get(line.kind)) is not None:
                    figures[0] += 1
                    figures[1] += line.amount.minor
                batch.append(row)
                if len(batch) == STAGE_BATCH:
                    await uow.reconciliation.stage(batch)
                    batch = []
                    progress("stage", seq, max(total, seq))
            await uow.reconciliation.stage(batch)
            progress("stage", seq, max(total, seq))
            totals = source.totals()
            _check_totals(totals, sums)
            began = time.perf_counter()
            await uow.reconciliation.promote(run_id)
        return totals, round(time.perf_counter() - began, 3)

    async def _classify_and_resolve(
        self, account: ChannelAccount, run_id: int, bill_date: date, duplicates: list[int]
    ) -> int:
        """Discrepancies for duplicates and left-over lines; then ask the channel where that
        can settle one, match again, and close what got matched. How many were settled."""
        async with self._db.transaction() as uow:
            repo = uow.reconciliation
            left = await repo.left_over(run_id)
            for line_id in duplicates:
                repo.add_discrepancy(
                    self._discrepancy(
                        account,
                        run_id,
                        bill_date,
                        DiscrepancyKind.DUPLICATE,
                        line_id=line_id,
                        detail="the bill lists this money again",
                    )
                )
            pending: list[tuple[Discrepancy, str]] = []
            for line in left:
                finding = classify(line)
                row = self._discrepancy(
                    account,
                    run_id,
                    bill_date,
                    finding.kind,
                    line_id=line.line_id,
                    detail=finding.detail,
                    trade_id=line.trade_id,
                    trade_no=line.trade_no,
                    refund_id=line.refund_id,
                    refund_no=line.refund_no,
                    attempt_no=line.attempt_no,
                    channel_trade_no=line.channel_trade_no,
                    channel_amount=line.amount,
                    paygate_amount=line.refund_amount
                    if line.kind is not LineKind.PAYMENT
                    else line.trade_paid_amount,
                    currency=line.currency,
                )
                repo.add_discrepancy(row)
                if finding.ask:
                    pending.append((row, finding.ask))
            await repo.set_line_status((line.line_id for line in left), LineStatus.DISCREPANCY)
            await repo.flush()
            asks = [(row.id, row.line_id, row.attempt_no, row.refund_no, ask) for row, ask in pending]
        for _, _, attempt_no, refund_no, ask in asks:
            await self._resolver.ask(ask, attempt_no, refund_no)
        if not asks:
            return 0
        async with self._db.transaction() as uow:
            repo = uow.reconciliation
            line_ids = [line_id for _, line_id, _, _, _ in asks if line_id is not None]
            await repo.set_line_status(line_ids, LineStatus.UNMATCHED)
            await repo.match(run_id)
            settled = 0
            for discrepancy_id, asked_line, _, _, _ in asks:
                found = await repo.discrepancy(discrepancy_id)
                assert found is not None and asked_line is not None
                if await repo.line_matched(asked_line):
                    _resolve(found, Resolution.AUTO, "system", "confirmed by a channel query and applied")
                    settled += 1
                else:
                    await repo.set_line_status([asked_line], LineStatus.DISCREPANCY)
            return settled

    async def _missing_at_channel(
        self, account: ChannelAccount, run_id: int, bill_date: date, window: BillWindow
    ) -> int:
        """R-REC-2/3: money paygate counted that no bill holds. Earlier deferred items are
        settled first (found in this bill) or reported (still missing). How many wait."""
        waiting = 0
        async with self._db.transaction() as uow:
            repo = uow.reconciliation
            for row in await repo.deferred(account.id):
                if await repo.seen_in_a_bill(row):
                    _resolve(row, Resolution.AUTO, "system", f"in the bill of {bill_date}")
                elif row.bill_date < bill_date:
                    row.state = DiscrepancyState.OPEN
                    row.detail = f"{row.detail}; not in the next day's bill either"[:512]
                    _alert(row)
            items = await repo.missing_at_channel(account.id, window.start, window.end)
            for item in items:
                row = self._missing(account, run_id, bill_date, item)
                if await repo.open_for_item(DiscrepancyKind.MISSING_AT_CHANNEL, row):
                    continue
                if window.near_end(item.at):
                    row.state = DiscrepancyState.DEFERRED
                    waiting += 1
                repo.add_discrepancy(row)
        return waiting

    async def _fees(self, account: ChannelAccount, run_id: int, bill_date: date) -> None:
        """Fees against the account's rate (only a flat rate can be checked)."""
        if account.fee_rate_bp <= 0:
            return
        async with self._db.transaction() as uow:
            repo = uow.reconciliation
            for line_id, trade_id, amount, fee, currency in await repo.fee_mismatches(
                run_id, account.fee_rate_bp
            ):
                expected = (amount * account.fee_rate_bp + 5000) // 10000
                repo.add_discrepancy(
                    self._discrepancy(
                        account,
                        run_id,
                        bill_date,
                        DiscrepancyKind.FEE_MISMATCH,
                        line_id=line_id,
                        trade_id=trade_id,
                        channel_amount=fee,
                        paygate_amount=expected,
                        currency=currency,
                        detail=f"fee {fee}, the account's rate ({account.fee_rate_bp} bp) makes {expected}",
                    )
                )

    async def _counts(self, run_id: int) -> dict[str, Any]:
        async with self._db.transaction() as uow:
            repo = uow.reconciliation
            totals = await repo.line_totals(run_id)
            states = await repo.count_discrepancies(run_id)
            rows = await repo.discrepancies_of_run(run_id)
        for row in rows:
            if row.state is DiscrepancyState.OPEN:
                _alert(row)
        by_kind: dict[str, int] = {}
        for row in rows:
            by_kind[row.kind.value] = by_kind.get(row.kind.value, 0) + 1
        return {
            "lines": sum(n for *_, n, _, _ in totals),
            "matched": sum(n for _, _, status, n, _, _ in totals if status == LineStatus.MATCHED.value),
            "discrepancies": len(rows),
            "open": states.get(DiscrepancyState.OPEN.value, 0),
            "resolved": states.get(DiscrepancyState.RESOLVED.value, 0),
            "by_kind": by_kind,
        }

    @staticmethod
    def _discrepancy(
        account: ChannelAccount, run_id: int, bill_date: date, kind: DiscrepancyKind, **fields: Any
    ) -> Discrepancy:
        return Discrepancy(
            run_id=run_id,
            channel=account.channel,
            channel_account_id=account.id,
            bill_date=bill_date,
            kind=kind,
            state=DiscrepancyState.OPEN,
            created_at=utc_now(),
            **{"detail": "", **fields},
        )

    def _missing(
        self, account: ChannelAccount, run_id: int, bill_date: date, item: MissingItem
    ) -> Discrepancy:
        what = "refund" if item.refund_id else "repeat payment" if item.extra_payment_id else "payment"
        return self._discrepancy(
            account,
            run_id,
            bill_date,
            DiscrepancyKind.MISSING_AT_CHANNEL,
            trade_id=item.trade_id,
            trade_no=item.trade_no,
            refund_id=item.refund_id,
            refund_no=item.refund_no,
            extra_payment_id=item.extra_payment_id,
            attempt_no=item.attempt_no,
            channel_trade_no=item.channel_trade_no,
            paygate_amount=item.amount,
            currency=item.currency,
            detail=f"{what} at paygate ({item.at.isoformat()}) that no bill holds",
        )


def _alert(row: Discrepancy) -> None:
    """R-OPS-1: an open discrepancy needs a person."""
    metrics.ALERTS.labels("recon_discrepancy", row.channel).inc()
    log.error(
        "alert.recon_discrepancy",
        id=row.id,
        kind=row.kind.value,
        channel=row.channel,
        account=row.channel_account_id,
        bill_date=str(row.bill_date),
        trade_no=row.trade_no,
        refund_no=row.refund_no,
        detail=row.detail,
    )


def _resolve(row: Discrepancy, resolution: Resolution, who: str, reason: str) -> None:
    row.state = DiscrepancyState.RESOLVED
    row.resolution = resolution
    row.resolved_by = who
    row.resolution_reason = reason[:512]
    row.resolved_at = utc_now()


def _check_totals(totals: BillTotals | None, sums: dict[str, list[int]]) -> None:
    """The lines must add up to what the channel states (a cut or altered file does not)."""
    if totals is None:
        return
    (paid_n, paid), (refunded_n, refunded) = sums[LineKind.PAYMENT.value], sums[LineKind.REFUND.value]
    if (paid, refunded) != (totals.payments, totals.refunds):
        raise BillRefused(
            f"the lines add up to {paid} paid and {refunded} refunded; the bill states "
            f"{totals.payments} and {totals.refunds}"
        )
    for what, count, stated in (
        ("payment", paid_n, totals.payment_count),
        ("refund", refunded_n, totals.refund_count),
    ):
        if stated is not None and count != stated:
            raise BillRefused(f"the bill holds {count} {what} lines; it states {stated}")


def line_record(run_id: int, account_id: int, seq: int, line: BillLine) -> tuple[Any, ...]:
    """A bill line as a staged row, in :data:`LINE_COLUMNS` order (minor units, UTC)."""
    kind = LineKind(line.kind).value
    fee = line.fee
    return (
        run_id,
        account_id,
        seq,
        kind,
        line.channel_trade_no[:64],
        line.attempt_no[:64],
        line.refund_no[:64] if line.refund_no else None,
        line.amount.minor,
        fee.minor if fee is not None else None,
        line.amount.currency,
        line.occurred_at,
        UNMATCHED,
    )


UNMATCHED: Final = LineStatus.UNMATCHED.value
