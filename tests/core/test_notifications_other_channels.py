"""Issue 3: for WeChat Pay and Stripe too, forged and tampered notifications change nothing,
duplicated and reordered ones converge to one success (R-SEC-3, R-NTF-1/2)."""

from __future__ import annotations

import json
import time

import httpx

from paygate.kit.crypto import hmac_sha256_hex
from paygate.models import ChannelNotification, Trade, TradeLog
from tests.support.helpers import buyer, eventually, order_no, rows
from tests.support.stack import Stack


async def trade_row(stack: Stack, trade_no: str) -> Trade:
    [row] = await rows(stack, Trade, Trade.trade_no == trade_no)
    return row


async def post(stack: Stack, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{stack.public_url}{path}", content=body, headers=headers)


async def test_forged_wechat_notifications_are_refused(stack: Stack) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("WF"), pay_type="wechat.native", amount=300, subject="x"
    )
    row = await trade_row(stack, trade["trade_no"])
    body = json.dumps(
        {
            "id": "EV-forged",
            "create_time": "2026-11-22T10:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": "AAAA",
                "associated_data": "transaction",
                "nonce": "abcdefghijkl",
            },
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": str(int(time.time())),
        "Wechatpay-Nonce": "N" * 32,
        "Wechatpay-Serial": "PUB_KEY_ID_0000",
        "Wechatpay-Signature": "Zm9yZ2Vk",
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    reply = await post(stack, f"/notify/wechatpay/{row.channel_account_id}", body, headers)
    assert reply.status_code >= 400
    no_headers = await post(
        stack, f"/notify/wechatpay/{row.channel_account_id}", body, {"Content-Type": "application/json"}
    )
    assert no_headers.status_code >= 400
    assert (await trade_row(stack, trade["trade_no"])).state == "pending"
    rejected = await rows(
        stack,
        ChannelNotification,
        ChannelNotification.channel == "wechatpay",
        ChannelNotification.outcome == "rejected",
    )
    assert len(rejected) == 2


async def test_forged_and_stale_stripe_webhooks_are_refused(stack: Stack) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("SF"),
        pay_type="stripe.card",
        amount=5000,
        currency="USD",
        subject="x",
        extra={"payment_method": "pm_card_authenticationRequired"},
    )
    row = await trade_row(stack, trade["trade_no"])
    event = {
        "id": "evt_forged",
        "object": "event",
        "type": "payment_intent.succeeded",
        "livemode": False,
        "data": {
            "object": {
                "id": row.channel_trade_no,
                "object": "payment_intent",
                "status": "succeeded",
                "amount": 5000,
                "amount_received": 5000,
                "currency": "usd",
                "metadata": {"attempt_no": row.attempt_no, "trade_no": row.trade_no},
            }
        },
    }
    payload = json.dumps(event).encode()
    now = int(time.time())
    wrong_secret = hmac_sha256_hex(b"whsec_wrong", f"{now}.".encode() + payload)
    secret = stack.sandbox("stripe").credentials()["webhook_secret"]
    stale = now - 3600
    stale_sig = hmac_sha256_hex(secret.encode(), f"{stale}.".encode() + payload)
    good_sig = hmac_sha256_hex(secret.encode(), f"{now}.".encode() + payload)
    path = f"/notify/stripe/{row.channel_account_id}"
    for header in (f"t={now},v1={wrong_secret}", f"t={stale},v1={stale_sig}", ""):
        reply = await post(
            stack, path, payload, {"Content-Type": "application/json", "Stripe-Signature": header}
        )
        assert reply.status_code == 400, header
    tampered = payload.replace(b'"amount": 5000', b'"amount": 1')
    reply = await post(
        stack,
        path,
        tampered,
        {"Content-Type": "application/json", "Stripe-Signature": f"t={now},v1={good_sig}"},
    )
    assert reply.status_code == 400
    assert (await trade_row(stack, trade["trade_no"])).state == "pending"


