"""Webhooks: real events from the sandbox, delivered to a receiver that verifies and parses
them with the adapter; forged, tampered and stale ones refused; the 3-D Secure return."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from paygate.channels.contract import (
    ChannelBusinessError,
    NotificationKind,
    NotificationRejected,
    PaymentStatus,
    RefundStatus,
)
from paygate.channels.stripe import StripeAdapter
from paygate.kit.crypto import Secret
from paygate.kit.money import Money
from tests.adapters.stripe.support import (
    Env,
    card_request,
    paid,
    ref_signature,
    refund_of,
    sandbox_account,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def delivered(env: Env, event_type: str) -> int:
    return sum(1 for d in env.receiver.deliveries if d.event_type == event_type)


class TestRealWebhooks:
    async def test_payment_and_refund_events(self, env: Env) -> None:
        env.sandbox.configure_webhook(env.hook_url)
        request, intent_id = await paid(env, 2000)
        await env.adapter.refund(env.account, refund_of(request, 500, intent_id, refund_no="RW1"))
        await env.receiver.wait_for(lambda ds: any(d.event_type == "refund.created" for d in ds))
        assert all(d.rejected is None for d in env.receiver.deliveries), env.receiver.deliveries
        (succeeded,) = env.receiver.of("payment_intent.succeeded")
        assert succeeded.kind is NotificationKind.PAYMENT
        assert succeeded.payment_status is PaymentStatus.SUCCEEDED
        assert succeeded.attempt_no == request.attempt_no and succeeded.channel_trade_no == intent_id
        assert succeeded.amount == Money(2000, "USD") and succeeded.notification_id.startswith("evt_")
        assert succeeded.occurred_at is not None
        assert "_secret_" not in json.dumps(succeeded.payload).replace("_secret_***", "")
        (created,) = env.receiver.of("payment_intent.created")
        assert created.kind is NotificationKind.OTHER
        (refund,) = env.receiver.of("refund.created")
        assert refund.kind is NotificationKind.REFUND and refund.refund_no == "RW1"
        assert refund.refund_status is RefundStatus.SUCCEEDED and refund.amount == Money(500, "USD")
        assert refund.attempt_no == request.attempt_no and refund.channel_trade_no == intent_id
        (charge_refunded,) = env.receiver.of("charge.refunded")
        assert charge_refunded.payment_status is PaymentStatus.REFUNDED
        assert charge_refunded.amount == Money(2000, "USD")
        # Every delivery was acknowledged with a 2xx: Stripe will not retry.
        for _ in range(100):
            outcomes = {a["outcome"] for a in env.sandbox.webhook_attempts_json()}
            if outcomes == {"delivered"}:
                break
            await asyncio.sleep(0.01)
        assert outcomes == {"delivered"}

    async def test_three_d_secure_and_failures(self, env: Env) -> None:
        env.sandbox.configure_webhook(env.hook_url)
        request = card_request("pm_card_authenticationRequired")
        result = await env.adapter.create_payment(env.account, request)
        assert result.channel_trade_no
        await env.pay(result.channel_trade_no, "fail")
        declined = card_request("pm_card_chargeDeclined")
        with pytest.raises(ChannelBusinessError):
            await env.adapter.create_payment(env.account, declined)
        await env.receiver.wait_for(
            lambda ds: sum(d.event_type == "payment_intent.payment_failed" for d in ds) >= 2
        )
        (action,) = env.receiver.of("payment_intent.requires_action")
        assert action.payment_status is PaymentStatus.PAYING and action.attempt_no == request.attempt_no
        failed = {n.attempt_no: n for n in env.receiver.of("payment_intent.payment_failed")}
        assert failed[request.attempt_no].payment_status is PaymentStatus.FAILED
        assert failed[declined.attempt_no].payment_status is PaymentStatus.FAILED

    async def test_canceled_event(self, env: Env) -> None:
        env.sandbox.configure_webhook(env.hook_url, ["payment_intent.canceled"])
        request = card_request("pm_card_authenticationRequired")
        result = await env.adapter.create_payment(env.account, request)
        await env.adapter.close_payment(env.account, request.attempt_no, result.channel_trade_no)
        await env.receiver.wait_for(lambda ds: len(ds) >= 1)
        (canceled,) = env.receiver.of("payment_intent.canceled")
        assert canceled.payment_status is PaymentStatus.CLOSED

    async def test_a_wrong_secret_is_refused_and_stripe_retries(self, env: Env) -> None:
        env.receiver.account = sandbox_account(
            env.creds,
            secrets={"secret_key": Secret(env.creds["secret_key"]), "webhook_secret": Secret("whsec_other")},
        )
        env.sandbox.configure_webhook(env.hook_url, ["payment_intent.succeeded"])
        await paid(env)
        # Refused with a 400, so Stripe tries again (a minute later: 60 ms here).
        await env.receiver.wait_for(lambda ds: len(ds) >= 2)
        assert all(d.rejected and "signature" in d.rejected for d in env.receiver.deliveries)
        first = env.sandbox.webhook_attempts_json()[0]
        assert (first["outcome"], first["status"]) == ("rejected", 400)


class TestForgeries:
    """Hand-made deliveries: the signature is computed by the test, never by the adapter."""

    @staticmethod
    def event(attempt_no: str = "P1") -> bytes:
        body = {
            "id": "evt_1",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "livemode": False,
            "data": {
                "object": {
                    "id": "pi_1",
                    "object": "payment_intent",
                    "amount": 2000,
                    "currency": "usd",
                    "status": "succeeded",
                    "metadata": {"attempt_no": attempt_no},
                    "client_secret": "pi_1_secret_abc",
                }
            },
        }
        return json.dumps(body, indent=2).encode()

    async def test_genuine(self, env: Env) -> None:
        body = self.event()
        headers = {"Stripe-Signature": ref_signature(env.creds["webhook_secret"], body)}
        note = env.adapter.parse_notification(env.account, headers, body)
        assert note.payment_status is PaymentStatus.SUCCEEDED and note.attempt_no == "P1"
        assert note.payload["data"]["object"]["client_secret"] == "***"

    async def test_forged_tampered_stale(self, env: Env) -> None:
        secret = env.creds["webhook_secret"]
        body = self.event()
        now = int(time.time())
        signed = ref_signature(secret, body)
        cases: dict[str, tuple[dict[str, str], bytes]] = {
            "no header": ({}, body),
            "other secret": ({"Stripe-Signature": ref_signature("whsec_forger", body)}, body),
            "tampered amount": ({"stripe-signature": signed}, body.replace(b"2000", b"20")),
            "tampered attempt": ({"Stripe-Signature": signed}, body.replace(b'"P1"', b'"P2"')),
            "stale": ({"Stripe-Signature": ref_signature(secret, body, now - 301)}, body),
            "future": ({"Stripe-Signature": ref_signature(secret, body, now + 301)}, body),
            "no v1": ({"Stripe-Signature": f"t={now}"}, body),
            "v0 only": ({"Stripe-Signature": signed.replace("v1=", "v0=")}, body),
            "garbage": ({"Stripe-Signature": "v1=é,t=x"}, body),
            "non-ascii v1": ({"Stripe-Signature": f"t={now},v1=é"}, body),
        }
        for name, (headers, payload) in cases.items():
            with pytest.raises(NotificationRejected):
                env.adapter.parse_notification(env.account, headers, payload)
                pytest.fail(f"{name} was accepted")

    async def test_secret_roll_and_tolerance_edge(self, env: Env) -> None:
        body = self.event()
        genuine = ref_signature(env.creds["webhook_secret"], body, int(time.time()) - 290)
        t, v1 = genuine.split(",")
        rolled = f"{t},v1={'0' * 64},{v1},v0=ignored"
        note = env.adapter.parse_notification(env.account, {"Stripe-Signature": rolled}, body)
        assert note.notification_id == "evt_1"

    async def test_clock_is_the_adapters(self, env: Env) -> None:
        body = self.event()
        header = ref_signature(env.creds["webhook_secret"], body, 1_700_000_000)
        later = StripeAdapter(env.http, clock=lambda: datetime.fromtimestamp(1_700_000_200, UTC))
        assert later.parse_notification(env.account, {"Stripe-Signature": header}, body).attempt_no == "P1"
        much_later = StripeAdapter(env.http, clock=lambda: datetime.fromtimestamp(1_700_000_400, UTC))
        with pytest.raises(NotificationRejected, match="300"):
            much_later.parse_notification(env.account, {"Stripe-Signature": header}, body)

    async def test_live_event_for_a_test_key_is_refused(self, env: Env) -> None:
        body = self.event().replace(b'"livemode": false', b'"livemode": true')
        headers = {"Stripe-Signature": ref_signature(env.creds["webhook_secret"], body)}
        with pytest.raises(NotificationRejected, match="live-mode event for a test-mode account"):
            env.adapter.parse_notification(env.account, headers, body)

    async def test_signed_but_unusable(self, env: Env) -> None:
        secret = env.creds["webhook_secret"]
        for body in (b"not json", b"[]", json.dumps({"object": "event", "id": "evt_2"}).encode()):
            with pytest.raises(NotificationRejected):
                env.adapter.parse_notification(
                    env.account, {"Stripe-Signature": ref_signature(secret, body)}, body
                )
        unknown = self.event().replace(b'"status": "succeeded"', b'"status": "teleported"')
        with pytest.raises(NotificationRejected, match="teleported"):
            env.adapter.parse_notification(
                env.account, {"Stripe-Signature": ref_signature(secret, unknown)}, unknown
            )

    async def test_replies(self, env: Env) -> None:
        ok, refused = env.adapter.notify_reply(True), env.adapter.notify_reply(False)
        assert (ok.status_code, json.loads(ok.body), ok.media_type) == (
            200,
            {"received": True},
            "application/json",
        )
        assert refused.status_code == 400 and json.loads(refused.body) == {"received": False}


class TestReturn:
    async def test_the_3ds_return_names_the_attempt_unverified(self, env: Env) -> None:
        request = card_request("pm_card_authenticationRequired")
        result = await env.adapter.create_payment(env.account, request)
        assert result.action.url
        # The payer completes the challenge on the sandbox's page, which redirects back.
        page = await env.http.get(result.action.url)
        assert page.status_code == 200
        answer = await env.http.post(
            env.root + "/3d_secure_2/authenticate",
            data={
                "payment_intent": str(result.channel_trade_no),
                "source": result.action.url.split("source=")[1],
                "outcome": "pay",
            },
        )
        assert answer.status_code == 303
        query = dict(parse_qsl(urlsplit(answer.headers["location"]).query))
        assert query["redirect_status"] == "succeeded"
        info = env.adapter.parse_return(env.account, query)
        assert info.attempt_no == request.attempt_no and info.verified is False
        assert info.channel_trade_no is None and info.amount is None
