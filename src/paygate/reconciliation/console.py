"""What people and apps see of reconciliation (R-REC-2, R-REC-4, R-REC-5, R-OPS-2): runs,
discrepancies and their resolution by an operator (with a reason, audited in the same
transaction), an app's lines of a day's bill (``/query/bill``) and its share of the day's
settlements (``/query/settle``), and a run's lines as CSV.

Bulk reads go to ``reads`` — the read replica when one is configured (R-REC-5); every write
(resolving) goes to the primary.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from typing import Any

from paygate.domain.operators import Permission
from paygate.domain.reconciliation import DiscrepancyKind, DiscrepancyState, LineKind, LineStatus, Resolution
from paygate.kit.clock import iso_utc, utc_now
from paygate.kit.errors import AuthError, ConflictError, ErrorCode, NotFoundError, RequestError
from paygate.models import BillLineRow, Discrepancy, OperatorAction, ReconRun, Settlement
from paygate.operators.directory import OperatorIdentity
from paygate.repositories import Database

__all__ = ["CSV_COLUMNS", "ConsoleView", "ReconciliationConsole", "parse_bill_date"]

CSV_COLUMNS = (
    "seq", "kind", "status", "attempt_no", "channel_trade_no", "refund_no", "trade_no", "amount", "fee",
    "currency", "occurred_at",
)  # fmt: skip
MAX_PAGE = 500


def parse_bill_date(text: str, *, today: date | None = None) -> date:
    """``YYYY-MM-DD`` of a day that has begun: INVALID_BILL_DATE otherwise."""
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        raise RequestError(
            f"bill date {text!r} is not YYYY-MM-DD", code=ErrorCode.INVALID_BILL_DATE
        ) from None
    if day > (today or (utc_now() + timedelta(days=1)).date()):  # a day begun somewhere
        raise RequestError(f"{day} has not begun", code=ErrorCode.INVALID_BILL_DATE)
    return day


_time = iso_utc


def run_view(run: ReconRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "channel": run.channel,
        "account_id": run.channel_account_id,
        "bill_date": run.bill_date.isoformat(),
        "state": run.state.value,
        "attempts": run.attempts,
        "lines": run.lines,
        "matched": run.matched,
        "discrepancies": run.discrepancies,
        "auto_resolved": run.auto_resolved,
        "deferred": run.deferred,
        "raw": {
            "name": run.raw_name,
            "sha256": run.raw_checksum,
            "size": run.raw_size,
            "source": run.raw_source,
        },
        "summary": run.summary or {},
        "error": run.error,
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
    }


def discrepancy_view(d: Discrepancy) -> dict[str, Any]:
    return {
        "id": d.id,
        "run_id": d.run_id,
        "channel": d.channel,
        "account_id": d.channel_account_id,
        "bill_date": d.bill_date.isoformat(),
        "kind": d.kind.value,
        "state": d.state.value,
        "trade_no": d.trade_no,
        "refund_no": d.refund_no,
        "attempt_no": d.attempt_no,
        "channel_trade_no": d.channel_trade_no,
        "channel_amount": d.channel_amount,
        "paygate_amount": d.paygate_amount,
        "currency": d.currency,
        "detail": d.detail,
        "resolution": d.resolution.value if d.resolution else None,
        "resolved_by": d.resolved_by,
        "resolution_reason": d.resolution_reason,
        "resolved_at": _time(d.resolved_at),
        "created_at": _time(d.created_at),
    }


def line_view(line: BillLineRow, trade_no: str | None, refund_no: str | None) -> dict[str, Any]:
    return {
        "line_id": line.id,
        "kind": line.kind.value,
        "status": line.status.value,
        "trade_no": trade_no,
        "refund_no": refund_no or line.refund_no,
        "attempt_no": line.attempt_no,
        "channel_trade_no": line.channel_trade_no,
        "amount": line.amount,
        "fee": line.fee,
        "currency": line.currency,
        "occurred_at": _time(line.occurred_at),
    }


def settlement_view(s: Settlement) -> dict[str, Any]:
    return {
        "reference": s.reference,
        "account_id": s.channel_account_id,
        "settle_date": s.settle_date.isoformat(),
        "currency": s.currency,
        "state": s.state.value,
        "stated": {"payments": s.stated_payments, "refunds": s.stated_refunds, "fees": s.stated_fees,
                   "net": s.stated_net},
        "bill": {"payments": s.bill_payments, "refunds": s.bill_refunds, "fees": s.bill_fees,
                 "net": s.bill_payments - s.bill_refunds - s.bill_fees,
                 "payment_count": s.payment_count, "refund_count": s.refund_count},
        "paygate": {"payments": s.paygate_payments, "refunds": s.paygate_refunds},
        "detail": s.detail,
    }  # fmt: skip


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise RequestError(f"limit is 1 to {MAX_PAGE}")
    return limit


class ReconciliationConsole:
    def __init__(self, db: Database, reads: Database | None = None) -> None:
        self._db = db
        self._reads = reads or db

    # ------------------------------------------------------------------ operators

    async def runs(
        self, *, account_id: int | None = None, bill_date: date | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        async with self._reads.reading() as uow:
            found = await uow.reconciliation.runs(
                account_id=account_id, bill_date=bill_date, limit=_limit(limit)
            )
        return [run_view(r) for r in found]

    async def run(self, run_id: int) -> dict[str, Any]:
        async with self._reads.reading() as uow:
            run = await uow.reconciliation.run(run_id)
            if run is None:
                raise NotFoundError(f"no reconciliation run {run_id}", code=ErrorCode.RECON_RUN_NOT_FOUND)
            settlements = await uow.reconciliation.settlements_of_run(run_id)
        return {**run_view(run), "settlements": [settlement_view(s) for s in settlements]}

    async def discrepancies(
        self,
        *,
        state: str | None = None,
        kind: str | None = None,
        account_id: int | None = None,
        run_id: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        try:
            state_ = DiscrepancyState(state) if state else None
            kind_ = DiscrepancyKind(kind) if kind else None
        except ValueError as exc:
            raise RequestError(str(exc)) from None
        async with self._reads.reading() as uow:
            found = await uow.reconciliation.list_discrepancies(
                state=state_,
                kind=kind_,
                account_id=account_id,
                run_id=run_id,
                after=after,
                limit=_limit(limit) + 1,
            )
        page, more = found[:limit], len(found) > limit
        return {"items": [discrepancy_view(d) for d in page], "next": str(page[-1].id) if more else None}

    async def discrepancy(self, discrepancy_id: int) -> dict[str, Any]:
        async with self._reads.reading() as uow:
            found = await uow.reconciliation.discrepancy(discrepancy_id)
        if found is None:
            raise NotFoundError(f"no discrepancy {discrepancy_id}", code=ErrorCode.DISCREPANCY_NOT_FOUND)
        return discrepancy_view(found)

    async def resolve(self, who: OperatorIdentity, discrepancy_id: int, reason: str) -> dict[str, Any]:
        """An operator settles a discrepancy with a recorded reason (R-REC-2): the reason,
        who and when are kept on it, and the decision in the audit record, in one transaction.
        Only what the discrepancy says changes: trades and refunds are changed through their
        own services (refund, manual payout …), never here."""
        if not who.may(Permission.RESOLVE_DISCREPANCIES):
            raise AuthError(
                f"the role {who.role} may not resolve discrepancies", code=ErrorCode.OPERATOR_FORBIDDEN
            )
        reason = (reason or "").strip()
        if not reason or len(reason) > 512:
            raise RequestError("give a reason (1 to 512 characters)")
        async with self._db.transaction() as uow:
            found = await uow.reconciliation.discrepancy(discrepancy_id)
            if found is None:
                raise NotFoundError(f"no discrepancy {discrepancy_id}", code=ErrorCode.DISCREPANCY_NOT_FOUND)
            if found.state is DiscrepancyState.RESOLVED:
                raise ConflictError(
                    f"discrepancy {discrepancy_id} was resolved by {found.resolved_by}",
                    code=ErrorCode.DISCREPANCY_RESOLVED,
                )
            found.state = DiscrepancyState.RESOLVED
            found.resolution = Resolution.OPERATOR
            found.resolved_by = who.actor
            found.resolution_reason = reason
            found.resolved_at = utc_now()
            uow.operators.record(
                OperatorAction(
                    operator=who.name,
                    action="resolve_discrepancy",
                    target=f"discrepancy:{discrepancy_id}",
                    outcome="done",
                    detail={"reason": reason, "kind": found.kind.value, "trade_no": found.trade_no},
                    created_at=utc_now(),
                )
            )
            return discrepancy_view(found)

    async def csv_pages(self, run_id: int, *, page: int = 5000) -> AsyncIterator[str]:
        """A run's lines as CSV text (the header first), one page of lines at a time, each
        read in its own short transaction: bounded memory however long the bill."""
        async with self._reads.reading() as uow:
            if await uow.reconciliation.run(run_id) is None:
                raise NotFoundError(f"no reconciliation run {run_id}", code=ErrorCode.RECON_RUN_NOT_FOUND)
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\n")
        out.writerow(CSV_COLUMNS)
        after = -1
        while True:
            async with self._reads.reading() as uow:
                rows = await uow.reconciliation.export_rows(run_id, after_seq=after, limit=page)
            for row in rows:
                out.writerow([*(_cell(v) for v in row[:-1]), _time(row[-1])])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < page:
                return
            after = rows[-1][0]

    async def export_csv(self, run_id: int, write: Callable[[str], Any]) -> None:
        async for chunk in self.csv_pages(run_id):
            write(chunk)

    # ------------------------------------------------------------------ apps

    async def bill_for_app(
        self, app_id: str, channel: str, bill_date: date, *, after: int | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """``/query/bill``: the day's runs of the channel's accounts and, page by page, the
        lines of the app's own trades (other apps' trades are not shown)."""
        async with self._reads.reading() as uow:
            runs = await uow.reconciliation.runs(channel=channel, bill_date=bill_date, limit=MAX_PAGE)
            found = await uow.reconciliation.lines_page(
                run_ids=[r.id for r in runs], app_id=app_id, after=after, limit=_limit(limit) + 1
            )
        found, more = found[:limit], len(found) > limit
        return {
            "channel": channel,
            "bill_date": bill_date.isoformat(),
            "runs": [
                {k: v for k, v in run_view(r).items() if k in _APP_RUN_FIELDS}
                for r in sorted(runs, key=lambda r: r.id)
            ],
            "items": [line_view(*row) for row in found],
            "next": str(found[-1][0].id) if more else None,
        }

    async def settle_for_app(self, app_id: str, channel: str, settle_date: date) -> dict[str, Any]:
        """``/query/settle``: the day's settlements of the channel's accounts (their state),
        and the app's own share per currency: its payments, refunds and fees in them."""
        async with self._reads.reading() as uow:
            runs = await uow.reconciliation.runs(channel=channel, bill_date=settle_date, limit=MAX_PAGE)
            run_ids = [r.id for r in runs]
            settlements = await uow.reconciliation.settlements(account_ids=None, settle_date=settle_date)
            share = await uow.reconciliation.app_share(run_ids, app_id)
        mine: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for currency, kind, n, amount, fees in share:
            figures = mine[currency]
            if kind == LineKind.PAYMENT.value:
                figures["payments"] += amount
                figures["payment_count"] += n
                figures["fees"] += fees
            elif kind == LineKind.REFUND.value:
                figures["refunds"] += amount
                figures["refund_count"] += n
                figures["fees"] -= fees
        return {
            "channel": channel,
            "settle_date": settle_date.isoformat(),
            "settlements": [
                {k: v for k, v in settlement_view(s).items() if k in _APP_SETTLEMENT_FIELDS}
                for s in settlements
                if s.run_id in run_ids
            ],
            "app": [
                {
                    "currency": currency,
                    "payments": f["payments"],
                    "refunds": f["refunds"],
                    "fees": f["fees"],
                    "net": f["payments"] - f["refunds"] - f["fees"],
                    "payment_count": f["payment_count"],
                    "refund_count": f["refund_count"],
                }
                for currency, f in sorted(mine.items())
            ],
        }


