"""A channel that is slow, failing or refusing: the trade is never wrongly failed, the caller
learns what to do, and the platform protects itself (R-PAY-3, R-PAY-9, R-PAY-10, R-CH-4)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from paygate.domain.trades import TradeEvent
from paygate.models import CallLog, ChannelAccountRow, ChannelAttempt, Trade, TradeLog
from paygate.payments.state_changes import Source, record_event
from paygate.repositories import ConcurrentUpdate, UnitOfWork
from paygate.sdk import PaygateAPIError, PaygateClient
from tests.support.helpers import buyer, order_no, rows
from tests.support.stack import Stack

BUYER = {"buyer_id": "2088102177846880"}


async def set_account_timeout(stack: Stack, seconds: float) -> None:
    """The Alipay account's deadline, seen at once (the decoded accounts are cached)."""
    async with stack.container.sessions() as session, session.begin():
        await session.execute(
            update(ChannelAccountRow)
            .where(ChannelAccountRow.channel == "alipay")
            .values(timeout_seconds=seconds)
        )
    stack.container.accounts.forget()


async def test_a_channel_timeout_leaves_the_trade_unknown_and_a_query_settles_it(stack: Stack) -> None:
    await set_account_timeout(stack, 0.5)
    stack.sandbox("alipay").faults.timeout(2.0, "alipay.trade.create")
    order = order_no("TO")
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.pay(
            out_order_no=order, pay_type="alipay.jsapi", amount=800, subject="T", extra=BUYER
        )
    assert err.value.error == "CHANNEL_TIMEOUT" and err.value.http_status == 504
    assert err.value.data["state"] == "unknown"
    [trade] = await rows(stack, Trade, Trade.out_order_no == order)
    assert trade.state == "unknown"
    [attempt] = await rows(stack, ChannelAttempt, ChannelAttempt.trade_id == trade.id)
    assert attempt.status == "unknown"

    stack.sandbox("alipay").faults.clear()
    stack.sandbox("alipay").faults.drop_notifications(100)
    # the query that settles it runs with a usual deadline: half a second was for provoking the
    # timeout, and on a busy two-core machine a healthy call can take longer than that
    await set_account_timeout(stack, 10.0)
    await asyncio.sleep(2.0)  # the sandbox finishes the held request: the order exists there
    await buyer(stack, "alipay", trade.attempt_no)
    synced = await stack.client.query_trade(out_order_no=order, sync=True)
    assert synced["state"] == "succeeded" and synced["paid_amount"] == 800


async def test_a_hung_channel_times_out_alone(stack: Stack) -> None:
    """Channel isolation: Alipay accepts connections and never answers (the sandbox's hang
    fault); its calls end at the account's deadline while WeChat Pay is served meanwhile."""
    await set_account_timeout(stack, 0.5)
    stack.sandbox("alipay").faults.hang()
    loop = asyncio.get_running_loop()
    started = loop.time()
    hung = asyncio.create_task(
        stack.client.pay(
            out_order_no=order_no("HA"), pay_type="alipay.jsapi", amount=800, subject="T", extra=BUYER
        )
    )
    served = await stack.client.pay(
        out_order_no=order_no("HW"), pay_type="wechat.native", amount=300, subject="x"
    )
    assert served["action"]["qr_code"] and not hung.done()
    with pytest.raises(PaygateAPIError) as err:
        await hung
    assert err.value.error == "CHANNEL_TIMEOUT" and loop.time() - started < 3
    stack.sandbox("alipay").faults.clear()  # lets the hung request go


async def test_a_system_error_is_uncertain_but_a_business_refusal_fails(stack: Stack) -> None:
    faults = stack.sandbox("alipay").faults
    faults.error("alipay.trade.create", sub_code="ACQ.SYSTEM_ERROR", times=1)
    order = order_no("SE")
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.pay(
            out_order_no=order, pay_type="alipay.jsapi", amount=800, subject="T", extra=BUYER
        )
    assert err.value.error == "CHANNEL_TIMEOUT" and err.value.data["state"] == "unknown"

    faults.error("alipay.trade.create", sub_code="ACQ.BUYER_ENABLE_STATUS_FORBID", times=1)
    order = order_no("BE")
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.pay(
            out_order_no=order, pay_type="alipay.jsapi", amount=800, subject="T", extra=BUYER
        )
    assert err.value.error == "CHANNEL_ERROR" and err.value.data["state"] == "failed"
    assert err.value.data["channel_code"] == "ACQ.BUYER_ENABLE_STATUS_FORBID"


async def test_the_circuit_opens_after_repeated_technical_failures(stack: Stack) -> None:
    stack.sandbox("alipay").faults.error("alipay.trade.create", code="20000")
    errors = []
    for _ in range(6):
        with pytest.raises(PaygateAPIError) as err:
            await stack.client.pay(
                out_order_no=order_no("CB"), pay_type="alipay.jsapi", amount=100, subject="T", extra=BUYER
            )
        errors.append(err.value.error)
    assert errors[:5] == ["CHANNEL_TIMEOUT"] * 5
    assert errors[5] == "CIRCUIT_OPEN"


