"""WeChat Pay's trade bill (GZIP, SHA1-checked, backtick values) and Stripe's balance
transactions reconciled after real flows (R-REC-1, R-REC-2, R-REC-4, R-NTF-3)."""

from __future__ import annotations

from typing import Any

import pytest

from paygate.domain.reconciliation import RunState
from paygate.models import BillLineRow, Discrepancy, Settlement
from tests.reconciliation.support import (
    bill_day,
    paid,
    paid_unnoticed,
    reconcile,
    run_row,
    state_of,
    trade_row,
)
from tests.refunds.support import paid_trade
from tests.support.helpers import eventually, order_no, rows
from tests.support.stack import Stack

pytestmark = pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


async def _refunded(stack: Stack, trade_no: str, amount: int) -> dict[str, Any]:
    refund = await stack.client.refund(trade_no=trade_no, out_refund_no=order_no("RF"), amount=amount)

    async def done() -> dict[str, Any] | None:
        view = await stack.client.query_refund(refund_no=refund["refund_no"], sync=True)
        return view if view["state"] == "succeeded" else None

    result: dict[str, Any] = await eventually(done)
    return result


async def test_wechatpay_day_with_a_refund_and_a_lost_notification(stack: Stack) -> None:
    first = await paid(stack, "wechatpay", amount=1000)
    refund = await _refunded(stack, first["trade_no"], 250)
    lost = await paid_unnoticed(stack, "wechatpay", amount=1999)

    outcome = await reconcile(stack, "wechatpay", bill_day(first))

    assert outcome.state is RunState.DONE
    run = await run_row(stack, outcome.run_id)
    assert run.raw_name and run.raw_name.endswith(".csv.gz") and run.raw_size and run.raw_checksum
    lines = await rows(stack, BillLineRow, BillLineRow.run_id == outcome.run_id)
    assert sorted((line.kind.value, line.amount) for line in lines) == [
        ("payment", 1000), ("payment", 1999), ("refund", 250)
    ]  # fmt: skip
    assert all(line.status == "matched" for line in lines)
    assert {line.refund_no for line in lines if line.kind == "refund"} == {refund["refund_no"]}
    assert {line.fee for line in lines if line.kind == "payment"} == {6, 12}  # 0.6 %, half up
    assert (await state_of(stack, lost["trade_no"], "succeeded"))["paid_amount"] == 1999
    [d] = await rows(stack, Discrepancy, Discrepancy.run_id == outcome.run_id)
    assert d.kind == "missing_at_paygate" and d.state == "resolved" and d.resolution == "auto"
    [settlement] = await rows(stack, Settlement, Settlement.run_id == outcome.run_id)
    assert settlement.state == "matched", settlement.detail
    assert (settlement.stated_payments, settlement.stated_refunds) == (2999, 250)
    assert settlement.stated_fees is not None and settlement.stated_net == 2999 - 250 - settlement.stated_fees


async def test_stripe_balance_transactions_of_a_day(stack: Stack) -> None:
    first = await paid_trade(stack, "stripe", 2500)
    second = await paid_trade(stack, "stripe", 1000)
    refund = await _refunded(stack, first["trade_no"], 500)

    outcome = await reconcile(stack, "stripe", bill_day(first, "stripe"))

    assert outcome.state is RunState.DONE
    run = await run_row(stack, outcome.run_id)
    assert (
        run.raw_name
        and run.raw_name.endswith(".jsonl")
        and run.raw_source
        and run.raw_source.endswith("/v1/balance_transactions")
    )
    lines = await rows(stack, BillLineRow, BillLineRow.run_id == outcome.run_id)
    assert sorted((line.kind.value, line.amount, line.currency) for line in lines) == [
        ("payment", 1000, "USD"), ("payment", 2500, "USD"), ("refund", 500, "USD")
    ]  # fmt: skip
    assert all(line.status == "matched" for line in lines), [(x.kind, x.status) for x in lines]
    assert {line.refund_no for line in lines if line.kind == "refund"} == {refund["refund_no"]}
    assert all(line.fee and line.fee > 0 for line in lines if line.kind == "payment")  # Stripe's 2.9 % + 30
    assert await rows(stack, Discrepancy, Discrepancy.run_id == outcome.run_id) == []
    [settlement] = await rows(stack, Settlement, Settlement.run_id == outcome.run_id)
    assert settlement.state == "matched" and settlement.currency == "USD"
    assert (settlement.paygate_payments, settlement.paygate_refunds) == (3500, 500)
    assert second["state"] == "succeeded"


