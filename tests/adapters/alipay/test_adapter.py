"""AlipayAdapter flows against the scripted gateway (real HTTP), for answers a simulator
rarely gives: repeats, in-process payments, mismatching echoes, bill files."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import pytest_asyncio

from paygate.channels.alipay import AlipayAdapter
from paygate.channels.contract import (
    ActionKind,
    ChannelAccount,
    ChannelAdapter,
    ChannelBusinessError,
    ChannelProtocolError,
    CreatePayment,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnsupportedOperation,
)
from paygate.kit.money import Money
from tests.adapters.alipay.fake_gateway import FakeGateway
from tests.adapters.alipay.support import (
    Keys,
    make_account,
    ref_request_string,
    ref_verify,
    signed_body,
)
from tests.adapters.alipay.test_bill import DETAIL, DETAIL_NAME, bill_zip
from tests.support.servers import serve_asgi

pytestmark = pytest.mark.asyncio(loop_scope="module")
NOW = datetime(2026, 6, 5, 8, 0, 0, tzinfo=UTC)


@dataclass
class Env:
    gateway: FakeGateway
    adapter: AlipayAdapter
    account: ChannelAccount
    keys: Keys
    base: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(keys: Keys) -> AsyncIterator[tuple[FakeGateway, str, httpx.AsyncClient]]:
    gateway = FakeGateway(keys)
    async with serve_asgi(gateway.app) as base, httpx.AsyncClient() as http:
        yield gateway, base, http


@pytest.fixture
def env(keys: Keys, served: tuple[FakeGateway, str, httpx.AsyncClient]) -> Env:
    gateway, base, http = served
    gateway.answer, gateway.delay, gateway.requests, gateway.files = None, 0.0, [], {}
    account = make_account(keys, base + "/gateway.do", timeout_seconds=0.5)
    return Env(gateway, AlipayAdapter(http, clock=lambda: NOW), account, keys, base)


def request(method: str, **overrides: Any) -> CreatePayment:
    values: dict[str, Any] = {
        "attempt_no": "A1",
        "trade_no": "T1",
        "method": method,
        "amount": Money(888, "CNY"),
        "subject": "会员充值",
        "expire_at": NOW + timedelta(minutes=30),
    }
    values.update(overrides)
    return CreatePayment(**values)


def biz_of(params: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(params["biz_content"])
    return result


async def test_satisfies_the_contract() -> None:
    adapter = AlipayAdapter()
    assert isinstance(adapter, ChannelAdapter)
    assert adapter.channel == "alipay"
    assert adapter.methods == {"qr", "page", "wap", "app", "jsapi", "barcode"}
    await adapter.aclose()


class TestClientSideForms:
    async def test_page_redirect(self, env: Env) -> None:
        result = await env.adapter.create_payment(
            env.account, request("page", return_url="https://shop.example.com/r/1")
        )
        assert result.action.kind is ActionKind.REDIRECT and result.action.method == "GET"
        url = urlsplit(result.action.url or "")
        assert f"{url.scheme}://{url.netloc}{url.path}" == env.account.gateway_url
        params = dict(parse_qsl(url.query))
        assert ref_verify(env.keys.app, ref_request_string(params), params["sign"])
        assert params["method"] == "alipay.trade.page.pay"
        assert params["return_url"] == "https://shop.example.com/r/1"
        assert params["notify_url"] == env.account.notify_url
        assert biz_of(params)["product_code"] == "FAST_INSTANT_TRADE_PAY"
        assert result.exchange is not None and "sign" not in result.exchange.request
        assert env.gateway.requests == []  # nothing sent

    async def test_wap_form(self, env: Env) -> None:
        result = await env.adapter.create_payment(
            env.account, request("wap", extra={"form": True, "quit_url": "https://s/q"})
        )
        assert result.action.kind is ActionKind.FORM and result.action.method == "POST"
        page = result.action.form or ""
        assert f'action="{env.account.gateway_url}"' in page and "submit()" in page
        params = {
            html.unescape(k): html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', page)
        }
        assert ref_verify(env.keys.app, ref_request_string(params), params["sign"])
        assert params["return_url"] == env.account.return_url  # the account's default
        biz = biz_of(params)
        assert biz["product_code"] == "QUICK_WAP_WAY" and biz["quit_url"] == "https://s/q"
        assert "form" not in biz

    async def test_app_order_string(self, env: Env) -> None:
        result = await env.adapter.create_payment(env.account, request("app"))
        assert result.action.kind is ActionKind.APP
        params = dict(parse_qsl(str((result.action.params or {})["order_string"])))
        assert ref_verify(env.keys.app, ref_request_string(params), params["sign"])
        assert params["method"] == "alipay.trade.app.pay"
        assert biz_of(params)["product_code"] == "QUICK_MSECURITY_PAY"

    async def test_unsupported_form(self, env: Env) -> None:
        with pytest.raises(UnsupportedOperation):
            await env.adapter.create_payment(env.account, request("native"))


class TestServerSide:
    async def test_barcode_in_process(self, env: Env) -> None:
        env.gateway.reply(
            {
                "code": "10003",
                "msg": "order success pay inprocess",
                "out_trade_no": "A1",
                "trade_no": "2026X1",
            }
        )
        result = await env.adapter.create_payment(
            env.account, request("barcode", extra={"auth_code": "287654321098765432"})
        )
        assert result.status is PaymentStatus.PAYING
        assert result.channel_trade_no == "2026X1"

    async def test_barcode_wrong_amount_is_untrusted(self, env: Env) -> None:
        env.gateway.reply(
            {
                "code": "10000",
                "msg": "Success",
                "out_trade_no": "A1",
                "trade_no": "2026X1",
                "total_amount": "0.01",
            }
        )
        with pytest.raises(ChannelProtocolError, match="total_amount") as caught:
            await env.adapter.create_payment(
                env.account, request("barcode", extra={"auth_code": "287654321098765432"})
            )
        assert caught.value.exchange is not None and caught.value.exchange.error

    async def test_qr_for_another_order_is_untrusted(self, env: Env) -> None:
        env.gateway.reply(
            {"code": "10000", "msg": "Success", "out_trade_no": "A2", "qr_code": "https://qr.alipay.com/x"}
        )
        with pytest.raises(ChannelProtocolError, match="out_trade_no"):
            await env.adapter.create_payment(env.account, request("qr"))

    async def test_close_of_unknown_trade(self, env: Env) -> None:
        env.gateway.reply(
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.TRADE_NOT_EXIST",
                "sub_msg": "交易不存在",
            }
        )
        result = await env.adapter.close_payment(env.account, "A1")
        assert result.closed is False
        assert result.exchange is not None

    async def test_close_of_paid_trade_raises(self, env: Env) -> None:
        env.gateway.reply(
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.TRADE_STATUS_ERROR",
                "sub_msg": "交易状态不合法",
            }
        )
        with pytest.raises(ChannelBusinessError) as caught:
            await env.adapter.close_payment(env.account, "A1")
        assert caught.value.sub_code == "ACQ.TRADE_STATUS_ERROR"

    async def test_refund_repeat_confirmed_by_query(self, env: Env) -> None:
        answers = iter(
            [
                {
                    "code": "10000",
                    "msg": "Success",
                    "out_trade_no": "A1",
                    "fund_change": "N",
                    "refund_fee": "3.00",
                    "trade_no": "2026X1",
                },
                {
                    "code": "10000",
                    "msg": "Success",
                    "out_trade_no": "A1",
                    "out_request_no": "R1",
                    "refund_amount": "3.00",
                    "total_amount": "8.88",
                    "refund_status": "REFUND_SUCCESS",
                    "gmt_refund_pay": "2026-06-05 17:00:00",
                },
            ]
        )
        env.gateway.answer = lambda params: (200, _sign(env, params, next(answers)))
        refund = RefundRequest(
            refund_no="R1",
            attempt_no="A1",
            channel_trade_no="2026X1",
            amount=Money(300, "CNY"),
            total=Money(888, "CNY"),
        )
        result = await env.adapter.refund(env.account, refund)
        assert result.status is RefundStatus.SUCCEEDED
        assert [p["method"] for p in env.gateway.requests] == [
            "alipay.trade.refund",
            "alipay.trade.fastpay.refund.query",
        ]
        assert biz_of(env.gateway.requests[0])["out_request_no"] == "R1"

    async def test_refund_query_of_unknown_refund(self, env: Env) -> None:
        env.gateway.reply({"code": "10000", "msg": "Success"})
        result = await env.adapter.query_refund(env.account, "R9", "A1")
        assert result.status is RefundStatus.NOT_FOUND

    async def test_download_bill(self, env: Env) -> None:
        env.gateway.files["b.zip"] = bill_zip({DETAIL_NAME: DETAIL})
        env.gateway.reply({"code": "10000", "msg": "Success", "bill_download_url": env.base + "/bills/b.zip"})
        bill = await env.adapter.download_bill(env.account, date(2026, 6, 5))
        assert [line.kind for line in bill.lines] == ["payment", "refund"]
        assert biz_of(env.gateway.requests[0]) == {"bill_type": "trade", "bill_date": "2026-06-05"}

    async def test_no_bill_yet(self, env: Env) -> None:
        env.gateway.reply(
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "isp.bill_not_exist",
                "sub_msg": "账单不存在",
            }
        )
        with pytest.raises(ChannelBusinessError) as caught:
            await env.adapter.download_bill(env.account, date(2026, 6, 5))
        assert caught.value.sub_code == "isp.bill_not_exist"

    async def test_corrupt_bill(self, env: Env) -> None:
        env.gateway.files["b.zip"] = b"PK-not-really"
        env.gateway.reply({"code": "10000", "msg": "Success", "bill_download_url": env.base + "/bills/b.zip"})
        with pytest.raises(ChannelProtocolError):
            await env.adapter.download_bill(env.account, date(2026, 6, 5))


def _sign(env: Env, params: dict[str, str], obj: dict[str, Any]) -> str:
    return signed_body(env.keys.alipay, params["method"], obj)