async def test_the_sdk_queries_after_a_pay_timeout(stack: Stack) -> None:
    """R-PAY-10: the client gives up waiting, then finds the trade by its order number."""
    stack.sandbox("alipay").faults.latency(1500, "alipay.trade.create")
    order = order_no("SDK")
    async with PaygateClient(
        stack.internal_url, "demo", secret=stack.credentials["secret"], timeout=0.5
    ) as client:
        trade = await client.pay(
            out_order_no=order, pay_type="alipay.jsapi", amount=100, subject="T", extra=BUYER
        )
    assert trade["out_order_no"] == order and trade["trade_no"].startswith("T")
    # the answer came from a trade query by order number, which paygate's call log recorded
    await stack.container.call_log.flush()
    calls = await rows(stack, CallLog, CallLog.app_id == "demo")
    queries = [c for c in calls if c.endpoint == "/query/trade" and c.request.get("out_order_no") == order]
    assert queries and queries[0].errno == 0 and queries[0].trade_no == trade["trade_no"]


async def test_two_writers_one_loses_the_version_check_and_reapplies(stack: Stack) -> None:
    """Optimistic locking: two units of work load the same trade; the second one's write
    fails the version check, and re-run from the start it sees the first writer's state."""
    trade = await stack.client.pay(out_order_no=order_no("V"), pay_type="alipay.qr", amount=100, subject="V")
    db = stack.container.db
    first, second = db.transaction(), db.transaction()
    u1, u2 = await first.__aenter__(), await second.__aenter__()
    a, b = await u1.trades.by_no(trade["trade_no"]), await u2.trades.by_no(trade["trade_no"])
    assert a is not None and b is not None
    assert await record_event(u1, a, TradeEvent.PAID, source=Source.QUERY)
    await first.__aexit__(None, None, None)  # commits
    with pytest.raises(ConcurrentUpdate) as lost:
        await record_event(u2, b, TradeEvent.CLOSED, source=Source.QUERY)
    await second.__aexit__(type(lost.value), lost.value, None)  # rolls back

    async def pay_again(uow: UnitOfWork) -> tuple[bool, str]:
        fresh = await uow.trades.by_no(trade["trade_no"])
        assert fresh is not None
        changed = await record_event(uow, fresh, TradeEvent.PAID, source=Source.QUERY)  # a no-op now
        return changed, fresh.state

    assert await db.run(pay_again) == (False, "succeeded")
    [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])
    assert row.state == "succeeded" and row.version == 3
    logs = await rows(stack, TradeLog, TradeLog.trade_id == row.id)
    assert [log.to_state for log in logs].count("closed") == 0


async def test_a_request_that_never_reached_the_channel_is_sent_again_on_retry(stack: Stack) -> None:
    """A refused connection proves nothing was sent: the trade stays created and the same
    pay request, repeated, sends a new attempt (R-PAY-2: one trade, several attempts)."""
    async with stack.container.sessions() as session, session.begin():
        alipay = ChannelAccountRow.channel == "alipay"
        [account] = (await session.execute(ChannelAccountRow.__table__.select().where(alipay))).all()
        await session.execute(
            update(ChannelAccountRow).where(alipay).values(gateway_url="http://127.0.0.1:9/gateway.do")
        )
    stack.container.router.forget()  # as an operator's change would
    order = order_no("NS")
    with pytest.raises(PaygateAPIError) as err:
        await stack.client.pay(
            out_order_no=order, pay_type="alipay.jsapi", amount=100, subject="T", extra=BUYER
        )
    assert err.value.error == "CHANNEL_UNAVAILABLE" and err.value.data["state"] == "created"
    async with stack.container.sessions() as session, session.begin():
        await session.execute(update(ChannelAccountRow).where(alipay).values(gateway_url=account.gateway_url))
    stack.container.router.forget()
    trade = await stack.client.pay(
        out_order_no=order, pay_type="alipay.jsapi", amount=100, subject="T", extra=BUYER
    )
    assert trade["state"] == "pending" and trade["action"]["type"] == "jsapi"
    [row] = await rows(stack, Trade, Trade.out_order_no == order)
    attempts = await rows(stack, ChannelAttempt, ChannelAttempt.trade_id == row.id)
    assert [a.status for a in attempts] == ["not_sent", "accepted"]
    assert row.attempt_no == attempts[1].attempt_no != attempts[0].attempt_no


async def test_invalid_json_from_an_unauthenticated_caller_is_an_auth_error(stack: Stack) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=stack.internal_url) as http:
        r = await http.post("/gopay", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 401 and r.json()["error"] == "MISSING_CREDENTIALS"
        r = await http.post(
            "/gopay",
            content=b"{}",
            headers={
                "Content-Type": "application/json",
                "X-Paygate-App-Id": "demo",
                "X-Paygate-Timestamp": "12²".encode("latin-1"),
                "X-Paygate-Nonce": "abcdefgh12",
                "X-Paygate-Signature": "00",
            },
        )
        assert r.status_code == 401 and r.json()["error"] == "TIMESTAMP_OUT_OF_WINDOW"
