"""R-SEC-3, R-NTF-1/2: a channel notification moves a trade only when it is authentic and
matches the trade; forged, tampered and mismatched ones change nothing and get ``fail``;
repeats change nothing and get ``success``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from paygate.domain.trades import TradeEvent
from paygate.kit.crypto import generate_rsa_key, private_key_pem, rsa_sign
from paygate.models import ChannelNotification, EventDelivery, ExtraPayment, OutboxMessage, Trade, TradeLog
from paygate.payments.state_changes import NO_FACTS, Source, moves_plainly, record_move
from tests.support.helpers import buyer, eventually, order_no, rows
from tests.support.stack import Stack


def sign_notification(params: dict[str, str], private_key: str) -> dict[str, str]:
    """Alipay's notification rule, written here a third time on purpose: every parameter but
    sign and sign_type, sorted, k=v joined by &, RSA2."""
    body = {k: v for k, v in params.items() if k not in ("sign", "sign_type")}
    content = "&".join(f"{k}={body[k]}" for k in sorted(body))
    return {**body, "sign_type": "RSA2", "sign": rsa_sign(private_key, content.encode())}


def sandbox_key(stack: Stack) -> str:
    data = json.loads((stack.settings.data_dir / "sandbox" / "alipay.json").read_text())
    return str(data["alipay_private_key"])


async def pending_trade(stack: Stack, amount: int = 2500, **more: Any) -> tuple[dict[str, Any], Trade]:
    trade = await stack.client.pay(
        out_order_no=order_no("N"),
        pay_type="alipay.jsapi",
        amount=amount,
        subject="Notify",
        extra={"buyer_id": "2088102177846880"},
        **more,
    )
    [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])
    return trade, row


def success_params(stack: Stack, row: Trade, **overrides: str) -> dict[str, str]:
    creds = stack.sandbox("alipay").credentials()
    params = {
        "notify_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "notify_type": "trade_status_sync",
        "notify_id": f"nid{row.id}x{len(overrides)}",
        "app_id": creds["app_id"],
        "seller_id": creds["seller_id"],
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": row.channel_trade_no or "2026112222001400000000000001",
        "out_trade_no": row.attempt_no,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": f"{row.amount / 100:.2f}",
        "receipt_amount": f"{row.amount / 100:.2f}",
        "gmt_payment": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "buyer_id": "2088102177846880",
    }
    params.update(overrides)
    return params


async def post(stack: Stack, row: Trade, form: dict[str, str], account: int | None = None) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{stack.public_url}/notify/alipay/{account or row.channel_account_id}", data=form
        )


async def state(stack: Stack, trade_no: str) -> str:
    [row] = await rows(stack, Trade, Trade.trade_no == trade_no)
    return row.state


async def test_a_valid_notification_succeeds_the_trade_and_a_repeat_changes_nothing(stack: Stack) -> None:
    trade, row = await pending_trade(stack)
    form = sign_notification(success_params(stack, row), sandbox_key(stack))
    first = await post(stack, row, form)
    assert first.text == "success"
    assert await state(stack, trade["trade_no"]) == "succeeded"
    logs_before = len(await rows(stack, TradeLog, TradeLog.trade_id == row.id))
    again = await post(stack, row, form)
    assert again.text == "success"
    assert len(await rows(stack, TradeLog, TradeLog.trade_id == row.id)) == logs_before
    assert len(await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"])) == 1
    inbox = await rows(stack, ChannelNotification, ChannelNotification.trade_id == row.id)
    assert [n.outcome for n in inbox] == ["processed"]


async def test_forged_tampered_and_mismatched_notifications_change_nothing(stack: Stack) -> None:
    trade, row = await pending_trade(stack)
    key = sandbox_key(stack)
    forged = sign_notification(success_params(stack, row), private_key_pem(generate_rsa_key(), "pkcs1"))
    tampered = sign_notification(success_params(stack, row), key) | {"total_amount": "0.01"}
    wrong_amount = sign_notification(success_params(stack, row, total_amount="0.01"), key)
    wrong_app = sign_notification(success_params(stack, row, app_id="2021009999999999"), key)
    wrong_seller = sign_notification(success_params(stack, row, seller_id="2088000000000000"), key)
    unsigned = {k: v for k, v in success_params(stack, row).items()}
    unknown_trade = sign_notification(success_params(stack, row, out_trade_no="P0000000000000000"), key)
    for form in (forged, tampered, wrong_amount, wrong_app, wrong_seller, unsigned, unknown_trade):
        reply = await post(stack, row, form)
        assert reply.text == "fail", form
    reply = await post(stack, row, sign_notification(success_params(stack, row), key), account=999999)
    assert reply.text == "fail"
    assert await state(stack, trade["trade_no"]) == "pending"
    rejected = await rows(stack, ChannelNotification, ChannelNotification.outcome == "rejected")
    assert len(rejected) == 8
    assert all(n.notification_id is None for n in rejected)
    assert await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"]) == []


async def test_out_of_order_closed_after_success_does_not_undo_the_payment(stack: Stack) -> None:
    trade, row = await pending_trade(stack)
    key = sandbox_key(stack)
    assert (await post(stack, row, sign_notification(success_params(stack, row), key))).text == "success"
    # a "closed unpaid" notice (no gmt_payment) that overtook nothing but arrives late
    closed = success_params(stack, row, notify_id="late-close", trade_status="TRADE_CLOSED")
    del closed["gmt_payment"]
    late_close = sign_notification(closed, key)
    assert (await post(stack, row, late_close)).text == "success"
    assert await state(stack, trade["trade_no"]) == "succeeded"
    logs = await rows(stack, TradeLog, TradeLog.trade_id == row.id)
    assert logs[-1].event == "refused:closed" and logs[-1].to_state == "succeeded"


async def test_payment_after_close_is_recorded_for_refund_not_applied(stack: Stack) -> None:
    trade, row = await pending_trade(stack)
    await stack.client.close(trade_no=trade["trade_no"])
    late_paid = sign_notification(success_params(stack, row, notify_id="late-paid"), sandbox_key(stack))
    assert (await post(stack, row, late_paid)).text == "success"
    assert await state(stack, trade["trade_no"]) == "closed"
    topics = [m.topic for m in await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"])]
    assert "trade.paid_after_close" in topics
    [extra] = await rows(stack, ExtraPayment, ExtraPayment.trade_id == row.id)
    assert (
        extra.kind == "paid_after_close" and extra.amount == row.amount and extra.attempt_no == row.attempt_no
    )
    # the same late payment reported again is the same extra payment
    again = sign_notification(success_params(stack, row, notify_id="late-paid-2"), sandbox_key(stack))
    assert (await post(stack, row, again)).text == "success"
    assert len(await rows(stack, ExtraPayment, ExtraPayment.trade_id == row.id)) == 1


async def test_duplicated_and_dropped_sandbox_notifications_converge(stack: Stack) -> None:
    """The sandbox duplicates every delivery and drops the first: the retry schedule still
    brings the trade to succeeded exactly once."""
    alipay = stack.sandbox("alipay")
    alipay.faults.duplicate_notifications(True)
    alipay.faults.drop_notifications(1)
    trade, row = await pending_trade(stack)
    await buyer(stack, "alipay", row.attempt_no)

    async def done() -> bool:
        return await state(stack, trade["trade_no"]) == "succeeded"

    await eventually(done, within=20)
    logs = await rows(stack, TradeLog, TradeLog.trade_id == row.id, TradeLog.to_state == "succeeded")
    assert len(logs) == 1
    processed = await rows(stack, ChannelNotification, ChannelNotification.trade_id == row.id)
    assert len([n for n in processed if n.outcome == "processed"]) == 1


async def test_after_pay_hooks_run_once_after_the_committed_change(stack: Stack) -> None:
    """R-LOG-3: hooks see the new state after the trade log is written, once per change —
    not for the repeat of a notification."""
    seen: list[tuple[str, str, int]] = []

    async def hook(view: dict[str, Any]) -> None:
        [row] = await rows(stack, Trade, Trade.trade_no == view["trade_no"])
        logs = await rows(stack, TradeLog, TradeLog.trade_id == row.id)
        seen.append((view["trade_no"], view["state"], len(logs)))

    stack.container.after_commit.after_pay.append(hook)
    trade, row = await pending_trade(stack)
    seen.clear()  # the create itself ran the hook once (created → pending)
    form = sign_notification(success_params(stack, row), sandbox_key(stack))
    assert (await post(stack, row, form)).text == "success"
    assert (await post(stack, row, form)).text == "success"
    assert seen == [(trade["trade_no"], "succeeded", 3)]


async def stale_read(stack: Stack, attempt_no: str) -> Trade:
    """The trade as a first notification's fast path reads it: in a unit of its own."""
    async with stack.container.db.single_statement() as uow:
        found = await uow.trades.by_attempt(attempt_no)
    assert found is not None
    return found[0]


