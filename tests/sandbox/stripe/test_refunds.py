"""Refunds through the stripe SDK."""

from __future__ import annotations

import asyncio

import pytest
import stripe

from .conftest import CARD_ONLY, SESSION, Env

pytestmark = SESSION


async def _paid(env: Env, token: str = "pm_card_visa", amount: int = 2000) -> stripe.PaymentIntent:
    return await env.sdk(
        env.client().v1.payment_intents.create,
        params={"amount": amount, "currency": "usd", "payment_method": token, "confirm": True,
                **CARD_ONLY},
    )  # fmt: skip


async def _refund_status(env: Env, refund_id: str, wanted: str) -> stripe.Refund:
    client = env.client()
    for _ in range(100):
        refund = await env.sdk(client.v1.refunds.retrieve, refund_id)
        if refund.status == wanted:
            return refund
        await asyncio.sleep(0.01)
    raise AssertionError(f"refund stayed {refund.status}")


class TestRefunds:
    async def test_partial_refunds_up_to_the_captured_amount(self, env: Env) -> None:
        client = env.client()
        pi = await _paid(env)
        first = await env.sdk(
            client.v1.refunds.create,
            params={"payment_intent": pi.id, "amount": 500, "reason": "requested_by_customer",
                    "metadata": {"refund_no": "r1"}},
        )  # fmt: skip
        assert isinstance(first, stripe.Refund) and first.id.startswith("re_")
        assert (first.status, first.amount, first.charge) == ("succeeded", 500, pi.latest_charge)
        assert first.payment_intent == pi.id and first.metadata["refund_no"] == "r1"
        with pytest.raises(stripe.InvalidRequestError) as too_much:
            await env.sdk(client.v1.refunds.create, params={"payment_intent": pi.id, "amount": 1501})
        assert too_much.value.code == "amount_too_large" and too_much.value.param == "amount"
        assert "($15.01) is greater than unrefunded amount on charge ($15.00)" in str(
            too_much.value.user_message
        )
        rest = await env.sdk(client.v1.refunds.create, params={"payment_intent": pi.id})
        assert rest.amount == 1500
        with pytest.raises(stripe.InvalidRequestError) as again:
            await env.sdk(client.v1.refunds.create, params={"payment_intent": pi.id, "amount": 1})
        assert again.value.code == "charge_already_refunded"
        charge = await env.sdk(client.v1.charges.retrieve, pi.latest_charge)
        assert charge.refunded and charge.amount_refunded == 2000
        fetched = await env.sdk(client.v1.refunds.retrieve, first.id)
        assert fetched.to_dict() == first.to_dict()
        listed = await env.sdk(client.v1.refunds.list, params={"payment_intent": pi.id})
        assert [r.id for r in listed.data] == [rest.id, first.id]

    async def test_refund_by_charge_and_unknown_refund(self, env: Env) -> None:
        client = env.client()
        pi = await _paid(env)
        refund = await env.sdk(client.v1.refunds.create, params={"charge": pi.latest_charge})
        assert refund.amount == 2000
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(client.v1.refunds.retrieve, "re_missing")
        assert exc.value.http_status == 404 and exc.value.code == "resource_missing"

    async def test_unpaid_intent_cannot_be_refunded(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(
            client.v1.payment_intents.create, params={"amount": 2000, "currency": "usd", **CARD_ONLY}
        )
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(client.v1.refunds.create, params={"payment_intent": pi.id})
        assert exc.value.code == "payment_intent_unexpected_state"

    async def test_bad_reason(self, env: Env) -> None:
        pi = await _paid(env)
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(env.client().v1.refunds.create, params={"payment_intent": pi.id, "reason": "oops"})
        assert exc.value.param == "reason"

    async def test_pending_refund_succeeds_later(self, env: Env) -> None:
        pi = await _paid(env, "pm_card_pendingRefund")
        refund = await env.sdk(env.client().v1.refunds.create, params={"payment_intent": pi.id})
        assert refund.status == "pending"
        await _refund_status(env, refund.id, "succeeded")
        events = await env.sdk(env.client().v1.events.list, params={"type": "refund.updated"})
        assert events.data[0].data.object.id == refund.id
        assert events.data[0].data.previous_attributes.status == "pending"

    async def test_failing_refund_returns_the_money(self, env: Env) -> None:
        client = env.client()
        pi = await _paid(env, "pm_card_refundFail")
        refund = await env.sdk(client.v1.refunds.create, params={"payment_intent": pi.id})
        assert refund.status == "succeeded"
        failed = await _refund_status(env, refund.id, "failed")
        assert failed.failure_reason == "expired_or_canceled_card"
        charge = await env.sdk(client.v1.charges.retrieve, pi.latest_charge)
        assert charge.amount_refunded == 0 and not charge.refunded
        bts = await env.sdk(client.v1.balance_transactions.list, params={"type": "refund_failure"})
        assert bts.data[0].amount == 2000 and bts.data[0].source == refund.id


class TestRefundFaults:
    async def test_a_slow_refund_finishes_by_webhook(self, env: Env) -> None:
        env.sandbox.configure_webhook(env.receiver.url, ["charge.refund.updated", "refund.updated"])
        pi = await _paid(env)
        env.sandbox.faults.refund_outcome("succeeded", delay=30, times=1)  # 30 ms
        refund = await env.sdk(env.client().v1.refunds.create, params={"payment_intent": pi.id})
        assert refund.status == "pending"
        await _refund_status(env, refund.id, "succeeded")
        await env.receiver.wait_for(lambda r: len(r) == 2)
        assert sorted(env.receiver.event_types()) == ["charge.refund.updated", "refund.updated"]

    async def test_a_failing_refund_by_fault(self, env: Env) -> None:
        pi = await _paid(env)
        env.sandbox.set_faults({"refunds": {"outcome": "failed", "delay_seconds": 10}})
        refund = await env.sdk(
            env.client().v1.refunds.create, params={"payment_intent": pi.id, "amount": 700}
        )
        failed = await _refund_status(env, refund.id, "failed")
        assert failed.failure_balance_transaction
        charge = await env.sdk(env.client().v1.charges.retrieve, pi.latest_charge)
        assert charge.amount_refunded == 0

    async def test_a_manual_refund_is_settled_through_the_control_api(self, env: Env) -> None:
        pi = await _paid(env)
        env.sandbox.faults.refund_outcome("MANUAL")
        refund = await env.sdk(env.client().v1.refunds.create, params={"payment_intent": pi.id})
        await asyncio.sleep(0.1)
        shown = await env.http.get(env.root + f"/_sandbox/refunds/{refund.id}")
        assert shown.json()["status"] == "pending"
        done = await env.http.post(env.root + f"/_sandbox/refunds/{refund.id}", json={"outcome": "succeeded"})
        assert done.status_code == 200 and done.json()["status"] == "succeeded"
        again = await env.http.post(env.root + f"/_sandbox/refunds/{refund.id}", json={"outcome": "failed"})
        assert again.status_code == 409

    async def test_manual_capture_is_not_simulated(self, env: Env) -> None:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(
                env.client().v1.payment_intents.create,
                params={"amount": 2000, "currency": "usd", "capture_method": "manual", **CARD_ONLY},
            )
        assert exc.value.param == "capture_method" and "not simulated" in str(exc.value.user_message)
