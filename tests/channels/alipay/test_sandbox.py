"""AlipayAdapter against paygate's Alipay sandbox over real HTTP (R-CH-1, R-CH-6).

The sandbox implements Alipay's rules on its own; only its public surface is used here:
``AlipaySandbox``, ``credentials()``, the buyer helper ``pay()``, ``trade()``, ``faults``,
``advance_clock()`` and the notifications it POSTs to our receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from paygate.channels.alipay import AlipayAdapter
from paygate.channels.alipay.protocol import BEIJING
from paygate.channels.contract import (
    ActionKind,
    ChannelAccount,
    ChannelBusinessError,
    ChannelTimeout,
    ChannelUnavailable,
    CreatePayment,
    NotificationKind,
    NotificationRejected,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
)
from paygate.kit.crypto import Secret
from paygate.kit.money import Money
from paygate.sandbox.alipay import (
    AUTH_CODE_NO_BALANCE,
    AUTH_CODE_SUCCESS,
    AUTH_CODE_WAIT_BUYER,
    AlipaySandbox,
)
from paygate.sandbox.base import SandboxConfig
from tests.channels.alipay.support import Keys, ref_notify_string, ref_sign
from tests.support.servers import free_port, serve_asgi

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Inbox:
    """paygate's notify endpoint, reduced to recording bodies and answering ``success``."""

    bodies: list[bytes] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> Starlette:
        async def notify(request: Request) -> Response:
            self.bodies.append(await request.body())
            self.arrived.set()
            return PlainTextResponse("success")

        return Starlette(routes=[Route("/notify", notify, methods=["POST"])])

    async def wait_for(self, predicate: Any, within: float = 5.0) -> bytes:
        async def find() -> bytes:
            while True:
                for body in self.bodies:
                    if predicate(body):
                        return body
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(find(), within)


@dataclass
class Env:
    sandbox: AlipaySandbox
    adapter: AlipayAdapter
    account: ChannelAccount
    inbox: Inbox
    http: httpx.AsyncClient
    creds: dict[str, Any]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with running_sandbox(tmp_path_factory.mktemp("alipay-sandbox")) as value:
        yield value


@pytest.fixture(autouse=True)
def _clear_faults(request: pytest.FixtureRequest) -> None:
    if "env" in request.fixturenames:
        request.getfixturevalue("env").sandbox.faults.clear()


@contextlib.asynccontextmanager
async def running_sandbox(data_dir: Path) -> AsyncIterator[Env]:
    port = free_port()
    sandbox = AlipaySandbox(
        SandboxConfig(base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, time_scale=1e-5)
    )
    host = Starlette(routes=[Mount("/alipay", app=sandbox.app)])
    inbox = Inbox()
    async with (
        serve_asgi(host, port),
        serve_asgi(inbox.app()) as inbox_url,
        httpx.AsyncClient() as http,
    ):
        await sandbox.start()
        creds = sandbox.credentials()
        account = ChannelAccount(
            id=7,
            channel="alipay",
            name="sandbox",
            merchant_id=creds["app_id"],
            gateway_url=creds["gateway_url"],
            secrets={
                "app_private_key": Secret(creds["app_private_key"]),
                "alipay_public_key": Secret(creds["alipay_public_key"]),
            },
            params={"seller_id": creds["seller_id"], "sign_type": "RSA2"},
            notify_url=inbox_url + "/notify",
            return_url="https://shop.example.com/return",
            timeout_seconds=2.0,
        )
        adapter = AlipayAdapter(http)
        try:
            yield Env(sandbox, adapter, account, inbox, http, creds)
        finally:
            await adapter.aclose()
            await sandbox.stop()


def new_no() -> str:
    return "PG" + uuid.uuid4().hex[:20]


def pay_request(method: str, amount: int = 888, **extra: Any) -> CreatePayment:
    return CreatePayment(
        attempt_no=new_no(),
        trade_no="T" + uuid.uuid4().hex[:10],
        method=method,
        amount=Money(amount, "CNY"),
        subject="会员充值 {VIP}",  # braces inside echoed strings must not break verification
        expire_at=datetime.now(UTC) + timedelta(minutes=30),
        extra=extra,
    )


def about(attempt_no: str) -> Any:
    return lambda body: attempt_no.encode() in body


async def paid_by_barcode(env: Env, amount: int = 888) -> CreatePayment:
    request = pay_request("barcode", amount, auth_code=AUTH_CODE_SUCCESS)
    result = await env.adapter.create_payment(env.account, request)
    assert result.status is PaymentStatus.SUCCEEDED
    return request


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


# --------------------------------------------------------------------------- refunds


def refund_of(request: CreatePayment, refund_no: str, amount: int) -> RefundRequest:
    return RefundRequest(
        refund_no=refund_no,
        attempt_no=request.attempt_no,
        channel_trade_no=None,
        amount=Money(amount, "CNY"),
        total=request.amount,
        reason="退货",
    )


