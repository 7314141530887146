"""Refunds, refund queries and the balance-transaction bill, against the Stripe sandbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from paygate.channels.contract import ChannelBusinessError, ChannelTimeout, RefundStatus
from paygate.channels.stripe import StripeAdapter
from paygate.kit.money import Money
from tests.adapters.stripe.support import Env, card_request, paid, refund_of, sandbox_account

pytestmark = pytest.mark.asyncio(loop_scope="module")


class TestRefunds:
    async def test_partial_refunds_and_their_queries(self, env: Env) -> None:
        request, intent_id = await paid(env, 2000)
        first = await env.adapter.refund(env.account, refund_of(request, 500, intent_id, refund_no="R1a"))
        assert first.status is RefundStatus.SUCCEEDED and first.amount == Money(500, "USD")
        assert first.channel_refund_no and first.channel_refund_no.startswith("re_")
        assert first.refunded_at is not None
        assert first.exchange is not None and first.exchange.request["idempotency_key"] == "refund:R1a"
        # Without the intent id: found by attempt number first.
        second = await env.adapter.refund(env.account, refund_of(request, 700, None, refund_no="R1b"))
        assert second.status is RefundStatus.SUCCEEDED
        # Refund queries: by the account's newest refunds, by the intent's refunds, by id.
        by_scan = await env.adapter.query_refund(env.account, "R1a", request.attempt_no)
        assert by_scan.status is RefundStatus.SUCCEEDED and by_scan.amount == Money(500, "USD")
        assert by_scan.channel_refund_no == first.channel_refund_no
        by_intent = await env.adapter.query_refund(env.account, "R1b", request.attempt_no, intent_id)
        assert by_intent.channel_refund_no == second.channel_refund_no
        by_id = await env.adapter.query_refund(
            env.account, "R1a", request.attempt_no, channel_refund_no=first.channel_refund_no
        )
        assert by_id.amount == Money(500, "USD")
        # More than what is left: Stripe refuses, for good.
        with pytest.raises(ChannelBusinessError) as exc:
            await env.adapter.refund(env.account, refund_of(request, 801, intent_id))
        assert exc.value.code == "amount_too_large"

    async def test_repeating_a_refund_replays_it(self, env: Env) -> None:
        request, intent_id = await paid(env, 2000)
        refund = refund_of(request, 300, intent_id, refund_no="R2")
        first = await env.adapter.refund(env.account, refund)
        again = await env.adapter.refund(env.account, refund)
        assert again.channel_refund_no == first.channel_refund_no
        listed = await env.stripe_get("/v1/refunds", payment_intent=intent_id)
        assert len(listed["data"]) == 1

    async def test_unknown_refunds_are_not_found(self, env: Env) -> None:
        request, intent_id = await paid(env)
        for kwargs in ({}, {"channel_trade_no": intent_id}, {"channel_refund_no": "re_missing"}):
            result = await env.adapter.query_refund(env.account, "Rnone", request.attempt_no, **kwargs)
            assert result.status is RefundStatus.NOT_FOUND

    async def test_a_pending_refund_settles(self, env: Env) -> None:
        request, intent_id = await paid(env, pm="pm_card_pendingRefund")
        result = await env.adapter.refund(env.account, refund_of(request, 2000, intent_id, refund_no="R3"))
        assert result.status is RefundStatus.PROCESSING and result.refunded_at is None
        for _ in range(100):  # 60 s of Stripe time = 60 ms here
            await asyncio.sleep(0.02)
            later = await env.adapter.query_refund(env.account, "R3", request.attempt_no, intent_id)
            if later.status is RefundStatus.SUCCEEDED:
                break
        assert later.status is RefundStatus.SUCCEEDED

    async def test_a_failing_refund_fails(self, env: Env) -> None:
        request, intent_id = await paid(env, pm="pm_card_refundFail")
        await env.adapter.refund(env.account, refund_of(request, 1000, intent_id, refund_no="R4"))
        for _ in range(100):
            await asyncio.sleep(0.02)
            later = await env.adapter.query_refund(env.account, "R4", request.attempt_no)
            if later.status is RefundStatus.FAILED:
                break
        assert later.status is RefundStatus.FAILED
        assert later.channel_status == "failed (expired_or_canceled_card)"

    async def test_refund_of_an_unpaid_intent_is_refused(self, env: Env) -> None:
        request = card_request("pm_card_authenticationRequired")
        result = await env.adapter.create_payment(env.account, request)
        with pytest.raises(ChannelBusinessError) as exc:
            await env.adapter.refund(env.account, refund_of(request, 100, result.channel_trade_no))
        assert exc.value.code == "payment_intent_unexpected_state"

    async def test_refund_timeout_then_retry_replays(self, env: Env) -> None:
        request, intent_id = await paid(env)
        refund = refund_of(request, 400, intent_id, refund_no="R5")
        await env.faults({"timeouts": {"refunds.create": {"apply": True}}})
        with pytest.raises(ChannelTimeout):
            await env.adapter.refund(sandbox_account(env.creds, timeout_seconds=0.3), refund)
        await env.sandbox_clear()
        again = await env.adapter.refund(env.account, refund)  # the service's retry: same key
        assert again.status is RefundStatus.SUCCEEDED
        listed = await env.stripe_get("/v1/refunds", payment_intent=intent_id)
        assert [r["id"] for r in listed["data"]] == [again.channel_refund_no]

    async def test_refund_amounts_in_three_decimal_currencies(self, env: Env) -> None:
        request, intent_id = await paid(env, 5000, "KWD")
        with pytest.raises(ValueError, match="last digit is 0"):
            await env.adapter.refund(env.account, refund_of(request, 1005, intent_id))
        result = await env.adapter.refund(env.account, refund_of(request, 1010, intent_id))
        assert result.amount == Money(1010, "KWD")


class TestBill:
    async def test_bill_from_balance_transactions(self, env: Env) -> None:
        request, intent_id = await paid(env, 2000)
        refund = await env.adapter.refund(env.account, refund_of(request, 500, intent_id, refund_no="RB1"))
        jpy, jpy_intent = await paid(env, 5000, "JPY")
        await env.control("payouts", {"include_pending": True})  # a payout: not a trade line
        today = datetime.now(UTC).date()
        bill = await env.adapter.download_bill(env.account, today)
        assert bill.bill_date == today and bill.raw_name.endswith(today.isoformat())
        kinds = [(line.kind, line.channel_trade_no) for line in bill.lines]
        assert sorted(kinds) == sorted(
            [("payment", intent_id), ("refund", intent_id), ("payment", jpy_intent)]
        )
        by_kind = {(line.kind, line.amount.currency): line for line in bill.lines}
        payment = by_kind[("payment", "USD")]
        assert payment.attempt_no == request.attempt_no and payment.amount == Money(2000, "USD")
        assert payment.fee == Money(88, "USD")  # 2.9 % + 30 cents
        assert payment.raw["type"] == "charge" and payment.raw["net"] == "1912"
        refund_line = by_kind[("refund", "USD")]
        assert refund_line.refund_no == "RB1" and refund_line.amount == Money(500, "USD")
        assert refund_line.attempt_no == request.attempt_no
        assert refund_line.raw["source"] == refund.channel_refund_no
        yen = by_kind[("payment", "JPY")]
        assert yen.amount == Money(5000, "JPY") and yen.attempt_no == jpy.attempt_no
        assert [line.occurred_at for line in bill.lines] == sorted(line.occurred_at for line in bill.lines)

    async def test_bill_pages_through_and_other_days_are_empty(self, env: Env) -> None:
        intents = {(await paid(env))[1] for _ in range(5)}
        small_pages = StripeAdapter(env.http, page_size=2)
        today = datetime.now(UTC).date()
        bill = await small_pages.download_bill(env.account, today)
        assert {line.channel_trade_no for line in bill.lines} == intents and len(bill.lines) == 5
        assert bill.lines == (await env.adapter.download_bill(env.account, today)).lines
        yesterday = await env.adapter.download_bill(env.account, today - timedelta(days=1))
        assert yesterday.lines == []
