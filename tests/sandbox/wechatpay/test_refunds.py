"""Refunds: partial, idempotent on out_refund_no, never more than paid; PROCESSING →
SUCCESS/ABNORMAL/CLOSED with REFUND.* notifications."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Env, Receiver
from .wxclient import WxClient, decrypt

_numbers = itertools.count(1)


async def _paid_order(env: Env, client: WxClient, total: int = 100) -> str:
    out_trade_no = f"RFD-{next(_numbers):06d}"
    assert (await client.pay(out_trade_no=out_trade_no, amount={"total": total})).status_code == 200
    env.sandbox.pay(out_trade_no)
    return out_trade_no


async def _refund(client: WxClient, out_trade_no: str, out_refund_no: str, refund: int,
                  total: int = 100, **extra: Any):  # type: ignore[no-untyped-def]  # fmt: skip
    body = {
        "out_trade_no": out_trade_no,
        "out_refund_no": out_refund_no,
        "amount": {"refund": refund, "total": total, "currency": "CNY"},
        **extra,
    }
    return await client.request("POST", "/v3/refund/domestic/refunds", body)


async def _wait_status(client: WxClient, out_refund_no: str, status: str) -> dict[str, Any]:
    for _ in range(300):
        response = await client.request("GET", f"/v3/refund/domestic/refunds/{out_refund_no}")
        body = response.json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.01)
    raise AssertionError(f"{out_refund_no} stayed {body['status']}")


async def test_partial_refunds_up_to_the_paid_amount(env: Env) -> None:
    client = env.client()
    otn = await _paid_order(env, client)
    for i, amount in enumerate((30, 30, 40)):
        response = await _refund(client, otn, f"{otn}-R{i}", amount)
        assert response.status_code == 200 and client.verified(response)
        assert response.json()["amount"]["refund"] == amount
    full = await _refund(client, otn, f"{otn}-R9", 1)
    assert full.status_code == 400 and full.json() == {"code": "INVALID_REQUEST", "message": "订单已全额退款"}


async def test_refund_is_idempotent_on_out_refund_no(env: Env) -> None:
    client = env.client()
    otn = await _paid_order(env, client)
    first = await _refund(client, otn, "IDEM-1", 60)
    again = await _refund(client, otn, "IDEM-1", 60)
    assert again.status_code == 200 and again.json()["refund_id"] == first.json()["refund_id"]
    different = await _refund(client, otn, "IDEM-1", 10)
    assert different.status_code == 400 and different.json()["code"] == "INVALID_REQUEST"
    over = await _refund(client, otn, "IDEM-2", 41)
    assert over.status_code == 400 and over.json()["message"] == "申请退款金额超过订单可退金额"
    assert len(env.sandbox.trade(otn)["refunds"]) == 1


async def test_refund_errors(env: Env) -> None:
    client = env.client()
    await client.pay(out_trade_no="UNPAID-001")
    unpaid = await _refund(client, "UNPAID-001", "U-1", 1)
    assert unpaid.status_code == 404 and unpaid.json()["code"] == "RESOURCE_NOT_EXISTS"
    assert (await _refund(client, "NEVER-0001", "U-2", 1)).status_code == 404
    otn = await _paid_order(env, client)
    wrong_total = await _refund(client, otn, "U-3", 1, total=99)
    assert wrong_total.status_code == 400 and wrong_total.json()["code"] == "INVALID_REQUEST"
    no_currency = await client.request(
        "POST", "/v3/refund/domestic/refunds",
        {"out_trade_no": otn, "out_refund_no": "U-4", "amount": {"refund": 1, "total": 100}},
    )  # fmt: skip
    assert no_currency.status_code == 400 and no_currency.json()["code"] == "PARAM_ERROR"
    no_id = await client.request(
        "POST", "/v3/refund/domestic/refunds",
        {"out_refund_no": "U-5", "amount": {"refund": 1, "total": 100, "currency": "CNY"}},
    )  # fmt: skip
    assert no_id.status_code == 400 and no_id.json()["code"] == "PARAM_ERROR"
    query = await client.request("GET", "/v3/refund/domestic/refunds/NO-SUCH-REFUND")
    assert query.status_code == 404
    assert query.json() == {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}


async def test_refund_by_transaction_id(env: Env) -> None:
    client = env.client()
    otn = await _paid_order(env, client)
    tid = env.sandbox.trade(otn)["transaction_id"]
    amount = {"refund": 5, "total": 100, "currency": "CNY"}
    response = await client.request(
        "POST",
        "/v3/refund/domestic/refunds",
        {"transaction_id": tid, "out_refund_no": "BY-TID-1", "amount": amount},
    )
    assert response.status_code == 200 and response.json()["out_trade_no"] == otn
    settled = await _wait_status(client, "BY-TID-1", "SUCCESS")
    assert settled["success_time"].endswith("+08:00")
    assert settled["user_received_account"] and settled["channel"] == "ORIGINAL"


async def test_abnormal_and_closed_refunds_are_notified(env: Env, receiver: Receiver) -> None:
    client = env.client()
    otn = await _paid_order(env, client)
    env.sandbox.set_faults(refunds={"outcome": "ABNORMAL", "times": 1})
    await _refund(client, otn, "ODD-1", 50, notify_url=receiver.url)
    await _wait_status(client, "ODD-1", "ABNORMAL")
    env.sandbox.set_faults(refunds="CLOSED")
    await _refund(client, otn, "ODD-2", 50, notify_url=receiver.url)
    await _wait_status(client, "ODD-2", "CLOSED")
    calls = await receiver.wait_for(2)
    events = sorted(json.loads(c.body)["event_type"] for c in calls)
    assert events == ["REFUND.ABNORMAL", "REFUND.CLOSED"]
    for call in calls:
        envelope = json.loads(call.body)
        assert envelope["resource"]["original_type"] == "refund"
        resource = json.loads(decrypt(env.creds["apiv3_key"], envelope["resource"]))
        assert resource["refund_status"] in ("ABNORMAL", "CLOSED") and "success_time" not in resource
    # A closed refund gives its amount back to the refundable balance.
    env.sandbox.clear_faults()
    assert (await _refund(client, otn, "ODD-3", 50)).status_code == 200


async def test_the_refund_delay_is_configurable(env: Env, receiver: Receiver) -> None:
    client = env.client()
    otn = await _paid_order(env, client)
    env.sandbox.faults.refund_outcome("SUCCESS", delay=200, times=1)  # 200 s × 0.001
    await _refund(client, otn, "SLOW-1", 10, notify_url=receiver.url)
    await asyncio.sleep(0.08)
    assert env.sandbox.refund("SLOW-1")["status"] == "PROCESSING"
    settled = await _wait_status(client, "SLOW-1", "SUCCESS")
    assert settled["success_time"]
    [call] = await receiver.wait_for(1)
    assert json.loads(call.body)["event_type"] == "REFUND.SUCCESS"


async def test_manual_settlement_through_the_control_api(env: Env) -> None:
    client = env.client()
    otn = await _paid_order(env, client)
    await env.http.post(env.base_url + "/_sandbox/faults", json={"refunds": {"outcome": "MANUAL"}})
    await _refund(client, otn, "MAN-1", 10)
    await asyncio.sleep(0.05)
    assert env.sandbox.refund("MAN-1")["status"] == "PROCESSING"
    settled = await env.http.post(env.base_url + "/_sandbox/refunds/MAN-1", json={"outcome": "SUCCESS"})
    assert settled.status_code == 200 and settled.json()["status"] == "SUCCESS"
    again = await env.http.post(env.base_url + "/_sandbox/refunds/MAN-1", json={"outcome": "CLOSED"})
    assert again.status_code == 409
    assert (await env.http.get(env.base_url + "/_sandbox/refunds/NOPE")).status_code == 404


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(st.integers(min_value=1, max_value=70), min_size=1, max_size=5))
async def test_refunds_never_exceed_what_was_paid(env: Env, amounts: list[int]) -> None:
    client = env.client()
    otn = await _paid_order(env, client, total=100)
    remaining = 100
    for i, amount in enumerate(amounts):
        response = await _refund(client, otn, f"{otn}-P{i}", amount)
        if amount <= remaining:
            assert response.status_code == 200, response.text
            remaining -= amount
        else:
            assert response.status_code == 400 and response.json()["code"] == "INVALID_REQUEST"
    refunded = sum(r["amount"]["refund"] for r in env.sandbox.trade(otn)["refunds"])
    assert refunded == 100 - remaining <= 100
