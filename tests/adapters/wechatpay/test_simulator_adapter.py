"""WechatPayAdapter against the WeChat Pay sandbox over real HTTP, in public-key and
certificate modes: every pay form, payer outcomes, query, close, refunds, faults, bills."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paygate.channels.contract import (
    ActionKind,
    ChannelAdapter,
    ChannelBusinessError,
    ChannelTimeout,
    ChannelUnavailable,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
)
from paygate.channels.wechatpay import WechatPayAdapter
from paygate.kit.money import Money
from tests.adapters.wechatpay.simulator_env import Env, new_no, pay_request, running_sandbox
from tests.adapters.wechatpay.support import ref_verify

pytestmark = pytest.mark.asyncio(loop_scope="module")
MODES = ["public_key", "certificate"]
BEIJING = "+08:00"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(sandbox_keys: Path) -> AsyncIterator[Env]:
    async with running_sandbox(sandbox_keys) as e:
        yield e


@pytest.fixture(autouse=True)
def no_faults(env: Env) -> Iterator[None]:
    yield
    env.sandbox.clear_faults()


def merchant_key(env: Env) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(env.creds["merchant_private_key"].encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


async def test_satisfies_the_contract() -> None:
    adapter = WechatPayAdapter()
    assert isinstance(adapter, ChannelAdapter)
    assert adapter.channel == "wechatpay"
    assert adapter.methods == {"native", "jsapi", "h5", "app"}
    await adapter.aclose()


class TestPayForms:
    @pytest.mark.parametrize("mode", MODES)
    async def test_native_paid_by_scanning_the_code(self, env: Env, mode: str) -> None:
        account, request = env.accounts[mode], pay_request("native")
        result = await env.adapter.create_payment(account, request)
        assert result.action.kind is ActionKind.QR_CODE and result.status is PaymentStatus.PENDING
        assert result.exchange is not None and result.exchange.http_status == 200
        pending = await env.adapter.query_payment(account, request.attempt_no)
        assert pending.status is PaymentStatus.PENDING and pending.amount == Money(888, "CNY")
        assert (await env.control_pay(result.action.qr_code or "")).status_code == 200
        paid = await env.adapter.query_payment(account, request.attempt_no)
        assert paid.status is PaymentStatus.SUCCEEDED and paid.channel_status == "SUCCESS"
        assert paid.amount == request.amount and paid.channel_trade_no
        assert paid.paid_at is not None and paid.paid_at.utcoffset() == timedelta(hours=8)

    @pytest.mark.parametrize("mode", MODES)
    async def test_jsapi_parameters_are_signed_by_the_merchant(self, env: Env, mode: str) -> None:
        account, request = env.accounts[mode], pay_request("jsapi")
        result = await env.adapter.create_payment(account, request)
        params = dict(result.action.params or {})
        assert result.action.kind is ActionKind.JSAPI and params["appId"] == env.creds["appid"]
        message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
        assert ref_verify(merchant_key(env), message.encode(), params["paySign"])
        prepay_id = params["package"].removeprefix("prepay_id=")
        assert (await env.control_pay(prepay_id)).status_code == 200
        paid = await env.adapter.query_payment(account, request.attempt_no)
        assert paid.status is PaymentStatus.SUCCEEDED
        assert env.sandbox.trade(request.attempt_no)["payer"]["openid"] == request.extra["openid"]  # type: ignore[index]

    @pytest.mark.parametrize("mode", MODES)
    async def test_app_parameters(self, env: Env, mode: str) -> None:
        account, request = env.accounts[mode], pay_request("app")
        result = await env.adapter.create_payment(account, request)
        params = dict(result.action.params or {})
        assert result.action.kind is ActionKind.APP and params["partnerid"] == env.creds["mchid"]
        message = f"{params['appid']}\n{params['timestamp']}\n{params['noncestr']}\n{params['prepayid']}\n"
        assert ref_verify(merchant_key(env), message.encode(), params["sign"])
        assert (await env.control_pay(request.attempt_no)).status_code == 200
        assert (
            await env.adapter.query_payment(account, request.attempt_no)
        ).status is PaymentStatus.SUCCEEDED

    @pytest.mark.parametrize("mode", MODES)
    async def test_h5_redirects_to_the_cashier(self, env: Env, mode: str) -> None:
        account, request = env.accounts[mode], pay_request("h5", return_url="https://shop.example.com/r/1")
        result = await env.adapter.create_payment(account, request)
        url = result.action.url or ""
        assert result.action.kind is ActionKind.REDIRECT and result.action.method == "GET"
        assert url.startswith(env.creds["base_url"] + "/checkmweb?")
        assert parse_qs(urlsplit(url).query)["redirect_url"] == ["https://shop.example.com/r/1"]
        assert (await env.http.get(url)).status_code == 200  # the cashier page opens
        assert (await env.control_pay(url)).status_code == 200
        assert (
            await env.adapter.query_payment(account, request.attempt_no)
        ).status is PaymentStatus.SUCCEEDED
        trade = env.sandbox.trade(request.attempt_no)
        assert trade is not None and trade["time_expire"].endswith(BEIJING)

    async def test_the_order_is_bounded_by_expire_at(self, env: Env) -> None:
        expire_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=20)
        request = pay_request("native", expire_at=expire_at)
        await env.adapter.create_payment(env.accounts["public_key"], request)
        trade = env.sandbox.trade(request.attempt_no)
        assert trade is not None and datetime.fromisoformat(trade["time_expire"]) == expire_at

    async def test_resubmitting_an_unpaid_order_gives_the_same_code(self, env: Env) -> None:
        account, request = env.accounts["public_key"], pay_request("native")
        first = await env.adapter.create_payment(account, request)
        second = await env.adapter.create_payment(account, request)
        assert first.action.qr_code == second.action.qr_code


class TestOutcomesAndQueries:
    @pytest.mark.parametrize(
        ("outcome", "status"),
        [
            ("fail", PaymentStatus.FAILED),
            ("cancel", PaymentStatus.CLOSED),
            ("userpaying", PaymentStatus.PAYING),
        ],
    )
    async def test_payer_outcomes(self, env: Env, outcome: str, status: PaymentStatus) -> None:
        account, request = env.accounts["public_key"], pay_request("native")
        await env.adapter.create_payment(account, request)
        assert (await env.control_pay(request.attempt_no, outcome)).status_code == 200
        assert (await env.adapter.query_payment(account, request.attempt_no)).status is status

    async def test_query_by_transaction_id(self, env: Env) -> None:
        account, request = env.accounts["certificate"], pay_request("native")
        await env.adapter.create_payment(account, request)
        await env.control_pay(request.attempt_no)
        paid = await env.adapter.query_payment(account, request.attempt_no)
        again = await env.adapter.query_payment(account, request.attempt_no, paid.channel_trade_no)
        assert again.status is PaymentStatus.SUCCEEDED and again.channel_trade_no == paid.channel_trade_no
        assert again.exchange is not None and "/id/" in again.exchange.request["url"]

    @pytest.mark.parametrize("mode", MODES)
    async def test_unknown_order_is_not_found(self, env: Env, mode: str) -> None:
        result = await env.adapter.query_payment(env.accounts[mode], new_no())
        assert result.status is PaymentStatus.NOT_FOUND and result.channel_status == "ORDER_NOT_EXIST"
        assert result.exchange is not None and result.exchange.http_status == 404

    async def test_a_merchant_configuration_wechat_refuses(self, env: Env) -> None:
        account = env.accounts["public_key"]
        wrong = type(account)(
            **{**account.__dict__, "params": {**account.params, "appid": "wx0000000000000000"}}
        )
        with pytest.raises(ChannelBusinessError) as caught:
            await env.adapter.create_payment(wrong, pay_request("native"))
        assert caught.value.code == "APPID_MCHID_NOT_MATCH"


class TestClose:
    @pytest.mark.parametrize("mode", MODES)
    async def test_close_then_query(self, env: Env, mode: str) -> None:
        account, request = env.accounts[mode], pay_request("native")
        await env.adapter.create_payment(account, request)
        closed = await env.adapter.close_payment(account, request.attempt_no)
        assert closed.closed and closed.exchange is not None and closed.exchange.http_status == 204
        assert (await env.adapter.query_payment(account, request.attempt_no)).status is PaymentStatus.CLOSED
        assert (await env.control_pay(request.attempt_no)).status_code == 409  # cannot be paid now

    async def test_nothing_to_close(self, env: Env) -> None:
        result = await env.adapter.close_payment(env.accounts["public_key"], new_no())
        assert result.closed is False

    async def test_a_paid_order_is_not_closed(self, env: Env) -> None:
        account, request = env.accounts["public_key"], pay_request("native")
        await env.adapter.create_payment(account, request)
        await env.control_pay(request.attempt_no)
        with pytest.raises(ChannelBusinessError) as caught:
            await env.adapter.close_payment(account, request.attempt_no)
        assert caught.value.code == "ORDERPAID"


async def paid(env: Env, mode: str = "public_key", amount: int = 888) -> tuple[Any, str]:
    account, request = env.accounts[mode], pay_request("native", amount)
    await env.adapter.create_payment(account, request)
    await env.control_pay(request.attempt_no)
    return request, (await env.adapter.query_payment(account, request.attempt_no)).channel_trade_no or ""


def refund_of(request: Any, amount: int, channel_trade_no: str | None = None) -> RefundRequest:
    return RefundRequest(
        refund_no="RF" + new_no(),
        attempt_no=request.attempt_no,
        channel_trade_no=channel_trade_no,
        amount=Money(amount, "CNY"),
        total=request.amount,
        reason="退货",
    )


async def settled(env: Env, mode: str, refund: RefundRequest) -> RefundStatus:
    for _ in range(100):
        result = await env.adapter.query_refund(env.accounts[mode], refund.refund_no, refund.attempt_no)
        if result.status is not RefundStatus.PROCESSING:
            return result.status
        await asyncio.sleep(0.02)
    return RefundStatus.PROCESSING


class TestRefunds:
    @pytest.mark.parametrize("mode", MODES)
    async def test_partial_refunds_then_query(self, env: Env, mode: str) -> None:
        request, transaction_id = await paid(env, mode)
        first = refund_of(request, 300)
        result = await env.adapter.refund(env.accounts[mode], first)
        assert result.status in (RefundStatus.PROCESSING, RefundStatus.SUCCEEDED)
        assert result.amount == Money(300, "CNY") and result.channel_refund_no
        assert await settled(env, mode, first) is RefundStatus.SUCCEEDED
        second = refund_of(request, 588, transaction_id)  # by transaction id this time
        assert (await env.adapter.refund(env.accounts[mode], second)).amount == Money(588, "CNY")
        assert await settled(env, mode, second) is RefundStatus.SUCCEEDED
        query = await env.adapter.query_payment(env.accounts[mode], request.attempt_no)
        assert query.status is PaymentStatus.REFUNDED

    async def test_a_repeat_is_the_same_refund(self, env: Env) -> None:
        request, _ = await paid(env)
        refund = refund_of(request, 100)
        first = await env.adapter.refund(env.accounts["public_key"], refund)
        again = await env.adapter.refund(env.accounts["public_key"], refund)
        assert again.channel_refund_no == first.channel_refund_no

    async def test_more_than_paid_is_refused(self, env: Env) -> None:
        request, _ = await paid(env, amount=100)
        await env.adapter.refund(env.accounts["public_key"], refund_of(request, 80))
        with pytest.raises(ChannelBusinessError) as caught:
            await env.adapter.refund(env.accounts["public_key"], refund_of(request, 30))
        assert caught.value.code == "INVALID_REQUEST"

    async def test_refund_of_an_unpaid_order(self, env: Env) -> None:
        request = pay_request("native")
        await env.adapter.create_payment(env.accounts["public_key"], request)
        with pytest.raises(ChannelBusinessError) as caught:
            await env.adapter.refund(env.accounts["public_key"], refund_of(request, 100))
        assert caught.value.code == "RESOURCE_NOT_EXISTS"

    async def test_abnormal_refund_is_failed(self, env: Env) -> None:
        request, _ = await paid(env)
        env.sandbox.faults.refund_outcome("ABNORMAL", times=1)
        refund = refund_of(request, 100)
        await env.adapter.refund(env.accounts["public_key"], refund)
        assert await settled(env, "public_key", refund) is RefundStatus.FAILED

    async def test_unknown_refund_is_not_found(self, env: Env) -> None:
        result = await env.adapter.query_refund(env.accounts["public_key"], "RF" + new_no(), "PG1")
        assert result.status is RefundStatus.NOT_FOUND and result.channel_status == "RESOURCE_NOT_EXISTS"


class TestFaults:
    async def test_pay_answer_held_is_a_timeout(self, env: Env) -> None:
        account = env.accounts["public_key"]
        quick = type(account)(**{**account.__dict__, "timeout_seconds": 0.3})
        env.sandbox.faults.timeout(op="pay")  # the order is made, the answer never comes
        request = pay_request("native")
        with pytest.raises(ChannelTimeout) as caught:
            await env.adapter.create_payment(quick, request)
        assert caught.value.exchange is not None and caught.value.exchange.operation == "create"
        env.sandbox.clear_faults()
        # The outcome was unknown: a query settles it (the order exists).
        assert (await env.adapter.query_payment(account, request.attempt_no)).status is PaymentStatus.PENDING

    async def test_query_held_is_a_timeout(self, env: Env) -> None:
        account = env.accounts["certificate"]
        quick = type(account)(**{**account.__dict__, "timeout_seconds": 0.3})
        env.sandbox.faults.timeout(2.0, op="query")
        with pytest.raises(ChannelTimeout):
            await env.adapter.query_payment(quick, new_no())

    @pytest.mark.parametrize(
        ("code", "read_error", "write_error"),
        [
            ("SYSTEM_ERROR", ChannelUnavailable, ChannelTimeout),
            ("FREQUENCY_LIMITED", ChannelUnavailable, ChannelTimeout),
        ],
    )
    async def test_busy_answers(
        self, env: Env, code: str, read_error: type[Exception], write_error: type[Exception]
    ) -> None:
        account = env.accounts["public_key"]
        env.sandbox.faults.error(op="query", code=code)
        env.sandbox.faults.error(op="refund", code=code, apply=True)
        with pytest.raises(read_error):
            await env.adapter.query_payment(account, new_no())
        request, _ = await paid_without_query(env)
        refund = refund_of(request, 100)
        with pytest.raises(write_error):
            await env.adapter.refund(account, refund)
        env.sandbox.clear_faults()
        # the refund was in fact accepted: retrying with the same out_refund_no is safe
        assert (await env.adapter.refund(account, refund)).amount == Money(100, "CNY")

    async def test_latency_within_the_timeout(self, env: Env) -> None:
        env.sandbox.faults.latency(100, op="query")
        result = await env.adapter.query_payment(env.accounts["public_key"], new_no())
        assert result.exchange is not None and (result.exchange.duration_ms or 0) >= 100


async def paid_without_query(env: Env) -> tuple[Any, None]:
    account, request = env.accounts["public_key"], pay_request("native")
    await env.adapter.create_payment(account, request)
    await env.control_pay(request.attempt_no)
    return request, None


async def test_trade_bill_of_the_day(sandbox_keys: Path) -> None:
    """A sandbox of its own: its clock is moved to the next morning, when bills are ready."""
    async with running_sandbox(sandbox_keys) as own:
        first, _ = await paid(own, "public_key", 888)
        second, _ = await paid(own, "certificate", 1999)
        refund = refund_of(first, 300)
        await own.adapter.refund(own.accounts["public_key"], refund)
        day = datetime.now(UTC).astimezone(timezone(timedelta(hours=8))).date()
        with pytest.raises(ChannelBusinessError) as caught:
            await own.adapter.download_bill(own.accounts["public_key"], day)
        assert caught.value.code == "STATEMENT_CREATING"
        own.sandbox.advance_clock(34 * 3600)
        bill = await own.adapter.download_bill(own.accounts["certificate"], day)
        assert bill.reader is not None
        rows = [row for frame in bill.reader for row in frame.iter_rows(named=True)]
        lines = {(row["kind"], row["attempt_no"]): row for row in rows}
        assert set(lines) == {
            ("payment", first.attempt_no),
            ("payment", second.attempt_no),
            ("refund", first.attempt_no),
        }
        paid_line, refund_line = lines["payment", second.attempt_no], lines["refund", first.attempt_no]
        assert (paid_line["amount"], paid_line["currency"]) == (1999, "CNY")
        assert (refund_line["amount"], refund_line["refund_no"]) == (300, refund.refund_no)
        assert bill.bill_date == day
