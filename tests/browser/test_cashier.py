"""The hosted cashier in a real browser (R-API-9, R-PAY-8): an app opens a checkout with
``pay_type: "cashier"``; a buyer pays on paygate's page with each sandbox — WeChat Pay's QR
code paid as ``paygate sandbox pay`` does, Alipay's page, a Stripe card with 3-D Secure — and
lands on the app's return URL with paygate's own state. Expired checkouts, unknown tokens and tampered fields
get a clear page and change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from paygate.kit.clock import utc_now
from paygate.models import Checkout, Trade
from tests.browser.support import axe_violations, chromium, screenshot
from tests.support.helpers import buyer, count, order_no
from tests.support.stack import Stack

SHOP = "http://shop.example"
PHONE = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"


async def shop_page(browser: Any, **context: Any) -> Any:
    """A page whose visits to the app's return URL are answered by a stand-in shop."""
    page = await browser.new_page(**context)

    async def fulfil(route: Any) -> None:
        await route.fulfill(status=200, content_type="text/html", body="<title>Shop</title><h1>Thanks</h1>")

    await page.route(f"{SHOP}/**", fulfil)
    return page


async def open_checkout(stack: Stack, amount: int, currency: str = "CNY", **fields: Any) -> dict[str, Any]:
    order = order_no("CASH")
    checkout = await stack.client.pay(
        out_order_no=order,
        pay_type="cashier",
        amount=amount,
        currency=currency,
        subject="Green tea",
        return_url=f"{SHOP}/done?order={order}",
        **fields,
    )
    assert checkout["action"]["type"] == "redirect"
    assert checkout["action"]["url"].startswith(stack.public_url + "/cashier/")
    assert checkout["pay_type"] == "cashier" and checkout["trade_no"] is None
    return checkout


async def trade_state(stack: Stack, out_order_no: str) -> str:
    return str((await stack.client.query_trade(out_order_no=out_order_no))["state"])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_buyer_pays_through_the_cashier_with_each_sandbox(stack: Stack) -> None:
    """R-API-9, one per sandbox: WeChat Pay's QR code (scanned as `paygate sandbox pay` does),
    Alipay's page, and a Stripe card with 3-D Secure."""
    async with chromium() as browser:
        # 1. WeChat Pay QR: the page draws the code; the buyer's phone pays it in the sandbox
        checkout = await open_checkout(stack, 1999)
        again = await stack.client.pay(
            out_order_no=checkout["out_order_no"], pay_type="cashier", amount=1999, subject="Green tea"
        )
        assert again["action"]["url"] == checkout["action"]["url"]  # idempotent on out_order_no
        page = await shop_page(browser, locale="zh-CN")
        await page.goto(checkout["action"]["url"])
        assert "CNY 19.99" in await page.inner_text("#amount")
        assert "收银台" in await page.content()  # the browser's language
        assert await axe_violations(page) == []
        await screenshot(page, "cashier-desktop-zh.png")
        await page.check("input[value='wechat.native']")
        await page.click("#pay-button")
        qr = await page.get_attribute("#qr", "data-qr")
        assert qr and await page.locator("#qr svg").count() == 1  # drawn by paygate
        assert await axe_violations(page) == []
        await screenshot(page, "cashier-qr.png")
        assert (await buyer(stack, "wechatpay", qr)).status_code == 200
        await page.wait_for_url(f"{SHOP}/done**", timeout=15000)
        assert "state=succeeded" in page.url
        assert await trade_state(stack, checkout["out_order_no"]) == "succeeded"

        # 2. Alipay page: the browser goes to Alipay's page and comes back through the cashier
        checkout = await open_checkout(stack, 4321)
        page = await shop_page(browser, locale="en-US")
        await page.goto(checkout["action"]["url"])
        await page.check("input[value='alipay.page']")
        await page.click("#pay-button")
        await page.wait_for_url(stack.sandbox_url + "/**")
        await page.click("button[value=pay]")
        await page.wait_for_url(f"{SHOP}/done**", timeout=15000)
        assert "state=succeeded" in page.url

        # 3. A card that needs 3-D Secure, on a phone-sized screen
        checkout = await open_checkout(stack, 2500, currency="USD")
        page = await shop_page(
            browser, viewport={"width": 390, "height": 844}, is_mobile=True, user_agent=PHONE
        )
        await page.goto(checkout["action"]["url"])
        await screenshot(page, "cashier-mobile.png")
        assert await axe_violations(page) == []
        await page.check("input[value='stripe.card']")
        await page.select_option("#payment_method", "pm_card_authenticationRequired")
        await page.click("#pay-button")
        await page.wait_for_url(stack.sandbox_url + "/**")
        await page.click("button[value=pay]")  # the 3-D Secure challenge
        await page.wait_for_url(f"{SHOP}/done**", timeout=15000)
        assert "state=succeeded" in page.url
        assert await trade_state(stack, checkout["out_order_no"]) == "succeeded"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_expired_unknown_and_tampered_checkouts_change_nothing(stack: Stack) -> None:
    """R-API-9, issue 10 item 5: a clear page or 4xx, and no trade."""
    async with chromium() as browser:
        page = await shop_page(browser, locale="en-US")
        unknown = await page.goto(f"{stack.public_url}/cashier/{'x' * 43}")
        assert unknown is not None and unknown.status == 404
        assert "unknown" in await page.inner_text("h1")
        assert await axe_violations(page) == []

        checkout = await open_checkout(stack, 800)
        url = checkout["action"]["url"]
        token = url.rsplit("/", 1)[1]
        # a pay type the app may use, but the cashier was not built for; and a forged one
        for pay_type in ("alipay.barcode", "evil.type", ""):
            answer = await page.request.post(f"{url}/pay", form={"pay_type": pay_type})
            assert answer.status in (400, 403), pay_type
        answer = await page.request.post(
            f"{url}/pay", form={"pay_type": "stripe.card", "payment_method": "4242424242424242"}
        )
        assert answer.status == 400
        assert await count(stack, Trade) == 0

        # the checkout expires: the page says so, the status says where to go, pay is refused
        async with stack.container.sessions() as session:
            await session.execute(update(Checkout).where(Checkout.token == token).values(expire_at=utc_now()))
            await session.commit()
        await page.goto(url)
        assert "expired" in await page.inner_text("#status")
        assert await axe_violations(page) == []
        await screenshot(page, "cashier-expired.png")
        await page.wait_for_url(f"{SHOP}/done**", timeout=15000)
        assert "state=expired" in page.url
        answer = await page.request.post(f"{url}/pay", form={"pay_type": "alipay.qr"})
        assert answer.status == 410
        assert await count(stack, Trade) == 0