def inbox_row(row: Trade, notification_id: str) -> ChannelNotification:
    return ChannelNotification(
        channel="alipay",
        channel_account_id=row.channel_account_id,
        notification_id=notification_id,
        kind="payment",
        outcome="processed",
        trade_id=row.id,
        payload={},
    )


async def test_a_move_that_loses_the_version_check_writes_nothing_and_the_notification_is_decided_again(
    stack: Stack,
) -> None:
    """R-PAY-3, R-NTF-2: a first notification reads the trade, then writes its claim, the
    state change, the log row and the event together under the version it read. A close that
    lands in between wins; the notification's write is then refused whole — no claim, no log
    row, no event — and the notification, decided again on fresh data, is a payment after
    close (R-PAY-5)."""
    trade, row = await pending_trade(stack)
    stale = await stale_read(stack, row.attempt_no)
    assert moves_plainly(stale, TradeEvent.PAID, NO_FACTS)
    await stack.client.close(trade_no=trade["trade_no"])  # another writer: version + 1
    async with stack.container.db.single_statement() as uow:
        written = await record_move(
            uow, stale, TradeEvent.PAID, source=Source.NOTIFY, also=[inbox_row(row, "raced")]
        )
    assert written is False
    [now] = await rows(stack, Trade, Trade.id == row.id)
    assert now.state == "closed" and now.paid_amount is None
    assert await rows(stack, ChannelNotification, ChannelNotification.notification_id == "raced") == []
    logs = await rows(stack, TradeLog, TradeLog.trade_id == row.id)
    # (the sandbox's own TRADE_CLOSED notice about the close may be logged by now; no payment is)
    assert "paid" not in [log.event for log in logs]
    topics = [m.topic for m in await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"])]
    assert "trade.succeeded" not in topics
    late = sign_notification(success_params(stack, row, notify_id="raced"), sandbox_key(stack))
    assert (await post(stack, row, late)).text == "success"
    assert await state(stack, trade["trade_no"]) == "closed"
    [extra] = await rows(stack, ExtraPayment, ExtraPayment.trade_id == row.id)
    assert extra.kind == "paid_after_close"


async def test_a_move_whose_claim_collides_writes_nothing(stack: Stack) -> None:
    """The inbox claim is part of the one write: when the notification was claimed already,
    the trade does not move, and no log row or event is written without it."""
    trade, row = await pending_trade(stack)
    async with stack.container.db.transaction() as uow:
        assert await uow.inbox.claim(inbox_row(row, "claimed-before"))
    stale = await stale_read(stack, row.attempt_no)
    async with stack.container.db.single_statement() as uow:
        written = await record_move(
            uow, stale, TradeEvent.PAID, source=Source.NOTIFY, also=[inbox_row(row, "claimed-before")]
        )
    assert written is False
    [now] = await rows(stack, Trade, Trade.id == row.id)
    assert now.state == "pending" and now.version == row.version
    assert [log.source for log in await rows(stack, TradeLog, TradeLog.trade_id == row.id)].count(
        "notify"
    ) == 0
    assert await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"]) == []


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
async def test_a_first_notification_is_two_statements_on_postgresql(stack: Stack) -> None:
    """Issue 11: the trade read, then one statement for the claim, the state change, its log
    row, the event and its delivery — no BEGIN, no COMMIT (each statement is atomic). Counted
    on PostgreSQL, where the statements are folded (elsewhere they run in a transaction)."""
    trade, row = await pending_trade(stack, notify_url="http://127.0.0.1:9/paid")
    form = sign_notification(success_params(stack, row), sandbox_key(stack))
    await stack.container.call_log.flush()  # the pay's call-log row, written in the background
    sent: list[str] = []
    engine = stack.container.engine.sync_engine

    def statement(conn: Any, cursor: Any, text: str, *args: Any) -> None:
        sent.append(text.split(None, 1)[0].upper())

    def begin(conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            sent.append("BEGIN")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "begin", begin)
    try:
        assert (await post(stack, row, form)).text == "success"
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "begin", begin)
    assert sent == ["SELECT", "WITH"]
    [now] = await rows(stack, Trade, Trade.id == row.id)
    assert now.state == "succeeded" and now.version == row.version + 1
    [log] = [
        log for log in await rows(stack, TradeLog, TradeLog.trade_id == row.id) if log.source == "notify"
    ]
    assert (log.from_state, log.to_state, log.event) == ("pending", "succeeded", "paid")
    [message] = await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"])
    deliveries = await rows(stack, EventDelivery, EventDelivery.event_id == message.id)
    assert message.topic == "trade.succeeded"
    assert [(d.url, d.sequence_key) for d in deliveries] == [("http://127.0.0.1:9/paid", trade["trade_no"])]
    assert json.loads(message.body)["data"]["state"] == "succeeded"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_public_listener_refuses_what_is_not_a_notification_address(stack: Stack) -> None:
    """The notify address is /notify/<configured channel>/<account number>: anything else is a
    plain 404 and reaches no channel code; an oversized body is 413; a GET is refused (R-SEC-2)."""
    trade, row = await pending_trade(stack)
    form = sign_notification(success_params(stack, row), sandbox_key(stack))
    account = row.channel_account_id
    async with httpx.AsyncClient(base_url=stack.public_url) as http:
        for path in (
            "/notify/nopay/1",
            "/notify/alipay/abc",
            "/notify/alipay/",
            "/notify/alipay//1",
            f"/notify/alipay/{account}/more",
            "/notify/alipay",
        ):
            refused = await http.post(path, data=form)
            assert (refused.status_code, refused.text) == (404, "not found"), path
        too_large = await http.post(
            f"/notify/alipay/{account}", content=b"x" * (stack.settings.max_body_bytes + 1)
        )
        assert (too_large.status_code, too_large.text) == (413, "too large")
        got = await http.get(f"/notify/alipay/{account}")
        assert got.status_code == 405
        assert await state(stack, trade["trade_no"]) == "pending"  # none of them moved it
        accepted = await http.post(f"/notify/alipay/{account}", data=form)
    assert (accepted.status_code, accepted.text) == (200, "success")
    assert await state(stack, trade["trade_no"]) == "succeeded"
