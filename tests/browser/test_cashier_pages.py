"""A person pays in a browser: headless Chromium opens the pay URL / QR link the sandbox
issued, clicks Pay, and comes back through paygate's return page (R-CH-6, R-API-3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import chromium
from tests.support.helpers import eventually, order_no
from tests.support.stack import Stack


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_buyer_pays_a_page_payment_in_the_browser(stack: Stack, browser: Any, tmp_path: Path) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("WEB"), pay_type="alipay.page", amount=4321, subject="Headphones"
    )
    page = await browser.new_page()
    await page.goto(trade["action"]["url"])
    assert "43.21" in await page.content()
    await page.click("button[value=pay]")
    await page.wait_for_load_state()
    # back through paygate's /return: the page shows paygate's own state of the trade
    assert page.url.startswith(stack.public_url + "/return/alipay/")
    await page.screenshot(path=str(tmp_path / "return.png"))

    async def succeeded() -> bool:
        return (await stack.client.query_trade(trade_no=trade["trade_no"]))["state"] == "succeeded"

    await eventually(succeeded)
    await page.reload()
    assert "succeeded" in await page.content()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_buyer_scans_a_qr_code_and_cancels(stack: Stack, browser: Any) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("QR"), pay_type="alipay.qr", amount=100, subject="Tea"
    )
    page = await browser.new_page()
    await page.goto(trade["action"]["qr_code"])
    await page.click("button[value=cancel]")

    async def closed() -> bool:
        return (await stack.client.query_trade(trade_no=trade["trade_no"]))["state"] == "closed"

    await eventually(closed)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_buyer_scans_a_wechat_code_and_pays(stack: Stack, browser: Any) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("WX"), pay_type="wechat.native", amount=990, subject="Noodles"
    )
    page = await browser.new_page()
    await page.goto(trade["action"]["qr_code"])
    assert "9.90" in await page.content()
    await page.click("button[value=pay]")

    async def succeeded() -> bool:
        return (await stack.client.query_trade(trade_no=trade["trade_no"]))["state"] == "succeeded"

    await eventually(succeeded)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_card_holder_completes_3d_secure_and_returns(stack: Stack, browser: Any) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("3DS"),
        pay_type="stripe.card",
        amount=2500,
        currency="USD",
        subject="Lamp",
        extra={"payment_method": "pm_card_authenticationRequired"},
    )
    assert trade["action"]["type"] == "redirect"
    page = await browser.new_page()
    await page.goto(trade["action"]["url"])
    await page.click("button[value=pay]")
    await page.wait_for_load_state()
    assert page.url.startswith(stack.public_url + "/return/stripe/")

    async def succeeded() -> bool:
        return (await stack.client.query_trade(trade_no=trade["trade_no"]))["state"] == "succeeded"

    await eventually(succeeded)
