"""Changing a trade's state, and everything that must go with it (R-PAY-3, R-LOG-2/3).

:func:`apply_event` is the only code that sets ``Trade.state``: it consults the state
machine's table and records what the channel said (its trade number, the amount paid, when).
:func:`record_event` applies an event to a stored trade inside a unit of work and, in the
same transaction, writes the trade-log row and — for a final state — the outbox messages,
so a state change is never without its log row or its announcements. An event the table
refuses (e.g. *paid* after *closed*) changes nothing; it is recorded on the trade's timeline
with an alert and an outbox message asking for follow-up (R-PAY-5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import structlog

from paygate import events
from paygate.channels.contract import Exchange
from paygate.domain.events import EventType
from paygate.domain.machine import IllegalTransition, Transition
from paygate.domain.refunds import RefundKind
from paygate.domain.trades import TERMINAL, TRADES, TradeEvent, TradeState
from paygate.kit import metrics
from paygate.kit.clock import iso_utc, utc_now
from paygate.kit.masking import mask
from paygate.models import ExtraPayment, Trade, TradeLog
from paygate.payments.trade_view import full_trade_view, has_refunds, trade_view
from paygate.repositories import UnitOfWork

__all__ = [
    "NO_FACTS",
    "Facts",
    "Source",
    "apply_event",
    "exchange_json",
    "log_row",
    "moves_plainly",
    "record_event",
    "record_move",
]

log = structlog.get_logger("paygate.payments")


class Source(StrEnum):
    """Where the news of a state change came from (the trade log's ``source``)."""

    API = "api"  # the app's request and the channel's synchronous answer
    NOTIFY = "notify"  # the channel's asynchronous notification
    QUERY = "query"  # a query at the channel
    RETURN = "return"  # the payer's browser came back
    CLOSE = "close"  # closing the trade
    OPERATOR = "operator"  # a person's decision (approval, manual payout)
    SWEEP = "sweep"  # the reliability engine's own re-checks
    RECONCILE = "reconcile"  # a channel's bill showed it (R-NTF-3's fourth source, R-REC-2)


@dataclass(frozen=True)
class Facts:
    """What the channel said along with an event (``attempt_no``: which attempt it is about)."""

    channel_trade_no: str | None = None
    paid_amount: int | None = None
    paid_at: datetime | None = None
    attempt_no: str | None = None


NO_FACTS = Facts()
_EXCHANGE_FIELDS = dataclasses.fields(Exchange)

_EVENT_TYPE = {
    TradeState.SUCCEEDED: EventType.TRADE_SUCCEEDED,
    TradeState.FAILED: EventType.TRADE_FAILED,
    TradeState.CLOSED: EventType.TRADE_CLOSED,
}


def exchange_json(exchange: Exchange | None, **extra: Any) -> dict[str, Any] | None:
    """A channel exchange as the trade log keeps it (masked)."""
    if exchange is None and not extra:
        return None
    data: dict[str, Any] = {}
    if exchange is not None:  # mask() copies: no need for dataclasses.asdict's deep copy
        data = {f.name: getattr(exchange, f.name) for f in _EXCHANGE_FIELDS}
    data.update(extra)
    return mask(data)  # type: ignore[no-any-return]


def apply_event(trade: Trade, event: TradeEvent, facts: Facts, now: datetime) -> Transition[TradeState]:
    """Move ``trade`` by ``event``. Raises :class:`IllegalTransition` (nothing changed)."""
    step = TRADES.step(trade.state, event)
    if facts.channel_trade_no and not trade.channel_trade_no:
        trade.channel_trade_no = facts.channel_trade_no
    if not step.changed:
        return step
    trade.state = step.after
    if step.after is TradeState.SUCCEEDED:
        # money is counted here, once: the table allows entering SUCCEEDED once
        trade.paid_amount = facts.paid_amount if facts.paid_amount is not None else trade.amount
        trade.paid_at = facts.paid_at or now
        trade.paid_attempt_no = facts.attempt_no or trade.attempt_no
    elif step.after is TradeState.CLOSED:
        trade.closed_at = now
    if step.after in TERMINAL:
        trade.next_check_at = None  # nothing left to ask the channel
    return step


def log_row(
    step: Transition[TradeState] | None,
    event: str,
    source: Source,
    exchange: dict[str, Any] | None,
    now: datetime,
    *,
    after: TradeState | None = None,
) -> TradeLog:
    """A trade-log row for a step (``trade_id`` is filled in by whoever stores it)."""
    return TradeLog(
        event=event,
        from_state=step.before.value if step else None,
        to_state=(step.after if step else after or TradeState.CREATED).value,
        source=source.value,
        exchange=exchange,
        created_at=now,
    )


async def record_event(
    uow: UnitOfWork,
    trade: Trade,
    event: TradeEvent,
    *,
    source: Source,
    exchange: dict[str, Any] | None = None,
    facts: Facts = NO_FACTS,
) -> bool:
    """Apply ``event`` to a stored trade, with its log row and announcements. True when the
    state changed; False for an acknowledged repeat or a refused event (recorded)."""
    now = utc_now()
    if event is TradeEvent.PAID and _another_payment(trade, facts):
        # a second payment of a paid trade (R-PAY-6): the trade keeps the first one
        await _record_extra_payment(uow, trade, RefundKind.REPEAT_PAYMENT, facts, source, exchange, now)
        return False
    try:
        step = apply_event(trade, event, facts, now)
    except IllegalTransition as exc:
        _record_refusal(uow, trade, exc, source, exchange, now)
        if exc.event == TradeEvent.PAID:  # money for a closed or failed trade (R-PAY-5)
            await _record_extra_payment(uow, trade, RefundKind.PAID_AFTER_CLOSE, facts, source, exchange, now)
        return False
    if not step.changed:
        return False
    # the version check first: a concurrent writer must lose here (ConcurrentUpdate, re-run)
    # before this writer's log and outbox rows can collide with the winner's
    await uow.trades.save_state(trade)
    row = log_row(step, event.value, source, exchange, now)
    row.trade_id = trade.id
    if step.after in TERMINAL:  # the log row goes with the event (one statement on PostgreSQL)
        view = await full_trade_view(uow, trade)
        await _announce(uow, trade, _EVENT_TYPE[trade.state], view, also=[row])
    else:
        uow.trades.add_log(row)
    _count(trade, step)
    return True


def moves_plainly(trade: Trade, event: TradeEvent, facts: Facts) -> bool:
    """Whether ``event`` simply moves ``trade`` to another state: allowed by the table, a
    change, not a second payment, and nothing to read to announce it (no refunds)."""
    if event is TradeEvent.PAID and _another_payment(trade, facts):
        return False
    try:
        step = TRADES.step(trade.state, event)
    except IllegalTransition:
        return False
    return step.changed and not has_refunds(trade)


async def record_move(
    uow: UnitOfWork,
    trade: Trade,
    event: TradeEvent,
    *,
    source: Source,
    exchange: dict[str, Any] | None = None,
    facts: Facts = NO_FACTS,
    also: Sequence[object] = (),
) -> bool:
    """:func:`record_event` for a trade read by an earlier unit of work and an event that
    :func:`moves_plainly`: the state change, its log row, ``also`` (rows of the same change)
    and — for a final state — its event and deliveries are written together, under the
    trade's version check, with one statement on PostgreSQL (run it in
    ``Database.single_statement``: no BEGIN, no COMMIT). False when nothing was written — a
    concurrent writer changed the trade since it was read, or a row of ``also`` collided —
    and the trade object is then stale: decide again on fresh data (:func:`record_event` in
    a transaction)."""
    now = utc_now()
    step = apply_event(trade, event, facts, now)
    row = log_row(step, event.value, source, exchange, now)
    row.trade_id = trade.id
    if step.after in TERMINAL:
        view = {**trade_view(trade), "refunds": []}
        outbox, deliveries = events.build(
            _EVENT_TYPE[step.after],
            aggregate=trade.trade_no,
            app_id=trade.app_id,
            data=view,
            notify_url=trade.notify_url,
        )
        written = await uow.trades.move(trade, [*also, row], outbox, deliveries)
    else:
        written = await uow.trades.move(trade, [*also, row])
    if written:
        _count(trade, step)
    return written


def _count(trade: Trade, step: Transition[TradeState]) -> None:
    metrics.TRADE_TRANSITIONS.labels(trade.channel, step.after.value).inc()
    if step.after in TERMINAL:
        metrics.TRADE_OUTCOMES.labels(trade.channel, trade.pay_type, step.after.value).inc()


def _another_payment(trade: Trade, facts: Facts) -> bool:
    """A paid trade hears of a payment that is not the one it kept: another attempt, or the
    same attempt with another channel trade number (a QR code paid twice)."""
    if trade.state is not TradeState.SUCCEEDED:
        return False
    if facts.attempt_no and trade.paid_attempt_no and facts.attempt_no != trade.paid_attempt_no:
        return True
    return bool(
        facts.channel_trade_no and trade.channel_trade_no and facts.channel_trade_no != trade.channel_trade_no
    )


async def _record_extra_payment(
    uow: UnitOfWork,
    trade: Trade,
    kind: RefundKind,
    facts: Facts,
    source: Source,
    exchange: dict[str, Any] | None,
    now: datetime,
) -> None:
    """Keep the payment (once, however often it is reported) for its refund, tell the app."""
    attempt_no = facts.attempt_no or trade.attempt_no
    attempt = await uow.trades.attempt(attempt_no)
    amount = facts.paid_amount if facts.paid_amount is not None else trade.amount
    extra = ExtraPayment(
        trade_id=trade.id,
        kind=kind,
        payment_key=f"{attempt_no}:{facts.channel_trade_no or ''}",
        attempt_no=attempt_no,
        channel=attempt.channel if attempt else trade.channel,
        channel_account_id=attempt.channel_account_id if attempt else trade.channel_account_id,
        channel_trade_no=facts.channel_trade_no,
        kept_channel_trade_no=trade.channel_trade_no,
        amount=amount,
        currency=trade.currency,
        detected_by=source.value,
        created_at=now,
    )
    if not await uow.trades.add_extra_payment(extra):
        return  # already known: its refund is on its way
    trade.extra_paid_amount += amount
    await uow.trades.save_state(trade)
    row = log_row(None, kind.value, source, exchange, now, after=trade.state)
    row.from_state, row.trade_id = trade.state.value, trade.id
    uow.trades.add_log(row)
    type_ = (
        EventType.TRADE_PAID_AFTER_CLOSE
        if kind is RefundKind.PAID_AFTER_CLOSE
        else EventType.TRADE_REPEAT_PAYMENT
    )
    extra_payment = {
        "amount": amount,
        "currency": trade.currency,
        "attempt_no": attempt_no,
        "channel": extra.channel,
        "channel_trade_no": facts.channel_trade_no,
        "kept_channel_trade_no": trade.channel_trade_no,
        "paid_at": iso_utc(facts.paid_at),
    }
    await _announce(uow, trade, type_, {**await full_trade_view(uow, trade), "extra_payment": extra_payment})
    metrics.ALERTS.labels(kind.value, trade.channel).inc()
    log.warning(f"alert.{kind.value}", trade_no=trade.trade_no, amount=amount, attempt_no=attempt_no)


async def _announce(
    uow: UnitOfWork, trade: Trade, type_: EventType, data: dict[str, Any], also: list[TradeLog] | None = None
) -> None:
    """The event for the app (at the trade's notify URL, R-NTF-5) and the broker (R-NTF-6)."""
    await events.record(
        uow,
        type_,
        aggregate=trade.trade_no,
        app_id=trade.app_id,
        data=data,
        notify_url=trade.notify_url,
        also=also or (),
    )


def _record_refusal(
    uow: UnitOfWork,
    trade: Trade,
    error: IllegalTransition,
    source: Source,
    exchange: dict[str, Any] | None,
    now: datetime,
) -> None:
    row = log_row(None, f"refused:{error.event}", source, exchange, now, after=trade.state)
    row.from_state = trade.state.value
    row.trade_id = trade.id
    uow.trades.add_log(row)
    metrics.ALERTS.labels("illegal_transition", trade.channel).inc()
    log.warning(
        "alert.illegal_transition", trade_no=trade.trade_no, state=trade.state.value, refused=str(error.event)
    )
