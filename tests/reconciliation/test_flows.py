"""Bills the sandboxes produce after real flows, reconciled end to end (R-REC-1, R-REC-2,
R-PAY-5, R-PAY-6, R-NTF-3): payments, a partial refund, a payment whose notification was
lost, a payment after the close, a repeat payment — every line matched or its discrepancy
settled through the state machine."""

from __future__ import annotations

import pytest

from paygate.domain.reconciliation import DiscrepancyState, RunState
from paygate.models import BillLineRow, ExtraPayment, Settlement, TradeLog
from tests.reconciliation.support import (
    bill_day,
    by_kind,
    discrepancies,
    paid,
    paid_unnoticed,
    qr_trade,
    reconcile,
    run_row,
    state_of,
    trade_row,
)
from tests.support.helpers import buyer, order_no, rows
from tests.support.stack import Stack


async def test_alipay_day_with_refund_lost_notification_late_and_repeat_payment(stack: Stack) -> None:
    first = await paid(stack, amount=1000)
    refund = await stack.client.refund(trade_no=first["trade_no"], out_refund_no=order_no("RF"), amount=300)
    assert refund["state"] == "succeeded"
    lost = await paid_unnoticed(stack, amount=700)  # R-NTF-3: only the bill will tell
    late = await qr_trade(stack, amount=500)  # closed here, then paid anyway (R-PAY-5)
    assert (await stack.client.close(trade_no=late["trade_no"]))["state"] == "closed"
    stack.sandbox("alipay").faults.drop_notifications(100)
    assert (await buyer(stack, "alipay", late["action"]["qr_code"])).status_code == 200
    day = bill_day(first)

    outcome = await reconcile(stack, "alipay", day)

    assert outcome.state is RunState.DONE and outcome.taken
    run = await run_row(stack, outcome.run_id)
    assert run.raw_checksum and run.raw_size and run.raw_name and run.raw_name.endswith(".csv.zip")
    assert run.raw_source and "token" not in run.raw_source
    lines = await rows(stack, BillLineRow, BillLineRow.run_id == outcome.run_id)
    assert len(lines) == 4 and all(line.status == "matched" for line in lines)
    # the lost payment: found in the bill, confirmed by a query, applied (trade log: reconcile)
    view = await state_of(stack, lost["trade_no"], "succeeded")
    assert view["paid_amount"] == 700
    logs = await rows(stack, TradeLog, TradeLog.trade_id == (await trade_row(stack, lost["trade_no"])).id)
    assert [log.source for log in logs if log.to_state == "succeeded"] == ["reconcile"]
    # the late payment: recorded as paid after close (refunded by the system), never applied
    closed = await trade_row(stack, late["trade_no"])
    assert closed.state == "closed"
    [extra] = await rows(stack, ExtraPayment, ExtraPayment.trade_id == closed.id)
    assert extra.kind == "paid_after_close" and extra.detected_by == "reconcile"
    assert await stack.container.system_refunds.run_once() == 1
    found = await discrepancies(stack, outcome.run_id)
    assert {d.kind.value for d in found} == {"missing_at_paygate"} and len(found) == 2
    assert all(d.state == DiscrepancyState.RESOLVED and d.resolution == "auto" for d in found)
    assert run.auto_resolved == 2 and run.matched == 4
    # fees per trade (the sandbox's 0.6 %), and the day's settlement adds up
    fees = {line.attempt_no: line.fee for line in lines if line.kind == "payment"}
    assert sorted(fees.values()) == [3, 4, 6]
    [settlement] = await rows(stack, Settlement, Settlement.run_id == outcome.run_id)
    assert settlement.state == "matched", settlement.detail
    assert (settlement.bill_payments, settlement.bill_refunds) == (2200, 300)
    assert (settlement.stated_payments, settlement.stated_refunds) == (2200, 300)
    assert (settlement.paygate_payments, settlement.paygate_refunds) == (2200, 300)
    assert settlement.bill_fees == 13 - 2  # the refund gives its fee back


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_repeat_payment_found_in_the_bill_becomes_a_refunded_repeat(stack: Stack) -> None:
    order = order_no("TWICE")
    alipay = await stack.client.pay(out_order_no=order, pay_type="alipay.qr", amount=900, subject="T")
    wechat = await stack.client.pay(out_order_no=order, pay_type="wechat.native", amount=900, subject="T")
    assert (await buyer(stack, "wechatpay", wechat["action"]["qr_code"])).status_code == 200
    kept = await state_of(stack, alipay["trade_no"], "succeeded")
    stack.sandbox("alipay").faults.drop_notifications(100)  # the second payment is not told
    assert (await buyer(stack, "alipay", alipay["action"]["qr_code"])).status_code == 200
    trade = await trade_row(stack, alipay["trade_no"])
    assert await rows(stack, ExtraPayment, ExtraPayment.trade_id == trade.id) == []

    outcome = await reconcile(stack, "alipay", bill_day(kept))

    [extra] = await rows(stack, ExtraPayment, ExtraPayment.trade_id == trade.id)
    assert extra.kind == "repeat_payment" and extra.amount == 900 and extra.detected_by == "reconcile"
    [line] = await rows(stack, BillLineRow, BillLineRow.run_id == outcome.run_id)
    assert line.status == "matched" and line.extra_payment_id == extra.id
    [d] = await discrepancies(stack, outcome.run_id)
    assert d.kind == "missing_at_paygate" and d.state == "resolved"
    assert await stack.container.system_refunds.run_once() == 1
    view = await stack.client.query_trade(trade_no=alipay["trade_no"])
    assert view["paid_amount"] == 900 and [r["kind"] for r in view["refunds"]] == ["repeat_payment"]
    assert by_kind(await discrepancies(stack, outcome.run_id), DiscrepancyState.OPEN) == {}
