"""Cut-off differences are not discrepancies (R-REC-3): money paygate counted near the end
of a day that the channel books after midnight waits for the next day's bill; found there, it
is settled without a report; missing there too, it is reported then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from paygate.domain.reconciliation import DiscrepancyState
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.models import BillLineRow, Discrepancy
from paygate.reconciliation import running
from tests.reconciliation.support import bill_day, discrepancies, paid, reconcile, trade_row
from tests.support.helpers import rows
from tests.support.stack import Stack, running_stack, stack_settings

pytestmark = pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
async def stack(db_url: str, data_dir: Path) -> AsyncIterator[Stack]:
    # a buffer of a whole day: every payment of the day is "near the cut-off"
    async with running_stack(stack_settings(db_url, data_dir, recon_cutoff_minutes=24 * 60)) as s:
        yield s


@pytest.mark.parametrize("channel", ["alipay", "wechatpay", "stripe"])
async def test_a_payment_booked_after_midnight_waits_for_the_next_bill(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, channel: str
) -> None:
    """R-REC-3 (and R-REC-1, R-REC-2): the ``late`` bill fault books a payment just after the
    next midnight — Alipay's and WeChat Pay's in Beijing time, Stripe's balance transaction in
    UTC, the day paygate lists them by; ``drop`` leaves one out of every bill."""
    on_time = await paid(stack, channel, amount=1000)
    booked_late = await paid(stack, channel, amount=2000)
    never = await paid(stack, channel, amount=3000)
    late_attempt = (await trade_row(stack, booked_late["trade_no"])).paid_attempt_no
    never_attempt = (await trade_row(stack, never["trade_no"])).paid_attempt_no
    assert late_attempt and never_attempt
    stack.sandbox(channel).set_faults(bills={"late": [late_attempt], "drop": [never_attempt]})
    day = bill_day(on_time, channel)
    alerts = metrics.ALERTS.labels("recon_discrepancy", channel)._value.get()

    first = await reconcile(stack, channel, day)

    waiting = await discrepancies(stack, first.run_id)
    assert {(d.trade_no, d.state) for d in waiting} == {
        (booked_late["trade_no"], DiscrepancyState.DEFERRED),
        (never["trade_no"], DiscrepancyState.DEFERRED),
    }
    assert metrics.ALERTS.labels("recon_discrepancy", channel)._value.get() == alerts  # nobody is called

    # the next day's bill: a day later for paygate too (the sandbox's clock moved on in
    # `reconcile`); without it, after 16:00 UTC the next Beijing day has not begun anywhere yet
    # and paygate rightly refuses to ask for its bill
    monkeypatch.setattr(running, "utc_now", lambda: utc_now() + timedelta(days=1))
    second = await reconcile(stack, channel, day + timedelta(days=1))

    [line] = await rows(stack, BillLineRow, BillLineRow.run_id == second.run_id)
    assert line.attempt_no == late_attempt and line.status == "matched"
    settled = {d.trade_no: d for d in await rows(stack, Discrepancy, Discrepancy.run_id == first.run_id)}
    assert settled[booked_late["trade_no"]].state == "resolved"
    assert settled[booked_late["trade_no"]].resolution == "auto"
    assert str(day + timedelta(days=1)) in (settled[booked_late["trade_no"]].resolution_reason or "")
    assert settled[never["trade_no"]].state == "open"  # not in the next day's bill either: reported
    assert "next day's bill" in settled[never["trade_no"]].detail
    assert await discrepancies(stack, second.run_id) == []  # and not reported twice
    assert metrics.ALERTS.labels("recon_discrepancy", channel)._value.get() == alerts + 1
