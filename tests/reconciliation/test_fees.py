"""Fees checked against the account's terms for every channel (issue 9, R-REC-2, R-REC-4):
a rate of the amount, rounded half up, plus a fixed fee per payment in the currency the terms
are stated in. Stripe's sandbox charges 2.9 % + 30¢ on USD cards; the demo Stripe account
says so (``fee_rate_bp=290``, ``fee_fixed=30``, ``fee_currency="USD"``)."""

from __future__ import annotations

import pytest

from paygate.accounts.channel_accounts import AccountSettings
from paygate.domain.reconciliation import RunState
from paygate.kit.errors import RequestError
from paygate.models import BillLineRow, Discrepancy, Settlement
from tests.reconciliation.support import bill_day, reconcile, trade_row
from tests.refunds.support import paid_trade
from tests.support.helpers import eventually, order_no, rows
from tests.support.stack import Stack

pytestmark = pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def stripe_usd_fee(amount: int) -> int:
    """2.9 % half up + 30¢: the sandbox's price of a USD card payment."""
    return (amount * 290 + 5000) // 10000 + 30


async def _refunded(stack: Stack, trade_no: str, amount: int) -> str:
    refund = await stack.client.refund(trade_no=trade_no, out_refund_no=order_no("RF"), amount=amount)

    async def done() -> str | None:
        view = await stack.client.query_refund(refund_no=refund["refund_no"], sync=True)
        return str(view["refund_no"]) if view["state"] == "succeeded" else None

    result: str = await eventually(done)
    return result


async def _attempt_no(stack: Stack, trade_no: str) -> str:
    attempt = (await trade_row(stack, trade_no)).paid_attempt_no
    assert attempt
    return attempt


async def test_a_shifted_stripe_fee_is_one_fee_mismatch_and_refunds_are_not_checked(stack: Stack) -> None:
    """R-REC-2: one payment's fee shifted by the bill (``fee_delta``) is exactly one open
    ``fee_mismatch``: Stripe's fee against 2.9 % + 30¢ of the amount. The other payments'
    fees (one of them a half-cent rounded up) are right; a refund's fee (shifted from 0) is
    not checked; the settlement figures keep the fee Stripe states (R-REC-4)."""
    shifted = await paid_trade(stack, "stripe", 2500)  # 72.5 → 73, + 30
    plain = await paid_trade(stack, "stripe", 1999)  # 57.971 → 58, + 30
    refund_no = await _refunded(stack, plain["trade_no"], 500)
    stack.sandbox("stripe").set_faults(
        bills={"fee_delta": {await _attempt_no(stack, shifted["trade_no"]): 2, refund_no: 1}}
    )

    outcome = await reconcile(stack, "stripe", bill_day(shifted, "stripe"))

    assert outcome.state is RunState.DONE
    lines = await rows(stack, BillLineRow, BillLineRow.run_id == outcome.run_id)
    assert all(line.status == "matched" for line in lines), [(x.kind, x.status) for x in lines]
    fees = {(line.kind.value, line.amount): line.fee for line in lines}
    assert fees == {
        ("payment", 2500): stripe_usd_fee(2500) + 2,
        ("payment", 1999): stripe_usd_fee(1999),
        ("refund", 500): 1,
    }
    [found] = await rows(stack, Discrepancy, Discrepancy.run_id == outcome.run_id)
    [shifted_line] = [line for line in lines if line.amount == 2500]
    assert (found.kind, found.state) == ("fee_mismatch", "open")
    assert (found.channel, found.line_id, found.trade_id, found.currency) == (
        "stripe",
        shifted_line.id,
        shifted_line.trade_id,
        "USD",
    )
    assert (found.channel_amount, found.paygate_amount) == (103 + 2, 103)
    assert found.detail == "fee 105, the account's terms (290 bp + 30 USD) make 103"
    [settlement] = await rows(stack, Settlement, Settlement.run_id == outcome.run_id)
    assert settlement.bill_fees == stripe_usd_fee(2500) + 2 + stripe_usd_fee(1999) - 1


