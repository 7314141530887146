"""The reliability engine's checks (R-NTF-3, R-NTF-4, R-PAY-5): open trades are asked about at
the channel on a growing schedule; the answer goes through the state machine; an unpaid trade
past its expiry is closed at the channel first, then here; a success after that close is
never lost — it is a late payment, refunded."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from paygate.domain.checks import DEFAULT_SCHEDULE, next_check
from paygate.kit.clock import utc_now
from paygate.models import ExtraPayment, Trade
from tests.support.helpers import buyer, eventually, order_no, rows
from tests.support.stack import Stack


async def make_due(stack: Stack, trade_no: str, *, expired: bool = False) -> None:
    values: dict[str, object] = {"next_check_at": utc_now() - timedelta(seconds=1)}
    if expired:
        values["expire_at"] = utc_now() - timedelta(seconds=1)
    async with stack.container.sessions() as session, session.begin():
        await session.execute(update(Trade).where(Trade.trade_no == trade_no).values(**values))


async def row_of(stack: Stack, trade_no: str) -> Trade:
    [row] = await rows(stack, Trade, Trade.trade_no == trade_no)
    return row


def test_the_schedule_grows_and_then_repeats_its_last_step() -> None:
    now = utc_now()
    gaps = [(next_check(now, n) - now).total_seconds() for n in range(12)]
    assert gaps[:7] == [1, 2, 5, 10, 20, 40, 100]
    assert gaps == sorted(gaps) and gaps[-1] == gaps[-2] == DEFAULT_SCHEDULE[-1]


async def test_a_check_finds_a_payment_whose_notification_never_came(stack: Stack) -> None:
    stack.sandbox("alipay").faults.drop_notifications(100)  # the channel's notifications are lost
    trade = await stack.client.pay(
        out_order_no=order_no("CMP"), pay_type="alipay.qr", amount=300, subject="C"
    )
    assert (await row_of(stack, trade["trade_no"])).next_check_at is not None  # planned at creation
    await buyer(stack, "alipay", trade["action"]["qr_code"])
    await make_due(stack, trade["trade_no"])
    assert await stack.container.trade_checks.run_once() >= 1
    row = await row_of(stack, trade["trade_no"])
    assert row.state == "succeeded" and row.next_check_at is None and row.checks == 1
    assert await stack.container.trade_checks.run_once() == 0  # nothing left to ask


async def test_an_open_trade_is_checked_again_later_on_the_schedule(stack: Stack) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("CMP"), pay_type="alipay.qr", amount=300, subject="C"
    )
    await make_due(stack, trade["trade_no"])
    before = utc_now()
    assert await stack.container.trade_checks.run_once() >= 1
    row = await row_of(stack, trade["trade_no"])
    assert row.state == "pending" and row.checks == 1
    assert row.next_check_at is not None
    gap = (row.next_check_at - before).total_seconds()
    assert DEFAULT_SCHEDULE[1] - 1 <= gap <= DEFAULT_SCHEDULE[1] + 5


async def test_an_expired_trade_is_closed_at_the_channel_then_here(stack: Stack) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("EXP"),
        pay_type="alipay.jsapi",
        amount=300,
        subject="E",
        extra={"buyer_id": "2088102177846880"},
    )
    await make_due(stack, trade["trade_no"], expired=True)
    await stack.container.trade_checks.run_once()
    row = await row_of(stack, trade["trade_no"])
    assert row.state == "closed" and row.next_check_at is None
    # the channel closed it too: the payer can no longer pay it there
    answer = await buyer(stack, "alipay", row.attempt_no)
    assert answer.status_code >= 400 or '"TRADE_CLOSED"' in answer.text


async def test_a_payment_racing_the_expiry_close_is_kept_or_refunded_never_lost(stack: Stack) -> None:
    """The QR was never scanned when the trade expired (nothing to close at Alipay); the payer
    pays it afterwards: a payment after close, recorded and refunded."""
    trade = await stack.client.pay(
        out_order_no=order_no("RACE"), pay_type="alipay.qr", amount=450, subject="R"
    )
    await make_due(stack, trade["trade_no"], expired=True)
    await stack.container.trade_checks.run_once()
    assert (await row_of(stack, trade["trade_no"])).state == "closed"
    assert (await buyer(stack, "alipay", trade["action"]["qr_code"])).status_code == 200
    row = await row_of(stack, trade["trade_no"])

    async def late() -> list[ExtraPayment]:
        return await rows(stack, ExtraPayment, ExtraPayment.trade_id == row.id)

    [extra] = await eventually(late)
    assert extra.kind == "paid_after_close"
    await stack.container.system_refunds.run_once()
    view = await stack.client.query_trade(trade_no=trade["trade_no"])
    assert view["state"] == "closed" and [r["state"] for r in view["refunds"]] == ["succeeded"]


async def test_the_daily_sweep_plans_a_check_for_every_open_item(stack: Stack) -> None:
    trade = await stack.client.pay(out_order_no=order_no("SW"), pay_type="alipay.qr", amount=300, subject="S")
    async with stack.container.sessions() as session, session.begin():
        await session.execute(
            update(Trade).where(Trade.trade_no == trade["trade_no"]).values(next_check_at=None)
        )
    assert await stack.container.open_items_sweep.run_once() == 1
    assert (await row_of(stack, trade["trade_no"])).next_check_at is not None
    assert await stack.container.open_items_sweep.run_once() == 0
