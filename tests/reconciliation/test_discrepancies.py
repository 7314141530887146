"""Every discrepancy kind injected and detected (R-REC-2, R-OPS-1): the sandbox writes the
difference into its bill (``bills`` faults) or paygate's answer is lost; the run classifies
each, settles what a channel query settles, leaves the rest open (alerted) for a person."""

from __future__ import annotations

import re

import httpx
import pytest

from paygate.domain.reconciliation import DiscrepancyState, RunState
from paygate.kit import metrics
from paygate.models import BillLineRow, Discrepancy, Refund, Settlement
from paygate.sdk import PaygateAPIError
from tests.reconciliation.support import bill_day, by_kind, discrepancies, paid, reconcile, run_row, trade_row
from tests.support.helpers import order_no, rows
from tests.support.stack import Stack

pytestmark = pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def _alerts(channel: str) -> float:
    return metrics.ALERTS.labels("recon_discrepancy", channel)._value.get()


#: channel → its fee on 4000 minor units, which paygate checks (R-REC-2): Alipay's is the
#: account's flat 0.6 % (``fee_rate_bp``), Stripe's 2.9 % + 30¢ its rate plus its fixed fee
#: (``fee_fixed``, in the account's ``fee_currency``: USD)
FEE_ON_4000 = {"alipay": 24, "stripe": 146}


@pytest.mark.parametrize("channel", ["alipay", "stripe"])
async def test_injected_bill_faults_become_open_discrepancies(stack: Stack, channel: str) -> None:
    """R-REC-1, R-REC-2: each ``bills`` fault of the channel's sandbox (Stripe: its balance
    transactions) is found by the day's run and left open for a person, alerted."""
    more, dropped, twice, fee = [await paid(stack, channel, amount=a) for a in (1000, 2000, 3000, 4000)]
    attempts = {name: (await trade_row(stack, t["trade_no"])).paid_attempt_no for name, t in
                (("more", more), ("dropped", dropped), ("twice", twice), ("fee", fee))}  # fmt: skip
    stack.sandbox(channel).set_faults(
        bills={
            "amount_delta": {attempts["more"]: 1},
            "drop": [attempts["dropped"]],
            "duplicate": [attempts["twice"]],
            "fee_delta": {attempts["fee"]: 1},
        }
    )
    before = _alerts(channel)
    usual_fee = FEE_ON_4000[channel]

    outcome = await reconcile(stack, channel, bill_day(more, channel))

    assert outcome.state is RunState.DONE
    found = by_kind(await discrepancies(stack, outcome.run_id), DiscrepancyState.OPEN)
    kinds = ["amount_mismatch", "duplicate", "missing_at_channel", "fee_mismatch"]
    assert sorted(found) == sorted(kinds)
    [amount] = found["amount_mismatch"]
    assert (amount.channel_amount, amount.paygate_amount, amount.trade_no) == (1001, 1000, more["trade_no"])
    [missing] = found["missing_at_channel"]
    assert missing.trade_no == dropped["trade_no"] and missing.paygate_amount == 2000
    [duplicate] = found["duplicate"]
    [line] = await rows(stack, BillLineRow, BillLineRow.id == duplicate.line_id)
    assert line.attempt_no == attempts["twice"] and line.status == "duplicate"
    twice_lines = await rows(
        stack, BillLineRow, BillLineRow.run_id == outcome.run_id, BillLineRow.attempt_no == attempts["twice"]
    )
    assert sorted(x.status for x in twice_lines) == ["duplicate", "matched"]  # the first one counts
    [fee_line] = await rows(
        stack, BillLineRow, BillLineRow.run_id == outcome.run_id, BillLineRow.attempt_no == attempts["fee"]
    )
    assert (fee_line.status, fee_line.fee) == ("matched", usual_fee + 1)
    [fee_row] = found["fee_mismatch"]
    assert (fee_row.channel_amount, fee_row.paygate_amount) == (usual_fee + 1, usual_fee)
    assert (fee_row.line_id, fee_row.trade_id, fee_row.currency) == (
        fee_line.id,
        fee_line.trade_id,
        fee_line.currency,
    )
    assert _alerts(channel) - before == len(kinds)  # R-OPS-1: one alert per open discrepancy
    async with httpx.AsyncClient() as http:  # and /metrics shows them, read from the database
        scraped = (await http.get(f"{stack.internal_url}/metrics")).text
    pattern = rf'^paygate_recon_open_discrepancies\{{channel="{channel}"\}} (\S+)$'
    shown = re.search(pattern, scraped, re.M)
    open_rows = await rows(stack, Discrepancy, Discrepancy.channel == channel, Discrepancy.state == "open")
    assert shown and float(shown[1]) == len(open_rows) >= len(kinds), [
        line for line in scraped.splitlines() if "recon" in line
    ]
    [settlement] = await rows(stack, Settlement, Settlement.run_id == outcome.run_id)
    assert settlement.state == "mismatch" and "paygate counts" in settlement.detail
    # the trades themselves are untouched: a discrepancy changes nothing by itself
    assert (await trade_row(stack, more["trade_no"])).paid_amount == 1000


async def test_a_refund_whose_answer_was_lost_is_a_status_mismatch_settled_by_a_query(stack: Stack) -> None:
    trade = await paid(stack, amount=1000)
    alipay = stack.sandbox("alipay")
    alipay.faults.drop_notifications(1000)
    alipay.faults.error("alipay.trade.refund", code="20000", apply=True, times=1)  # refunded; answer lost
    try:
        await stack.client.refund(trade_no=trade["trade_no"], out_refund_no=order_no("LOST"), amount=400)
        raise AssertionError("the refund's answer was not lost")
    except PaygateAPIError as exc:
        refund_no = exc.data["refund_no"]
    [row] = await rows(stack, Refund, Refund.refund_no == refund_no)
    assert row.state in ("unknown", "processing")

    outcome = await reconcile(stack, "alipay", bill_day(trade))

    [d] = await discrepancies(stack, outcome.run_id)
    assert d.kind == "status_mismatch" and d.refund_no == refund_no
    assert d.state == "resolved" and d.resolution == "auto"
    [row] = await rows(stack, Refund, Refund.refund_no == refund_no)
    assert row.state == "succeeded"
    assert (await run_row(stack, outcome.run_id)).matched == 2
