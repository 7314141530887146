"""Events (``/v1/events``) and signed webhook delivery to a real receiver."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import stripe

from paygate.sandbox.stripe.notifications import RETRY_SCHEDULE_SECONDS

from .conftest import CARD_ONLY, SESSION, Env, Receiver, Server, eventually, running_sandbox

pytestmark = SESSION


async def _pay(env: Env, token: str = "pm_card_visa") -> stripe.PaymentIntent:
    return await env.sdk(
        env.client().v1.payment_intents.create,
        params={"amount": 2000, "currency": "usd", "payment_method": token, "confirm": True,
                **CARD_ONLY},
        options={"idempotency_key": f"k-{time.monotonic_ns()}"},
    )  # fmt: skip


class TestEvents:
    async def test_every_change_is_an_event(self, env: Env) -> None:
        pi = await _pay(env)
        client = env.client()
        events = await env.sdk(client.v1.events.list)
        types = [e.type for e in events.data]
        assert types == ["payment_intent.succeeded", "charge.succeeded", "payment_intent.created"]
        newest = events.data[0]
        assert isinstance(newest, stripe.Event) and newest.id.startswith("evt_")
        assert newest.data.object.id == pi.id and newest.data.object.status == "succeeded"
        assert newest.request.id == pi.last_response.request_id
        assert newest.request.idempotency_key.startswith("k-")
        assert newest.livemode is False and newest.api_version
        created = events.data[2]
        assert created.data.object.status == "requires_confirmation"  # a snapshot
        fetched = await env.sdk(client.v1.events.retrieve, newest.id)
        assert fetched.to_dict() == newest.to_dict()

    async def test_pagination_and_type_filter(self, env: Env) -> None:
        for _ in range(4):
            await _pay(env)
        client = env.client()
        page = await env.sdk(client.v1.events.list, params={"limit": 5})
        assert len(page.data) == 5 and page.has_more
        nxt = await env.sdk(client.v1.events.list, params={"limit": 5, "starting_after": page.data[-1].id})
        every = [e.id for e in page.data] + [e.id for e in nxt.data]
        assert len(set(every)) == len(every)
        walked = await env.sdk(
            lambda: [e.id for e in client.v1.events.list(params={"limit": 3}).auto_paging_iter()]
        )
        assert len(walked) == 12 and len(set(walked)) == 12
        succeeded = await env.sdk(client.v1.events.list, params={"type": "payment_intent.succeeded"})
        assert len(succeeded.data) == 4
        charges = await env.sdk(client.v1.events.list, params={"type": "charge.*"})
        assert {e.type for e in charges.data} == {"charge.succeeded"}
        before = await env.sdk(client.v1.events.list, params={"limit": 2, "ending_before": walked[5]})
        assert [e.id for e in before.data] == walked[3:5]

    async def test_bad_limit(self, env: Env) -> None:
        with pytest.raises(stripe.InvalidRequestError) as exc:
            await env.sdk(env.client().v1.events.list, params={"limit": 101})
        assert exc.value.param == "limit"


class TestWebhooks:
    async def test_signed_events_verify_with_the_sdk(self, env: Env, receiver: Receiver) -> None:
        endpoint = env.sandbox.configure_webhook(receiver.url)
        assert endpoint["secret"] == env.webhook_secret
        pi = await _pay(env)
        await receiver.wait_for(lambda r: len(r) >= 3)
        assert receiver.event_types() == [
            "payment_intent.created", "charge.succeeded", "payment_intent.succeeded"
        ]  # fmt: skip
        delivery = receiver.received[-1]
        header = delivery.headers["stripe-signature"]
        assert header.startswith("t=") and ",v1=" in header
        event = stripe.Webhook.construct_event(delivery.body, header, env.webhook_secret)
        assert event.type == "payment_intent.succeeded" and event.data.object.id == pi.id
        tampered = delivery.body.replace(b'"amount": 2000', b'"amount": 1')
        assert tampered != delivery.body
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(tampered, header, env.webhook_secret)
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(delivery.body, header, "whsec_other")

    async def test_sdk_signature_helper_agrees(self, env: Env, receiver: Receiver) -> None:
        env.sandbox.configure_webhook(receiver.url, ["payment_intent.created"])
        await env.sdk(
            env.client().v1.payment_intents.create,
            params={"amount": 2000, "currency": "usd", **CARD_ONLY},
        )
        await receiver.wait_for(lambda r: len(r) == 1)
        got = receiver.received[0]
        timestamp = int(got.headers["stripe-signature"].split(",")[0][2:])
        expected = stripe.WebhookSignature._compute_signature(
            f"{timestamp}.{got.body.decode()}", env.webhook_secret
        )
        assert got.headers["stripe-signature"] == f"t={timestamp},v1={expected}"

    async def test_endpoints_created_through_the_api_have_their_own_secret(
        self, env: Env, receiver: Receiver
    ) -> None:
        client = env.client()
        endpoint = await env.sdk(
            client.v1.webhook_endpoints.create,
            params={"url": receiver.url, "enabled_events": ["charge.succeeded"]},
        )
        assert endpoint.secret.startswith("whsec_") and endpoint.secret != env.webhook_secret
        await _pay(env)
        await receiver.wait_for(lambda r: len(r) == 1)
        got = receiver.received[0]
        event = stripe.Webhook.construct_event(got.body, got.headers["stripe-signature"], endpoint.secret)
        assert event.type == "charge.succeeded"
        listed = await env.sdk(client.v1.webhook_endpoints.list)
        assert [e.id for e in listed.data] == [endpoint.id] and "secret" not in listed.data[0]
        disabled = await env.sdk(client.v1.webhook_endpoints.update, endpoint.id, params={"disabled": True})
        assert disabled.status == "disabled"
        deleted = await env.sdk(client.v1.webhook_endpoints.delete, endpoint.id)
        assert deleted.deleted is True
        with pytest.raises(stripe.InvalidRequestError) as bad:
            await env.sdk(
                client.v1.webhook_endpoints.create,
                params={"url": receiver.url, "enabled_events": ["not an event"]},
            )
        assert bad.value.param == "enabled_events[0]"

    async def test_retries_with_backoff_stop_at_2xx(self, tmp_path: Path, server: Server) -> None:
        async with running_sandbox(tmp_path, 0.0005, server) as env:
            receiver = env.receiver
            receiver.statuses = [500, 503, 404]
            env.sandbox.configure_webhook(receiver.url, ["payment_intent.created"])
            await env.sdk(
                env.client().v1.payment_intents.create,
                params={"amount": 2000, "currency": "usd", **CARD_ONLY},
            )
            await receiver.wait_for(lambda r: len(r) == 4)
            await asyncio.sleep(0.3)  # later retries would have arrived by now
            attempts = env.sandbox.webhook_attempts
            assert [a.outcome for a in attempts] == ["rejected"] * 3 + ["delivered"]
            assert [a.scheduled_delay for a in attempts] == [0, *RETRY_SCHEDULE_SECONDS[:3]]
            assert len(receiver.received) == 4
            ids = {json.loads(r.body)["id"] for r in receiver.received}
            assert len(ids) == 1
            event = (await env.sdk(env.client().v1.events.list)).data[0]
            assert event.pending_webhooks == 0

    async def test_unreachable_endpoint_is_retried(self, tmp_path: Path, server: Server) -> None:
        async with running_sandbox(tmp_path, 0.0005, server) as env:
            env.sandbox.configure_webhook("http://127.0.0.1:9/hook", ["payment_intent.created"])
            await env.sdk(
                env.client().v1.payment_intents.create,
                params={"amount": 2000, "currency": "usd", **CARD_ONLY},
            )
            for _ in range(100):
                done = [a for a in env.sandbox.webhook_attempts if a.outcome != "sending"]
                if len(done) >= 3:
                    break
                await asyncio.sleep(0.02)
            assert [a.outcome for a in env.sandbox.webhook_attempts[:3]] == ["error"] * 3

    async def test_retry_schedule_spans_about_three_days(self) -> None:
        total = sum(RETRY_SCHEDULE_SECONDS)
        assert 2.5 * 86400 < total <= 3 * 86400
        assert list(RETRY_SCHEDULE_SECONDS) == sorted(RETRY_SCHEDULE_SECONDS)

    async def test_nothing_is_sent_while_stopped_and_all_after_a_restart(
        self, env: Env, receiver: Receiver
    ) -> None:
        env.sandbox.configure_webhook(receiver.url, ["payment_intent.created"])
        await env.sdk(
            env.client().v1.payment_intents.create,
            params={"amount": 2000, "currency": "usd", **CARD_ONLY},
        )
        await receiver.wait_for(lambda r: len(r) == 1)
        await eventually(lambda: env.sandbox.webhook_attempts[-1].outcome != "sending")
        await env.sandbox.stop()
        await env.sdk(
            env.client().v1.payment_intents.create,
            params={"amount": 3000, "currency": "usd", **CARD_ONLY},
        )
        await asyncio.sleep(0.1)
        assert len(receiver.received) == 1
        await env.sandbox.start()
        await receiver.wait_for(lambda r: len(r) == 2)
        assert json.loads(receiver.received[1].body)["data"]["object"]["amount"] == 3000
