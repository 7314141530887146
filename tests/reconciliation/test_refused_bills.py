"""A corrupt, truncated or wrongly encoded bill is refused with a clear error and changes
nothing (R-REC-1); once the channel serves a good file, the same run goes through."""

from __future__ import annotations

import pytest

from paygate.domain.reconciliation import RunState
from paygate.kit import metrics
from paygate.models import BillLineRow, Discrepancy, Settlement, Trade
from tests.reconciliation.support import account_id, bill_day, paid, paid_unnoticed, reconcile, run_row
from tests.support.helpers import count
from tests.support.stack import Stack

#: parsing does not depend on the database: SQLite only keeps the suite short
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.mark.parametrize(
    ("channel", "damage", "says"),
    [
        ("alipay", "truncate", "zip"),
        ("alipay", "encoding", "neither GBK nor UTF-8"),
        ("wechatpay", "garble", ""),
        ("wechatpay", "encoding", "not UTF-8"),
        ("stripe", "truncate", "without a JSON object"),  # the balance transactions' answer cut short
    ],
)
async def test_a_spoilt_bill_is_refused_and_changes_nothing(
    stack: Stack, channel: str, damage: str, says: str
) -> None:
    """R-REC-1: a bill that cannot be trusted is refused, with the reason, and changes nothing."""
    first = await paid(stack, channel, amount=1000)
    lost = await paid_unnoticed(stack, channel, amount=700)  # the bill would settle it: it must not
    stack.sandbox(channel).set_faults(bills={"damage": damage})
    refusals = metrics.ALERTS.labels("bill_refused", channel)._value.get()

    outcome = await reconcile(stack, channel, bill_day(first, channel))

    assert outcome.state is RunState.FAILED
    run = await run_row(stack, outcome.run_id)
    assert run.error and run.error.startswith("the bill was refused") and says in run.error
    assert metrics.ALERTS.labels("bill_refused", channel)._value.get() == refusals + 1
    for model in (BillLineRow, Discrepancy, Settlement):
        assert await count(stack, model) == 0
    assert not [p for p in (stack.settings.data_dir / "bills").rglob("*") if p.is_file()]  # no file kept
    assert await count(stack, Trade, Trade.trade_no == lost["trade_no"], Trade.state == "succeeded") == 0

    stack.sandbox(channel).clear_faults()
    again = await stack.container.reconciler.run(await account_id(stack, channel), bill_day(first, channel))
    assert again.state is RunState.DONE and again.run_id == outcome.run_id
    assert await count(stack, Trade, Trade.trade_no == lost["trade_no"], Trade.state == "succeeded") == 1
