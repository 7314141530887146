"""The official alipay-sdk-python 3.7.1411 (``DefaultAlipayClient``) against the sandbox.

It POSTs the common parameters in the query string and ``biz_content`` (sorted keys,
Chinese as UTF-8) in the form body, and verifies the signed answer itself (it raises
``ResponseException`` on a bad signature). Only its port bug is patched (§1.1)."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from typing import Any

import pytest

from tests.sandbox.alipay.conftest import Env

pytestmark = pytest.mark.usefixtures("official_sdk_ports")


def order_no() -> str:
    return "O" + uuid.uuid4().hex[:20]


async def execute(env: Env, request: Any, response: Any) -> Any:
    client = env.official_client()
    text = await asyncio.to_thread(client.execute, request)  # verifies the signature
    response.parse_response_content(text)
    return response


async def test_precreate_query_refund(env: Env) -> None:
    from alipay.aop.api.domain.AlipayTradePrecreateModel import AlipayTradePrecreateModel
    from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
    from alipay.aop.api.domain.AlipayTradeRefundModel import AlipayTradeRefundModel
    from alipay.aop.api.request.AlipayTradePrecreateRequest import AlipayTradePrecreateRequest
    from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
    from alipay.aop.api.request.AlipayTradeRefundRequest import AlipayTradeRefundRequest
    from alipay.aop.api.response.AlipayTradePrecreateResponse import AlipayTradePrecreateResponse
    from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse
    from alipay.aop.api.response.AlipayTradeRefundResponse import AlipayTradeRefundResponse

    no = order_no()
    model = AlipayTradePrecreateModel()
    model.out_trade_no, model.total_amount, model.subject = no, "66.60", "官方SDK 中文标题"
    request = AlipayTradePrecreateRequest(biz_model=model)
    request.notify_url = env.notify_url
    precreate = await execute(env, request, AlipayTradePrecreateResponse())
    assert (precreate.code, precreate.out_trade_no) == ("10000", no)
    assert precreate.qr_code.startswith(env.gateway.removesuffix("gateway.do") + "qr/")

    query_model = AlipayTradeQueryModel()
    query_model.out_trade_no = no
    query = await execute(env, AlipayTradeQueryRequest(biz_model=query_model), AlipayTradeQueryResponse())
    assert (query.code, query.sub_code) == ("40004", "ACQ.TRADE_NOT_EXIST")

    paid = await env.http.post(env.control("pay"), json={"trade": precreate.qr_code, "outcome": "pay"})
    assert paid.json()["subject"] == "官方SDK 中文标题"
    query = await execute(env, AlipayTradeQueryRequest(biz_model=query_model), AlipayTradeQueryResponse())
    assert (query.trade_status, query.total_amount) == ("TRADE_SUCCESS", "66.60")

    refund_model = AlipayTradeRefundModel()
    refund_model.out_trade_no, refund_model.refund_amount, refund_model.out_request_no = no, "6.66", "RF-1"
    refund = await execute(env, AlipayTradeRefundRequest(biz_model=refund_model), AlipayTradeRefundResponse())
    assert (refund.code, refund.fund_change, refund.refund_fee) == ("10000", "Y", "6.66")


def _page_pay_request(env: Env, no: str) -> Any:
    from alipay.aop.api.domain.AlipayTradePagePayModel import AlipayTradePagePayModel
    from alipay.aop.api.request.AlipayTradePagePayRequest import AlipayTradePagePayRequest

    model = AlipayTradePagePayModel()
    model.out_trade_no, model.total_amount, model.subject = no, "9.90", "电脑网站"
    model.product_code = "FAST_INSTANT_TRADE_PAY"
    request = AlipayTradePagePayRequest(biz_model=model)
    request.notify_url = env.notify_url
    request.return_url = "http://merchant.example/return"
    return request


def submitted_form(form: str) -> tuple[str, dict[str, str]]:
    """What a browser posts for the SDK's self-submitting form. The SDK escapes only
    ``"`` in values; a browser leaves ``&timestamp`` in an attribute alone."""
    action = re.search(r'action="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    pairs = re.findall(r'name="([^"]+)" value="([^"]*)"', form)
    return action, {k: v.replace("&quot;", '"') for k, v in pairs}


async def test_page_execute_get_url_opens_the_cashier(env: Env) -> None:
    no = order_no()
    url = env.official_client().page_execute(_page_pay_request(env, no), http_method="GET")
    page = await env.http.get(url)
    assert page.status_code == 200 and "确认付款" in page.text and no in page.text
    assert env.sandbox.trade(no)["trade_status"] == "WAIT_BUYER_PAY"  # type: ignore[index]


async def test_page_execute_form_is_accepted_and_pay_redirects_to_return_url(env: Env) -> None:
    no = order_no()
    form = env.official_client().page_execute(_page_pay_request(env, no))
    action, fields = submitted_form(form)
    page = await env.http.post(action, data=fields)
    assert page.status_code == 200 and "确认付款" in page.text
    cashier = re.search(r'action="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = await env.http.post(html.unescape(cashier), data={"outcome": "pay"})
    assert done.status_code == 303
    location = done.headers["location"]
    assert location.startswith("http://merchant.example/return?")
    from urllib.parse import parse_qsl, urlsplit

    back = dict(parse_qsl(urlsplit(location).query))
    assert back["method"] == "alipay.trade.page.pay.return" and back["out_trade_no"] == no
    sign = back.pop("sign")
    assert env.python_sdk().verify(back, sign)


async def test_tampered_biz_content_is_refused(env: Env) -> None:
    no = order_no()
    form = env.official_client().page_execute(_page_pay_request(env, no))
    action, fields = submitted_form(form)
    fields["biz_content"] = fields["biz_content"].replace("9.90", "0.01")
    page = await env.http.post(action, data=fields)
    assert page.status_code == 200 and "invalid-signature" in page.text
    assert env.sandbox.trade(no) is None