_APP_RUN_FIELDS = frozenset(
    {"run_id", "account_id", "bill_date", "state", "lines", "matched", "discrepancies"}
)
_APP_SETTLEMENT_FIELDS = frozenset({"reference", "account_id", "settle_date", "currency", "state"})


def _cell(value: Any) -> Any:
    if isinstance(value, LineKind | LineStatus):
        return value.value
    return "" if value is None else value


class ConsoleView:
    """The operator console's seam for reconciliation (``paygate.console.reconciliation.
    ReconciliationView`` on main, issue 10): recent runs, open discrepancies, resolve with a
    reason — over :class:`ReconciliationConsole`, so the page shows and does what the
    operator API does. Wire it as ``ConsoleServices(reconciliation=ConsoleView(...))``."""

    def __init__(self, console: ReconciliationConsole) -> None:
        self._console = console

    async def runs(self, limit: int) -> list[dict[str, Any]]:
        return await self._console.runs(limit=min(max(limit, 1), MAX_PAGE))

    async def open_discrepancies(self, limit: int) -> list[dict[str, Any]]:
        page = await self._console.discrepancies(
            state=DiscrepancyState.OPEN.value, limit=min(max(limit, 1), MAX_PAGE)
        )
        items: list[dict[str, Any]] = page["items"]
        return items

    async def resolve(self, who: OperatorIdentity, discrepancy_id: str, reason: str) -> dict[str, Any]:
        try:
            number = int(discrepancy_id)
        except (TypeError, ValueError):
            raise NotFoundError(
                f"no discrepancy {discrepancy_id!r}", code=ErrorCode.DISCREPANCY_NOT_FOUND
            ) from None
        return await self._console.resolve(who, number, reason)
