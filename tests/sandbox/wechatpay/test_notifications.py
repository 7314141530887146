"""Notifications: envelope and encryption, signature headers, WeChat's retry schedule
(scaled), acknowledgement by 200/204, and the notification faults."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from pathlib import Path

from paygate.sandbox.harness import Attempt
from paygate.sandbox.wechatpay import RETRY_SCHEDULE_SECONDS

from .conftest import Env, Receiver, Stage, running_sandbox
from .wxclient import WECHATPAY_HEADERS, decrypt, load_public, verify_headers

SCHEDULE = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600]


async def _order(env: Env, receiver: Receiver, out_trade_no: str) -> None:
    response = await env.client().pay(out_trade_no=out_trade_no, notify_url=receiver.url)
    assert response.status_code == 200


def _attempts(env: Env, out_trade_no: str) -> list[Attempt]:
    [delivery] = [d for d in env.sandbox.notifications if d.tags["out_trade_no"] == out_trade_no]
    return delivery.attempts


async def _settle(env: Env, seconds: float = 0.1) -> None:
    for _ in range(200):
        if env.sandbox.notifications_idle():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(seconds)


def test_the_schedule_is_wechats() -> None:
    assert list(RETRY_SCHEDULE_SECONDS) == SCHEDULE


async def test_payment_notification_envelope(env: Env, receiver: Receiver) -> None:
    await _order(env, receiver, "ENV-000001")
    env.sandbox.pay("ENV-000001")
    [call] = await receiver.wait_for(1)
    assert call.headers["content-type"] == "application/json"
    assert all(h.lower() in call.headers for h in WECHATPAY_HEADERS)
    assert verify_headers(
        {k.title(): v for k, v in call.headers.items()}, call.body,
        load_public(env.creds["platform_public_key"]),
    )  # fmt: skip
    envelope = json.loads(call.body)
    assert set(envelope) == {"id", "create_time", "resource_type", "event_type", "summary", "resource"}
    assert envelope["resource_type"] == "encrypt-resource" and envelope["summary"] == "支付成功"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", envelope["create_time"])
    resource = envelope["resource"]
    assert resource["algorithm"] == "AEAD_AES_256_GCM" and len(resource["nonce"]) == 12
    assert resource["associated_data"] == resource["original_type"] == "transaction"
    plain = json.loads(decrypt(env.creds["apiv3_key"], resource))
    assert plain["trade_state"] == "SUCCESS" and plain["out_trade_no"] == "ENV-000001"
    assert {"mchid", "appid", "transaction_id", "trade_type", "bank_type", "success_time", "payer"} <= set(
        plain
    )


async def test_retries_stop_at_200(env: Env, receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 404]
    await _order(env, receiver, "RETRY-0001")
    env.sandbox.pay("RETRY-0001")
    calls = await receiver.wait_for(4)
    await _settle(env)
    assert len(receiver.calls) == 4
    assert len({json.loads(c.body)["id"] for c in calls}) == 1
    assert len({c.body for c in calls}) == 1  # the same body, re-signed each time
    assert len({c.headers["wechatpay-nonce"] for c in calls}) == 4
    attempts = _attempts(env, "RETRY-0001")
    assert [a.scheduled_delay for a in attempts] == [0, 15, 15, 30]
    assert [a.outcome for a in attempts] == ["failed"] * 3 + ["success"]
    assert [a.status for a in attempts] == [500, 503, 404, 200]
    # Each wait is at least the scheduled delay times time_scale (0.001).
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert all(gap >= d * 0.001 * 0.9 for gap, d in zip(gaps, [15, 15, 30], strict=True))


async def test_204_acknowledges(env: Env, receiver: Receiver) -> None:
    receiver.default = 204
    await _order(env, receiver, "ACK204-001")
    env.sandbox.pay("ACK204-001")
    await receiver.wait_for(1)
    await _settle(env)
    assert len(receiver.calls) == 1


async def test_the_whole_schedule_then_give_up(stage: Stage, key_dir: Path) -> None:
    async with running_sandbox(stage, key_dir, time_scale=0.00002) as env:
        receiver = env.receiver
        receiver.default = 500
        await _order(env, receiver, "GIVEUP-001")
        env.sandbox.pay("GIVEUP-001")
        await receiver.wait_for(16, within=20)
        await _settle(env, 0.2)
        attempts = _attempts(env, "GIVEUP-001")
        assert [a.scheduled_delay for a in attempts] == [0, *SCHEDULE]
        [delivery] = env.sandbox.notifications
        assert delivery.gave_up and not delivery.succeeded
        assert len(receiver.calls) == 16
        gaps = [b.at - a.at for a, b in zip(receiver.calls, receiver.calls[1:], strict=False)]
        assert all(gap >= d * 0.00002 * 0.9 for gap, d in zip(gaps, SCHEDULE, strict=True))


async def test_unreachable_receiver_is_retried(env: Env) -> None:
    response = await env.client().pay(out_trade_no="DOWN-00001", notify_url="http://127.0.0.1:9/x")
    assert response.status_code == 200
    env.sandbox.pay("DOWN-00001")
    for _ in range(100):
        if len(_attempts(env, "DOWN-00001")) >= 3:
            break
        await asyncio.sleep(0.01)
    assert [a.outcome for a in _attempts(env, "DOWN-00001")[:3]] == ["error"] * 3


async def test_drop_fault_loses_attempts_which_are_then_retried(env: Env, receiver: Receiver) -> None:
    await env.http.post(env.base_url + "/_sandbox/faults", json={"notifications": {"drop_next": 2}})
    await _order(env, receiver, "DROP-00001")
    env.sandbox.pay("DROP-00001")
    await receiver.wait_for(1)
    await _settle(env)
    assert len(receiver.calls) == 1
    assert [a.outcome for a in _attempts(env, "DROP-00001")] == ["dropped", "dropped", "success"]


async def test_duplicate_fault_delivers_twice(env: Env, receiver: Receiver) -> None:
    env.sandbox.faults.duplicate_notifications()
    await _order(env, receiver, "DUP-000001")
    env.sandbox.pay("DUP-000001")
    calls = await receiver.wait_for(2)
    assert json.loads(calls[0].body)["id"] == json.loads(calls[1].body)["id"]
    await _settle(env)
    assert [a.duplicate for a in _attempts(env, "DUP-000001")] == [False, True]


async def test_reorder_fault_sends_newest_first(env: Env, receiver: Receiver) -> None:
    env.sandbox.set_faults(notifications={"reorder_window": 3})
    for otn in ("FIRST-0001", "SECOND-001", "THIRD-0001"):
        await _order(env, receiver, otn)
        env.sandbox.pay(otn)
        await asyncio.sleep(0.02)
    calls = await receiver.wait_for(3)
    key = env.creds["apiv3_key"]
    order = [json.loads(decrypt(key, json.loads(c.body)["resource"]))["out_trade_no"] for c in calls]
    assert order == ["THIRD-0001", "SECOND-001", "FIRST-0001"]
    # Held notifications are released in their own order when the faults are cleared.
    await _order(env, receiver, "HELD-00001")
    await _order(env, receiver, "HELD-00002")
    env.sandbox.pay("HELD-00001")
    env.sandbox.pay("HELD-00002")
    await asyncio.sleep(0.05)
    assert len(receiver.calls) == 3
    env.sandbox.clear_faults()
    calls = await receiver.wait_for(5)
    order = [json.loads(decrypt(key, json.loads(c.body)["resource"]))["out_trade_no"] for c in calls[3:]]
    assert order == ["HELD-00001", "HELD-00002"]


async def test_notifications_wait_for_start(stage: Stage, key_dir: Path) -> None:
    async with running_sandbox(stage, key_dir, start=False) as env:
        receiver = env.receiver
        await _order(env, receiver, "LATE-00001")
        env.sandbox.pay("LATE-00001")
        await asyncio.sleep(0.05)
        assert receiver.calls == []
        await env.sandbox.start()
        await receiver.wait_for(1)


async def test_control_api_lists_attempts(env: Env, receiver: Receiver) -> None:
    await _order(env, receiver, "LIST-00001")
    env.sandbox.pay("LIST-00001")
    await receiver.wait_for(1)
    await _settle(env)
    listed = (await env.http.get(env.base_url + "/_sandbox/notifications?out_trade_no=LIST-00001")).json()
    [delivery] = listed
    assert delivery["event_type"] == "TRANSACTION.SUCCESS" and delivery["succeeded"]
    assert [(a["outcome"], a["status"]) for a in delivery["attempts"]] == [("success", 200)]
    assert env.sandbox.trade("LIST-00001")["notifications"] == listed


async def test_stop_is_bounded_with_a_silent_receiver_and_a_hung_request(stage: Stage, key_dir: Path) -> None:
    """stop() returns promptly although a delivery waits on a receiver that accepted the
    connection and never answers, and a request hangs (the hang fault) in the sandbox."""
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # accept, read nothing, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with running_sandbox(stage, key_dir) as env:
            client = env.client()
            await client.pay(out_trade_no="STOP-00001", notify_url=f"http://127.0.0.1:{port}/n")
            env.sandbox.pay("STOP-00001")
            env.sandbox.faults.hang("query")
            query = f"/v3/pay/transactions/out-trade-no/STOP-00001?mchid={env.creds['mchid']}"
            hung = asyncio.create_task(client.request("GET", query))
            for _ in range(100):
                if writers:
                    break
                await asyncio.sleep(0.01)
            assert writers and not hung.done()  # a delivery in flight, a request hung
            started = asyncio.get_running_loop().time()
            await env.sandbox.stop()
            assert asyncio.get_running_loop().time() - started < 2.5
            assert (await asyncio.wait_for(hung, 2)).status_code == 500  # let go: SYSTEM_ERROR
    finally:
        for writer in writers:
            writer.close()
        server.close()
