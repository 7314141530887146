"""Idempotent requests, authentication, headers and unknown URLs."""

from __future__ import annotations

import asyncio

import pytest
import stripe

from .conftest import CARD_ONLY, SESSION, Env

pytestmark = SESSION

CREATE = {"amount": 2000, "currency": "usd", **CARD_ONLY}


class TestIdempotency:
    async def test_same_key_same_params_replays(self, env: Env) -> None:
        client = env.client()
        options = {"idempotency_key": "order-1"}
        first = await env.sdk(client.v1.payment_intents.create, params=CREATE, options=options)
        second = await env.sdk(client.v1.payment_intents.create, params=CREATE, options=options)
        assert second.id == first.id
        assert second.last_response.headers["Idempotent-Replayed"] == "true"
        assert second.last_response.headers["Original-Request"] == first.last_response.request_id
        listed = await env.sdk(client.v1.payment_intents.list)
        assert len(listed.data) == 1

    async def test_raw_replay_is_byte_identical(self, env: Env) -> None:
        body = {"amount": "2000", "currency": "usd", "payment_method_types[0]": "card"}
        headers = {"Idempotency-Key": "k-raw"}
        one = await env.raw("POST", "/v1/payment_intents", data=body, headers=dict(headers))
        two = await env.raw("POST", "/v1/payment_intents", data=body, headers=dict(headers))
        assert one.status_code == two.status_code == 200 and one.content == two.content
        assert "Idempotent-Replayed" not in one.headers
        assert two.headers["Idempotency-Key"] == "k-raw"

    async def test_declines_are_replayed_too(self, env: Env) -> None:
        client = env.client()
        params = {**CREATE, "payment_method": "pm_card_chargeDeclined", "confirm": True}
        errors = []
        for _ in range(2):
            with pytest.raises(stripe.CardError) as exc:
                await env.sdk(
                    client.v1.payment_intents.create, params=params, options={"idempotency_key": "d"}
                )
            errors.append(exc.value)
        assert errors[0].json_body == errors[1].json_body
        assert errors[1].headers["Idempotent-Replayed"] == "true"

    async def test_same_key_other_params_is_an_idempotency_error(self, env: Env) -> None:
        client = env.client()
        options = {"idempotency_key": "order-2"}
        await env.sdk(client.v1.payment_intents.create, params=CREATE, options=options)
        with pytest.raises(stripe.IdempotencyError) as exc:
            await env.sdk(
                client.v1.payment_intents.create, params={**CREATE, "amount": 2001}, options=options
            )
        assert exc.value.http_status == 400
        assert exc.value.json_body["error"]["type"] == "idempotency_error"

    async def test_same_key_on_another_endpoint(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(
            client.v1.payment_intents.create,
            params={**CREATE, "payment_method": "pm_card_visa", "confirm": True},
            options={"idempotency_key": "shared"},
        )
        with pytest.raises(stripe.IdempotencyError):
            await env.sdk(
                client.v1.refunds.create,
                params={"payment_intent": pi.id},
                options={"idempotency_key": "shared"},
            )

    async def test_keys_are_scoped_to_the_api_key(self, env: Env) -> None:
        other = env.client(env.sandbox.issue_secret_key())
        options = {"idempotency_key": "scoped"}
        one = await env.sdk(env.client().v1.payment_intents.create, params=CREATE, options=options)
        two = await env.sdk(other.v1.payment_intents.create, params=CREATE, options=options)
        assert one.id != two.id

    async def test_validation_errors_are_not_saved(self, env: Env) -> None:
        client = env.client()
        options = {"idempotency_key": "fix-me"}
        with pytest.raises(stripe.InvalidRequestError):
            await env.sdk(client.v1.payment_intents.create, params={"currency": "usd"}, options=options)
        pi = await env.sdk(client.v1.payment_intents.create, params=CREATE, options=options)
        assert pi.status == "requires_payment_method"

    async def test_concurrent_retry_gets_409_while_the_first_runs(self, env: Env) -> None:
        hold = {"seconds": 0.5, "times": 1, "apply": False}  # held before it runs
        env.sandbox.set_faults({"holds": {"payment_intents.create": hold}})
        body = {"amount": "2000", "currency": "usd", "payment_method_types[0]": "card"}
        first = asyncio.create_task(
            env.raw("POST", "/v1/payment_intents", data=body, headers={"Idempotency-Key": "busy"})
        )
        await asyncio.sleep(0.1)
        second = await env.raw("POST", "/v1/payment_intents", data=body, headers={"Idempotency-Key": "busy"})
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "idempotency_key_in_use"
        assert (await first).status_code == 200

    async def test_sdk_retry_after_a_lost_response_gets_the_original(self, env: Env) -> None:
        # The create took effect but its response was lost (a 500 answered instead):
        # the SDK retries with the same Idempotency-Key and receives the saved result.
        env.sandbox.set_faults(
            {"errors": {"payment_intents.create": {"status": 500, "times": 1, "apply": True}}}
        )
        client = env.client(max_network_retries=2)
        pi = await env.sdk(client.v1.payment_intents.create, params=CREATE)
        assert pi.last_response.headers["Idempotent-Replayed"] == "true"
        listed = await env.sdk(client.v1.payment_intents.list)
        assert [p.id for p in listed.data] == [pi.id]


class TestAuthentication:
    async def test_wrong_key(self, env: Env) -> None:
        with pytest.raises(stripe.AuthenticationError) as exc:
            await env.sdk(env.client("sk_test_wrong1234").v1.payment_intents.list)
        assert exc.value.http_status == 401
        assert exc.value.user_message == "Invalid API Key provided: sk_test_*****1234"

    async def test_missing_key(self, env: Env) -> None:
        response = await env.raw("GET", "/v1/payment_intents", key="")
        assert response.status_code == 401
        assert "You did not provide an API key" in response.json()["error"]["message"]

    async def test_basic_auth_like_curl_u(self, env: Env) -> None:
        response = await env.http.get(env.api_base + "/v1/payment_intents", auth=(env.secret_key, ""))
        assert response.status_code == 200 and response.json()["object"] == "list"

    async def test_publishable_key(self, env: Env) -> None:
        with pytest.raises(stripe.AuthenticationError):
            await env.sdk(env.client(env.publishable_key).v1.payment_intents.list)
        pi = await env.sdk(env.client().v1.payment_intents.create, params=CREATE)
        public = env.client(env.publishable_key)
        fetched = await env.sdk(
            public.v1.payment_intents.retrieve, pi.id, params={"client_secret": pi.client_secret}
        )
        assert fetched.id == pi.id
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(public.v1.payment_intents.retrieve, pi.id, params={"client_secret": "nope"})
        assert exc.value.param == "client_secret"

    async def test_headers_and_unknown_urls(self, env: Env) -> None:
        response = await env.raw("GET", "/v1/payment_intents", headers={"Stripe-Version": "2024-06-20"})
        assert response.headers["Request-Id"].startswith("req_")
        assert response.headers["Stripe-Version"] == "2024-06-20"
        missing = await env.raw("GET", "/v1/customers")
        assert missing.status_code == 404
        assert missing.json()["error"]["message"].startswith("Unrecognized request URL (GET: /v1/customers)")
        wrong_method = await env.raw("DELETE", "/v1/payment_intents/pi_x")
        assert wrong_method.status_code == 404

    async def test_global_configuration_style_with_restored_globals(
        self, env: Env, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(stripe, "api_key", env.secret_key)
        monkeypatch.setattr(stripe, "api_base", env.api_base)
        monkeypatch.setattr(stripe, "max_network_retries", 0)
        pi = await env.sdk(
            stripe.PaymentIntent.create, amount=1000, currency="usd",
            payment_method="pm_card_visa", confirm=True, payment_method_types=["card"],
        )  # fmt: skip
        assert pi.status == "succeeded"
        retrieved = await env.sdk(stripe.PaymentIntent.retrieve, pi.id)
        assert retrieved.amount_received == 1000

    async def test_connected_accounts_are_not_reachable(self, env: Env) -> None:
        client = env.client(stripe_account="acct_1Other")
        with pytest.raises(stripe.PermissionError) as exc:
            await env.sdk(client.v1.payment_intents.list)
        assert exc.value.http_status == 403
