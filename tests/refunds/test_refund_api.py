"""Refunds through the API (R-REF-1, R-REF-2, R-API-1): partial and repeated, idempotent on
out_refund_no, visible on the trade; bad input gets a clear 4xx and changes nothing."""

from __future__ import annotations

import pytest

from paygate.models import Refund, Trade
from tests.refunds.support import paid_trade, refund_error
from tests.support.helpers import count, order_no, rows
from tests.support.stack import Stack


async def test_partial_and_repeated_refunds_add_up_to_the_payment(stack: Stack) -> None:
    trade = await paid_trade(stack, "alipay", 1000)
    first = await stack.client.refund(
        trade_no=trade["trade_no"], out_refund_no="RF-1", amount=300, reason="one item"
    )
    assert first["state"] == "succeeded" and first["amount"] == 300 and first["refund_no"].startswith("R")
    again = await stack.client.refund(trade_no=trade["trade_no"], out_refund_no="RF-1", amount=300)
    assert again["refund_no"] == first["refund_no"]  # a repeat returns the same refund
    view = await stack.client.query_trade(trade_no=trade["trade_no"])
    assert view["refunded_amount"] == 300 and view["refund_status"] == "partially_refunded"
    assert [r["refund_no"] for r in view["refunds"]] == [first["refund_no"]]
    second = await stack.client.refund(out_order_no=trade["out_order_no"], out_refund_no="RF-2", amount=700)
    assert second["state"] == "succeeded"
    view = await stack.client.query_trade(trade_no=trade["trade_no"])
    assert view["refunded_amount"] == 1000 and view["refund_status"] == "fully_refunded"
    assert (await stack.client.query_refund(out_refund_no="RF-2"))["refund_no"] == second["refund_no"]
    assert (await stack.client.query_refund(refund_no=first["refund_no"], sync=True))["state"] == "succeeded"
    # nothing is left to refund
    error = await refund_error(stack, trade_no=trade["trade_no"], out_refund_no="RF-3", amount=1)
    assert error.error == "REFUND_EXCEEDS_REMAINDER" and error.data["refundable"] == 0
    [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])
    assert row.refunded_amount == 1000 and row.refund_reserved == 1000


async def test_a_refund_number_reused_for_another_amount_or_trade_is_refused(stack: Stack) -> None:
    trade = await paid_trade(stack, "alipay", 1000)
    other = await paid_trade(stack, "alipay", 1000)
    await stack.client.refund(trade_no=trade["trade_no"], out_refund_no="RF-X", amount=100)
    for fields in (
        {"trade_no": trade["trade_no"], "amount": 200},
        {"trade_no": other["trade_no"], "amount": 100},
    ):
        error = await refund_error(stack, out_refund_no="RF-X", **fields)
        assert error.error == "REFUND_MISMATCH" and error.http_status == 409
    assert await count(stack, Refund) == 1


@pytest.mark.parametrize(
    ("fields", "code", "status"),
    [
        ({"amount": 0}, "INVALID_AMOUNT", 400),
        ({"amount": -5}, "INVALID_AMOUNT", 400),
        ({"amount": 1001}, "REFUND_EXCEEDS_REMAINDER", 409),
        ({"amount": 100, "currency": "USD"}, "CURRENCY_MISMATCH", 400),
        ({"amount": "100"}, "INVALID_AMOUNT", 400),
        ({"amount": 100, "out_refund_no": "has space"}, "INVALID_REQUEST", 400),
        ({"amount": 100, "trade_no": "T-NO-SUCH-TRADE"}, "TRADE_NOT_FOUND", 404),
    ],
)
async def test_bad_refund_requests_get_a_clear_error_and_change_nothing(
    stack: Stack, fields: dict[str, object], code: str, status: int
) -> None:
    trade = await paid_trade(stack, "alipay", 1000)
    request = {"trade_no": trade["trade_no"], "out_refund_no": "RF-BAD", **fields}
    error = await refund_error(stack, **request)
    assert (error.error, error.http_status) == (code, status)
    assert await count(stack, Refund) == 0
    [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])
    assert row.refund_reserved == 0 and row.refunded_amount == 0


async def test_only_a_paid_trade_can_be_refunded(stack: Stack) -> None:
    pending = await stack.client.pay(
        out_order_no=order_no("U"), pay_type="alipay.qr", amount=100, subject="U"
    )
    error = await refund_error(stack, trade_no=pending["trade_no"], out_refund_no="RF-U", amount=50)
    assert error.error == "TRADE_NOT_REFUNDABLE" and error.data["state"] == "pending"
    await stack.client.close(trade_no=pending["trade_no"])
    error = await refund_error(stack, trade_no=pending["trade_no"], out_refund_no="RF-U", amount=50)
    assert error.error == "TRADE_NOT_REFUNDABLE" and error.data["state"] == "closed"
    assert await count(stack, Refund) == 0


async def test_another_apps_trade_and_refund_are_unknown(stack: Stack) -> None:
    trade = await paid_trade(stack, "alipay", 1000)
    refund = await stack.client.refund(trade_no=trade["trade_no"], out_refund_no="RF-O", amount=100)
    created = await stack.container.apps.create("other", "Other", ["alipay.qr"])
    from paygate.sdk import PaygateAPIError, PaygateClient

    async with PaygateClient(stack.internal_url, "other", secret=created["secret"]) as other:
        with pytest.raises(PaygateAPIError) as err:
            await other.refund(trade_no=trade["trade_no"], out_refund_no="RF-O2", amount=100)
        assert err.value.error == "TRADE_NOT_FOUND"
        with pytest.raises(PaygateAPIError) as err:
            await other.query_refund(refund_no=refund["refund_no"])
        assert err.value.error == "REFUND_NOT_FOUND"
