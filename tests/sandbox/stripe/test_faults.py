"""Injected faults, through Python and the control API."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import stripe

from .conftest import CARD_ONLY, SESSION, Env, Receiver

pytestmark = SESSION

CREATE = {"amount": 2000, "currency": "usd", **CARD_ONLY}


class TestApiFaults:
    async def test_error_statuses_map_to_sdk_exceptions(self, env: Env) -> None:
        client = env.client()
        cases = [
            (500, stripe.APIError),
            (429, stripe.RateLimitError),
            (503, stripe.APIError),
        ]
        for status, exception in cases:
            env.sandbox.set_faults({"errors": {"payment_intents.create": {"status": status, "times": 1}}})
            with pytest.raises(exception) as exc:
                await env.sdk(client.v1.payment_intents.create, params=CREATE)
            assert exc.value.http_status == status
        # Faults are used up: the next call goes through, and nothing was created before.
        pi = await env.sdk(client.v1.payment_intents.create, params=CREATE)
        listed = await env.sdk(client.v1.payment_intents.list)
        assert [p.id for p in listed.data] == [pi.id]

    async def test_sdk_retries_an_injected_503_with_the_same_key(self, env: Env) -> None:
        env.sandbox.set_faults({"errors": {"*": {"preset": "service_unavailable", "times": 1}}})
        client = env.client(max_network_retries=1)
        pi = await env.sdk(client.v1.payment_intents.create, params=CREATE)
        assert pi.status == "requires_payment_method"

    async def test_should_retry_false_stops_the_sdk(self, env: Env) -> None:
        env.sandbox.set_faults(
            {"errors": {"payment_intents.create": {"status": 500, "should_retry": False, "times": 2}}}
        )
        with pytest.raises(stripe.APIError):
            await env.sdk(env.client(max_network_retries=3).v1.payment_intents.create, params=CREATE)
        assert env.sandbox.faults_json()["errors"]["payment_intents.create"]["times"] == 1

    async def test_latency(self, env: Env) -> None:
        env.sandbox.set_faults({"latency_ms": {"payment_intents.list": 300}})
        started = time.monotonic()
        await env.sdk(env.client().v1.payment_intents.list)
        assert time.monotonic() - started >= 0.3

    async def test_timeout_then_retry_finds_the_result(self, env: Env) -> None:
        # The confirm happens, but its response is held longer than the client waits.
        client = env.client()
        pi = await env.sdk(client.v1.payment_intents.create, params=CREATE)
        env.sandbox.set_faults({"holds": {"payment_intents.confirm": {"seconds": 3, "times": 1}}})
        options = {"idempotency_key": "confirm-1"}
        impatient = stripe.StripeClient(
            env.secret_key, base_addresses={"api": env.api_base},
            http_client=stripe.RequestsClient(timeout=0.3), max_network_retries=0,
        )  # fmt: skip
        with pytest.raises(stripe.APIConnectionError):
            await env.sdk(
                impatient.v1.payment_intents.confirm, pi.id,
                params={"payment_method": "pm_card_visa"}, options=options,
            )  # fmt: skip
        replay = await env.sdk(
            client.v1.payment_intents.confirm, pi.id,
            params={"payment_method": "pm_card_visa"}, options=options,
        )  # fmt: skip
        assert replay.status == "succeeded"
        assert replay.last_response.headers["Idempotent-Replayed"] == "true"
        env.sandbox.clear_faults()

    async def test_control_api(self, env: Env) -> None:
        spec = {"errors": {"refunds.create": "rate_limit"}, "notifications": {"drop_next": 2}}
        response = await env.http.post(env.root + "/_sandbox/faults", json=spec)
        assert response.status_code == 200
        state = response.json()
        assert state["errors"]["refunds.create"]["status"] == 429
        assert state["notifications"]["drop_next"] == 2
        bad = await env.http.post(env.root + "/_sandbox/faults", json={"errors": {"nope": 500}})
        assert bad.status_code == 400 and bad.json()["error"] == "bad_faults"
        cleared = await env.http.delete(env.root + "/_sandbox/faults")
        assert cleared.json()["errors"] == {} and cleared.json()["notifications"]["drop_next"] == 0


class TestWebhookFaults:
    async def _events(self, env: Env, n: int) -> None:
        for _ in range(n):
            await env.sdk(env.client().v1.payment_intents.create, params=CREATE)

    async def test_drop_loses_attempts_that_are_then_retried(self, env: Env, receiver: Receiver) -> None:
        env.sandbox.configure_webhook(receiver.url)
        env.sandbox.set_faults({"notifications": {"drop_next": 1}})
        await self._events(env, 1)
        await receiver.wait_for(lambda r: len(r) == 1)  # the retry, 60 ms later
        for _ in range(50):
            outcomes = [a.outcome for a in env.sandbox.webhook_attempts]
            if outcomes[-1] != "sending":
                break
            await asyncio.sleep(0.01)
        assert outcomes == ["dropped", "delivered"]

    async def test_duplicate(self, env: Env, receiver: Receiver) -> None:
        env.sandbox.configure_webhook(receiver.url)
        env.sandbox.set_faults({"notifications": {"duplicate": True}})
        await self._events(env, 1)
        await receiver.wait_for(lambda r: len(r) == 2)
        first, second = (json.loads(r.body)["id"] for r in receiver.received)
        assert first == second

    async def test_reorder(self, env: Env, receiver: Receiver) -> None:
        env.sandbox.configure_webhook(receiver.url)
        env.sandbox.set_faults({"notifications": {"reorder_window": 3}})  # the 3 events below
        await env.sdk(
            env.client().v1.payment_intents.create,
            params={**CREATE, "payment_method": "pm_card_visa", "confirm": True},
        )
        await receiver.wait_for(lambda r: len(r) == 3)
        assert receiver.event_types() == [
            "payment_intent.succeeded", "charge.succeeded", "payment_intent.created"
        ]  # fmt: skip

    async def test_held_until_cleared(self, env: Env) -> None:
        env.sandbox.set_faults({"timeouts": {"payment_intents.list": True}})
        task = asyncio.create_task(env.raw("GET", "/v1/payment_intents"))
        await asyncio.sleep(0.2)
        assert not task.done()
        env.sandbox.clear_faults()
        assert (await asyncio.wait_for(task, 5)).status_code == 200