async def test_a_stripe_payout_is_checked_against_its_movements_and_the_trades(stack: Stack) -> None:
    """R-REC-4: the payout's amount plus its fees equals the payments less the refunds it
    holds, and each of them is a trade paygate reconciled."""
    first = await paid_trade(stack, "stripe", 4000)
    await paid_trade(stack, "stripe", 1500)
    await _refunded(stack, first["trade_no"], 1000)
    [payout] = stack.sandbox("stripe").create_payouts("usd", include_pending=True)

    outcome = await reconcile(stack, "stripe", bill_day(first, "stripe"))

    settlements = {s.reference: s for s in await rows(stack, Settlement, Settlement.run_id == outcome.run_id)}
    paid_out = settlements[payout["id"]]
    assert paid_out.state == "matched", paid_out.detail
    assert paid_out.stated_net == payout["amount"] and paid_out.currency == "USD"
    assert (paid_out.stated_payments, paid_out.stated_refunds) == (5500, 1000)
    assert paid_out.stated_net + (paid_out.stated_fees or 0) == 5500 - 1000
    assert (paid_out.paygate_payments, paid_out.paygate_refunds) == (5500, 1000)
    assert (paid_out.payment_count, paid_out.refund_count) == (2, 1)


async def test_a_stripe_payout_holding_faulted_movements(stack: Stack) -> None:
    """R-REC-4 with the ``bills`` faults (R-REC-2): Stripe's payout pays what its balance
    transactions net to as served, so the payout adds up; the per-trade check shows where it
    differs from paygate — a movement booked twice, an amount paygate does not hold. A fee off
    by a cent on the movement whose amount is off is in the fees the payout states, and its
    discrepancy is the amount (fees are checked on matched payments only); a movement left
    out is in no payout at all."""
    more = await paid_trade(stack, "stripe", 4000)
    twice = await paid_trade(stack, "stripe", 1500)
    gone = await paid_trade(stack, "stripe", 2000)
    refund = await _refunded(stack, more["trade_no"], 1000)
    attempt = {name: (await trade_row(stack, t["trade_no"])).paid_attempt_no
               for name, t in (("more", more), ("twice", twice), ("gone", gone))}  # fmt: skip
    stack.sandbox("stripe").set_faults(
        bills={"amount_delta": {attempt["more"]: 5}, "fee_delta": {attempt["more"]: 1},
               "duplicate": [attempt["twice"]], "drop": [attempt["gone"]]}
    )  # fmt: skip
    [payout] = stack.sandbox("stripe").create_payouts("usd", include_pending=True)

    outcome = await reconcile(stack, "stripe", bill_day(more, "stripe"))

    settlements = {s.reference: s for s in await rows(stack, Settlement, Settlement.run_id == outcome.run_id)}
    paid_out = settlements[payout["id"]]
    fees = (116 + 30 + 1) + 2 * (44 + 30)  # 2.9 % + 30¢ each, the shifted fee, the double booking
    assert (paid_out.stated_payments, paid_out.stated_refunds, paid_out.stated_fees) == (
        4005 + 2 * 1500,
        1000,
        fees,
    )
    assert payout["amount"] == paid_out.stated_net == 4005 + 2 * 1500 - 1000 - fees  # it adds up
    assert (paid_out.payment_count, paid_out.refund_count) == (3, 1)
    assert (paid_out.paygate_payments, paid_out.paygate_refunds) == (1500, 1000)
    assert paid_out.state == "mismatch" and "its movements net" not in paid_out.detail
    assert "2 payments and 0 refunds of the payout are not reconciled trades" in paid_out.detail
    assert "paygate counts 1500 paid and 1000 refunded; the payout 7005 and 1000" in paid_out.detail
    found = await rows(stack, Discrepancy, Discrepancy.run_id == outcome.run_id)
    assert sorted((d.kind.value, d.trade_no) for d in found if d.kind != "duplicate") == sorted(
        [("amount_mismatch", more["trade_no"]), ("missing_at_channel", gone["trade_no"])]
    )
    [duplicate] = [d for d in found if d.kind == "duplicate"]
    [line] = await rows(stack, BillLineRow, BillLineRow.id == duplicate.line_id)
    assert line.attempt_no == attempt["twice"]
    # what an operator needs to look into it: whose money the bill lists again, and how much
    assert (duplicate.trade_no, duplicate.attempt_no, duplicate.channel_amount, duplicate.currency) == (
        twice["trade_no"],
        attempt["twice"],
        1500,
        "USD",
    )
    assert duplicate.channel_trade_no == line.channel_trade_no and duplicate.trade_id is not None
    assert refund["state"] == "succeeded"
