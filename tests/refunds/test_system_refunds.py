"""Refunds paygate starts itself (R-PAY-5, R-PAY-6, R-REF-3): a payment that arrives after the
trade was closed, and a second payment of a paid trade, are recorded (never lost, never
applied to the trade), refunded automatically along their own route, and the app is told."""

from __future__ import annotations

from typing import Any

from paygate.models import ExtraPayment, OutboxMessage, Refund, Trade
from tests.support.helpers import buyer, eventually, order_no, rows
from tests.support.stack import Stack


async def extras(stack: Stack, trade_no: str) -> list[ExtraPayment]:
    [row] = await rows(stack, Trade, Trade.trade_no == trade_no)
    return await rows(stack, ExtraPayment, ExtraPayment.trade_id == row.id)


async def test_a_payment_after_the_close_is_refunded_and_the_app_told(stack: Stack) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("LATE"), pay_type="alipay.qr", amount=1200, subject="L"
    )
    closed = await stack.client.close(trade_no=trade["trade_no"])  # nobody scanned yet: closed here only
    assert closed["state"] == "closed"
    paid = await buyer(stack, "alipay", trade["action"]["qr_code"])  # the payer pays the old QR anyway
    assert paid.status_code == 200, paid.text

    async def recorded() -> list[ExtraPayment]:
        return await extras(stack, trade["trade_no"])

    [extra] = await eventually(recorded)
    assert extra.kind == "paid_after_close" and extra.amount == 1200 and extra.channel_trade_no
    assert await stack.container.system_refunds.run_once() == 1
    assert await stack.container.system_refunds.run_once() == 0  # once only
    view = await stack.client.query_trade(trade_no=trade["trade_no"])
    assert view["state"] == "closed" and view["paid_amount"] is None  # the trade never took it
    [refund] = view["refunds"]
    assert refund["kind"] == "paid_after_close" and refund["amount"] == 1200
    assert refund["state"] == "succeeded" and refund["requested_by"] == "system"
    topics = [m.topic for m in await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"])]
    assert topics.count("trade.paid_after_close") == 1 and "refund.succeeded" in topics


async def test_a_second_payment_through_another_pay_type_is_a_refunded_repeat(stack: Stack) -> None:
    order = order_no("TWICE")
    alipay = await stack.client.pay(out_order_no=order, pay_type="alipay.qr", amount=900, subject="T")
    # the payer switches to WeChat Pay for the same order: a new attempt of the same trade
    wechat = await stack.client.pay(out_order_no=order, pay_type="wechat.native", amount=900, subject="T")
    assert wechat["trade_no"] == alipay["trade_no"] and wechat["action"]["type"] == "qr_code"
    assert wechat["action"]["qr_code"] != alipay["action"]["qr_code"]
    assert (await buyer(stack, "wechatpay", wechat["action"]["qr_code"])).status_code == 200

    async def paid() -> dict[str, Any] | None:
        view = await stack.client.query_trade(trade_no=alipay["trade_no"])
        return view if view["state"] == "succeeded" else None

    kept = await eventually(paid)
    assert kept["pay_type"] == "wechat.native"
    # ... and then pays the Alipay code too
    assert (await buyer(stack, "alipay", alipay["action"]["qr_code"])).status_code == 200
    [extra] = await eventually(lambda: extras(stack, alipay["trade_no"]))
    assert extra.kind == "repeat_payment" and extra.channel == "alipay"
    assert extra.kept_channel_trade_no == kept["channel_trade_no"] and extra.channel_trade_no
    assert await stack.container.system_refunds.run_once() == 1
    view = await stack.client.query_trade(trade_no=alipay["trade_no"])
    assert view["state"] == "succeeded" and view["paid_amount"] == 900 and view["refunded_amount"] == 0
    [refund] = view["refunds"]
    assert refund["kind"] == "repeat_payment" and refund["state"] == "succeeded"
    [row] = await rows(stack, Refund, Refund.refund_no == refund["refund_no"])
    assert row.channel == "alipay" and row.attempt_no == extra.attempt_no  # back along its own route
    topics = [
        m.topic for m in await rows(stack, OutboxMessage, OutboxMessage.aggregate == alipay["trade_no"])
    ]
    assert topics.count("trade.repeat_payment") == 1 and topics.count("trade.succeeded") == 1
