"""Notifications to apps (R-NTF-5, R-SEC-1): a final state is POSTed to the app's notify URL,
signed so that the ``standardwebhooks`` package verifies it; retried on the schedule until
acknowledged, in order per trade, dead-lettered with an alert; every attempt recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from paygate.domain.events import DeliveryState, EventType
from paygate.events import record
from paygate.jobs import JobRunner
from paygate.kit import metrics
from paygate.models import DeliveryAttempt, EventDelivery, OutboxMessage
from paygate.repositories import UnitOfWork
from tests.support.helpers import buyer, eventually, order_no, rows
from tests.support.receiver import running_receiver
from tests.support.stack import Stack


async def deliveries(stack: Stack, event_key: str) -> list[EventDelivery]:
    async with stack.container.sessions() as s:
        event = (await s.execute(select(OutboxMessage).where(OutboxMessage.key == event_key))).scalar_one()
        return list(
            (
                await s.execute(
                    select(EventDelivery).where(EventDelivery.event_id == event.id).order_by(EventDelivery.id)
                )
            ).scalars()
        )


async def settled(stack: Stack, event_key: str, state: DeliveryState = DeliveryState.SUCCEEDED) -> None:
    async def check() -> bool:
        found = await deliveries(stack, event_key)
        return bool(found) and found[-1].state is state

    await eventually(check)


async def test_a_paid_trade_is_posted_to_the_app_signed_and_recorded(
    events_stack: Stack, dispatcher: JobRunner
) -> None:
    stack = events_stack
    async with running_receiver([stack.credentials["webhook_secret"]]) as app:
        trade = await stack.client.pay(
            out_order_no=order_no(), pay_type="alipay.qr", amount=1999, subject="Tea", notify_url=app.url
        )
        await buyer(stack, "alipay", trade["action"]["qr_code"])
        await eventually(lambda: _acked(app))
        [got] = app.acknowledged()
        assert got.verified
        event = got.event
        assert event["type"] == "trade.succeeded" and event["id"] == got.event_id
        assert event["id"].startswith("evt_") and got.headers["webhook-id"] == event["id"]
        # the object as the query API shows it
        assert event["data"] == await stack.client.query_trade(trade_no=trade["trade_no"])
        await settled(stack, event["id"])
        [delivery] = await deliveries(stack, event["id"])
        assert delivery.state is DeliveryState.SUCCEEDED and delivery.attempts == 1
        [attempt] = await rows(stack, DeliveryAttempt, DeliveryAttempt.delivery_id == delivery.id)
        assert attempt.http_status == 204 and attempt.outcome == "acknowledged"
        assert attempt.duration_ms >= 0 and attempt.started_at is not None


async def _acked(app: object) -> bool:
    return bool(app.acknowledged())  # type: ignore[attr-defined]


async def test_failures_are_retried_on_the_schedule_until_acknowledged(
    events_stack: Stack, dispatcher: JobRunner
) -> None:
    stack = events_stack
    async with running_receiver([stack.credentials["webhook_secret"]]) as app:
        trade = await stack.client.pay(
            out_order_no=order_no(), pay_type="alipay.qr", amount=100, subject="x", notify_url=app.url
        )
        app.always = 503  # the app is down for a while
        await stack.client.close(trade_no=trade["trade_no"])
        await eventually(lambda: _count(app, 2))
        app.always = None
        await eventually(lambda: _acked(app))
        ids = {r.event_id for r in app.got}
        assert len(ids) == 1  # the same event (same id and body) every time
        assert len({r.body for r in app.got}) == 1
        key = ids.pop()
        await settled(stack, key)
        [delivery] = await deliveries(stack, key)
        assert delivery.state is DeliveryState.SUCCEEDED
        attempts = await rows(stack, DeliveryAttempt, DeliveryAttempt.delivery_id == delivery.id)
        assert [a.http_status for a in attempts] == [r.status for r in app.got]
        assert [a.attempt_no for a in attempts] == list(range(1, len(attempts) + 1))
        assert attempts[0].response_excerpt == "nope" and attempts[-1].outcome == "acknowledged"


async def _count(app: object, n: int) -> bool:
    return len(app.got) >= n  # type: ignore[attr-defined]


async def test_after_the_last_attempt_the_event_is_dead_and_an_alert_is_raised(
    events_stack: Stack, dispatcher: JobRunner, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = events_stack
    alerts = metrics.ALERTS.labels("event_dead", "")
    before = alerts._value.get()
    async with running_receiver([stack.credentials["webhook_secret"]], always=500) as app:
        trade = await stack.client.pay(
            out_order_no=order_no(), pay_type="alipay.qr", amount=100, subject="x", notify_url=app.url
        )
        await stack.client.close(trade_no=trade["trade_no"])
        [event] = await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"])

        await settled(stack, event.key, DeliveryState.DEAD)
        assert len(app.got) == 4  # FAST_SCHEDULE: 4 attempts, then no more
        assert alerts._value.get() == before + 1
        assert "alert.event_dead" in capsys.readouterr().out


async def test_events_of_one_trade_arrive_in_order(events_stack: Stack, dispatcher: JobRunner) -> None:
    """A later event waits until the earlier one is acknowledged (or dead)."""
    stack = events_stack
    async with running_receiver([stack.credentials["webhook_secret"]]) as app:

        async def two_events(uow: UnitOfWork) -> list[str]:
            first = await record(
                uow,
                EventType.TRADE_CLOSED,
                aggregate="T-ORDER",
                app_id="demo",
                data={"n": 1},
                notify_url=app.url,
            )
            second = await record(
                uow,
                EventType.TRADE_PAID_AFTER_CLOSE,
                aggregate="T-ORDER",
                app_id="demo",
                data={"n": 2},
                notify_url=app.url,
            )
            return [first, second]

        first, second = await stack.container.db.run(two_events)
        app.script[first] = [500, 500]
        await eventually(lambda: _count(app, 4))
        assert app.ids() == [first, first, first, second]
        assert [r.status for r in app.got] == [500, 500, 204, 204]


async def test_a_trade_without_notify_url_has_an_event_but_no_delivery(events_stack: Stack) -> None:
    stack = events_stack
    await stack.container.apps.set_notify_url("demo", None)
    trade = await stack.client.pay(out_order_no=order_no(), pay_type="alipay.qr", amount=100, subject="x")
    await stack.client.close(trade_no=trade["trade_no"])
    [event] = await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"])
    assert event.topic == "trade.closed" and await deliveries(stack, event.key) == []
