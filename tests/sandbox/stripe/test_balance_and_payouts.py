"""Settlement data: balance transactions, the balance, payouts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import stripe

from .conftest import CARD_ONLY, SESSION, Env, Server, running_sandbox

pytestmark = SESSION


async def _pay(env: Env, amount: int, currency: str = "usd") -> stripe.PaymentIntent:
    return await env.sdk(
        env.client().v1.payment_intents.create,
        params={"amount": amount, "currency": currency, "payment_method": "pm_card_visa",
                "confirm": True, **CARD_ONLY},
    )  # fmt: skip


class TestBalanceTransactions:
    async def test_one_per_charge_and_refund(self, env: Env) -> None:
        client = env.client()
        pi = await _pay(env, 10_000)
        refund = await env.sdk(client.v1.refunds.create, params={"payment_intent": pi.id, "amount": 2500})
        listed = await env.sdk(client.v1.balance_transactions.list)
        refund_bt, charge_bt = listed.data
        assert isinstance(charge_bt, stripe.BalanceTransaction)
        assert (charge_bt.type, charge_bt.source, charge_bt.amount) == ("charge", pi.latest_charge, 10_000)
        assert charge_bt.fee == 320 and charge_bt.net == 9_680  # 2.9 % + 30 cents
        assert charge_bt.fee_details[0].type == "stripe_fee"
        assert charge_bt.available_on >= charge_bt.created
        assert (refund_bt.type, refund_bt.source, refund_bt.amount) == ("refund", refund.id, -2500)
        assert (refund_bt.fee, refund_bt.net) == (0, -2500)
        charge = await env.sdk(client.v1.charges.retrieve, pi.latest_charge)
        assert charge.balance_transaction == charge_bt.id
        only_refunds = await env.sdk(client.v1.balance_transactions.list, params={"type": "refund"})
        assert [b.id for b in only_refunds.data] == [refund_bt.id]
        fetched = await env.sdk(client.v1.balance_transactions.retrieve, charge_bt.id)
        assert fetched.net == 9_680

    async def test_expand_the_source(self, env: Env) -> None:
        pi = await _pay(env, 1000)
        listed = await env.sdk(env.client().v1.balance_transactions.list, params={"expand": ["data.source"]})
        assert listed.data[0].source.id == pi.latest_charge
        expanded = await env.sdk(
            env.client().v1.payment_intents.retrieve, pi.id,
            params={"expand": ["latest_charge.balance_transaction"]},
        )  # fmt: skip
        assert expanded.latest_charge.balance_transaction.amount == 1000
        with pytest.raises(stripe.InvalidRequestError):
            await env.sdk(env.client().v1.payment_intents.retrieve, pi.id, params={"expand": ["currency"]})

    async def test_jpy_fee_has_no_decimals(self, env: Env) -> None:
        await _pay(env, 1000, "jpy")
        bt = (await env.sdk(env.client().v1.balance_transactions.list)).data[0]
        assert (bt.currency, bt.fee, bt.net) == ("jpy", 36, 964)


class TestPayouts:
    async def test_a_payout_sweeps_the_available_balance(self, env: Env) -> None:
        client = env.client()
        first = await _pay(env, 10_000)
        await _pay(env, 5_000)
        await env.sdk(client.v1.refunds.create, params={"payment_intent": first.id, "amount": 1000})
        response = await env.http.post(env.root + "/_sandbox/payouts", json={"include_pending": True})
        assert response.status_code == 200
        (created,) = response.json()["data"]
        expected = (10_000 - 320) + (5_000 - 175) - 1000
        assert created["amount"] == expected and created["status"] == "pending"
        payout = await env.sdk(client.v1.payouts.retrieve, created["id"])
        assert isinstance(payout, stripe.Payout) and payout.amount == expected
        listed = await env.sdk(client.v1.payouts.list)
        assert [p.id for p in listed.data] == [payout.id]
        swept = await env.sdk(client.v1.balance_transactions.list, params={"payout": payout.id})
        assert sorted(b.type for b in swept.data) == ["charge", "charge", "payout", "refund"]
        assert sum(b.net for b in swept.data) == 0
        balance = await env.sdk(client.v1.balance.retrieve)
        assert balance.available[0].amount == 0
        again = await env.http.post(env.root + "/_sandbox/payouts", json={})
        assert again.json()["data"] == []

    async def test_payout_is_paid_on_arrival(self, tmp_path: Path, server: Server) -> None:
        async with running_sandbox(tmp_path, 0.00001, server) as env:  # a day is 0.86 s
            await _pay(env, 10_000)
            (payout,) = env.sandbox.create_payouts(include_pending=True)
            client = env.client()
            for _ in range(100):
                current = await env.sdk(client.v1.payouts.retrieve, payout["id"])
                if current.status == "paid":
                    break
                await asyncio.sleep(0.05)
            assert current.status == "paid"
            events = await env.sdk(client.v1.events.list, params={"type": "payout.paid"})
            assert events.data[0].data.object.id == payout["id"]