async def test_a_clean_stripe_day_has_no_fee_mismatch(stack: Stack) -> None:
    """R-REC-2: the demo account's terms are the sandbox's USD pricing, so an ordinary day —
    amounts rounding down, up and exactly, a partial refund — reconciles with nothing open."""
    first = await paid_trade(stack, "stripe", 2500)
    for amount in (1000, 1999, 50):
        await paid_trade(stack, "stripe", amount)
    await _refunded(stack, first["trade_no"], 700)

    outcome = await reconcile(stack, "stripe", bill_day(first, "stripe"))

    assert outcome.state is RunState.DONE
    lines = await rows(stack, BillLineRow, BillLineRow.run_id == outcome.run_id)
    assert sorted((x.amount, x.fee) for x in lines if x.kind == "payment") == [
        (amount, stripe_usd_fee(amount)) for amount in (50, 1000, 1999, 2500)
    ]
    assert all(line.status == "matched" for line in lines)
    assert await rows(stack, Discrepancy, Discrepancy.run_id == outcome.run_id) == []


async def test_lines_in_another_currency_than_the_terms_are_not_checked(stack: Stack) -> None:
    """The terms are stated in the account's settlement currency (USD): a EUR payment's fee
    (the sandbox: 2.9 % + 25 cents) cannot be checked against them and raises nothing, while a
    USD payment's shifted fee still does."""
    eur = await stack.client.pay(
        out_order_no=order_no("EUR"),
        pay_type="stripe.card",
        amount=2000,
        currency="EUR",
        subject="S",
        extra={"payment_method": "pm_card_visa"},
    )
    assert eur["state"] == "succeeded", eur
    usd = await paid_trade(stack, "stripe", 1000)
    stack.sandbox("stripe").set_faults(bills={"fee_delta": {await _attempt_no(stack, usd["trade_no"]): -1}})

    outcome = await reconcile(stack, "stripe", bill_day(usd, "stripe"))

    lines = await rows(stack, BillLineRow, BillLineRow.run_id == outcome.run_id)
    assert sorted((x.currency, x.amount, x.fee, x.status) for x in lines) == [
        ("EUR", 2000, 58 + 25, "matched"),
        ("USD", 1000, stripe_usd_fee(1000) - 1, "matched"),
    ]
    [found] = await rows(stack, Discrepancy, Discrepancy.run_id == outcome.run_id)
    assert (found.kind, found.currency, found.channel_amount, found.paygate_amount) == (
        "fee_mismatch",
        "USD",
        58,
        59,
    )


async def test_fee_terms_are_refused_when_they_cannot_be_checked(stack: Stack) -> None:
    """A fixed fee needs the currency it is counted in; negative terms and unknown currencies
    are refused when the account is added, nothing stored."""
    secrets = {"secret_key": "sk_test_x", "webhook_secret": "whsec_x"}
    for settings, says in (
        (AccountSettings(fee_rate_bp=290, fee_fixed=30), "a fixed fee needs its currency"),
        (AccountSettings(fee_fixed=30, fee_currency="XYZ"), "unknown fee currency 'XYZ'"),
        (AccountSettings(fee_rate_bp=-1), "below zero"),
    ):
        with pytest.raises(RequestError, match=says):
            await stack.container.accounts.add(
                "stripe", "bad-fees", "acct_bad", "http://127.0.0.1:1/stripe", secrets, settings
            )
    account_id = await stack.container.accounts.add(
        "stripe",
        "eur-fees",
        "acct_eur",
        "http://127.0.0.1:1/stripe",
        secrets,
        AccountSettings(fee_rate_bp=290, fee_fixed=25, fee_currency="EUR"),
    )
    account = await stack.container.accounts.get(account_id)
    assert account is not None
    assert (account.fee_rate_bp, account.fee_fixed, account.fee_currency) == (290, 25, "EUR")
    described = [a for a in await stack.container.accounts.describe_all() if a["id"] == account_id]
    assert [(a["fee_fixed"], a["fee_currency"]) for a in described] == [(25, "EUR")]
    assert [a["name"] for a in await stack.container.accounts.describe_all()].count("bad-fees") == 0
