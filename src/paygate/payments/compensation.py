"""The reliability engine's trade checks (R-NTF-3, R-NTF-4, R-PAY-5): every trade that is not
final is asked about at the channel on a growing schedule until it is — the synchronous
answer, the notification, this query (and later the bill) all converge on one state through
the same state machine, in whatever order they arrive.

A check: ask the channel about each live attempt and apply a definite answer; if the trade is
still unpaid past its expiry, close it — at the channel first, then here (a success that wins
that race is kept; one that comes after the close is a late payment, refunded). Otherwise
plan the next check. Checks are claimed with ``FOR UPDATE SKIP LOCKED``, so any number of
workers share them without doing one twice; a worker that dies mid-check leaves the trade's
lease to run out, and another worker checks it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import structlog

from paygate.domain.checks import DEFAULT_SCHEDULE, next_check
from paygate.domain.trades import TERMINAL
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.kit.errors import PaygateError
from paygate.payments.closing import TradeCloser
from paygate.payments.state_changes import Source
from paygate.payments.syncing import ChannelSync
from paygate.repositories import Database

__all__ = ["LEASE_SECONDS", "TradeChecks"]

log = structlog.get_logger("paygate.compensation")

#: How long a claimed check is reserved for the worker that claimed it (a worker that dies
#: mid-check leaves its trades to be checked again after this).
LEASE_SECONDS = 120.0


class TradeChecks:
    name = "check-trades"
    interval = 1.0  # seconds between rounds when nothing is due

    def __init__(
        self,
        db: Database,
        sync: ChannelSync,
        closer: TradeCloser,
        *,
        schedules: Mapping[str, Sequence[float]] | None = None,
        batch: int = 50,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self._db = db
        self._sync = sync
        self._closer = closer
        self._schedules = dict(schedules or {})
        self._batch = batch
        self._lease = lease_seconds

    def schedule(self, channel: str) -> Sequence[float]:
        return self._schedules.get(channel, DEFAULT_SCHEDULE)

    async def run_once(self) -> int:
        """Check every trade whose check is due (up to a batch); how many were checked."""
        now = utc_now()
        async with self._db.transaction() as uow:
            due = await uow.trades.claim_due(now, now + timedelta(seconds=self._lease), self._batch)
        for trade_id in due:
            try:
                await self.check(trade_id)
            except Exception:  # one trade's trouble never stops the others
                log.exception("compensation.check_failed", trade_id=trade_id)
        return len(due)

    async def check(self, trade_id: int) -> None:
        async with self._db.reading() as uow:
            trade = await uow.trades.by_id(trade_id)
        if trade is None or trade.state in TERMINAL:
            return
        metrics.COMPENSATION_CHECKS.labels("trade", trade.channel).inc()
        try:
            await self._sync.sync(trade, source=Source.SWEEP)
        except PaygateError as exc:  # the channel did not answer: ask again later
            log.info("compensation.channel_silent", trade_no=trade.trade_no, error=exc.code.name)
        async with self._db.reading() as uow:
            trade = await uow.trades.by_id(trade_id)
        assert trade is not None
        now = utc_now()
        if trade.state not in TERMINAL and trade.expire_at <= now:
            try:
                await self._closer.close_trade(trade, source=Source.SWEEP)  # R-PAY-5: expiry
            except PaygateError as exc:  # paid meanwhile (recorded), or the channel is down
                log.info("compensation.expiry_close_refused", trade_no=trade.trade_no, error=exc.code.name)
            async with self._db.reading() as uow:
                trade = await uow.trades.by_id(trade_id)
            assert trade is not None
        if trade.state not in TERMINAL:
            async with self._db.transaction() as uow:
                await uow.trades.schedule_check(
                    trade_id, next_check(now, trade.checks, self.schedule(trade.channel))
                )
