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
6. **fees** against the account's terms (rate + fixed fee), **settlement** figures per currency (R-REC-4);
7. the run's counts and stage times; an alert for every open discrepancy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import structlog

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.channels.contract import (
    Bill,
    BillTotals,
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    UnknownChannelStatus,
)
from paygate.channels.gateway import ChannelGateway
from paygate.domain.reconciliation import (
    LineKind,
    RunState,
)
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.kit.errors import ErrorCode, NotFoundError, RequestError
from paygate.models import ReconRun
from paygate.reconciliation.findings import Findings
from paygate.reconciliation.resolving import AutoResolver
from paygate.reconciliation.settling import settle, settle_payouts
from paygate.reconciliation.staging import (
    STAGE_BATCH,
    BillRefused,
    BillSource,
    Kept,
    add_frame_sums,
    check_totals,
    line_record,
)
from paygate.reconciliation.windows import bill_window
from paygate.repositories import Database, UnitOfWork

__all__ = ["BillRefused", "BillSource", "Progress", "Reconciler", "RunOutcome"]

log = structlog.get_logger("paygate.reconciliation")

#: ``progress(stage, done, total)``: the CLI's progress bar
Progress = Callable[[str, int, int], None]
#: channel business codes that mean "no bill (yet)": the run waits and is tried again
NO_BILL_YET = frozenset({"isp.bill_not_exist", "NO_STATEMENT_EXIST", "STATEMENT_CREATING"})


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
        self._findings = Findings(db, resolver)
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
        kept, part = self._keep_raw(account, bill)
        reader = bill.reader
        source = BillSource(
            bill.lines,
            (lambda: reader.totals) if reader is not None else (lambda: bill.totals),
            kept,
            size_hint=len(bill.lines),
            payouts=payouts,
            frames=reader,
        )
        try:
            return await self._process(
                account, run_id, bill_date, source, again=again, progress=progress,
                stages={"download": round(time.perf_counter() - started, 3)},
                accepted=lambda: self._accept_raw(part, kept),
            )  # fmt: skip
        finally:
            self._discard_raw(part)  # still there: the bill was not accepted

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
        accepted: Callable[[], None] = lambda: None,
    ) -> RunState:
        """The stages after the download; ``accepted`` is called once the bill's lines are
        read, add up and are staged (a bill refused before that changes nothing)."""
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
        accepted()
        lap("parse+stage")
        stages["parse+stage"] = round(stages["parse+stage"] - promote_seconds, 3)
        stages["promote"] = promote_seconds
        async with self._db.transaction() as uow:  # a day's lines just arrived: plan with them
            await uow.reconciliation.refresh_statistics()
        lap("analyze")
        async with self._db.transaction() as uow:
            duplicates = await uow.reconciliation.mark_duplicates(run_id, account.id)
            lap("duplicates")
            await uow.reconciliation.match(run_id)
        lap("match")
        progress("classify", 0, 1)
        auto = await self._findings.classify_and_resolve(account, run_id, bill_date, duplicates)
        lap("classify")
        deferred = await self._findings.missing_at_channel(account, run_id, bill_date, window)
        await self._findings.fees(account, run_id, bill_date)
        lap("missing+fees")
        async with self._db.transaction() as uow:
            line_totals = await uow.reconciliation.line_totals(run_id)
            await settle(uow, account, run_id, bill_date, totals, line_totals)
            await settle_payouts(uow, account, run_id, bill_date, source.payouts)
        lap("settle")
        counts = await self._findings.counts(run_id, line_totals)
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

    def _keep_raw(self, account: ChannelAccount, bill: Bill) -> tuple[Kept, Path | None]:
        """What the run records of the raw file, and the file written beside its place
        (``<name>.part``): :meth:`_accept_raw` moves it there once the bill is accepted,
        :meth:`_discard_raw` removes it otherwise — so a bill refused while it is read (a
        streamed one) leaves nothing, and a run done again keeps the file it had until the
        new one is accepted."""
        raw = bill.raw
        if raw is None:
            return (bill.raw_name or None, None, None, None, None), None
        folder = self._data_dir / "bills" / account.channel / str(account.id) / bill.bill_date.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (Path(raw.name).name or "bill")
        part = path.with_name(path.name + ".part")
        part.write_bytes(raw.content)
        return (raw.name, raw.checksum, raw.size, raw.source[:512], str(path)), part

    @staticmethod
    def _accept_raw(part: Path | None, kept: Kept) -> None:
        if part is not None and kept[4]:
            part.replace(kept[4])

    @staticmethod
    def _discard_raw(part: Path | None) -> None:
        if part is not None:
            part.unlink(missing_ok=True)

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
            if source.frames is not None:
                await self._stage_frames(uow, account, run_id, source, sums, progress)
                return await self._promote(uow, run_id, source, sums)
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
            return await self._promote(uow, run_id, source, sums)

    @staticmethod
    async def _promote(
        uow: UnitOfWork, run_id: int, source: BillSource, sums: dict[str, list[int]]
    ) -> tuple[BillTotals | None, float]:
        totals = source.totals()
        check_totals(totals, sums)
        began = time.perf_counter()
        await uow.reconciliation.promote(run_id)
        return totals, round(time.perf_counter() - began, 3)

    @staticmethod
    async def _stage_frames(
        uow: UnitOfWork,
        account: ChannelAccount,
        run_id: int,
        source: BillSource,
        sums: dict[str, list[int]],
        progress: Progress,
    ) -> None:
        """Stage columnar frames; the next frame is read and parsed in a thread while the
        database takes the one before (the reader is native code: it runs beside the loop)."""
        assert source.frames is not None
        frames = iter(source.frames)
        ahead = asyncio.ensure_future(asyncio.to_thread(next, frames, None))
        staged = 0
        try:
            while (frame := await ahead) is not None:
                ahead = asyncio.ensure_future(asyncio.to_thread(next, frames, None))
                add_frame_sums(sums, frame)
                await uow.reconciliation.stage_frame(run_id, account.id, frame)
                staged += frame.height
                progress("stage", staged, max(source.size_hint, staged))
        finally:
            if not ahead.done():  # let the reader's thread finish before the file is closed
                await asyncio.wait([ahead])
            if not ahead.cancelled():
                ahead.exception()  # when staging failed first, the reader's own error is moot
