"""Refunds that are slow or fail (the ``refunds`` fault): Alipay answers at once with
``fund_change=N``, the refund query shows nothing until the money moved, the bill only what
happened."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from typing import Any

from paygate.sandbox.alipay import AUTH_CODE_SUCCESS
from tests.sandbox.alipay.conftest import Env, eventually


async def sdk(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = await asyncio.to_thread(fn, *args, **kwargs)
    return result


async def paid(env: Env, total: str = "10.00") -> str:
    no = "RF" + uuid.uuid4().hex[:18]
    answer = await sdk(
        env.python_sdk().api_alipay_trade_pay,
        out_trade_no=no, scene="bar_code", auth_code=AUTH_CODE_SUCCESS, subject="s", total_amount=total,
    )  # fmt: skip
    assert answer["code"] == "10000"
    return no


async def query(env: Env, no: str, request_no: str) -> dict[str, Any]:
    return await sdk(env.python_sdk().api_alipay_trade_fastpay_refund_query, request_no, out_trade_no=no)


async def test_a_slow_refund_is_confirmed_by_the_query_later(env: Env) -> None:
    no = await paid(env)
    env.sandbox.faults.refund_outcome("REFUND_SUCCESS", delay=60, times=1)  # 60 s × 1e-5
    alipay = env.python_sdk()
    answer = await sdk(alipay.api_alipay_trade_refund, "4.00", out_trade_no=no, out_request_no="S1")
    assert (answer["code"], answer["fund_change"], answer["refund_fee"]) == ("10000", "N", "0.00")
    await env.receiver.wait_for(1)  # the payment's notification
    for _ in range(200):
        found = await query(env, no, "S1")
        if "refund_status" in found:
            break
        await asyncio.sleep(0.01)
    assert (found["refund_status"], found["refund_amount"]) == ("REFUND_SUCCESS", "4.00")
    calls = await env.receiver.wait_for(2)
    assert calls[1].form["refund_fee"] == "4.00" and calls[1].form["out_biz_no"] == "S1"
    repeat = await sdk(alipay.api_alipay_trade_refund, "4.00", out_trade_no=no, out_request_no="S1")
    assert (repeat["fund_change"], repeat["refund_fee"]) == ("N", "4.00")


async def test_a_failed_refund_frees_the_amount_and_may_be_made_again(env: Env) -> None:
    no = await paid(env, "5.00")
    await env.http.post(env.control("faults"), json={"refunds": {"outcome": "REFUND_FAILED", "times": 1}})
    alipay = env.python_sdk()
    answer = await sdk(alipay.api_alipay_trade_refund, "5.00", out_trade_no=no, out_request_no="F1")
    assert answer["fund_change"] == "N"
    await eventually(lambda: env.sandbox.trade(no)["refunds"][0]["status"] == "FAILED")  # type: ignore[index]
    assert "refund_amount" not in await query(env, no, "F1")  # absent: not refunded
    again = await sdk(alipay.api_alipay_trade_refund, "5.00", out_trade_no=no, out_request_no="F1")
    assert (again["fund_change"], again["refund_fee"]) == ("Y", "5.00")
    assert (await query(env, no, "F1"))["refund_status"] == "REFUND_SUCCESS"


async def test_a_manual_refund_waits_for_the_control_api(env: Env) -> None:
    no = await paid(env, "3.00")
    env.sandbox.faults.refund_outcome("MANUAL")
    alipay = env.python_sdk()
    await sdk(alipay.api_alipay_trade_refund, "1.00", out_trade_no=no, out_request_no="M1")
    more = await sdk(alipay.api_alipay_trade_refund, "2.50", out_trade_no=no, out_request_no="M2")
    assert more["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"  # the processing 1.00 is held
    shown = await env.http.get(env.control("refunds/M1"))
    assert shown.json()["status"] == "PROCESSING"
    settled = await env.http.post(env.control("refunds/M1"), json={"outcome": "REFUND_SUCCESS"})
    assert settled.status_code == 200 and settled.json()["status"] == "SUCCESS"
    again = await env.http.post(env.control("refunds/M1"), json={"outcome": "REFUND_FAILED"})
    assert again.status_code == 409 and again.json()["error"] == "REFUND_FINAL"
    assert (await query(env, no, "M1"))["refund_status"] == "REFUND_SUCCESS"


async def test_a_hung_gateway_answers_nothing_until_let_go(env: Env) -> None:
    env.sandbox.faults.hang("alipay.trade.query")
    alipay = env.python_sdk()
    url = f"{env.gateway}?{alipay.sign_data(alipay.build_body('alipay.trade.query', {'out_trade_no': 'X'}))}"
    hung = asyncio.create_task(env.http.get(url, timeout=5))
    await asyncio.sleep(0.3)
    assert not hung.done()
    other = await sdk(alipay.api_alipay_trade_close, out_trade_no="X")  # other methods are served
    assert other["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    env.sandbox.clear_faults()
    answer = await hung
    assert answer.status_code == 200 and '"code":"20000"' in answer.text


async def test_the_bill_lists_only_refunds_whose_money_moved(env: Env) -> None:
    no = await paid(env, "9.00")
    alipay = env.python_sdk()
    await sdk(alipay.api_alipay_trade_refund, "1.00", out_trade_no=no, out_request_no="B1")  # at once
    env.sandbox.faults.refund_outcome("REFUND_FAILED", delay=0.5, times=1)
    await sdk(alipay.api_alipay_trade_refund, "2.00", out_trade_no=no, out_request_no="B2")
    env.sandbox.faults.refund_outcome("MANUAL", times=1)
    await sdk(alipay.api_alipay_trade_refund, "3.00", out_trade_no=no, out_request_no="B3")
    await eventually(lambda: env.sandbox.trade(no)["refunds"][1]["status"] == "FAILED")  # type: ignore[index]
    day = env.sandbox.trade(no)["gmt_payment"][:10]  # type: ignore[index]
    env.sandbox.advance_clock(24 * 3600)
    answer = await sdk(
        alipay.server_api,
        "alipay.data.dataservice.bill.downloadurl.query",
        {"bill_type": "trade", "bill_date": day},
    )
    download = await env.http.get(answer["bill_download_url"])
    archive = zipfile.ZipFile(io.BytesIO(download.content), metadata_encoding="gbk")
    [detail] = [n for n in archive.namelist() if n.endswith("_业务明细.csv")]
    rows = [
        line.split(",") for line in archive.read(detail).decode("gbk").splitlines() if line.startswith("20")
    ]
    mine = [r for r in rows if r[1] == f"{no}\t"]
    assert sorted((r[2], r[11], r[21]) for r in mine) == [
        ("交易\t", "9.00", "\t"),
        ("退款\t", "-1.00", "B1\t"),
    ]
