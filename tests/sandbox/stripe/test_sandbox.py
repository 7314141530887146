"""The sandbox as paygate hosts it: credentials, the ChannelSandbox protocol, control API."""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import stripe

from paygate.sandbox.base import ChannelSandbox, SandboxConfig
from paygate.sandbox.stripe import StripeSandbox
from paygate.sandbox.stripe.keys import load_or_create

from .conftest import CARD_ONLY, SESSION, Env


class TestCredentials:
    def test_shape_and_persistence(self, tmp_path: Path) -> None:
        config = SandboxConfig("http://127.0.0.1:8090", tmp_path)
        first: ChannelSandbox = StripeSandbox(config)  # the protocol, checked by mypy
        assert first.name == "stripe" and callable(first.app)
        creds = first.credentials()
        assert set(creds) == {"api_base", "secret_key", "publishable_key", "webhook_secret"}
        assert creds["api_base"] == "http://127.0.0.1:8090/stripe"
        assert creds["secret_key"].startswith("sk_test_")
        assert creds["publishable_key"].startswith("pk_test_")
        assert creds["webhook_secret"].startswith("whsec_")
        assert StripeSandbox(config).credentials() == creds
        path = tmp_path / "stripe.json"
        assert json.loads(path.read_text())["secret_key"] == creds["secret_key"]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    def test_racing_creators_agree(self, tmp_path: Path) -> None:
        with ThreadPoolExecutor(8) as pool:
            keys = list(pool.map(lambda _: load_or_create(tmp_path), range(16)))
        assert len({k.secret_key.reveal() for k in keys}) == 1
        assert [p.name for p in tmp_path.iterdir()] == ["stripe.json"]

    def test_nothing_happens_before_use(self, tmp_path: Path) -> None:
        StripeSandbox(SandboxConfig("http://127.0.0.1:8090", tmp_path / "later"))
        assert not (tmp_path / "later").exists()

    def test_secrets_do_not_show_in_reprs(self, tmp_path: Path) -> None:
        sandbox = StripeSandbox(SandboxConfig("http://127.0.0.1:8090", tmp_path))
        keys = load_or_create(tmp_path)
        assert sandbox.credentials()["secret_key"] not in repr(keys)


@SESSION
class TestControlApi:
    async def test_pay_an_open_intent_as_the_customer(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(
            client.v1.payment_intents.create, params={"amount": 2000, "currency": "usd", **CARD_ONLY}
        )
        paid = await env.http.post(env.root + "/_sandbox/pay", json={"trade": pi.id})
        assert paid.status_code == 200 and paid.json()["status"] == "succeeded"
        seen = await env.http.get(env.root + f"/_sandbox/payment_intents/{pi.id}")
        assert seen.json()["amount_received"] == 2000
        again = await env.http.post(env.root + "/_sandbox/pay", json={"trade": pi.id})
        assert again.status_code == 409 and again.json()["error"] == "not_applicable"

    async def test_fail_and_cancel(self, env: Env) -> None:
        client = env.client()
        pi = await env.sdk(
            client.v1.payment_intents.create, params={"amount": 2000, "currency": "usd", **CARD_ONLY}
        )
        failed = await env.http.post(env.root + "/_sandbox/pay", json={"trade": pi.id, "outcome": "fail"})
        assert failed.json()["last_payment_error"]["decline_code"] == "generic_decline"
        canceled = await env.http.post(env.root + "/_sandbox/pay", json={"trade": pi.id, "outcome": "cancel"})
        assert canceled.json()["status"] == "canceled"
        assert canceled.json()["cancellation_reason"] == "abandoned"
        events = await env.sdk(client.v1.events.list)
        assert [e.type for e in events.data][:2] == [
            "payment_intent.canceled", "payment_intent.payment_failed"
        ]  # fmt: skip

    async def test_errors(self, env: Env) -> None:
        unknown = await env.http.post(env.root + "/_sandbox/pay", json={"trade": "pi_nope"})
        assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_payment_intent"
        bad = await env.http.post(env.root + "/_sandbox/pay", json={"outcome": "pay"})
        assert bad.status_code == 400
        not_json = await env.http.post(env.root + "/_sandbox/pay", content=b"{")
        assert not_json.status_code == 400

    async def test_webhooks_over_http(self, env: Env) -> None:
        created = await env.http.post(
            env.root + "/_sandbox/webhooks", json={"url": "http://127.0.0.1:9/hook"}
        )
        assert created.json()["secret"] == env.webhook_secret
        listed = await env.sdk(env.client().v1.webhook_endpoints.list)
        assert listed.data[0].url == "http://127.0.0.1:9/hook"
        attempts = await env.http.get(env.root + "/_sandbox/webhooks")
        assert attempts.json() == {"attempts": []}

    async def test_sdk_objects_come_from_the_object_field(self, env: Env) -> None:
        pi = await env.sdk(
            env.client().v1.payment_intents.create,
            params={"amount": 2000, "currency": "usd", "payment_method": "pm_card_visa",
                    "confirm": True, **CARD_ONLY},
        )  # fmt: skip
        charge = await env.sdk(env.client().v1.charges.retrieve, pi.latest_charge)
        method = await env.sdk(env.client().v1.payment_methods.retrieve, pi.payment_method)
        assert isinstance(charge, stripe.Charge) and isinstance(method, stripe.PaymentMethod)
        assert method.card.last4 == "4242"
