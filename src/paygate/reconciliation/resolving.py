"""Settling what a channel query can settle (R-REC-2): a discrepancy never changes a trade or
refund by itself. It asks the channel about the attempt or refund the bill line names and
applies the answer through the same services as a query would (``ChannelSync`` →
``record_event``; ``RefundSync``) — so a late payment on a closed trade becomes a recorded
paid-after-close payment that ``SystemRefunds`` refunds, a second payment becomes a repeat
payment, a lost notification becomes the success it was — each with its trade-log row
(source ``reconcile``) and its events, exactly as if the notification had arrived."""

from __future__ import annotations

import structlog

from paygate.channels.contract import ChannelError
from paygate.kit.errors import PaygateError
from paygate.payments.state_changes import Source
from paygate.payments.syncing import ChannelSync
from paygate.refunds.syncing import RefundSync
from paygate.repositories import Database

__all__ = ["AutoResolver"]

log = structlog.get_logger("paygate.reconciliation")


class AutoResolver:
    def __init__(self, db: Database, sync: ChannelSync, refund_sync: RefundSync) -> None:
        self._db = db
        self._sync = sync
        self._refund_sync = refund_sync

    async def ask(self, what: str, attempt_no: str | None, refund_no: str | None) -> bool:
        """Ask the channel about the attempt (``what`` = "trade") or the refund and apply a
        definite answer. False when the channel could not say (the discrepancy stays open)."""
        try:
            if what == "refund" and refund_no:
                await self._refund_sync.sync(refund_no, source=Source.RECONCILE)
                return True
            if what == "trade" and attempt_no:
                async with self._db.reading() as uow:
                    attempt = await uow.trades.attempt(attempt_no)
                if attempt is None:
                    return False
                status = await self._sync.ask(attempt)
                await self._sync.apply_status(attempt.trade_id, attempt, status, source=Source.RECONCILE)
                return True
        except (ChannelError, PaygateError) as exc:
            log.warning(
                "reconciliation.channel_silent",
                what=what,
                attempt_no=attempt_no,
                refund_no=refund_no,
                error=str(exc),
            )
        return False
