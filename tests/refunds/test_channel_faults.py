"""Refunds when the channel misbehaves (R-REF-1, R-REF-3, R-REF-4, R-NTF-2/3), against the
sandboxes' fault injection over real HTTP: a refund that fails at the channel releases its
amount; one whose answer is lost stays reserved as unknown and the reliability engine settles
it (by query, or by sending it again when the channel never got it) — never failed by guess;
refund notifications that are duplicated, reordered or beat the synchronous answer converge;
a refund the channel refuses for good can be paid out by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from paygate.kit.clock import utc_now
from paygate.models import ChannelAccountRow, ChannelNotification, Refund, Trade, TradeLog
from tests.refunds.support import paid_trade, refund_error
from tests.support.helpers import eventually, rows
from tests.support.stack import Stack

PASSWORD = "correct horse battery"


async def trade_row(stack: Stack, trade_no: str) -> Trade:
    [row] = await rows(stack, Trade, Trade.trade_no == trade_no)
    return row


async def refund_row(stack: Stack, refund_no: str) -> Refund:
    [row] = await rows(stack, Refund, Refund.refund_no == refund_no)
    return row


async def settle_by_checks(stack: Stack, refund_no: str) -> Refund:
    """Make the refund's check due and run the reliability engine's refund checks."""
    async with stack.container.sessions() as session, session.begin():
        await session.execute(
            update(Refund)
            .where(Refund.refund_no == refund_no)
            .values(next_check_at=utc_now() - timedelta(seconds=1))
        )
    await stack.container.refund_checks.run_once()
    return await refund_row(stack, refund_no)


async def test_a_refund_the_channel_refuses_fails_and_releases_its_amount(stack: Stack) -> None:
    trade = await paid_trade(stack, "alipay", 1000)
    stack.sandbox("alipay").faults.error("alipay.trade.refund", sub_code="ACQ.TRADE_HAS_FINISHED", times=1)
    error = await refund_error(stack, trade_no=trade["trade_no"], out_refund_no="F-1", amount=600)
    assert error.error == "CHANNEL_ERROR" and error.data["state"] == "failed"
    assert error.data["channel_code"] == "ACQ.TRADE_HAS_FINISHED"
    row = await trade_row(stack, trade["trade_no"])
    assert row.refund_reserved == 0 and row.refunded_amount == 0  # released
    again = await stack.client.refund(trade_no=trade["trade_no"], out_refund_no="F-1", amount=600)
    assert again["state"] == "failed" and "ACQ.TRADE_HAS_FINISHED" in again["failure_reason"]
    ok = await stack.client.refund(trade_no=trade["trade_no"], out_refund_no="F-2", amount=1000)
    assert ok["state"] == "succeeded"  # the whole amount was available again


async def test_wechat_refunds_that_end_abnormal_release_their_amount(stack: Stack) -> None:
    trade = await paid_trade(stack, "wechatpay", 1000)
    stack.sandbox("wechatpay").faults.refund_outcome("ABNORMAL", delay=0, times=1)
    refund = await stack.client.refund(trade_no=trade["trade_no"], out_refund_no="W-A", amount=700)

    async def failed() -> bool:
        return (await stack.client.query_refund(refund_no=refund["refund_no"]))["state"] == "failed"

    await eventually(failed, within=20)
    assert (await trade_row(stack, trade["trade_no"])).refund_reserved == 0


async def short_channel_timeout(stack: Stack, channel: str, seconds: float) -> None:
    async with stack.container.sessions() as session, session.begin():
        await session.execute(
            update(ChannelAccountRow)
            .where(ChannelAccountRow.channel == channel)
            .values(timeout_seconds=seconds)
        )
    stack.container.accounts.forget()
    stack.container.router.forget()


async def test_a_lost_answer_leaves_the_refund_unknown_and_a_check_settles_it(stack: Stack) -> None:
    trade = await paid_trade(stack, "alipay", 1000)
    await short_channel_timeout(stack, "alipay", 1.0)
    # Alipay makes the refund, but its answer never reaches paygate in time, nor its notice
    stack.sandbox("alipay").faults.timeout(4, "alipay.trade.refund", apply=True, times=1)
    stack.sandbox("alipay").faults.drop_notifications(100)
    error = await refund_error(stack, trade_no=trade["trade_no"], out_refund_no="U-1", amount=400)
    assert error.error == "CHANNEL_TIMEOUT" and error.data["state"] == "unknown"
    row = await refund_row(stack, error.data["refund_no"])
    assert row.state == "unknown" and row.next_check_at is not None
    assert (await trade_row(stack, trade["trade_no"])).refund_reserved == 400  # kept reserved
    stack.sandbox("alipay").faults.clear()
    settled = await settle_by_checks(stack, error.data["refund_no"])
    assert settled.state == "succeeded" and settled.next_check_at is None
    trade_after = await trade_row(stack, trade["trade_no"])
    assert trade_after.refunded_amount == 400 and trade_after.refund_reserved == 400


async def test_a_refund_notification_that_beats_the_lost_answer_settles_the_refund(stack: Stack) -> None:
    """The synchronous answer is lost, but Alipay's refund notice arrives first: the app gets
    the refund as it ended, not a timeout."""
    trade = await paid_trade(stack, "alipay", 1000)
    await short_channel_timeout(stack, "alipay", 1.0)
    stack.sandbox("alipay").faults.timeout(4, "alipay.trade.refund", apply=True, times=1)
    refund = await stack.client.refund(trade_no=trade["trade_no"], out_refund_no="E-1", amount=200)
    assert refund["state"] == "succeeded"
    assert (await trade_row(stack, trade["trade_no"])).refunded_amount == 200


async def test_a_refund_the_channel_never_received_is_sent_again_under_the_same_number(stack: Stack) -> None:
    trade = await paid_trade(stack, "alipay", 1000)
    # "system busy" before anything happened at Alipay: the outcome is unknown to paygate
    stack.sandbox("alipay").faults.error("alipay.trade.refund", code="20000", times=1)
    error = await refund_error(stack, trade_no=trade["trade_no"], out_refund_no="N-1", amount=300)
    assert error.data["state"] == "unknown"
    settled = await settle_by_checks(stack, error.data["refund_no"])  # query: not found → send again
    assert settled.state == "succeeded"
    async with httpx.AsyncClient() as http:  # and Alipay refunded it exactly once
        seen = (await http.get(f"{stack.sandbox_url}/alipay/_sandbox/trades/{settled.attempt_no}")).json()
    assert seen["refunded_amount"] == "3.00" and len(seen["refunds"]) == 1
    assert (await trade_row(stack, trade["trade_no"])).refunded_amount == 300


async def test_duplicated_reordered_and_early_refund_notifications_converge(stack: Stack) -> None:
    """WeChat Pay sends every refund notification twice and holds them to send newest first;
    refunds settle at once, so notifications may beat the synchronous answers. A notification
    still held is covered by the reliability engine's checks. Each refund succeeds once."""
    trade = await paid_trade(stack, "wechatpay", 1000)
    wechat = stack.sandbox("wechatpay")
    wechat.faults.duplicate_notifications(True)
    wechat.faults.reorder_notifications(2)
    wechat.faults.refund_outcome("SUCCESS", delay=0)
    refunds = [
        await stack.client.refund(trade_no=trade["trade_no"], out_refund_no=f"D-{i}", amount=100)
        for i in range(3)
    ]

    async def all_done() -> bool:
        views = [await stack.client.query_refund(refund_no=r["refund_no"]) for r in refunds]
        for view in views:
            if view["state"] != "succeeded":  # its notification may be held: the check asks
                await settle_by_checks(stack, view["refund_no"])
        return all(v["state"] == "succeeded" for v in views)

    await eventually(all_done, within=30)
    row = await trade_row(stack, trade["trade_no"])
    assert row.refunded_amount == 300 and row.refund_reserved == 300
    for refund in refunds:  # one succeeded step each, however many notifications came
        found = await refund_row(stack, refund["refund_no"])
        logs = await rows(stack, TradeLog, TradeLog.refund_id == found.id, TradeLog.to_state == "succeeded")
        assert len(logs) == 1
    wechat.faults.clear()  # the held notification goes out now: acknowledged, changes nothing

    async def all_delivered() -> bool:
        async with httpx.AsyncClient() as http:
            notes = (await http.get(f"{stack.sandbox_url}/wechatpay/_sandbox/notifications")).json()
        return all(n["succeeded"] for n in notes)

    await eventually(all_delivered)
    notes = await rows(stack, ChannelNotification, ChannelNotification.trade_id == row.id)
    assert notes and all(n.outcome != "rejected" for n in notes)
    assert (await trade_row(stack, trade["trade_no"])).refunded_amount == 300


