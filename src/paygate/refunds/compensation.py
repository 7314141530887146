"""The reliability engine's refund checks (R-REF-4, R-NTF-3, R-NTF-4): a refund that is
processing or unknown is asked about at the channel on a growing schedule until it is final;
one the channel never received is sent again under the same refund number (the channel
de-duplicates it). Never failed by guess. Claimed with ``FOR UPDATE SKIP LOCKED`` like trades.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import structlog

from paygate.domain.checks import DEFAULT_SCHEDULE, next_check
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.kit.errors import PaygateError
from paygate.payments.compensation import LEASE_SECONDS
from paygate.payments.state_changes import Source
from paygate.refunds.state_changes import SENDABLE
from paygate.refunds.syncing import RefundSync
from paygate.repositories import Database

__all__ = ["OpenItemsSweep", "RefundChecks"]

log = structlog.get_logger("paygate.compensation")


class RefundChecks:
    name = "check-refunds"
    interval = 1.0

    def __init__(
        self,
        db: Database,
        sync: RefundSync,
        *,
        schedules: Mapping[str, Sequence[float]] | None = None,
        batch: int = 50,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self._db = db
        self._sync = sync
        self._schedules = dict(schedules or {})
        self._batch = batch
        self._lease = lease_seconds

    async def run_once(self) -> int:
        now = utc_now()
        async with self._db.transaction() as uow:
            due = await uow.refunds.claim_due(now, now + timedelta(seconds=self._lease), self._batch)
        for refund_id in due:
            try:
                await self.check(refund_id)
            except Exception:  # one refund's trouble never stops the others
                log.exception("compensation.refund_check_failed", refund_id=refund_id)
        return len(due)

    async def check(self, refund_id: int) -> None:
        async with self._db.reading() as uow:
            refund = await uow.refunds.by_id(refund_id)
        if refund is None or refund.state not in SENDABLE:
            return
        metrics.COMPENSATION_CHECKS.labels("refund", refund.channel).inc()
        try:
            await self._sync.sync(refund.refund_no, source=Source.SWEEP)
        except PaygateError as exc:
            log.info("compensation.refund_channel_silent", refund_no=refund.refund_no, error=exc.code.name)
        async with self._db.reading() as uow:
            refund = await uow.refunds.by_id(refund_id)
        assert refund is not None
        if refund.state in SENDABLE:
            schedule = self._schedules.get(refund.channel, DEFAULT_SCHEDULE)
            async with self._db.transaction() as uow:
                await uow.refunds.schedule_check(refund_id, next_check(utc_now(), refund.checks, schedule))


class OpenItemsSweep:
    """The daily sweep (R-NTF-4): any open trade or refund without a planned check — rows
    from before checks existed, or anything that slipped — is made due now, so the checks
    settle it."""

    name = "sweep-open-items"
    interval = 24 * 3600.0  # daily

    def __init__(self, db: Database) -> None:
        self._db = db

    async def run_once(self) -> int:
        now = utc_now()
        async with self._db.transaction() as uow:
            return await uow.trades.unscheduled_open(now) + await uow.refunds.unscheduled_open(now)
