"""The discrepancies of a run (R-REC-2, R-REC-3, R-OPS-1): what is left of the bill
classified, settled through a channel query where that can settle it, money missing at the
channel (deferred near the cut-off), fees off the account's terms, and an alert for every
discrepancy left open."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import structlog

from paygate.channels.contract import (
    ChannelAccount,
)
from paygate.domain.reconciliation import (
    DiscrepancyKind,
    DiscrepancyState,
    LineKind,
    LineStatus,
    Resolution,
)
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.models import Discrepancy
from paygate.reconciliation.classifying import classify
from paygate.reconciliation.resolving import AutoResolver
from paygate.reconciliation.windows import BillWindow
from paygate.repositories import Database
from paygate.repositories.reconciliation import LeftOver, MissingItem

__all__ = ["Findings"]

log = structlog.get_logger("paygate.reconciliation")


class Findings:
    def __init__(self, db: Database, resolver: AutoResolver) -> None:
        self._db = db
        self._resolver = resolver

    async def classify_and_resolve(
        self, account: ChannelAccount, run_id: int, bill_date: date, duplicates: list[int]
    ) -> int:
        """Discrepancies for duplicates and left-over lines; then ask the channel where that
        can settle one, match again, and close what got matched. How many were settled."""
        async with self._db.transaction() as uow:
            repo = uow.reconciliation
            left = await repo.left_over(run_id)
            repeated = (
                await repo.left_over(run_id, status=LineStatus.DUPLICATE, limit=len(duplicates))
                if duplicates
                else []
            )
            for line in repeated:
                repo.add_discrepancy(
                    self._of_line(
                        account,
                        run_id,
                        bill_date,
                        DiscrepancyKind.DUPLICATE,
                        line,
                        detail=f"the bill lists this {line.kind.value} again",
                    )
                )
            pending: list[tuple[Discrepancy, str]] = []
            for line in left:
                finding = classify(line)
                row = self._of_line(
                    account,
                    run_id,
                    bill_date,
                    finding.kind,
                    line,
                    detail=finding.detail,
                    paygate_amount=line.refund_amount
                    if line.kind is not LineKind.PAYMENT
                    else line.trade_paid_amount,
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

    async def missing_at_channel(
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

    async def fees(self, account: ChannelAccount, run_id: int, bill_date: date) -> None:
        """R-REC-2/4: each matched payment's fee against the account's terms — its rate of
        the amount (half up) plus its fixed fee. Checked only where the terms can be exact:
        an account with terms, and (when the terms name a currency) lines in that currency;
        refunds carry no fee to check."""
        if account.fee_rate_bp <= 0 and account.fee_fixed <= 0:
            return
        terms = f"{account.fee_rate_bp} bp"
        if account.fee_fixed:
            terms += f" + {account.fee_fixed}"
        if account.fee_currency:
            terms += f" {account.fee_currency}"
        async with self._db.transaction() as uow:
            repo = uow.reconciliation
            for line_id, trade_id, amount, fee, currency in await repo.fee_mismatches(
                run_id, account.fee_rate_bp, account.fee_fixed, account.fee_currency
            ):
                expected = (amount * account.fee_rate_bp + 5000) // 10000 + account.fee_fixed
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
                        detail=f"fee {fee}, the account's terms ({terms}) make {expected}",
                    )
                )

    async def counts(
        self, run_id: int, totals: Sequence[tuple[str, str, str, int, int, int]] | None = None
    ) -> dict[str, Any]:
        """The run's counts; ``totals``: its line totals when already read."""
        async with self._db.transaction() as uow:
            repo = uow.reconciliation
            if totals is None:
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

    @classmethod
    def _of_line(
        cls,
        account: ChannelAccount,
        run_id: int,
        bill_date: date,
        kind: DiscrepancyKind,
        line: LeftOver,
        **fields: Any,
    ) -> Discrepancy:
        """A discrepancy about a bill line, with what paygate knows of it (trade, refund,
        attempt, the channel's number and amount)."""
        return cls._discrepancy(
            account,
            run_id,
            bill_date,
            kind,
            line_id=line.line_id,
            trade_id=line.trade_id,
            trade_no=line.trade_no,
            refund_id=line.refund_id,
            refund_no=line.refund_no,
            attempt_no=line.attempt_no,
            channel_trade_no=line.channel_trade_no,
            channel_amount=line.amount,
            currency=line.currency,
            **fields,
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
