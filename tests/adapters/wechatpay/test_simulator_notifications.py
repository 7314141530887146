"""Notifications the sandbox really sends, delivered over HTTP to a receiver that parses
them with its own adapter: genuine ones are mapped; forged, tampered, replayed and other
merchants' ones are refused (R-NTF-1, R-SEC-3)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from paygate.channels.contract import (
    ChannelAccount,
    NotificationKind,
    NotificationRejected,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
)
from paygate.channels.wechatpay import WechatPayAdapter
from paygate.kit.money import Money
from tests.adapters.wechatpay.simulator_env import Env, Received, new_no, pay_request, running_sandbox
from tests.adapters.wechatpay.support import Keys, signed_headers

pytestmark = pytest.mark.asyncio(loop_scope="module")
WECHATPAY_HEADERS = ("wechatpay-signature", "wechatpay-timestamp", "wechatpay-nonce", "wechatpay-serial")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(sandbox_keys: Path) -> AsyncIterator[Env]:
    async with running_sandbox(sandbox_keys) as e:
        yield e


@pytest.fixture(autouse=True)
def no_faults(env: Env) -> Iterator[None]:
    yield
    env.sandbox.clear_faults()


async def paid_notification(env: Env, account: ChannelAccount, amount: int = 888) -> tuple[str, Received]:
    request = pay_request("native", amount)
    await env.adapter.create_payment(account, request)
    assert (await env.control_pay(request.attempt_no)).status_code == 200
    received = await env.receiver.wait_for(
        lambda r: r.note is not None and r.note.attempt_no == request.attempt_no
    )
    return request.attempt_no, received


def delivery(env: Env, out_trade_no: str, event_type: str = "TRANSACTION.SUCCESS") -> dict[str, Any]:
    found = [d.to_json() for d in env.sandbox.notifications]
    return next(d for d in found if d["out_trade_no"] == out_trade_no and d["event_type"] == event_type)


async def recorded(env: Env, out_trade_no: str, attempts: int) -> list[dict[str, Any]]:
    """The sandbox's record of the first ``attempts`` attempts, once it has their answers."""
    for _ in range(200):
        done = [a for a in delivery(env, out_trade_no)["attempts"] if a["status"] is not None]
        if len(done) >= attempts:
            return done
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {attempts} answered attempts for {out_trade_no}")


class TestGenuine:
    async def test_payment_in_public_key_mode(self, env: Env) -> None:
        account = env.accounts["public_key"]
        attempt_no, received = await paid_notification(env, account)
        note = received.note
        assert note is not None and note.kind is NotificationKind.PAYMENT
        assert note.payment_status is PaymentStatus.SUCCEEDED and note.channel_status == "SUCCESS"
        assert note.amount == Money(888, "CNY")
        query = await env.adapter.query_payment(account, attempt_no)
        assert note.channel_trade_no == query.channel_trade_no and note.occurred_at == query.paid_at
        event = json.loads(received.body)
        assert note.notification_id == event["id"] and event["event_type"] == "TRANSACTION.SUCCESS"
        assert "ciphertext" not in json.dumps(note.payload) and env.creds["apiv3_key"] not in str(
            note.payload
        )
        assert [a["status"] for a in await recorded(env, attempt_no, 1)] == [204]

    async def test_certificate_mode_learns_the_serial_and_accepts_the_retry(self, env: Env) -> None:
        """A receiver that never fetched the certificates refuses the first attempt, fetches
        them in the background, and accepts WeChat's retry."""
        previous, env.receiver.adapter = env.receiver.adapter, WechatPayAdapter(env.http)
        start = len(env.receiver.received)
        try:
            attempt_no, received = await paid_notification(env, env.accounts["certificate"])
            assert received.note is not None and received.note.payment_status is PaymentStatus.SUCCEEDED
            first = next(r for r in env.receiver.received[start:] if r.account_id == 2)
            assert first.rejected is not None and "unknown platform serial" in first.rejected
            assert [a["status"] for a in await recorded(env, attempt_no, 2)] == [400, 204]
        finally:
            await env.receiver.adapter.aclose()
            env.receiver.adapter = previous

    async def test_refund(self, env: Env) -> None:
        account = env.accounts["public_key"]
        attempt_no, _ = await paid_notification(env, account)
        refund = RefundRequest(
            refund_no="RF" + new_no(),
            attempt_no=attempt_no,
            channel_trade_no=None,
            amount=Money(300, "CNY"),
            total=Money(888, "CNY"),
        )
        await env.adapter.refund(account, refund)
        received = await env.receiver.wait_for(
            lambda r: r.note is not None and r.note.refund_no == refund.refund_no
        )
        note = received.note
        assert note is not None and note.kind is NotificationKind.REFUND
        assert note.refund_status is RefundStatus.SUCCEEDED and note.channel_status == "SUCCESS"
        assert note.attempt_no == attempt_no and note.amount == Money(300, "CNY")

    async def test_a_repeat_has_the_same_id(self, env: Env) -> None:
        env.sandbox.faults.duplicate_notifications(True)
        attempt_no, first = await paid_notification(env, env.accounts["public_key"])
        again = await env.receiver.wait_for(
            lambda r: r is not first and r.note is not None and r.note.attempt_no == attempt_no
        )
        assert again.note is not None and first.note is not None
        assert again.note.notification_id == first.note.notification_id  # the inbox deduplicates


