"""Applying a state-machine event to a trade, with everything that must go with it.

:func:`apply_event` is the only code that changes ``Trade.state``. In the caller's
transaction it checks the transition table, writes the trade-log row (R-LOG-2/3), and for
a final state the outbox messages (app notification, domain event) — so a state change is
never without its log row or its announcements. The version column makes a concurrent
writer lose with ``StaleDataError``; :func:`retry_stale` re-runs the unit of work.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from paygate.channels.contract import Exchange
from paygate.kit import metrics
from paygate.kit.db import utcnow
from paygate.kit.masking import mask
from paygate.models import OutboxMessage, Trade, TradeLog
from paygate.payments.states import TERMINAL, IllegalTransition, TradeEvent, TradeState, transition

__all__ = ["apply_event", "exchange_json", "log_anomaly", "retry_stale"]

T = TypeVar("T")
log = structlog.get_logger("paygate.payments")

_TOPIC = {
    TradeState.SUCCEEDED.value: "trade.succeeded",
    TradeState.FAILED.value: "trade.failed",
    TradeState.CLOSED.value: "trade.closed",
}


def exchange_json(exchange: Exchange | None, **extra: Any) -> dict[str, Any] | None:
    if exchange is None and not extra:
        return None
    data: dict[str, Any] = dataclasses.asdict(exchange) if exchange is not None else {}
    data.update(extra)
    return mask(data)  # type: ignore[no-any-return]


async def apply_event(
    session: AsyncSession,
    trade: Trade,
    event: TradeEvent,
    *,
    source: str,
    exchange: dict[str, Any] | None = None,
    channel_trade_no: str | None = None,
    paid_amount: int | None = None,
    paid_at: datetime | None = None,
) -> bool:
    """Move ``trade`` by ``event``. Returns True if the state changed, False for an
    acknowledged repeat. Raises :class:`IllegalTransition` (nothing changed)."""
    step = transition(trade.state, event)
    if channel_trade_no and not trade.channel_trade_no:
        trade.channel_trade_no = channel_trade_no
    if not step.changed:
        return False
    now = utcnow()
    trade.state = step.after
    if step.after == TradeState.SUCCEEDED:
        # money is counted here, once: the transition table allows entering SUCCEEDED once
        trade.paid_amount = paid_amount if paid_amount is not None else trade.amount
        trade.paid_at = paid_at or now
    elif step.after == TradeState.CLOSED:
        trade.closed_at = now
    # the version check first: a concurrent writer must lose here (StaleDataError, retried)
    # before this writer's log and outbox rows can collide with the winner's
    await session.flush([trade])
    session.add(
        TradeLog(
            trade_id=trade.id,
            event=event.value,
            from_state=step.before,
            to_state=step.after,
            source=source,
            exchange=exchange,
            created_at=now,
        )
    )
    if step.after in TERMINAL:
        _announce(session, trade, now)
    metrics.TRADE_TRANSITIONS.labels(trade.channel, step.after).inc()
    return True


def _announce(session: AsyncSession, trade: Trade, now: datetime) -> None:
    topic = _TOPIC[trade.state]
    payload = {
        "event": topic,
        "trade_no": trade.trade_no,
        "out_order_no": trade.out_order_no,
        "app_id": trade.app_id,
        "state": trade.state,
        "amount": trade.amount,
        "currency": trade.currency,
        "paid_amount": trade.paid_amount,
        "pay_type": trade.pay_type,
        "channel_trade_no": trade.channel_trade_no,
        "occurred_at": now.isoformat(),
    }
    session.add(
        OutboxMessage(
            topic=topic,
            key=f"{topic}:{trade.trade_no}",
            aggregate=trade.trade_no,
            app_id=trade.app_id,
            payload=payload,
            available_at=now,
            created_at=now,
        )
    )
    if trade.notify_url:
        session.add(
            OutboxMessage(
                topic="app.notify",
                key=f"app.notify:{topic}:{trade.trade_no}",
                aggregate=trade.trade_no,
                app_id=trade.app_id,
                payload={**payload, "notify_url": trade.notify_url},
                available_at=now,
                created_at=now,
            )
        )


async def log_anomaly(
    session: AsyncSession,
    trade: Trade,
    error: IllegalTransition,
    *,
    source: str,
    exchange: dict[str, Any] | None,
) -> None:
    """Record an event the state machine refused (e.g. *paid* after *closed*): the trade
    does not change, the timeline shows it, and an outbox event asks for follow-up
    (R-PAY-5: a payment after close is refunded by the compensation flow)."""
    now = utcnow()
    session.add(
        TradeLog(
            trade_id=trade.id,
            event=f"refused:{error.event}",
            from_state=trade.state,
            to_state=trade.state,
            source=source,
            exchange=exchange,
            created_at=now,
        )
    )
    if error.event == TradeEvent.PAID:
        topic = f"trade.paid_after_{trade.state}"
        session.add(
            OutboxMessage(
                topic=topic,
                key=f"{topic}:{trade.trade_no}:{secrets.token_hex(6)}",
                aggregate=trade.trade_no,
                app_id=trade.app_id,
                payload={"trade_no": trade.trade_no, "state": trade.state, "exchange": exchange},
                available_at=now,
                created_at=now,
            )
        )
    metrics.ALERTS.labels("illegal_transition", trade.channel).inc()
    log.warning(
        "alert.illegal_transition", trade_no=trade.trade_no, state=trade.state, refused=str(error.event)
    )


async def retry_stale(fn: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Run a unit of work again when a concurrent writer won the version check."""
    for attempt in range(attempts):
        try:
            return await fn()
        except StaleDataError as exc:
            if attempt == attempts - 1:
                raise
            log.info("retry.concurrent_update", error=type(exc).__name__, attempt=attempt + 1)
    raise AssertionError("unreachable")
