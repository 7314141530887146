"""Each injected fault, over real HTTP: latency, error answers per operation (before or
after the operation took effect), holds and timeouts, and the faults control API."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import httpx
import pytest
import pytest_asyncio

from .conftest import Env, SdkFactory, sdk
from .wxclient import WxClient


async def _paid(env: Env, client: WxClient, out_trade_no: str) -> None:
    assert (await client.pay(out_trade_no=out_trade_no)).status_code == 200
    env.sandbox.pay(out_trade_no)


def _today() -> str:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()


async def _call(env: Env, client: WxClient, op: str) -> httpx.Response:
    """One request of WeChat operation ``op`` (trade FAULT-0001 exists and is paid)."""
    mchid = env.creds["mchid"]
    refund = {"out_trade_no": "FAULT-0001", "out_refund_no": "FAULT-R1",
              "amount": {"refund": 1, "total": 100, "currency": "CNY"}}  # fmt: skip
    match op:
        case "pay":
            return await client.pay()
        case "query":
            return await client.request("GET", f"/v3/pay/transactions/out-trade-no/FAULT-0001?mchid={mchid}")
        case "close":
            return await client.request(
                "POST", "/v3/pay/transactions/out-trade-no/FAULT-0002/close", {"mchid": mchid}
            )
        case "refund":
            return await client.request("POST", "/v3/refund/domestic/refunds", refund)
        case "refund_query":
            return await client.request("GET", "/v3/refund/domestic/refunds/FAULT-R0")
        case "bill":
            return await client.request("GET", f"/v3/bill/tradebill?bill_date={_today()}&bill_type=ALL")
        case "bill_download":
            bill = await client.request("GET", f"/v3/bill/tradebill?bill_date={_today()}&bill_type=ALL")
            url = bill.json()["download_url"].removeprefix(env.base_url)
            return await client.request("GET", url)
        case "certificates":
            return await client.request("GET", "/v3/certificates")
    raise AssertionError(op)


@pytest_asyncio.fixture(loop_scope="session")  # the loop the stage's server runs in
async def faulty(env: Env) -> Env:
    client = env.client()
    await _paid(env, client, "FAULT-0001")
    assert (await client.pay(out_trade_no="FAULT-0002")).status_code == 200
    refund = {"out_trade_no": "FAULT-0001", "out_refund_no": "FAULT-R0",
              "amount": {"refund": 1, "total": 100, "currency": "CNY"}}  # fmt: skip
    assert (await client.request("POST", "/v3/refund/domestic/refunds", refund)).status_code == 200
    env.sandbox.advance_clock(34 * 3600)  # today's bill is ready
    return env


OPS = ["pay", "query", "close", "refund", "refund_query", "bill", "bill_download", "certificates"]


@pytest.mark.parametrize("op", OPS)
async def test_error_fault_per_operation(faulty: Env, op: str) -> None:
    env, client = faulty, faulty.client()
    assert (await _call(env, client, op)).status_code in (200, 204)
    response = await env.http.post(
        env.base_url + "/_sandbox/faults", json={"errors": {op: {"code": "SYSTEM_ERROR", "times": 1}}}
    )
    assert response.status_code == 200 and response.json()["errors"][op]["status"] == 500
    failed = await _call(env, client, op)
    assert failed.status_code == 500
    assert failed.json() == {"code": "SYSTEM_ERROR", "message": "系统错误"}
    assert client.verified(failed)
    assert (await _call(env, client, op)).status_code in (200, 204)  # times: 1


async def test_error_fault_defaults_and_wildcard(faulty: Env) -> None:
    env, client = faulty, faulty.client()
    env.sandbox.set_faults(errors={"*": "FREQUENCY_LIMITED"})
    for op in ("query", "certificates"):
        response = await _call(env, client, op)
        assert response.status_code == 429 and response.json()["code"] == "FREQUENCY_LIMITED"
    env.sandbox.set_faults(errors={"query": {"code": "BANKERROR", "status": 503, "message": "银行维护"}})
    response = await _call(env, client, "query")
    assert (response.status_code, response.json()) == (503, {"code": "BANKERROR", "message": "银行维护"})
    assert (await _call(env, client, "certificates")).status_code == 429  # still the wildcard


async def test_error_after_the_refund_was_accepted(faulty: Env) -> None:
    """The ambiguous case: WeChat accepted the refund but the answer was a 500."""
    env, client = faulty, faulty.client()
    env.sandbox.set_faults(errors={"refund": {"code": "SYSTEM_ERROR", "apply": True, "times": 1}})
    failed = await _call(env, client, "refund")
    assert failed.status_code == 500
    assert env.sandbox.refund("FAULT-R1")["status"] in ("PROCESSING", "SUCCESS")
    retried = await _call(env, client, "refund")
    assert retried.status_code == 200
    assert retried.json()["refund_id"] == env.sandbox.refund("FAULT-R1")["refund_id"]


async def test_latency(faulty: Env) -> None:
    env, client = faulty, faulty.client()
    env.sandbox.set_faults(latency_ms={"query": 300})
    started = time.monotonic()
    assert (await _call(env, client, "query")).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await _call(env, client, "refund_query")
    assert time.monotonic() - started < 0.3


async def test_hold_delays_the_answer_not_the_effect(faulty: Env) -> None:
    env, client = faulty, faulty.client()
    env.sandbox.set_faults(holds={"close": {"seconds": 0.4, "apply": True}})
    started = time.monotonic()
    closing = asyncio.create_task(_call(env, client, "close"))
    await asyncio.sleep(0.15)
    assert env.sandbox.trade("FAULT-0002")["trade_state"] == "CLOSED"  # already happened
    # Other requests are served meanwhile.
    assert (await _call(env, client, "query")).status_code == 200
    assert not closing.done()
    assert (await closing).status_code == 204
    assert time.monotonic() - started >= 0.4


async def test_timeout_after_the_effect(faulty: Env) -> None:
    env = faulty
    env.sandbox.set_faults(timeouts={"close": {"apply": True}})
    short = httpx.AsyncClient(timeout=0.3)
    client = WxClient(env.base_url, env.creds, short)
    with pytest.raises(httpx.ReadTimeout):
        await _call(env, client, "close")
    await short.aclose()
    assert env.sandbox.trade("FAULT-0002")["trade_state"] == "CLOSED"
    env.sandbox.clear_faults()


async def test_timeout_before_the_effect(faulty: Env) -> None:
    env = faulty
    env.sandbox.set_faults(timeouts={"close": {"apply": False}})
    held = asyncio.create_task(_call(env, env.client(), "close"))
    await asyncio.sleep(0.2)
    assert not held.done()
    assert env.sandbox.trade("FAULT-0002")["trade_state"] == "NOTPAY"
    cleared = await env.http.delete(env.base_url + "/_sandbox/faults")
    assert cleared.status_code == 200 and cleared.json()["timeouts"] == {}
    released = await held
    assert released.status_code == 500 and released.json()["code"] == "SYSTEM_ERROR"
    assert env.sandbox.trade("FAULT-0002")["trade_state"] == "NOTPAY"


async def test_sdk_sees_error_faults(faulty: Env, make_sdk: SdkFactory) -> None:
    faulty.sandbox.set_faults(errors={"query": "SYSTEM_ERROR"})
    wx = make_sdk(faulty.creds)
    code, text = await sdk(wx.query, out_trade_no="FAULT-0001")
    assert code == 500 and '"SYSTEM_ERROR"' in text


@pytest.mark.parametrize(
    "spec",
    [
        {"errors": {"nonsense": "SYSTEM_ERROR"}},
        {"errors": {"pay": {"status": 500}}},
        {"errors": {"pay": {"code": "X", "status": 200}}},
        {"timeouts": {"query": "soon"}},
        {"timeouts": {"query": {"seconds": -1}}},
        {"latency_ms": -1},
        {"notifications": {"drop_next": "two"}},
        {"notifications": {"drop": 1}},
        {"refunds": {"outcome": "MAYBE"}},
        {"earthquake": True},
    ],
)
async def test_bad_fault_specs_are_refused(env: Env, spec: dict[str, Any]) -> None:
    response = await env.http.post(env.base_url + "/_sandbox/faults", json=spec)
    assert response.status_code == 400 and response.json()["error"] == "bad_faults"
    assert (await env.http.get(env.base_url + "/_sandbox/faults")).json()["errors"] == {}


async def test_faults_json_round_trip(env: Env) -> None:
    spec = {
        "latency_ms": 5,
        "errors": {"refund": {"code": "NOT_ENOUGH", "times": 2}},
        "holds": {"query": 0.01},
        "timeouts": {"close": {"apply": False}},
        "notifications": {"drop_next": 1, "duplicate": True, "reorder_window": 2},
        "refunds": "ABNORMAL",
    }
    current = (await env.http.post(env.base_url + "/_sandbox/faults", json=spec)).json()
    assert current["latency_ms"] == {"*": 5}
    assert current["errors"]["refund"] == {
        "code": "NOT_ENOUGH", "status": 403, "message": "余额不足", "times": 2, "apply": False
    }  # fmt: skip
    holds = current["timeouts"]
    assert holds["query"] == {"seconds": 0.01, "apply": True, "times": None}
    assert holds["close"] == {"seconds": None, "apply": False, "times": None}
    assert current["notifications"] == {"drop_next": 1, "duplicate": True, "reorder_window": 2}
    assert current["refunds"] == {"outcome": "ABNORMAL", "delay_seconds": None, "times": None}
    assert (await env.http.get(env.base_url + "/_sandbox/faults")).json() == current
    await env.http.delete(env.base_url + "/_sandbox/faults")
    assert env.sandbox.faults.to_json()["notifications"] == {
        "drop_next": 0, "duplicate": False, "reorder_window": 0
    }  # fmt: skip
