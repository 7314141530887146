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


async def _pay_as(env: Env, attempt_no: str, amount: int) -> stripe.PaymentIntent:
    """A payment named as paygate names it (the ``bills`` faults' reference)."""
    return await env.sdk(
        env.client().v1.payment_intents.create,
        params={"amount": amount, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
                "metadata": {"attempt_no": attempt_no}, **CARD_ONLY},
    )  # fmt: skip


async def _set_bill_faults(env: Env, bills: dict[str, object]) -> None:
    """Over the control API, as for every sandbox (docs/sandbox/README.md, Faults)."""
    response = await env.http.post(env.root + "/_sandbox/faults", json={"bills": bills})
    assert response.status_code == 200, response.text


class TestBillFaults:
    """The ``bills`` faults in the balance transactions and payouts served (R-REC-2..4):
    what Stripe's own data would show, consistent wherever it is shown."""

    async def test_drop_duplicate_and_deltas_in_the_listing(self, env: Env) -> None:
        client = env.client()
        twice = await _pay_as(env, "A-TWICE", 10_000)
        more = await _pay_as(env, "A-MORE", 1000)
        gone = await _pay_as(env, "A-GONE", 2000)
        refund = await env.sdk(
            client.v1.refunds.create,
            params={"payment_intent": twice.id, "amount": 2500, "metadata": {"refund_no": "R-MORE"}},
        )
        booked = (await env.sdk(client.v1.charges.retrieve, twice.latest_charge)).balance_transaction
        await _set_bill_faults(
            env,
            {"duplicate": ["A-TWICE"], "amount_delta": {"A-MORE": 5, "R-MORE": 7},
             "fee_delta": {"A-MORE": 2}, "drop": ["A-GONE"]},
        )  # fmt: skip

        listed = await env.sdk(
            client.v1.balance_transactions.list, params={"limit": 100, "expand": ["data.source"]}
        )

        by_source: dict[str, list[stripe.BalanceTransaction]] = {}
        for bt in listed.data:
            by_source.setdefault(bt.source.id, []).append(bt)
        assert gone.latest_charge not in by_source  # drop
        first, second = by_source[twice.latest_charge]  # duplicate: a second booking, its own id
        assert second.id == booked and first.id != booked and len(first.id) == len(booked)
        assert [(b.amount, b.fee, b.net, b.created) for b in (first, second)] == [
            (10_000, 320, 9_680, first.created)
        ] * 2
        [shifted] = by_source[more.latest_charge]  # 1000 + 5, fee 59 + 2
        assert (shifted.amount, shifted.fee, shifted.net) == (1005, 61, 944)
        assert [d.amount for d in shifted.fee_details] == [61]
        assert (shifted.source.amount, shifted.source.amount_captured) == (1005, 1005)
        [refunded] = by_source[refund.id]  # a refund's own amount grows: 2500 + 7
        assert (refunded.amount, refunded.net, refunded.source.amount) == (-2507, -2507, 2507)
        # the twin is an object of its own: retrieved, and a cursor for the next page
        twin = await env.sdk(client.v1.balance_transactions.retrieve, second.id)
        assert (twin.source, twin.amount) == (twice.latest_charge, 10_000)
        paged, after = [], None
        while True:
            params: dict[str, object] = {"limit": 1, **({"starting_after": after} if after else {})}
            page = await env.sdk(client.v1.balance_transactions.list, params=params)
            paged += [b.id for b in page.data]
            if not page.has_more:
                break
            after = page.data[-1].id
        assert paged == [b.id for b in listed.data]
        # what happened is untouched: the charge, the balance, a dropped movement unknown
        charge = await env.sdk(client.v1.charges.retrieve, more.latest_charge)
        assert charge.amount == 1000
        balance = await env.sdk(client.v1.balance.retrieve)
        assert balance.pending[0].amount == (10_000 - 320) + (1000 - 59) + (2000 - 88)
        assert balance.available[0].amount == -2500  # a refund's money leaves at once
        dropped = (await env.sdk(client.v1.charges.retrieve, gone.latest_charge)).balance_transaction
        with pytest.raises(stripe.InvalidRequestError):  # as served, it was never booked
            await env.sdk(client.v1.balance_transactions.retrieve, dropped)
        env.sandbox.clear_faults()
        assert len((await env.sdk(client.v1.balance_transactions.list)).data) == 4

    async def test_late_is_booked_just_after_the_next_utc_midnight(self, env: Env) -> None:
        await _pay_as(env, "A-LATE", 1000)
        booked = (await env.sdk(env.client().v1.balance_transactions.list)).data[0]
        midnight = (booked.created // 86_400 + 1) * 86_400
        env.sandbox.set_faults(bills={"late": ["A-LATE"]})

        client = env.client()
        [late] = (await env.sdk(client.v1.balance_transactions.list)).data
        assert late.id == booked.id and late.created == midnight + 30
        assert late.available_on - late.created == booked.available_on - booked.created
        that_day = {"created": {"gte": midnight - 86_400, "lt": midnight}}
        assert (await env.sdk(client.v1.balance_transactions.list, params=that_day)).data == []
        next_day = {"created": {"gte": midnight, "lt": midnight + 86_400}}
        assert [b.id for b in (await env.sdk(client.v1.balance_transactions.list, params=next_day)).data] == [
            booked.id
        ]

    async def test_a_payout_pays_what_its_movements_net_as_served(self, env: Env) -> None:
        client = env.client()
        twice = await _pay_as(env, "P-TWICE", 10_000)
        await _pay_as(env, "P-MORE", 5_000)
        await _pay_as(env, "P-GONE", 2_000)
        await env.sdk(client.v1.refunds.create, params={"payment_intent": twice.id, "amount": 1000})
        env.sandbox.set_faults(
            bills={"duplicate": ["P-TWICE"], "amount_delta": {"P-MORE": 10}, "fee_delta": {"P-MORE": 3},
                   "drop": ["P-GONE"]}
        )  # fmt: skip

        [created] = env.sandbox.create_payouts("usd", include_pending=True)

        served = 2 * (10_000 - 320) + (5_010 - 175 - 3) - 1000  # twice, shifted, less the refund; no P-GONE
        assert created["amount"] == served
        payout = await env.sdk(client.v1.payouts.retrieve, created["id"])
        assert payout.amount == served
        assert [p.amount for p in (await env.sdk(client.v1.payouts.list)).data] == [served]
        swept = await env.sdk(client.v1.balance_transactions.list, params={"payout": payout.id})
        assert sorted(b.type for b in swept.data) == ["charge", "charge", "charge", "payout", "refund"]
        assert sum(b.net for b in swept.data) == 0  # Stripe's invariant holds as served
        events = await env.sdk(client.v1.events.list, params={"type": "payout.created"})
        assert events.data[0].data.object.amount == served
        env.sandbox.clear_faults()  # what really moved: every movement once, as booked
        assert (await env.sdk(client.v1.payouts.retrieve, payout.id)).amount == (
            (10_000 - 320) + (5_000 - 175) + (2_000 - 88) - 1000
        )
        assert (await env.sdk(client.v1.balance.retrieve)).available[0].amount == 0

    async def test_truncate_cuts_the_listing_short_and_other_damage_is_refused(self, env: Env) -> None:
        pi = await _pay_as(env, "A-CUT", 1000)
        await _set_bill_faults(env, {"damage": "truncate"})
        client = env.client()
        with pytest.raises(stripe.APIError, match="Invalid response body"):
            await env.sdk(client.v1.balance_transactions.list)
        raw = await env.raw("GET", "/v1/balance_transactions")
        assert (
            raw.status_code == 200
            and raw.content.startswith(b"{")
            and not raw.content.rstrip().endswith(b"}")
        )
        charge = await env.sdk(client.v1.charges.retrieve, pi.latest_charge)  # only the bill is cut
        assert (
            await env.sdk(client.v1.balance_transactions.retrieve, charge.balance_transaction)
        ).amount == 1000
        for damage in ("garble", "encoding"):  # a JSON answer has no file to garble or re-encode
            refused = await env.http.post(env.root + "/_sandbox/faults", json={"bills": {"damage": damage}})
            assert refused.status_code == 400 and refused.json()["error"] == "bad_faults"
            assert (
                "means nothing for this channel's bills; it takes truncate, null" in refused.json()["message"]
            )
        assert env.sandbox.faults_json()["bills"]["damage"] == "truncate"
