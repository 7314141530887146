"""The daily run in the workers (R-REC-1, R-OPS-3): however many workers run the job at
once, each channel account's day is reconciled once — one run, its lines staged once."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta

import pytest

from paygate.domain.reconciliation import RunState
from paygate.models import BillLineRow, ReconRun
from paygate.reconciliation import daily
from paygate.reconciliation.daily import LOOKBACK_DAYS, DailyReconciliation
from tests.reconciliation.support import BILL_READY, account_id, bill_day, paid
from tests.support.helpers import rows
from tests.support.stack import Stack

pytestmark = pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


async def test_two_workers_reconcile_each_account_and_day_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    alipay = await paid(stack, "alipay", amount=1000)
    wechat = await paid(stack, "wechatpay", amount=2000)
    for channel in ("alipay", "wechatpay", "stripe"):
        stack.sandbox(channel).advance_clock(BILL_READY[channel])
    # the workers' "now" is the next day: their yesterday is the day of these payments
    monkeypatch.setattr(daily, "utc_now", lambda: datetime.now(UTC) + timedelta(days=1))
    other = copy.copy(stack.container.reconciler)
    other._owner = "another-worker:1:abc"  # a second process, with its own lease name
    workers = [DailyReconciliation(stack.container.accounts, r) for r in (stack.container.reconciler, other)]

    done = await asyncio.gather(*(w.run_once() for w in workers))

    runs = await rows(stack, ReconRun)
    keys = [(r.channel_account_id, r.bill_date) for r in runs]
    assert len(keys) == len(set(keys)) == 3 * LOOKBACK_DAYS  # one per account and day
    assert sum(done) == sum(1 for r in runs if r.state is RunState.DONE)
    for channel, trade in (("alipay", alipay), ("wechatpay", wechat)):
        [run] = [r for r in runs if r.channel_account_id == await account_id(stack, channel)
                 and r.bill_date == bill_day(trade)]  # fmt: skip
        assert run.state is RunState.DONE and run.lines == 1 and run.matched == 1
        assert len(await rows(stack, BillLineRow, BillLineRow.run_id == run.id)) == 1
    # a second round finds everything done or not due: nothing runs again
    assert await workers[0].run_once() == 0
    assert len(await rows(stack, ReconRun)) == 3 * LOOKBACK_DAYS
