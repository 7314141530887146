"""The payment core end to end over real HTTP: app → paygate → Alipay sandbox → buyer →
notification → paygate (R-PAY-1..4, R-PAY-7..9, R-NTF-1/2, R-LOG-1..3, R-API-3)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from paygate.models import CallLog, ChannelAttempt, ChannelNotification, OutboxMessage, Trade, TradeLog
from paygate.sdk import PaygateAPIError
from tests.support.helpers import buyer, count, eventually, order_no, rows
from tests.support.stack import Stack


async def _state(stack: Stack, trade_no: str) -> str:
    return str((await stack.client.query_trade(trade_no=trade_no))["state"])


async def test_qr_payment_succeeds_through_the_notification(stack: Stack) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no(), pay_type="alipay.qr", amount=1999, subject="Coffee beans"
    )
    assert trade["state"] == "pending"
    assert trade["amount"] == 1999 and trade["currency"] == "CNY"
    assert trade["action"]["type"] == "qr_code" and trade["action"]["qr_code"].startswith("http")

    paid = await buyer(stack, "alipay", trade["action"]["qr_code"])
    assert paid.status_code == 200, paid.text

    async def succeeded() -> bool:
        return await _state(stack, trade["trade_no"]) == "succeeded"

    await eventually(succeeded)
    final = await stack.client.query_trade(trade_no=trade["trade_no"])
    assert final["paid_amount"] == 1999 and final["channel_trade_no"]

    [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])
    logs = await rows(stack, TradeLog, TradeLog.trade_id == row.id)
    assert [(log.from_state, log.to_state) for log in logs] == [
        (None, "created"),
        ("created", "pending"),
        ("pending", "succeeded"),
    ]
    assert logs[-1].source == "notify"
    events = await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"])
    assert [e.topic for e in events] == ["trade.succeeded"]
    inbox = await rows(stack, ChannelNotification, ChannelNotification.trade_id == row.id)
    assert [n.outcome for n in inbox] == ["processed"]


@pytest.mark.parametrize("pay_type", ["alipay.page", "alipay.wap"])
async def test_page_and_wap_pay_return_a_signed_redirect(stack: Stack, pay_type: str) -> None:
    trade = await stack.client.pay(out_order_no=order_no(), pay_type=pay_type, amount=100, subject="Book")
    action = trade["action"]
    assert action["type"] == "redirect" and action["method"] == "GET"
    assert action["url"].startswith(stack.sandbox_url + "/alipay/gateway.do?")
    assert "sign=" in action["url"]
    await buyer(stack, "alipay", action["url"])

    async def succeeded() -> bool:
        return await _state(stack, trade["trade_no"]) == "succeeded"

    await eventually(succeeded)


async def test_page_pay_as_auto_submitting_form(stack: Stack) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no(), pay_type="alipay.page", amount=100, subject="Book", extra={"form": True}
    )
    action = trade["action"]
    assert action["type"] == "form" and action["method"] == "POST"
    assert "<form" in action["form"] and "submit()" in action["form"]


async def test_pay_is_idempotent_on_the_order_number(stack: Stack) -> None:
    order = order_no()
    first = await stack.client.pay(out_order_no=order, pay_type="alipay.qr", amount=500, subject="A")
    again = await stack.client.pay(out_order_no=order, pay_type="alipay.qr", amount=500, subject="A")
    assert again["trade_no"] == first["trade_no"]
    assert again["action"] == first["action"]
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.pay(out_order_no=order, pay_type="alipay.qr", amount=501, subject="A")
    assert err.value.error == "ORDER_MISMATCH" and err.value.http_status == 409
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.pay(out_order_no=order, pay_type="alipay.page", amount=499, subject="A")
    assert err.value.error == "ORDER_MISMATCH"
    assert await count(stack, Trade, Trade.out_order_no == order) == 1


async def test_a_repeat_is_answered_as_one_before_the_channels_own_checks(stack: Stack) -> None:
    """R-PAY-7, docs/api.md "Checks run in this order": idempotency (7) comes before the
    channel account (8) and the channel's validation hook (9). A repeat that leaves out an
    input the first request carried (a barcode's ``auth_code``) or breaks a channel rule in a
    field it differs in gets the trade back, and another currency is ORDER_MISMATCH — not
    CHANNEL_VALIDATION; a new order missing the input is still refused."""
    order = order_no()
    code = {"auth_code": "286000000000000001"}
    first = await stack.client.pay(
        out_order_no=order, pay_type="alipay.barcode", amount=1200, subject="Shop", extra=code
    )
    assert first["state"] == "succeeded"
    again = await stack.client.pay(
        out_order_no=order, pay_type="alipay.barcode", amount=1200, subject="Shop", description="x" * 200
    )
    assert again["trade_no"] == first["trade_no"] and again["state"] == "succeeded"
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.pay(
            out_order_no=order, pay_type="alipay.barcode", amount=1200, currency="USD", subject="Shop"
        )
    assert err.value.error == "ORDER_MISMATCH" and err.value.http_status == 409
    assert err.value.data == {"trade_no": first["trade_no"]}
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.pay(
            out_order_no=order_no(), pay_type="alipay.barcode", amount=1200, subject="Shop"
        )
    assert err.value.error == "CHANNEL_VALIDATION" and err.value.http_status == 400
    assert await count(stack, Trade, Trade.out_order_no == order) == 1


async def test_concurrent_identical_requests_create_exactly_one_trade(stack: Stack) -> None:
    order = order_no()

    async def attempt() -> str:
        try:
            return str(
                (
                    await stack.client.pay(
                        out_order_no=order, pay_type="alipay.qr", amount=700, subject="Race"
                    )
                )["trade_no"]
            )
        except PaygateAPIError as exc:
            assert exc.error == "TRADE_IN_PROGRESS", exc
            return "in-progress"

    results = await asyncio.gather(*(attempt() for _ in range(8)))
    trade_nos = {r for r in results if r != "in-progress"}
    assert len(trade_nos) == 1
    assert await count(stack, Trade, Trade.out_order_no == order) == 1
    [trade] = await rows(stack, Trade, Trade.out_order_no == order)
    assert await count(stack, ChannelAttempt, ChannelAttempt.trade_id == trade.id) == 1


async def test_close_then_query(stack: Stack) -> None:
    trade = await stack.client.pay(out_order_no=order_no(), pay_type="alipay.qr", amount=300, subject="C")
    closed = await stack.client.close(trade_no=trade["trade_no"])
    assert closed["state"] == "closed" and closed["closed_at"]
    assert (await stack.client.close(trade_no=trade["trade_no"]))["state"] == "closed"
    assert await _state(stack, trade["trade_no"]) == "closed"


async def test_a_paid_trade_cannot_be_closed(stack: Stack) -> None:
    trade = await stack.client.pay(out_order_no=order_no(), pay_type="alipay.qr", amount=300, subject="C")
    await buyer(stack, "alipay", trade["action"]["qr_code"])

    async def succeeded() -> bool:
        return await _state(stack, trade["trade_no"]) == "succeeded"

    await eventually(succeeded)
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.close(trade_no=trade["trade_no"])
    assert err.value.error == "ILLEGAL_STATE"


async def test_query_sync_records_the_channels_final_answer(stack: Stack) -> None:
    """R-PAY-9: with notifications dropped, a synchronous query settles the trade."""
    alipay = stack.sandbox("alipay")
    trade = await stack.client.pay(
        out_order_no=order_no(),
        pay_type="alipay.jsapi",
        amount=900,
        subject="JSAPI",
        extra={"buyer_id": "2088102177846880"},
    )
    assert trade["action"]["type"] == "jsapi" and trade["action"]["params"]["trade_no"]
    alipay.faults.drop_notifications(100)
    [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])
    await buyer(stack, "alipay", row.attempt_no)  # the out_trade_no Alipay knows
    assert await _state(stack, trade["trade_no"]) == "pending"
    synced = await stack.client.query_trade(trade_no=trade["trade_no"], sync=True)
    assert synced["state"] == "succeeded"
    logs = await rows(stack, TradeLog, TradeLog.trade_id == row.id)
    assert logs[-1].source == "query" and logs[-1].to_state == "succeeded"


async def test_barcode_pays_synchronously(stack: Stack) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no(),
        pay_type="alipay.barcode",
        amount=1200,
        subject="Shop",
        extra={"auth_code": "286000000000000001"},  # a valid code the sandbox pays at once
    )
    assert trade["state"] == "succeeded"
    assert trade["action"]["type"] == "none"
    # the channel's payment time (whole seconds, Beijing time) in the same shape as paygate's own
    shape = "%Y-%m-%dT%H:%M:%S.%fZ"
    for field in ("paid_at", "created_at", "expire_at"):
        assert datetime.strptime(trade[field], shape), (field, trade[field])


async def test_every_call_is_in_the_call_log_masked(stack: Stack) -> None:
    trade = await stack.client.pay(out_order_no=order_no(), pay_type="alipay.qr", amount=100, subject="Log")
    await stack.client.query_trade(trade_no=trade["trade_no"])
    await stack.container.call_log.flush()
    logs = await rows(stack, CallLog, CallLog.trade_no == trade["trade_no"])
    assert {entry.endpoint for entry in logs} == {"/gopay", "/query/trade"}
    assert all(entry.app_id == "demo" and entry.errno == 0 for entry in logs)
    assert stack.credentials["secret"] not in repr([(e.request, e.response) for e in logs])
    # what was asked and answered, as JSON (PostgreSQL writes the rows with COPY, elsewhere INSERT)
    by_endpoint = {entry.endpoint: entry for entry in logs}
    assert by_endpoint["/gopay"].request["amount"] == 100
    assert by_endpoint["/query/trade"].request["trade_no"] == trade["trade_no"]
    assert by_endpoint["/query/trade"].response["data"]["state"] == "pending"
    assert all(e.http_method == "POST" and e.http_status == 200 and e.created_at is not None for e in logs)
