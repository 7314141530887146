"""AlipayAdapter against paygate's Alipay sandbox over real HTTP: pay forms, query, close,
cancel (R-CH-1). The sandbox implements Alipay's rules on its own; only its public surface
is used (``credentials()``, the buyer helper ``pay()``, ``trade()``).
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import pytest_asyncio

from paygate.channels.alipay.protocol import BEIJING
from paygate.channels.contract import (
    ActionKind,
    ChannelBusinessError,
    NotificationKind,
    PaymentStatus,
)
from paygate.sandbox.alipay import AUTH_CODE_NO_BALANCE, AUTH_CODE_SUCCESS, AUTH_CODE_WAIT_BUYER
from tests.adapters.alipay.simulator_env import (
    Env,
    about,
    paid_by_barcode,
    pay_request,
    running_sandbox,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with running_sandbox(tmp_path_factory.mktemp("alipay-sandbox")) as value:
        yield value


@pytest.fixture(autouse=True)
def _clear_faults(env: Env) -> None:
    env.sandbox.faults.clear()


# --------------------------------------------------------------------------- pay forms


class TestPayForms:
    async def test_qr_not_scanned_then_paid_and_notified(self, env: Env) -> None:
        request = pay_request("qr")
        result = await env.adapter.create_payment(env.account, request)
        assert result.action.kind is ActionKind.QR_CODE and result.action.qr_code
        assert result.exchange is not None and result.exchange.http_status == 200

        pending = await env.adapter.query_payment(env.account, request.attempt_no)
        assert pending.status is PaymentStatus.NOT_FOUND  # precreate creates no trade

        env.sandbox.pay(result.action.qr_code, "pay")
        paid = await env.adapter.query_payment(env.account, request.attempt_no)
        assert paid.status is PaymentStatus.SUCCEEDED
        assert paid.amount == request.amount
        assert paid.channel_trade_no and paid.paid_at is not None

        body = await env.inbox.wait_for(about(request.attempt_no))
        note = env.adapter.parse_notification(env.account, {}, body)
        assert note.kind is NotificationKind.PAYMENT
        assert note.payment_status is PaymentStatus.SUCCEEDED
        assert note.amount == request.amount
        assert note.channel_trade_no == paid.channel_trade_no
        assert env.adapter.notify_reply(True).body == b"success"

    async def test_qr_life_is_bounded_by_expire_at(self, env: Env) -> None:
        request = pay_request("qr")
        result = await env.adapter.create_payment(env.account, request)
        env.sandbox.pay(result.action.qr_code or "", "scan")
        trade = env.sandbox.trade(request.attempt_no)
        assert trade is not None
        deadline = datetime.strptime(trade["pay_deadline"], "%Y-%m-%d %H:%M:%S")
        assert deadline.replace(tzinfo=BEIJING) <= request.expire_at

    @pytest.mark.parametrize("form", ["page", "wap"])
    async def test_redirect_forms(self, env: Env, form: str) -> None:
        request = pay_request(form)
        result = await env.adapter.create_payment(env.account, request)
        assert result.action.kind is ActionKind.REDIRECT and result.action.url
        cashier = await env.http.get(result.action.url)  # the payer's browser
        assert cashier.status_code == 200
        env.sandbox.pay(result.action.url, "pay")
        status = await env.adapter.query_payment(env.account, request.attempt_no)
        assert status.status is PaymentStatus.SUCCEEDED
        assert status.amount == request.amount

    async def test_page_form_post(self, env: Env) -> None:
        request = pay_request("page", form=True)
        result = await env.adapter.create_payment(env.account, request)
        assert result.action.kind is ActionKind.FORM
        fields = {
            html.unescape(k): html.unescape(v)
            for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', result.action.form or "")
        }
        cashier = await env.http.post(result.action.url or "", data=fields)
        assert cashier.status_code == 200
        assert env.sandbox.trade(request.attempt_no) is not None  # the gateway accepted it

    async def test_app(self, env: Env) -> None:
        request = pay_request("app")
        result = await env.adapter.create_payment(env.account, request)
        assert result.action.kind is ActionKind.APP
        env.sandbox.pay(str((result.action.params or {})["order_string"]), "pay")
        status = await env.adapter.query_payment(env.account, request.attempt_no)
        assert status.status is PaymentStatus.SUCCEEDED

    async def test_jsapi(self, env: Env) -> None:
        request = pay_request("jsapi", buyer_id="2088102146225135")
        result = await env.adapter.create_payment(env.account, request)
        assert result.action.kind is ActionKind.JSAPI
        trade_no = (result.action.params or {})["trade_no"]
        assert trade_no == result.channel_trade_no
        waiting = await env.adapter.query_payment(env.account, request.attempt_no)
        assert waiting.status is PaymentStatus.PENDING and waiting.channel_trade_no == trade_no
        env.sandbox.pay(request.attempt_no, "pay", buyer_id="2088102146225135")
        status = await env.adapter.query_payment(env.account, request.attempt_no, trade_no)
        assert status.status is PaymentStatus.SUCCEEDED

    async def test_barcode(self, env: Env) -> None:
        request = pay_request("barcode", auth_code=AUTH_CODE_SUCCESS)
        result = await env.adapter.create_payment(env.account, request)
        assert result.action.kind is ActionKind.NONE
        assert result.status is PaymentStatus.SUCCEEDED
        assert result.paid_amount == request.amount and result.channel_trade_no

    async def test_barcode_waiting_for_the_buyer(self, env: Env) -> None:
        request = pay_request("barcode", auth_code=AUTH_CODE_WAIT_BUYER)
        result = await env.adapter.create_payment(env.account, request)
        assert result.status is PaymentStatus.PAYING

    async def test_barcode_declined(self, env: Env) -> None:
        request = pay_request("barcode", auth_code=AUTH_CODE_NO_BALANCE)
        with pytest.raises(ChannelBusinessError) as caught:
            await env.adapter.create_payment(env.account, request)
        assert caught.value.code == "40004"
        assert caught.value.sub_code == "ACQ.BUYER_BALANCE_NOT_ENOUGH"
        assert caught.value.exchange is not None


# --------------------------------------------------------------------------- close, cancel


class TestCloseAndCancel:
    async def test_close_of_an_unscanned_qr(self, env: Env) -> None:
        request = pay_request("qr")
        await env.adapter.create_payment(env.account, request)
        assert (await env.adapter.close_payment(env.account, request.attempt_no)).closed is False

    async def test_close(self, env: Env) -> None:
        request = pay_request("jsapi", buyer_id="2088102146225135")
        await env.adapter.create_payment(env.account, request)
        assert (await env.adapter.close_payment(env.account, request.attempt_no)).closed
        status = await env.adapter.query_payment(env.account, request.attempt_no)
        assert status.status is PaymentStatus.CLOSED

    async def test_close_of_a_paid_trade_is_refused(self, env: Env) -> None:
        request = await paid_by_barcode(env)
        with pytest.raises(ChannelBusinessError):
            await env.adapter.close_payment(env.account, request.attempt_no)

    async def test_cancel_of_a_waiting_barcode(self, env: Env) -> None:
        request = pay_request("barcode", auth_code=AUTH_CODE_WAIT_BUYER)
        await env.adapter.create_payment(env.account, request)
        assert (await env.adapter.cancel_payment(env.account, request.attempt_no)).closed
        status = await env.adapter.query_payment(env.account, request.attempt_no)
        assert status.status is PaymentStatus.CLOSED

    async def test_cancel_of_a_paid_barcode_refunds_it(self, env: Env) -> None:
        request = await paid_by_barcode(env)
        assert (await env.adapter.cancel_payment(env.account, request.attempt_no)).closed
        status = await env.adapter.query_payment(env.account, request.attempt_no)
        assert status.channel_status == "TRADE_CLOSED"
        assert status.status is PaymentStatus.REFUNDED  # closed *after* payment