class TestRefunds:
    async def test_partial_repeat_and_full(self, env: Env) -> None:
        request = await paid_by_barcode(env, 888)
        first = refund_of(request, "R" + new_no(), 300)
        done = await env.adapter.refund(env.account, first)
        assert done.status is RefundStatus.SUCCEEDED and done.amount == Money(300, "CNY")

        again = await env.adapter.refund(env.account, first)  # fund_change = N
        assert again.status is RefundStatus.SUCCEEDED
        assert "confirmed" in again.channel_status

        rest = await env.adapter.refund(env.account, refund_of(request, "R" + new_no(), 588))
        assert rest.status is RefundStatus.SUCCEEDED

        queried = await env.adapter.query_refund(env.account, first.refund_no, request.attempt_no)
        assert queried.status is RefundStatus.SUCCEEDED
        assert queried.amount == Money(300, "CNY")
        status = await env.adapter.query_payment(env.account, request.attempt_no)
        assert status.status is PaymentStatus.REFUNDED

    async def test_too_much(self, env: Env) -> None:
        request = await paid_by_barcode(env, 100)
        await env.adapter.refund(env.account, refund_of(request, "R" + new_no(), 60))
        with pytest.raises(ChannelBusinessError) as caught:
            await env.adapter.refund(env.account, refund_of(request, "R" + new_no(), 60))
        assert caught.value.sub_code.startswith("ACQ.")

    async def test_unknown_refund(self, env: Env) -> None:
        request = await paid_by_barcode(env)
        result = await env.adapter.query_refund(env.account, "R-none", request.attempt_no)
        assert result.status is RefundStatus.NOT_FOUND

    async def test_refund_notification(self, env: Env) -> None:
        request = await paid_by_barcode(env, 500)
        refund = refund_of(request, "R" + new_no(), 500)
        await env.adapter.refund(env.account, refund)
        body = await env.inbox.wait_for(lambda b: refund.refund_no.encode() in b)
        note = env.adapter.parse_notification(env.account, {}, body)
        assert note.kind is NotificationKind.REFUND
        assert note.refund_no == refund.refund_no
        assert note.refund_status is RefundStatus.SUCCEEDED
        assert note.attempt_no == request.attempt_no


# --------------------------------------------------------------------------- notifications


class TestNotifications:
    async def _genuine(self, env: Env) -> tuple[CreatePayment, bytes]:
        request = pay_request("jsapi", buyer_id="2088102146225135")
        await env.adapter.create_payment(env.account, request)
        env.sandbox.pay(request.attempt_no, "pay", buyer_id="2088102146225135")
        return request, await env.inbox.wait_for(about(request.attempt_no))

    async def test_tampered_amount(self, env: Env) -> None:
        _, body = await self._genuine(env)
        forged = re.sub(rb"total_amount=[0-9.]+", b"total_amount=0.01", body)
        assert forged != body
        with pytest.raises(NotificationRejected, match="signature"):
            env.adapter.parse_notification(env.account, {}, forged)

    async def test_forged_with_another_key(self, env: Env, keys: Keys) -> None:
        _, body = await self._genuine(env)
        params = dict(httpx.QueryParams(body.decode()))
        params["sign"] = ref_sign(keys.other, ref_notify_string(params))
        with pytest.raises(NotificationRejected, match="signature"):
            env.adapter.parse_notification(env.account, {}, str(httpx.QueryParams(params)).encode())

    async def test_other_account(self, env: Env) -> None:
        _, body = await self._genuine(env)
        other = dataclasses.replace(env.account, merchant_id="2021000000000999")
        with pytest.raises(NotificationRejected, match="app_id"):
            env.adapter.parse_notification(other, {}, body)


# --------------------------------------------------------------------------- faults


class TestFaults:
    async def test_held_answer_is_a_timeout_but_the_payment_happened(self, env: Env) -> None:
        env.sandbox.faults.timeout(0.8, "alipay.trade.pay")
        impatient = dataclasses.replace(env.account, timeout_seconds=0.3)
        request = pay_request("barcode", auth_code=AUTH_CODE_SUCCESS)
        with pytest.raises(ChannelTimeout) as caught:
            await env.adapter.create_payment(impatient, request)
        assert caught.value.retryable and caught.value.exchange is not None
        env.sandbox.faults.clear()
        status = await env.adapter.query_payment(env.account, request.attempt_no)
        assert status.status is PaymentStatus.SUCCEEDED  # why a timeout means "query"

    async def test_service_unavailable_on_query(self, env: Env) -> None:
        env.sandbox.faults.error("alipay.trade.query", times=1)
        with pytest.raises(ChannelUnavailable) as caught:
            await env.adapter.query_payment(env.account, new_no())
        assert caught.value.code == "20000"

    async def test_system_error_on_refund_is_an_unknown_outcome(self, env: Env) -> None:
        request = await paid_by_barcode(env)
        env.sandbox.faults.error("alipay.trade.refund", sub_code="ACQ.SYSTEM_ERROR", times=1)
        refund = refund_of(request, "R" + new_no(), 100)
        with pytest.raises(ChannelTimeout) as caught:
            await env.adapter.refund(env.account, refund)
        assert caught.value.sub_code == "ACQ.SYSTEM_ERROR"
        assert (await env.adapter.refund(env.account, refund)).status is RefundStatus.SUCCEEDED


# --------------------------------------------------------------------------- bills


async def test_bill_of_a_finished_day(tmp_path: Path) -> None:
    async with running_sandbox(tmp_path) as env:
        today = datetime.now(BEIJING).date()
        with pytest.raises(ChannelBusinessError) as caught:
            await env.adapter.download_bill(env.account, today)
        assert caught.value.sub_code == "isp.bill_not_exist"

        paid = await paid_by_barcode(env, 1234)
        refund = refund_of(paid, "R" + new_no(), 234)
        await env.adapter.refund(env.account, refund)
        env.sandbox.advance_clock(86400)

        bill = await env.adapter.download_bill(env.account, today)
        assert bill.bill_date == today
        lines = {(line.kind, line.attempt_no): line for line in bill.lines}
        payment = lines[("payment", paid.attempt_no)]
        assert payment.amount == Money(1234, "CNY") and payment.channel_trade_no
        returned = lines[("refund", paid.attempt_no)]
        assert returned.amount == Money(234, "CNY")
        assert returned.refund_no == refund.refund_no
        assert isinstance(bill.bill_date, date)
