"""Each way of paying, the buyer's side (cashier pages, control API), deadlines and
concurrent refunds."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timedelta
from html import unescape
from typing import Any

from paygate.sandbox.alipay import AUTH_CODE_EXPIRED, AUTH_CODE_NO_BALANCE, AUTH_CODE_WAIT_BUYER
from paygate.sandbox.alipay.wire import BEIJING
from tests.sandbox.alipay.conftest import Env


def order_no() -> str:
    return "P" + uuid.uuid4().hex[:20]


async def sdk(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = await asyncio.to_thread(fn, *args, **kwargs)
    return result


async def control_pay(env: Env, **body: Any) -> Any:
    return await env.http.post(env.control("pay"), json=body)


class TestClientSideOrders:
    async def test_page_pay_known_only_once_opened(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        query = alipay.api_alipay_trade_page_pay(subject="电脑", out_trade_no=no, total_amount="20.00")
        unknown = await control_pay(env, trade=no)
        assert unknown.status_code == 404 and "pay URL" in unknown.json()["message"]
        paid = await control_pay(env, trade=f"{env.gateway}?{query}", outcome="pay")
        assert paid.status_code == 200
        trade = paid.json()
        assert (trade["trade_status"], trade["product_code"]) == ("TRADE_SUCCESS", "FAST_INSTANT_TRADE_PAY")
        assert (await sdk(alipay.api_alipay_trade_query, out_trade_no=no))["trade_status"] == "TRADE_SUCCESS"
        shown = await env.http.get(env.control(f"trades/{no}"))
        assert shown.status_code == 200 and shown.json()["trade_no"] == trade["trade_no"]

    async def test_wap_cashier_fail_then_pay_in_the_browser(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        query = alipay.api_alipay_trade_wap_pay(subject="手机", out_trade_no=no, total_amount="1.00")
        page = await env.http.get(f"{env.gateway}?{query}")
        action = unescape(re.search(r'action="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
        failed = await env.http.post(action, data={"outcome": "fail"})
        assert "付款失败" in failed.text and "确认付款" in failed.text  # the buyer may try again
        state = await sdk(alipay.api_alipay_trade_query, out_trade_no=no)
        assert state["trade_status"] == "WAIT_BUYER_PAY"
        assert env.sandbox.trade(no)["payment_failures"] == ["BUYER_BALANCE_NOT_ENOUGH"]  # type: ignore[index]
        done = await env.http.post(action, data={"outcome": "pay"})
        assert done.status_code == 200 and "支付成功" in done.text  # no return_url: result page
        assert (await env.receiver.wait_for(1))[0].form["trade_status"] == "TRADE_SUCCESS"

    async def test_app_order_string_paid_by_a_named_buyer(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        order_string = alipay.api_alipay_trade_app_pay(subject="App", out_trade_no=no, total_amount="0.50")
        paid = await control_pay(env, trade=order_string, outcome="pay", buyer_id="2088123412341234")
        assert paid.json()["buyer_id"] == "2088123412341234"
        query = await sdk(alipay.api_alipay_trade_query, out_trade_no=no)
        assert (query["buyer_user_id"], query["buyer_logon_id"]) == ("2088123412341234", "188******34")

    async def test_tampered_order_string_is_refused(self, env: Env) -> None:
        order_string = env.python_sdk().api_alipay_trade_app_pay(
            subject="App", out_trade_no=order_no(), total_amount="9.00"
        )
        refused = await control_pay(env, trade=order_string.replace("9.00", "0.01"))
        assert refused.status_code == 400 and refused.json()["error"] == "isv.invalid-signature"

    async def test_cancel_from_the_cashier_closes(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        qr = (
            await sdk(alipay.api_alipay_trade_precreate, subject="s", out_trade_no=no, total_amount="1.00")
        )["qr_code"]
        cancelled = await control_pay(env, trade=qr, outcome="cancel")
        assert cancelled.json()["trade_status"] == "TRADE_CLOSED"
        again = await control_pay(env, trade=no, outcome="pay")
        assert again.status_code == 409 and again.json()["trade"]["state"] == "TRADE_CLOSED"


class TestMerchantSideOrders:
    async def test_jsapi_create_then_buyer_pays(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        created = await sdk(
            alipay.server_api,
            "alipay.trade.create",
            {"out_trade_no": no, "total_amount": "7.00", "subject": "小程序", "buyer_id": "2088000011112222"},
            notify_url=env.notify_url,
        )
        assert created["code"] == "10000" and len(created["trade_no"]) == 28
        assert (await sdk(alipay.api_alipay_trade_query, out_trade_no=no))["trade_status"] == "WAIT_BUYER_PAY"
        paid = await control_pay(env, trade=created["trade_no"])
        assert paid.json()["buyer_id"] == "2088000011112222"

    async def test_barcode_magic_auth_codes(self, env: Env) -> None:
        alipay = env.python_sdk()
        for code, sub_code in [(AUTH_CODE_NO_BALANCE, "ACQ.BUYER_BALANCE_NOT_ENOUGH"),
                               (AUTH_CODE_EXPIRED, "ACQ.PAYMENT_AUTH_CODE_INVALID"),
                               ("12345", "ACQ.PAYMENT_AUTH_CODE_INVALID")]:  # fmt: skip
            no = order_no()
            answer = await sdk(
                alipay.api_alipay_trade_pay, out_trade_no=no, scene="bar_code", auth_code=code,
                subject="s", total_amount="1.00",
            )  # fmt: skip
            assert (answer["code"], answer["sub_code"], answer["receipt_amount"]) == (
                "40004",
                sub_code,
                "0.00",
            )
            assert (await sdk(alipay.api_alipay_trade_query, out_trade_no=no))[
                "sub_code"
            ] == "ACQ.TRADE_NOT_EXIST"

    async def test_barcode_waiting_for_the_buyer_then_confirmed(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        waiting = await sdk(
            alipay.api_alipay_trade_pay, out_trade_no=no, scene="bar_code", auth_code=AUTH_CODE_WAIT_BUYER,
            subject="s", total_amount="1.00",
        )  # fmt: skip
        assert waiting["code"] == "10003"
        await control_pay(env, trade=no, outcome="pay")
        assert (await sdk(alipay.api_alipay_trade_query, out_trade_no=no))["trade_status"] == "TRADE_SUCCESS"
        assert (await env.receiver.wait_for(1))[0].form["out_trade_no"] == no

    async def test_finished_trades_refuse_refunds(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        qr = (
            await sdk(alipay.api_alipay_trade_precreate, subject="s", out_trade_no=no, total_amount="1.00")
        )["qr_code"]
        await control_pay(env, trade=qr)
        finished = await control_pay(env, trade=no, outcome="finish")
        assert finished.json()["trade_status"] == "TRADE_FINISHED"
        refund = await sdk(alipay.api_alipay_trade_refund, "1.00", out_trade_no=no)
        assert refund["sub_code"] == "ACQ.TRADE_HAS_FINISHED"
        calls = await env.receiver.wait_for(2)
        assert [c.form["trade_status"] for c in calls] == ["TRADE_SUCCESS", "TRADE_FINISHED"]


class TestDeadlines:
    async def test_unscanned_qr_code_expires_silently(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        qr = (
            await sdk(
                alipay.api_alipay_trade_precreate, subject="s", out_trade_no=no, total_amount="1.00",
                timeout_express="1m",
            )
        )["qr_code"]  # fmt: skip
        env.sandbox.advance_clock(61)
        late = await control_pay(env, trade=qr)
        assert late.status_code == 409 and late.json()["error"] == "ACQ.TRADE_HAS_CLOSE"
        assert "失效" in (await env.http.get(qr)).text
        assert (await sdk(alipay.api_alipay_trade_query, out_trade_no=no))[
            "sub_code"
        ] == "ACQ.TRADE_NOT_EXIST"
        assert env.receiver.calls == []

    async def test_time_expire_is_honoured_and_bounded(self, env: Env) -> None:
        alipay = env.python_sdk()
        soon = (datetime.now(BEIJING) + timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S")
        no = order_no()
        answer = await sdk(
            alipay.api_alipay_trade_precreate,
            subject="s",
            out_trade_no=no,
            total_amount="1",
            time_expire=soon,
        )
        assert env.sandbox.trade(no)["pay_deadline"] == soon  # type: ignore[index]
        too_far = (datetime.now(BEIJING) + timedelta(days=16)).strftime("%Y-%m-%d %H:%M:%S")
        refused = await sdk(
            alipay.api_alipay_trade_precreate,
            subject="s",
            out_trade_no=order_no(),
            total_amount="1",
            time_expire=too_far,
        )
        assert refused["sub_code"] == "ACQ.INVALID_PARAMETER"
        bad = await sdk(
            alipay.api_alipay_trade_precreate,
            subject="s",
            out_trade_no=order_no(),
            total_amount="1",
            timeout_express="1.5h",
        )
        assert bad["sub_code"] == "ACQ.INVALID_PARAMETER"
        assert answer["code"] == "10000"


async def test_concurrent_refunds_never_exceed_the_total(env: Env) -> None:
    alipay, no = env.python_sdk(), order_no()
    qr = (await sdk(alipay.api_alipay_trade_precreate, subject="s", out_trade_no=no, total_amount="5.00"))[
        "qr_code"
    ]
    await control_pay(env, trade=qr)
    urls = []
    for i in range(12):
        data = alipay.build_body(
            "alipay.trade.refund", {"out_trade_no": no, "refund_amount": "1.00", "out_request_no": f"C{i}"}
        )
        urls.append(f"{env.gateway}?{alipay.sign_data(data)}")
    answers = await asyncio.gather(*(env.http.get(url) for url in urls))
    codes = [re.search(r'"code":"(\d+)"', a.text).group(1) for a in answers]  # type: ignore[union-attr]
    assert sorted(codes) == ["10000"] * 5 + ["40004"] * 7
    assert env.sandbox.trade(no)["refunded_amount"] == "5.00"  # type: ignore[index]
    assert env.sandbox.trade(no)["state"] == "TRADE_CLOSED"  # type: ignore[index]