class TestRefused:
    @pytest_asyncio.fixture(loop_scope="module")
    async def genuine(self, env: Env) -> Received:
        return (await paid_notification(env, env.accounts["public_key"]))[1]

    def parse(
        self, env: Env, headers: dict[str, str], body: bytes, adapter: WechatPayAdapter | None = None
    ) -> str:
        with pytest.raises(NotificationRejected) as caught:
            (adapter or env.adapter).parse_notification(env.accounts["public_key"], headers, body)
        return caught.value.reason

    async def test_tampered_body(self, env: Env, genuine: Received) -> None:
        body = genuine.body.replace("支付成功".encode(), "支付失败".encode())
        assert body != genuine.body
        assert "signature" in self.parse(env, genuine.headers, body)

    async def test_tampered_ciphertext_resigned_by_a_forger(
        self, env: Env, genuine: Received, keys: Keys
    ) -> None:
        event = json.loads(genuine.body)
        event["resource"]["ciphertext"] = "A" + event["resource"]["ciphertext"][1:]
        body = json.dumps(event).encode()
        headers = signed_headers(keys.other, env.creds["platform_public_key_id"], body)
        assert "signature" in self.parse(env, headers, body)

    async def test_forged_with_an_unknown_serial(self, env: Env, genuine: Received, keys: Keys) -> None:
        headers = signed_headers(keys.other, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", genuine.body)
        assert "unknown platform serial" in self.parse(env, headers, genuine.body)

    @pytest.mark.parametrize("missing", WECHATPAY_HEADERS)
    async def test_missing_header(self, env: Env, genuine: Received, missing: str) -> None:
        headers = {k: v for k, v in genuine.headers.items() if k != missing}
        assert "unsigned" in self.parse(env, headers, genuine.body)

    async def test_replayed_later(self, env: Env, genuine: Received) -> None:
        later = WechatPayAdapter(env.http, clock=lambda: datetime.now(UTC) + timedelta(minutes=6))
        assert "5 minutes" in self.parse(env, genuine.headers, genuine.body, later)
        soon = WechatPayAdapter(env.http, clock=lambda: datetime.now(UTC) + timedelta(minutes=4))
        assert soon.parse_notification(env.accounts["public_key"], genuine.headers, genuine.body)

    async def test_another_merchant_with_the_same_apiv3_key(self, env: Env) -> None:
        """It decrypts, but the resource names another mchid: refused."""
        creds = env.sandbox.register_merchant(apiv3_key=env.creds["apiv3_key"])
        other = env.add_account(creds, public_key_mode=True, account_id=3)
        other = replace(other, notify_url=env.notify_url(1))  # delivered to the demo account
        await env.adapter.create_payment(other, request := pay_request("native"))
        await env.control_pay(request.attempt_no)
        received = await env.receiver.wait_for(
            lambda r: r.account_id == 1 and r.rejected is not None and "mchid" in r.rejected
        )
        assert creds["mchid"] in (received.rejected or "")

    async def test_another_merchant_with_its_own_apiv3_key(self, env: Env) -> None:
        creds = env.sandbox.register_merchant()
        other = replace(
            env.add_account(creds, public_key_mode=True, account_id=4), notify_url=env.notify_url(1)
        )
        await env.adapter.create_payment(other, request := pay_request("native"))
        await env.control_pay(request.attempt_no)
        received = await env.receiver.wait_for(
            lambda r: r.account_id == 1 and r.rejected is not None and "decrypt" in r.rejected
        )
        assert received.note is None
        assert (await recorded(env, request.attempt_no, 1))[0]["status"] == 400


class TestReplies:
    async def test_notify_reply(self, env: Env) -> None:
        ok, fail = env.adapter.notify_reply(True), env.adapter.notify_reply(False)
        assert (ok.status_code, ok.body) == (204, b"")
        assert fail.status_code == 400 and fail.media_type == "application/json"
        assert json.loads(fail.body)["code"] == "FAIL"

    async def test_return_is_never_verified(self, env: Env, account: ChannelAccount) -> None:
        info = env.adapter.parse_return(account, {"out_trade_no": "PG1", "trade_state": "SUCCESS"})
        assert info.attempt_no == "PG1" and info.verified is False and info.amount is None
        assert env.adapter.parse_return(account, {}).attempt_no == ""
