"""AlipayAdapter against the Alipay sandbox: refunds, notifications it really sends,
injected faults and bills (R-CH-1, R-NTF-1, R-SEC-3).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from paygate.channels.alipay.protocol import BEIJING
from paygate.channels.contract import (
    ChannelBusinessError,
    ChannelTimeout,
    ChannelUnavailable,
    CreatePayment,
    NotificationKind,
    NotificationRejected,
    PaymentStatus,
    RefundStatus,
)
from paygate.kit.money import Money
from paygate.sandbox.alipay import AUTH_CODE_SUCCESS
from tests.adapters.alipay.simulator_env import (
    Env,
    about,
    new_no,
    paid_by_barcode,
    pay_request,
    refund_of,
    running_sandbox,
)
from tests.adapters.alipay.support import Keys, ref_notify_string, ref_sign

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    async with running_sandbox(tmp_path_factory.mktemp("alipay-sandbox")) as value:
        yield value


@pytest.fixture(autouse=True)
def _clear_faults(env: Env) -> None:
    env.sandbox.faults.clear()


# --------------------------------------------------------------------------- refunds


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
