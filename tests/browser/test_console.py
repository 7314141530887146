"""The operators' console in a real browser (R-OPS-1, R-OPS-2, R-SEC-5): an admin logs in,
finds a trade by the app's order number, reads its timeline, approves a refund the app
requested (four eyes), re-sends an event and watches the live charts; a viewer cannot
approve; a forged CSRF token, a missing session and repeated wrong passwords are refused —
each refusal changes nothing and is in the audit record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from paygate.models import OperatorAction
from tests.browser.support import axe_violations, chromium, screenshot
from tests.support.helpers import buyer, count, eventually, order_no
from tests.support.stack import Stack, running_stack, stack_settings

PASSWORD = "correct horse battery"


@pytest.fixture
async def held_stack(db_url: str, data_dir: Path) -> AsyncIterator[Stack]:
    """The stack with every refund held for an operator's approval, and three operators."""
    settings = stack_settings(db_url, data_dir, refund_approval_rules=[{"app_id": "*", "always": True}])
    async with running_stack(settings) as stack:
        for name, role in (("alice", "admin"), ("vic", "viewer"), ("bob", "approver")):
            await stack.container.operators.add(name, role, PASSWORD)
        yield stack


async def paid_trade_with_held_refund(stack: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    order = order_no("SHOP")
    trade = await stack.client.pay(out_order_no=order, pay_type="alipay.qr", amount=2599, subject="Kettle")
    await buyer(stack, "alipay", trade["action"]["qr_code"])

    async def paid() -> bool:
        return (await stack.client.query_trade(trade_no=trade["trade_no"]))["state"] == "succeeded"

    await eventually(paid)
    refund = await stack.client.refund(out_refund_no=f"RF-{order}", amount=600, trade_no=trade["trade_no"])
    assert refund["state"] == "pending_approval"
    return trade, refund


async def log_in(page: Any, stack: Stack, name: str, password: str = PASSWORD) -> None:
    await page.goto(f"{stack.internal_url}/console/")
    assert page.url.endswith("/console/login")  # no session: the login page
    await page.fill("#name", name)
    await page.fill("#password", password)
    await page.click("#login")


async def audited(stack: Stack, action: str, outcome: str = "done") -> int:
    return await count(
        stack, OperatorAction, OperatorAction.action == action, OperatorAction.outcome == outcome
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_operators_work_in_the_console(held_stack: Stack) -> None:
    stack = held_stack
    trade, refund = await paid_trade_with_held_refund(stack)
    base = f"{stack.internal_url}/console"
    async with chromium() as browser:
        # --- a viewer reads but cannot approve (R-OPS-2, issue 10 item 5)
        viewer = await (await browser.new_context()).new_page()
        await log_in(viewer, stack, "vic")
        await viewer.goto(f"{base}/refunds")
        assert await viewer.locator(f"#refund-{refund['refund_no']}").count() == 1
        assert await viewer.locator("button.approve").count() == 0
        csrf = await viewer.get_attribute("input[name=csrf]", "value")
        answer = await viewer.request.post(
            f"{base}/refunds/{refund['refund_no']}/approve", form={"csrf": csrf or "", "reason": "mine"}
        )
        assert answer.status == 403 and "OPERATOR_FORBIDDEN" in await answer.text()

        # --- the admin logs in (one wrong password first: refused, audited)
        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        page = await context.new_page()
        await log_in(page, stack, "alice", "not her password")
        assert await page.locator("#login-error").count() == 1
        assert await axe_violations(page) == []
        await screenshot(page, "console-login.png")
        await page.fill("#name", "alice")
        await page.fill("#password", PASSWORD)
        await page.click("#login")
        await page.wait_for_url(f"{base}/")
        assert "alice (admin)" in await page.inner_text("#who")

        # --- the live dashboard: four uPlot charts, totals by htmx
        await page.locator("#charts canvas").nth(3).wait_for()  # no string eval: the page's CSP forbids it
        await page.wait_for_selector("#backlog")
        assert "alipay.qr" in await page.inner_text("#totals")
        assert await axe_violations(page) == []
        await screenshot(page, "console-dashboard.png")

        # --- find the trade by the app's order number, read its timeline
        await page.goto(f"{base}/search")
        await page.fill("#q", trade["out_order_no"])
        await page.click("#search")
        await page.click(f"a[href='/console/trades/{trade['trade_no']}']")
        timeline = (await page.inner_text("#timeline")).lower()
        for line in ("request", "attempt", "state", "notification", "event", "created", "succeeded"):
            assert line in timeline, line
        assert await axe_violations(page) == []
        await screenshot(page, "console-trade.png")

        # --- a forged CSRF token is refused, and changes nothing
        answer = await page.request.post(
            f"{base}/refunds/{refund['refund_no']}/approve", form={"csrf": "forged", "reason": "x"}
        )
        assert answer.status == 403 and "CONSOLE_CSRF" in await answer.text()
        assert (await stack.client.query_refund(refund_no=refund["refund_no"]))["state"] == "pending_approval"

        # --- approve the refund the app requested (four eyes: not alice's own)
        await page.goto(f"{base}/refunds")
        assert await axe_violations(page) == []
        await screenshot(page, "console-approvals.png")
        await page.fill(f"#reason-{refund['refund_no']}", "receipt checked")
        await page.click(f"#refund-{refund['refund_no']} button.approve")
        await page.wait_for_url(f"{base}/refunds?**")

        async def refunded() -> bool:
            view = await stack.client.query_refund(refund_no=refund["refund_no"])
            return view["state"] == "succeeded" and view["decided_by"] == "operator:alice"

        await eventually(refunded)

        # --- re-send the trade's event from its page
        await page.goto(f"{base}/trades/{trade['trade_no']}")
        await page.locator("button.resend").first.click()
        await page.wait_for_url("**resent=evt_**")
        assert await audited(stack, "resend_event") == 1

        # --- the audit record has all of it, refusals included
        await page.goto(f"{base}/audit")
        text = await page.inner_text("#audit")
        for action in (
            "console.login",
            "console.search",
            "console.view_trade",
            "refund.approve",
            "resend_event",
            "denied:csrf",
            "denied:decide_refunds",
        ):
            assert action in text, action
        assert await audited(stack, "login", "refused") == 1

        # --- logging out ends the session on the server: the old cookie opens nothing
        cookies = await context.cookies()
        await page.click("text=Log out")
        await page.wait_for_url(f"{base}/login")
        session = next(c["value"] for c in cookies if c["name"] == "paygate_console")
        async with httpx.AsyncClient(cookies={"paygate_console": session}) as http:
            answer = await http.get(f"{base}/search")
            assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_console_refuses_without_session_csrf_or_after_lockout(held_stack: Stack) -> None:
    """R-OPS-2, issue 10 item 5: no session → 401/login; lock-out after 5 wrong passwords."""
    stack = held_stack
    base = f"{stack.internal_url}/console"
    async with httpx.AsyncClient(base_url=base) as http:
        answer = await http.post("/refunds/R1/approve", data={"reason": "x", "csrf": "x"})
        assert answer.status_code == 401 and "CONSOLE_SESSION" in answer.text
        answer = await http.post("/events/evt_1/resend", data={"csrf": "x"})
        assert answer.status_code == 401
        assert (await http.get("/")).status_code == 303
        # the login form has its own CSRF token (double-submit cookie)
        answer = await http.post("/login", data={"name": "bob", "password": PASSWORD, "csrf": "x"})
        assert answer.status_code == 403 and "CONSOLE_CSRF" in answer.text

        async def login(password: str) -> httpx.Response:
            form = (await http.get("/login")).text
            token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            return await http.post("/login", data={"name": "bob", "password": password, "csrf": token})

        for _ in range(5):
            assert (await login("wrong password!")).status_code == 401
        assert (await login(PASSWORD)).status_code == 401  # locked out, though right
        assert "paygate_console" not in http.cookies
    assert await audited(stack, "login", "refused") == 6


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_channel_account_secrets_are_write_only(held_stack: Stack) -> None:
    """R-OPS-2, R-SEC-4: an admin adds a channel account in the console; its secrets are sealed,
    never shown again (only their names), never in the audit record; a viewer may not add one."""
    stack = held_stack
    base = f"{stack.internal_url}/console"
    secret = "sk_test_do_not_show_me_0123456789"

    async def session(name: str) -> tuple[httpx.AsyncClient, str]:
        http = httpx.AsyncClient(base_url=base)
        form = (await http.get("/login")).text
        token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        answer = await http.post("/login", data={"name": name, "password": PASSWORD, "csrf": token})
        assert answer.status_code == 303
        page = (await http.get("/apps")).text
        return http, page.split('name="csrf" value="', 1)[1].split('"', 1)[0]

    form = {
        "channel": "stripe",
        "name": "stripe-eu",
        "merchant_id": "acct_eu",
        "gateway_url": "https://api.stripe.com",
        "secrets": f'{{"secret_key": "{secret}", "webhook_secret": "whsec_abc"}}',
    }
    viewer, csrf = await session("vic")
    try:
        answer = await viewer.post("/accounts", data={**form, "csrf": csrf})
        assert answer.status_code == 403
    finally:
        await viewer.aclose()
    admin, csrf = await session("alice")
    try:
        bad = await admin.post("/accounts", data={**form, "secrets": '{"secret_key": "x"}', "csrf": csrf})
        assert bad.status_code == 400 and "webhook_secret" in bad.text  # the spec names what is missing
        answer = await admin.post("/accounts", data={**form, "csrf": csrf})
        assert answer.status_code == 303
        page = (await admin.get(stack.internal_url + answer.headers["location"])).text
        assert "acct_eu" in page and "secret_key, webhook_secret" in page
        assert secret not in page and "whsec_abc" not in page
        audit = (await admin.get("/audit")).text
        assert "account.add" in audit and secret not in audit
    finally:
        await admin.aclose()
    async with stack.container.sessions() as s:
        rows = (await s.execute(select(OperatorAction.detail))).scalars().all()
    assert secret not in str(rows)
