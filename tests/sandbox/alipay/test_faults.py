"""Injected faults, through the control API and the Python API."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from paygate.sandbox.alipay import AUTH_CODE_SUCCESS
from tests.sandbox.alipay.conftest import Env, eventually


def order_no() -> str:
    return "F" + uuid.uuid4().hex[:20]


async def sdk(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = await asyncio.to_thread(fn, *args, **kwargs)
    return result


async def barcode_paid(env: Env, total: str = "5.00") -> str:
    no = order_no()
    answer = await sdk(
        env.python_sdk().api_alipay_trade_pay,
        out_trade_no=no,
        scene="bar_code",
        auth_code=AUTH_CODE_SUCCESS,
        subject="s",
        total_amount=total,
    )
    assert answer["code"] == "10000"
    return no


class TestGatewayFaults:
    async def test_faults_json_round_trip_and_validation(self, env: Env) -> None:
        spec = {
            "latency_ms": {"*": 5, "alipay.trade.query": 50},
            "errors": {"alipay.trade.refund": {"code": "20000", "times": 2}},
            "timeouts": {"alipay.trade.pay": 1.5},
            "notifications": {"drop_next": 1, "duplicate": True, "reorder_window": 0},
        }
        posted = await env.http.post(env.control("faults"), json=spec)
        assert posted.status_code == 200
        state = (await env.http.get(env.control("faults"))).json()
        assert state["latency_ms"] == spec["latency_ms"]
        # The harness shows every timeout in one shape, whichever shorthand set it.
        assert state["timeouts"] == {"alipay.trade.pay": {"seconds": 1.5, "apply": True, "times": None}}
        assert state["errors"]["alipay.trade.refund"]["sub_code"] == "isp.unknow-error"
        assert state["notifications"] == {"drop_next": 1, "duplicate": True, "reorder_window": 0}
        bad = await env.http.post(env.control("faults"), json={"explode": True})
        assert bad.status_code == 400 and bad.json()["error"] == "bad_faults"
        cleared = (await env.http.delete(env.control("faults"))).json()
        assert cleared["errors"] == {} and cleared["notifications"]["drop_next"] == 0

    async def test_latency_per_method(self, env: Env) -> None:
        await env.http.post(env.control("faults"), json={"latency_ms": {"alipay.trade.query": 300}})
        alipay = env.python_sdk()
        started = time.monotonic()
        await sdk(alipay.api_alipay_trade_query, out_trade_no="NONE")
        slow = time.monotonic() - started
        started = time.monotonic()
        await sdk(alipay.api_alipay_trade_close, out_trade_no="NONE")
        fast = time.monotonic() - started
        assert slow >= 0.3 > fast

    async def test_service_unavailable_instead_of_processing(self, env: Env) -> None:
        no = await barcode_paid(env)
        env.sandbox.faults.error("alipay.trade.refund", code="20000", times=1)
        alipay = env.python_sdk()
        failed = await sdk(alipay.api_alipay_trade_refund, "1.00", out_trade_no=no, out_request_no="F1")
        assert (failed["code"], failed["msg"], failed["sub_code"]) == (
            "20000",
            "Service Currently Unavailable",
            "isp.unknow-error",
        )
        assert env.sandbox.trade(no)["refunds"] == []  # type: ignore[index]
        retried = await sdk(alipay.api_alipay_trade_refund, "1.00", out_trade_no=no, out_request_no="F1")
        assert (retried["code"], retried["fund_change"]) == ("10000", "Y")

    async def test_business_system_error(self, env: Env) -> None:
        await env.http.post(
            env.control("faults"), json={"errors": {"alipay.trade.query": {"sub_code": "ACQ.SYSTEM_ERROR"}}}
        )
        answer = await sdk(env.python_sdk().api_alipay_trade_query, out_trade_no="ANY")
        assert (answer["code"], answer["sub_code"], answer["sub_msg"]) == (
            "40004",
            "ACQ.SYSTEM_ERROR",
            "系统错误",
        )

    async def test_timeout_holds_the_answer_but_the_refund_happened(self, env: Env) -> None:
        no = await barcode_paid(env)
        env.sandbox.faults.timeout(1.0, "alipay.trade.refund")
        alipay = env.python_sdk()
        data = alipay.build_body(
            "alipay.trade.refund", {"out_trade_no": no, "refund_amount": "2.00", "out_request_no": "T1"}
        )
        url = f"{env.gateway}?{alipay.sign_data(data)}"
        try:
            await env.http.get(url, timeout=0.3)
            raise AssertionError("the answer should have been held")
        except httpx.ReadTimeout:
            pass
        assert env.sandbox.trade(no)["refunded_amount"] == "2.00"  # type: ignore[index]
        env.sandbox.faults.clear()
        again = await sdk(alipay.api_alipay_trade_refund, "2.00", out_trade_no=no, out_request_no="T1")
        assert (again["fund_change"], again["refund_fee"]) == ("N", "2.00")


class TestNotificationFaults:
    async def test_dropped_deliveries_are_retried_on_schedule(self, env: Env) -> None:
        env.sandbox.faults.drop_notifications(2)
        no = await barcode_paid(env)
        (call,) = await env.receiver.wait_for(1)
        assert call.form["out_trade_no"] == no
        (delivery,) = env.sandbox.notifications
        await eventually(lambda: delivery.succeeded)
        assert [a.outcome for a in delivery.attempts] == ["dropped", "dropped", "success"]

    async def test_duplicated_deliveries(self, env: Env) -> None:
        await env.http.post(env.control("faults"), json={"notifications": {"duplicate": True}})
        await barcode_paid(env)
        first, second = await env.receiver.wait_for(2)
        assert first.form["notify_id"] == second.form["notify_id"]
        await asyncio.sleep(0.05)
        assert len(env.receiver.calls) == 2

    async def test_reordered_deliveries(self, env: Env) -> None:
        env.sandbox.faults.reorder_notifications(2)
        earlier = await barcode_paid(env)
        await asyncio.sleep(0.05)
        assert env.receiver.calls == []  # held back
        later = await barcode_paid(env)
        calls = await env.receiver.wait_for(2)
        assert [c.form["out_trade_no"] for c in calls] == [later, earlier]

    async def test_clearing_faults_releases_held_deliveries(self, env: Env) -> None:
        env.sandbox.faults.reorder_notifications(5)
        no = await barcode_paid(env)
        await asyncio.sleep(0.05)
        assert env.receiver.calls == []
        await env.http.delete(env.control("faults"))
        (call,) = await env.receiver.wait_for(1)
        assert call.form["out_trade_no"] == no