async def test_duplicated_and_reordered_notifications_converge(stack: Stack) -> None:
    wechat = stack.sandbox("wechatpay")
    wechat.faults.duplicate_notifications(True)
    # Stripe's events come in pairs here (created + requires_action, then charge + intent
    # succeeded): each pair is sent newest first.
    stack.sandbox("stripe").set_faults({"notifications": {"duplicate": True, "reorder_window": 2}})
    w = await stack.client.pay(out_order_no=order_no("WD"), pay_type="wechat.native", amount=300, subject="x")
    s = await stack.client.pay(
        out_order_no=order_no("SD"),
        pay_type="stripe.card",
        amount=700,
        currency="USD",
        subject="x",
        extra={"payment_method": "pm_card_authenticationRequired"},
    )
    await buyer(stack, "wechatpay", w["action"]["qr_code"])
    await buyer(stack, "stripe", s["action"]["url"])
    for trade in (w, s):
        row = await trade_row(stack, trade["trade_no"])

        async def settled(row: Trade = row) -> bool:
            notes = await rows(stack, ChannelNotification, ChannelNotification.trade_id == row.id)
            return (await trade_row(stack, row.trade_no)).state == "succeeded" and bool(notes)

        await eventually(settled, within=20)
        logs = await rows(
            stack,
            TradeLog,
            TradeLog.trade_id == row.id,
            TradeLog.to_state == "succeeded",
            TradeLog.from_state != "succeeded",
        )
        assert len(logs) == 1


async def test_verified_events_about_nothing_paygate_owns_are_acknowledged(stack: Stack) -> None:
    """A signed Stripe event of a type paygate does not handle is kept as ignored and answered
    200, so Stripe does not re-send it for three days; nothing else changes."""
    accounts = await stack.client.pay(
        out_order_no=order_no("SO"),
        pay_type="stripe.card",
        amount=100,
        currency="USD",
        subject="x",
        extra={"payment_method": "pm_card_visa"},
    )
    row = await trade_row(stack, accounts["trade_no"])
    payload = json.dumps(
        {
            "id": "evt_other_1",
            "object": "event",
            "type": "customer.created",
            "livemode": False,
            "created": int(time.time()),
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        }
    )
    now = int(time.time())
    secret = stack.sandbox("stripe").credentials()["webhook_secret"]
    signature = hmac_sha256_hex(secret.encode(), f"{now}.{payload}".encode())
    reply = await post(
        stack,
        f"/notify/stripe/{row.channel_account_id}",
        payload.encode(),
        {"Content-Type": "application/json", "Stripe-Signature": f"t={now},v1={signature}"},
    )
    assert reply.status_code == 200
    [note] = await rows(stack, ChannelNotification, ChannelNotification.notification_id == "evt_other_1")
    assert note.outcome == "ignored" and note.trade_id is None


async def test_a_validly_signed_stripe_success_is_confirmed_with_stripe_before_crediting(
    stack: Stack,
) -> None:
    """Stripe's webhook secret is a shared HMAC key: a correctly signed payment_intent.succeeded
    for an intent Stripe still reports requires_action credits nothing (issue 8, R-SEC-3)."""
    trade = await stack.client.pay(
        out_order_no=order_no("SC"),
        pay_type="stripe.card",
        amount=5000,
        currency="USD",
        subject="x",
        extra={"payment_method": "pm_card_authenticationRequired"},
    )
    row = await trade_row(stack, trade["trade_no"])
    assert row.state == "pending"
    event = {
        "id": "evt_claimed_success",
        "object": "event",
        "type": "payment_intent.succeeded",
        "livemode": False,
        "created": int(time.time()),
        "data": {
            "object": {
                "id": row.channel_trade_no,
                "object": "payment_intent",
                "status": "succeeded",
                "amount": 5000,
                "amount_received": 5000,
                "currency": "usd",
                "metadata": {"attempt_no": row.attempt_no, "trade_no": row.trade_no},
            }
        },
    }
    payload = json.dumps(event).encode()
    now = int(time.time())
    secret = stack.sandbox("stripe").credentials()["webhook_secret"]
    signature = hmac_sha256_hex(secret.encode(), f"{now}.".encode() + payload)
    reply = await post(
        stack,
        f"/notify/stripe/{row.channel_account_id}",
        payload,
        {"Content-Type": "application/json", "Stripe-Signature": f"t={now},v1={signature}"},
    )
    assert reply.status_code == 200  # verified and handled: Stripe need not send it again
    assert (await trade_row(stack, trade["trade_no"])).state == "pending"  # Stripe says requires_action
    [note] = await rows(
        stack, ChannelNotification, ChannelNotification.notification_id == "evt_claimed_success"
    )
    assert note.outcome == "processed"