async def test_a_refund_the_channel_cannot_take_is_paid_out_by_hand(stack: Stack) -> None:
    await stack.container.operators.add("alice", "approver", PASSWORD)
    trade = await paid_trade(stack, "alipay", 1000)
    stack.sandbox("alipay").faults.error("alipay.trade.refund", sub_code="ACQ.TRADE_HAS_FINISHED", times=1)
    error = await refund_error(stack, trade_no=trade["trade_no"], out_refund_no="M-1", amount=500)
    failed_no = error.data["refund_no"]

    async def operator(path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=stack.internal_url, auth=("alice", PASSWORD)) as http:
            answer = await http.post(path, json=body)
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()["data"]
        return data

    manual = await operator(
        f"/operator/refunds/{failed_no}/manual-payout", {"reason": "past the refund window"}
    )
    assert manual["state"] == "awaiting_payout" and manual["route"] == "manual"
    assert manual["replaces_refund_no"] == failed_no
    assert (await trade_row(stack, trade["trade_no"])).refund_reserved == 500  # reserved again
    paid = await operator(
        f"/operator/refunds/{manual['refund_no']}/payout", {"reference": "bank transfer 8841"}
    )
    assert paid["state"] == "succeeded" and paid["payout_reference"] == "bank transfer 8841"
    view = await stack.client.query_trade(trade_no=trade["trade_no"])
    assert view["refunded_amount"] == 500
    assert [r["state"] for r in view["refunds"]] == ["failed", "succeeded"]
