"""Stripe through the unified API (issue 3): card payments synchronous and with 3-D Secure,
webhooks, international currencies with their own exponent (R-CH-1, R-API-3, R-PAY-1)."""

from __future__ import annotations

import pytest

from paygate.models import ChannelNotification, Trade
from paygate.sdk import PaygateAPIError
from tests.support.helpers import buyer, eventually, order_no, rows
from tests.support.stack import Stack


async def state(stack: Stack, trade_no: str) -> str:
    return str((await stack.client.query_trade(trade_no=trade_no))["state"])


@pytest.mark.parametrize(("currency", "amount"), [("USD", 1999), ("JPY", 500), ("KWD", 12340)])
async def test_card_payment_succeeds_in_its_own_currency(stack: Stack, currency: str, amount: int) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("S"),
        pay_type="stripe.card",
        amount=amount,
        currency=currency,
        subject="Shoes",
        extra={"payment_method": "pm_card_visa"},
    )
    assert trade["state"] == "succeeded" and trade["paid_amount"] == amount
    assert trade["action"]["type"] == "none" and trade["channel_trade_no"].startswith("pi_")
    [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])

    async def webhook_seen() -> bool:
        found = await rows(stack, ChannelNotification, ChannelNotification.trade_id == row.id)
        return any(n.outcome == "processed" for n in found)

    await eventually(webhook_seen)  # the webhook arrives after; it changes nothing more
    assert await state(stack, trade["trade_no"]) == "succeeded"


async def test_three_d_secure_redirects_then_the_webhook_settles(stack: Stack) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("3DS"),
        pay_type="stripe.card",
        amount=5000,
        currency="USD",
        subject="TV",
        extra={"payment_method": "pm_card_authenticationRequired"},
    )
    assert trade["state"] == "pending"
    assert trade["action"]["type"] == "redirect" and trade["action"]["url"].startswith(stack.sandbox_url)
    await buyer(stack, "stripe", trade["action"]["url"])

    async def succeeded() -> bool:
        return await state(stack, trade["trade_no"]) == "succeeded"

    await eventually(succeeded)


async def test_a_declined_card_fails_the_trade(stack: Stack) -> None:
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.pay(
            out_order_no=order_no("D"),
            pay_type="stripe.card",
            amount=5000,
            currency="USD",
            subject="TV",
            extra={"payment_method": "pm_card_chargeDeclined"},
        )
    assert err.value.error == "CHANNEL_ERROR" and err.value.data["state"] == "failed"


async def test_kwd_amounts_must_fit_stripe_rules(stack: Stack) -> None:
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.pay(
            out_order_no=order_no("K"),
            pay_type="stripe.card",
            amount=12345,
            currency="KWD",
            subject="x",
            extra={"payment_method": "pm_card_visa"},
        )
    assert err.value.error == "CHANNEL_VALIDATION"
