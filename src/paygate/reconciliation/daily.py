"""The daily reconciliation (R-REC-1): a periodic job of the workers.

Every ``interval`` (an hour by default) one worker — the job runner's lease on
``scheduled_jobs`` makes it one — walks every enabled channel account and reconciles its
last :data:`LOOKBACK_DAYS` days that are not done yet. The run itself is unique per (account,
day) in the database and leased while it runs, so even an operator's ``paygate reconcile``
at the same moment, or a second worker after a lease ran out, never makes a second run. A
channel with no bill yet leaves the run waiting; it is asked again once ``retry`` passed.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.domain.reconciliation import RunState
from paygate.kit.clock import utc_now
from paygate.reconciliation.running import Reconciler
from paygate.reconciliation.windows import yesterday

__all__ = ["LOOKBACK_DAYS", "DailyReconciliation"]

log = structlog.get_logger("paygate.reconciliation")

#: a day whose bill came late (or whose run failed) is tried again this many days back
LOOKBACK_DAYS = 3


class DailyReconciliation:
    name = "reconcile-daily"

    def __init__(
        self, accounts: ChannelAccounts, reconciler: Reconciler, *, interval: float = 3600.0
    ) -> None:
        self._accounts = accounts
        self._reconciler = reconciler
        self.interval = interval

    async def run_once(self) -> int:
        """Reconcile what is due; how many runs finished (done) in this round."""
        done = 0
        for account in await self._accounts.all_enabled():
            last = yesterday(account.channel, utc_now())
            for back in range(LOOKBACK_DAYS - 1, -1, -1):
                day = last - timedelta(days=back)
                try:
                    outcome = await self._reconciler.run(account.id, day, due_only=True)
                except Exception:  # one account's trouble never stops the others
                    log.exception("reconciliation.run_failed", account=account.id, date=str(day))
                    continue
                if outcome.taken and outcome.state is RunState.DONE:
                    done += 1
        return done
