"""Cashier mode over the API and the public listener, on every database (R-API-9, R-PAY-8):
idempotency and refusals of ``/gopay`` with ``pay_type: "cashier"``; the payer paying a WeChat
QR code from the cashier (scanned as ``paygate sandbox pay`` does), switching pay type on the
way; the status the page polls; bad input refused with nothing changed."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from paygate.kit.clock import utc_now
from paygate.models import Checkout, Trade
from paygate.sdk import PaygateAPIError, PaygateClient
from tests.support.helpers import buyer, count, eventually, order_no
from tests.support.stack import Stack


async def open_checkout(stack: Stack, amount: int = 1200, **fields: Any) -> dict[str, Any]:
    return await stack.client.pay(
        out_order_no=fields.pop("out_order_no", None) or order_no("CO"),
        pay_type="cashier",
        amount=amount,
        subject="Rice",
        **fields,
    )


async def test_cashier_checkout_is_paid_through_the_payment_services(stack: Stack) -> None:
    checkout = await open_checkout(stack, return_url="https://shop.example/back?x=1", metadata={"cart": "7"})
    assert checkout["action"]["type"] == "redirect" and checkout["state"] == "created"
    assert checkout["metadata"] == {"cart": "7"}
    url = checkout["action"]["url"]
    repeat = await open_checkout(stack, out_order_no=checkout["out_order_no"])
    assert repeat["action"]["url"] == url
    with pytest.raises(PaygateAPIError) as refused:
        await open_checkout(stack, amount=1300, out_order_no=checkout["out_order_no"])
    assert refused.value.error == "ORDER_MISMATCH"
    assert refused.value.data == {"trade_no": None}  # docs/api.md: {"trade_no"}; no trade yet
    assert await count(stack, Checkout) == 1

    async with httpx.AsyncClient(timeout=10) as http:
        status = (await http.get(f"{url}/status")).json()
        assert status == {"state": "open", "trade_no": None, "done": False, "next": None}
        page = await http.get(url, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert page.status_code == 200 and "收银台" in page.text and "CNY 12.00" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["referrer-policy"] == "no-referrer"  # the URL holds the token
        # the payer first picks Alipay's QR code, then switches to WeChat Pay's: one trade
        first = await http.post(f"{url}/pay", data={"pay_type": "alipay.qr"})
        assert first.status_code == 200 and "<svg" in first.text
        second = await http.post(f"{url}/pay", data={"pay_type": "wechat.native"})
        qr = second.text.split('data-qr="', 1)[1].split('"', 1)[0]
        trade = await stack.client.query_trade(out_order_no=checkout["out_order_no"])
        assert trade["pay_type"] == "wechat.native" and trade["amount"] == 1200
        assert trade["metadata"] == {"cart": "7"}
        assert (await http.get(f"{url}/status")).json()["state"] == "pending"
        assert (await buyer(stack, "wechatpay", qr)).status_code == 200
        # once the payer picked, a repeat answers with the trade in /gopay's shape (no refunds
        # list), and another amount's refusal names the trade
        again = await open_checkout(stack, out_order_no=checkout["out_order_no"])
        assert again["trade_no"] == trade["trade_no"] and "refunds" not in again
        with pytest.raises(PaygateAPIError) as refused:
            await open_checkout(stack, amount=1300, out_order_no=checkout["out_order_no"])
        assert refused.value.data == {"trade_no": trade["trade_no"]}

        async def done() -> dict[str, Any] | None:
            s: dict[str, Any] = (await http.get(f"{url}/status")).json()
            return s if s["done"] else None

        status = await eventually(done)
        assert status["state"] == "succeeded" and status["trade_no"] == trade["trade_no"]
        assert status["next"] == (
            f"https://shop.example/back?x=1&trade_no={trade['trade_no']}"
            f"&out_order_no={checkout['out_order_no']}&state=succeeded"
        )
        # a paid order takes no second payment, and /gopay answers with the trade itself
        again = await http.post(f"{url}/pay", data={"pay_type": "alipay.qr"})
        assert again.status_code == 409
    answer = await open_checkout(stack, out_order_no=checkout["out_order_no"])
    assert answer["trade_no"] == trade["trade_no"] and answer["state"] == "succeeded"
    assert await count(stack, Trade) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_cashier_refuses_bad_input_and_changes_nothing(stack: Stack) -> None:
    for fields, code in (
        ({"currency": "XXX"}, "UNKNOWN_CURRENCY"),
        ({"amount": 0}, "INVALID_AMOUNT"),
        ({"expire_minutes": 0}, "INVALID_REQUEST"),
    ):
        with pytest.raises(PaygateAPIError) as refused:
            await open_checkout(stack, **fields)
        assert refused.value.error == code
    # an app that may use no pay type the cashier offers
    made = await stack.container.apps.create("till", "Till", ["alipay.barcode"])
    till = PaygateClient(stack.internal_url, "till", secret=made["secret"])
    try:
        with pytest.raises(PaygateAPIError) as refused:
            await till.pay(out_order_no="T-1", pay_type="cashier", amount=100, subject="x")
        assert refused.value.error == "PAY_TYPE_NOT_ALLOWED"
    finally:
        await till.aclose()
    assert await count(stack, Checkout) == 0

    url = (await open_checkout(stack))["action"]["url"]
    async with httpx.AsyncClient(timeout=10) as http:
        for bad in (f"{stack.public_url}/cashier/nope", f"{stack.public_url}/cashier/{'A' * 43}"):
            assert (await http.get(bad)).status_code == 404
            assert (await http.get(f"{bad}/status")).json()["error"] == "CHECKOUT_NOT_FOUND"
            assert (await http.post(f"{bad}/pay", data={"pay_type": "alipay.qr"})).status_code == 404
        for form in (
            {},
            {"pay_type": "x" * 500},
            {"pay_type": "alipay.qr\x00"},
            {"pay_type": "alipay.barcode"},
            {"pay_type": "stripe.card", "payment_method": "pm_card_visa'; drop"},
        ):
            answer = await http.post(f"{url}/pay", data=form)
            assert 400 <= answer.status_code < 500, form
    assert await count(stack, Trade) == 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_cashier_meets_gateway_mode_orders_and_h5_gets_the_payers_address(stack: Stack) -> None:
    order = order_no("GW")
    trade = await stack.client.pay(out_order_no=order, pay_type="alipay.qr", amount=500, subject="Tea")
    with pytest.raises(PaygateAPIError) as refused:
        await open_checkout(stack, amount=501, out_order_no=order)
    assert refused.value.error == "ORDER_MISMATCH" and refused.value.data["trade_no"] == trade["trade_no"]
    same = await open_checkout(stack, amount=500, out_order_no=order)
    assert same["trade_no"] == trade["trade_no"] and same["action"]["type"] == "redirect"

    # wechat.h5 needs the payer's IP: the app gave none, so the browser's is used
    url = (await open_checkout(stack, amount=700))["action"]["url"]
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(f"{url}/pay", data={"pay_type": "wechat.h5"})
    assert answer.status_code == 303 and answer.headers["location"].startswith(stack.sandbox_url)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_expired_checkout_with_an_open_payment_says_so(stack: Stack) -> None:
    """The page stops waiting at the checkout's expiry, but never calls an open payment
    'expired': it may yet be paid (R-PAY-5 refunds a payment after the close)."""
    checkout = await open_checkout(stack, return_url="https://shop.example/r")
    url = checkout["action"]["url"]
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(f"{url}/pay", data={"pay_type": "alipay.qr"})).status_code == 200
        async with stack.container.sessions() as session:
            await session.execute(
                update(Checkout)
                .where(Checkout.out_order_no == checkout["out_order_no"])
                .values(expire_at=utc_now())
            )
            await session.commit()
        status = (await http.get(f"{url}/status")).json()
    assert status["done"] and status["state"] == "pending" and status["next"].endswith("state=pending")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_declined_card_ends_on_the_return_url_as_failed(stack: Stack) -> None:
    checkout = await open_checkout(stack, amount=900, currency="USD", return_url="https://shop.example/r")
    url = checkout["action"]["url"]
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(
            f"{url}/pay", data={"pay_type": "stripe.card", "payment_method": "pm_card_chargeDeclined"}
        )
        assert answer.status_code == 422 and "CHANNEL_ERROR" in answer.text
        status = (await http.get(f"{url}/status")).json()
    assert status["done"] and status["state"] == "failed" and status["next"].endswith("state=failed")
    assert (await stack.client.query_trade(out_order_no=checkout["out_order_no"]))["state"] == "failed"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_page_offers_what_the_device_and_the_channel_take(stack: Stack) -> None:
    phone = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"}
    async with httpx.AsyncClient(timeout=10) as http:
        cny = (await open_checkout(stack, amount=100))["action"]["url"]
        desktop = (await http.get(cny)).text
        mobile = (await http.get(cny, headers=phone)).text
        usd = (await http.get((await open_checkout(stack, amount=100, currency="USD"))["action"]["url"])).text
    offered = lambda html: set(re.findall(r'name="pay_type" value="([a-z0-9.]+)"', html))  # noqa: E731
    assert offered(desktop) == {"alipay.qr", "alipay.page", "wechat.native", "stripe.card"}
    assert offered(mobile) == {"alipay.qr", "alipay.wap", "wechat.native", "wechat.h5", "stripe.card"}
    assert offered(usd) == {"stripe.card"}  # Alipay and WeChat Pay take CNY only
