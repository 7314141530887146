"""Asynchronous notifications (§1.4) received by a real HTTP endpoint: content, signature
(python-alipay-sdk's ``verify()`` accepts them), and the retry schedule."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from paygate.sandbox.alipay.notifications import RETRY_SCHEDULE_SECONDS
from tests.sandbox.alipay.conftest import TIME_SCALE, Env, eventually

#: The wait before each of the 8 attempts (the first goes at once).
RETRY_DELAYS = (0.0, *RETRY_SCHEDULE_SECONDS)


def order_no() -> str:
    return "N" + uuid.uuid4().hex[:20]


async def precreate_and_pay(env: Env, total: str = "3.00", **biz: Any) -> tuple[str, dict[str, Any]]:
    alipay, no = env.python_sdk(), order_no()
    answer = await asyncio.to_thread(
        alipay.api_alipay_trade_precreate, subject="通知", out_trade_no=no, total_amount=total, **biz
    )
    paid = await env.http.post(env.control("pay"), json={"trade": answer["qr_code"]})
    assert paid.status_code == 200, paid.text
    return no, paid.json()


def verified(env: Env, form: dict[str, str]) -> bool:
    data = dict(form)
    sign = data.pop("sign")
    return bool(env.python_sdk().verify(data, sign))


async def test_trade_success_notification(env: Env) -> None:
    no, trade = await precreate_and_pay(env, "3.00", body="描述", passback_params="cart%3D7")
    (note,) = await env.receiver.wait_for(1)
    form = note.form
    assert note.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert verified(env, form)
    assert form["notify_type"] == "trade_status_sync" and form["trade_status"] == "TRADE_SUCCESS"
    assert (form["out_trade_no"], form["trade_no"]) == (no, trade["trade_no"])
    assert form["app_id"] == form["auth_app_id"] == env.creds["app_id"]
    assert form["seller_id"] == env.creds["seller_id"] and form["sign_type"] == "RSA2"
    assert form["total_amount"] == form["receipt_amount"] == form["buyer_pay_amount"] == "3.00"
    assert form["fund_bill_list"] == '[{"amount":"3.00","fundChannel":"ALIPAYACCOUNT"}]'
    assert (form["body"], form["passback_params"], form["version"]) == ("描述", "cart%3D7", "1.0")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", form["gmt_payment"])
    assert form["buyer_id"].startswith("2088") and "***" in form["buyer_logon_id"]
    assert all(value != "" for value in form.values())
    assert "refund_fee" not in form and "gmt_close" not in form
    await asyncio.sleep(RETRY_DELAYS[1] * TIME_SCALE * 10)
    assert len(env.receiver.calls) == 1  # answered "success": never sent again


async def test_retried_on_the_schedule_until_exactly_success(env: Env) -> None:
    env.receiver.answers.extend(["fail", "SUCCESS", "success\n"])  # only "success" counts
    await precreate_and_pay(env)
    calls = await env.receiver.wait_for(4)
    assert len({c.form["notify_id"] for c in calls}) == 1  # stable across retries
    assert all(verified(env, c.form) for c in calls)
    await asyncio.sleep(sum(RETRY_DELAYS[4:6]) * TIME_SCALE * 1.5)
    assert len(env.receiver.calls) == 4
    (delivery,) = env.sandbox.notifications
    await eventually(lambda: delivery.succeeded)
    assert [a.outcome for a in delivery.attempts] == ["failed", "failed", "failed", "success"]
    assert delivery.succeeded and not delivery.gave_up


async def test_gives_up_after_eight_attempts(env: Env) -> None:
    env.receiver.default = "fail"
    await precreate_and_pay(env)
    started = asyncio.get_running_loop().time()
    await env.receiver.wait_for(8)
    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed >= sum(RETRY_DELAYS) * TIME_SCALE * 0.9  # the schedule, scaled
    await asyncio.sleep(RETRY_DELAYS[-1] * TIME_SCALE)
    assert len(env.receiver.calls) == 8
    (delivery,) = env.sandbox.notifications
    await eventually(lambda: delivery.gave_up)
    assert len(delivery.attempts) == 8


async def test_refund_notifications(env: Env) -> None:
    no, _ = await precreate_and_pay(env, "10.00")
    alipay = env.python_sdk()
    await asyncio.to_thread(alipay.api_alipay_trade_refund, "4.00", out_trade_no=no, out_request_no="RQ1")
    await asyncio.to_thread(alipay.api_alipay_trade_refund, "6.00", out_trade_no=no, out_request_no="RQ2")
    calls = await env.receiver.wait_for(3)
    by_biz_no = {c.form.get("out_biz_no"): c.form for c in calls}
    partial, full = by_biz_no["RQ1"], by_biz_no["RQ2"]
    assert (partial["trade_status"], partial["refund_fee"]) == ("TRADE_SUCCESS", "4.00")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", partial["gmt_refund"])
    assert (full["trade_status"], full["refund_fee"], "gmt_close" in full) == ("TRADE_CLOSED", "10.00", True)
    assert all(verified(env, c.form) for c in calls)
    assert len({c.form["notify_id"] for c in calls}) == 3


async def test_buyer_cancel_and_timeout_close_notify_trade_closed(env: Env) -> None:
    alipay = env.python_sdk()
    cancelled, expiring = order_no(), order_no()
    qr1 = (
        await asyncio.to_thread(
            alipay.api_alipay_trade_precreate, subject="s", out_trade_no=cancelled, total_amount="1.00"
        )
    )["qr_code"]
    qr2 = (
        await asyncio.to_thread(
            alipay.api_alipay_trade_precreate,
            subject="s",
            out_trade_no=expiring,
            total_amount="1.00",
            timeout_express="5m",
        )
    )["qr_code"]
    await env.http.post(env.control("pay"), json={"trade": qr1, "outcome": "cancel"})
    await env.http.post(env.control("pay"), json={"trade": qr2, "outcome": "scan"})
    clock = await env.http.post(env.control("clock"), json={"advance_seconds": 301})
    assert clock.status_code == 200
    calls = await env.receiver.wait_for(2)
    statuses = {c.form["out_trade_no"]: c.form for c in calls}
    assert statuses[cancelled]["trade_status"] == statuses[expiring]["trade_status"] == "TRADE_CLOSED"
    assert "gmt_payment" not in statuses[cancelled] and statuses[expiring]["gmt_close"]
    query = await asyncio.to_thread(alipay.api_alipay_trade_query, out_trade_no=expiring)
    assert query["trade_status"] == "TRADE_CLOSED"


async def test_no_notify_url_no_notification(env: Env) -> None:
    alipay = env.python_sdk()
    alipay._app_notify_url = None
    no = order_no()
    qr = (
        await asyncio.to_thread(
            alipay.api_alipay_trade_precreate, subject="s", out_trade_no=no, total_amount="1.00"
        )
    )["qr_code"]
    await env.http.post(env.control("pay"), json={"trade": qr})
    await asyncio.sleep(0.05)
    assert env.receiver.calls == [] and env.sandbox.notifications == []
