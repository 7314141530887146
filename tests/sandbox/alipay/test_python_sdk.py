"""python-alipay-sdk 3.4.0, unchanged but for ``_gateway``, against the sandbox: its
request signing is accepted and it verifies every signed answer (it raises
``AliPayValidationError`` otherwise, ``AliPayException`` on an unsigned body)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from paygate.sandbox.alipay import AUTH_CODE_SUCCESS, AUTH_CODE_WAIT_BUYER
from tests.sandbox.alipay.conftest import Env


def order_no() -> str:
    return "T" + uuid.uuid4().hex[:20]


async def call(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The SDK blocks (urllib): run it off the event loop that serves the sandbox."""
    result: dict[str, Any] = await asyncio.to_thread(fn, *args, **kwargs)
    return result


class TestPrecreateQueryClose:
    async def test_precreate_issues_a_qr_code_but_no_trade(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        answer = await call(
            alipay.api_alipay_trade_precreate, subject="沙箱商品", out_trade_no=no, total_amount="8.88"
        )
        assert answer["code"] == "10000" and answer["msg"] == "Success"
        assert answer["out_trade_no"] == no
        assert answer["qr_code"].startswith(env.base_url + "/alipay/qr/bax")
        query = await call(alipay.api_alipay_trade_query, out_trade_no=no)
        assert (query["code"], query["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")
        close = await call(alipay.api_alipay_trade_close, out_trade_no=no)
        assert close["sub_code"] == "ACQ.TRADE_NOT_EXIST"

    async def test_scanned_then_paid(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        qr = (await call(alipay.api_alipay_trade_precreate, subject="s", out_trade_no=no, total_amount=12.5))[
            "qr_code"
        ]
        page = await env.http.get(qr)  # the buyer scans: the trade comes to exist
        assert page.status_code == 200 and "确认付款" in page.text
        waiting = await call(alipay.api_alipay_trade_query, out_trade_no=no)
        assert waiting["trade_status"] == "WAIT_BUYER_PAY"
        assert waiting["total_amount"] == "12.50" and waiting["receipt_amount"] == "0.00"
        assert len(waiting["trade_no"]) == 28 and waiting["trade_no"][8:12] == "2200"
        paid = await env.http.post(env.control("pay"), json={"trade": qr, "outcome": "pay"})
        assert paid.status_code == 200 and paid.json()["trade_status"] == "TRADE_SUCCESS"
        query = await call(alipay.api_alipay_trade_query, trade_no=waiting["trade_no"])
        assert query["trade_status"] == "TRADE_SUCCESS"
        assert query["receipt_amount"] == query["buyer_pay_amount"] == "12.50"
        assert "***" in query["buyer_logon_id"] and query["buyer_user_id"].startswith("2088")
        assert query["fund_bill_list"] == [{"amount": "12.50", "fund_channel": "ALIPAYACCOUNT"}]
        assert len(query["send_pay_date"]) == 19

    async def test_close_a_scanned_trade_then_it_cannot_be_paid(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        qr = (
            await call(alipay.api_alipay_trade_precreate, subject="s", out_trade_no=no, total_amount="1.00")
        )["qr_code"]
        await env.http.post(env.control("pay"), json={"trade": qr, "outcome": "scan"})
        closed = await call(alipay.api_alipay_trade_close, out_trade_no=no)
        assert closed["code"] == "10000" and closed["out_trade_no"] == no and closed["trade_no"]
        again = await call(alipay.api_alipay_trade_close, out_trade_no=no)
        assert again["sub_code"] == "ACQ.TRADE_STATUS_ERROR"
        refused = await env.http.post(env.control("pay"), json={"trade": no, "outcome": "pay"})
        assert refused.status_code == 409 and refused.json()["error"] == "ACQ.TRADE_HAS_CLOSE"
        precreate = await call(
            alipay.api_alipay_trade_precreate, subject="s", out_trade_no=no, total_amount="1.00"
        )
        assert precreate["sub_code"] == "ACQ.TRADE_HAS_CLOSE"

    async def test_rsa_sha1_sign_type_is_verified_both_ways(self, env: Env) -> None:
        alipay, no = env.python_sdk(sign_type="RSA"), order_no()
        answer = await call(
            alipay.api_alipay_trade_precreate, subject="sha1", out_trade_no=no, total_amount="0.01"
        )
        assert answer["code"] == "10000"


class TestBarcodeRefundCancel:
    async def test_barcode_pay_partial_refunds_and_refund_query(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        paid = await call(
            alipay.api_alipay_trade_pay, out_trade_no=no, scene="bar_code",
            auth_code=AUTH_CODE_SUCCESS, subject="条码", total_amount="10.00",
        )  # fmt: skip
        assert paid["code"] == "10000" and paid["total_amount"] == "10.00"
        assert paid["receipt_amount"] == "10.00" and paid["gmt_payment"]
        first = await call(
            alipay.api_alipay_trade_refund, refund_amount="3.00", out_trade_no=no, out_request_no="R1"
        )
        assert (first["fund_change"], first["refund_fee"], first["send_back_fee"]) == ("Y", "3.00", "3.00")
        retry = await call(
            alipay.api_alipay_trade_refund, refund_amount="3.00", out_trade_no=no, out_request_no="R1"
        )
        assert (retry["fund_change"], retry["refund_fee"]) == ("N", "3.00")
        other = await call(
            alipay.api_alipay_trade_refund, refund_amount="2.00", out_trade_no=no, out_request_no="R1"
        )
        assert other["sub_code"] == "ACQ.DISCORDANT_REPEAT_REQUEST"
        too_much = await call(
            alipay.api_alipay_trade_refund, refund_amount="7.01", out_trade_no=no, out_request_no="R2"
        )
        assert too_much["sub_code"] == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
        rest = await call(
            alipay.api_alipay_trade_refund,
            refund_amount="7.00",
            trade_no=paid["trade_no"],
            out_request_no="R2",
        )
        assert rest["refund_fee"] == "10.00"
        closed = await call(alipay.api_alipay_trade_query, out_trade_no=no)
        assert closed["trade_status"] == "TRADE_CLOSED"
        after = await call(
            alipay.api_alipay_trade_refund, refund_amount="0.01", out_trade_no=no, out_request_no="R3"
        )
        assert after["sub_code"] == "ACQ.TRADE_HAS_CLOSE"
        found = await call(alipay.api_alipay_trade_fastpay_refund_query, "R1", out_trade_no=no)
        assert (found["refund_status"], found["refund_amount"], found["total_amount"]) == (
            "REFUND_SUCCESS",
            "3.00",
            "10.00",
        )
        missing = await call(alipay.api_alipay_trade_fastpay_refund_query, "NOPE", out_trade_no=no)
        assert (
            missing["code"] == "10000" and "refund_status" not in missing and "refund_amount" not in missing
        )

    async def test_waiting_barcode_trade_is_cancelled(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        waiting = await call(
            alipay.api_alipay_trade_pay, out_trade_no=no, scene="bar_code",
            auth_code=AUTH_CODE_WAIT_BUYER, subject="等待", total_amount="5.00",
        )  # fmt: skip
        assert (waiting["code"], waiting["msg"]) == ("10003", "order success pay inprocess")
        assert (await call(alipay.api_alipay_trade_query, out_trade_no=no))[
            "trade_status"
        ] == "WAIT_BUYER_PAY"
        cancelled = await call(alipay.api_alipay_trade_cancel, out_trade_no=no)
        assert (cancelled["code"], cancelled["action"], cancelled["retry_flag"]) == ("10000", "close", "N")
        assert (await call(alipay.api_alipay_trade_cancel, out_trade_no=no))["action"] == "close"
        assert (await call(alipay.api_alipay_trade_query, out_trade_no=no))["trade_status"] == "TRADE_CLOSED"

    async def test_cancel_of_a_paid_trade_refunds_it(self, env: Env) -> None:
        alipay, no = env.python_sdk(), order_no()
        await call(
            alipay.api_alipay_trade_pay, out_trade_no=no, scene="bar_code",
            auth_code="281234567890123456", subject="s", total_amount="2.00",
        )  # fmt: skip
        cancelled = await call(alipay.api_alipay_trade_cancel, out_trade_no=no)
        assert cancelled["action"] == "refund" and cancelled["gmt_refund_pay"]
        assert env.sandbox.trade(no)["refunded_amount"] == "2.00"  # type: ignore[index]
