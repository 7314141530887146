"""Changing a refund's state, and everything that must go with it (R-PAY-3, R-REF-4, R-LOG-2/3).

:func:`apply_refund_event` is the only code that sets ``Refund.state``. :func:`record_refund_event`
applies an event to a stored refund inside a unit of work and, in the same transaction,
writes the trade-log row (with ``refund_id``), settles the trade's refund money when the
refund ends (refunded, or the reservation released) and writes the outbox message for the
states an app hears about. A refused event changes nothing and is recorded with an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import structlog

from paygate import events
from paygate.domain.checks import next_check
from paygate.domain.events import EventType
from paygate.domain.machine import IllegalTransition, Transition
from paygate.domain.refunds import REFUND_TERMINAL, REFUNDS, RefundEvent, RefundKind, RefundState
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.models import Refund, Trade, TradeLog
from paygate.payments.state_changes import Source
from paygate.refunds.views import refund_view
from paygate.repositories import UnitOfWork

#: States in which a refund is (re)sent to, and asked about at, the channel.
SENDABLE: Final = frozenset({RefundState.PROCESSING, RefundState.UNKNOWN})

__all__ = [
    "NO_REFUND_FACTS",
    "RefundFacts",
    "announce",
    "apply_refund_event",
    "record_refund_event",
    "refund_log",
]

log = structlog.get_logger("paygate.refunds")

#: The states an app is told about (R-NTF-5), with the event type it gets.
TOPICS: Final = {
    RefundState.SUCCEEDED: EventType.REFUND_SUCCEEDED,
    RefundState.FAILED: EventType.REFUND_FAILED,
    RefundState.PENDING_APPROVAL: EventType.REFUND_PENDING_APPROVAL,
    RefundState.REJECTED: EventType.REFUND_REJECTED,
}


@dataclass(frozen=True)
class RefundFacts:
    """What the channel (or an operator) said along with an event."""

    channel_refund_no: str | None = None
    channel_status: str | None = None
    refunded_at: datetime | None = None
    failure_reason: str | None = None


NO_REFUND_FACTS = RefundFacts()


def apply_refund_event(
    refund: Refund, event: RefundEvent, facts: RefundFacts, now: datetime
) -> Transition[RefundState]:
    """Move ``refund`` by ``event``. Raises :class:`IllegalTransition` (nothing changed)."""
    step = REFUNDS.step(refund.state, event)
    if facts.channel_refund_no and not refund.channel_refund_no:
        refund.channel_refund_no = facts.channel_refund_no
    if facts.channel_status:
        refund.channel_status = facts.channel_status[:64]
    if not step.changed:
        return step
    refund.state = step.after
    if step.after is RefundState.FAILED and facts.failure_reason:
        refund.failure_reason = facts.failure_reason[:256]
    if step.after is RefundState.SUCCEEDED:
        refund.refunded_at = facts.refunded_at or now
    if step.after in REFUND_TERMINAL:
        refund.finished_at = now
        refund.next_check_at = None  # nothing left to ask the channel
    elif step.after in SENDABLE and refund.next_check_at is None:
        refund.next_check_at = next_check(now, 0)  # the reliability engine asks if nothing comes
    return step


def refund_log(
    step: Transition[RefundState] | None,
    event: str,
    source: Source,
    exchange: dict[str, Any] | None,
    now: datetime,
    *,
    initial: RefundState | None = None,
) -> TradeLog:
    """A trade-log row for a refund's step (``trade_id``/``refund_id`` filled in on storing)."""
    return TradeLog(
        event=event,
        from_state=step.before.value if step else None,
        to_state=(step.after if step else initial or RefundState.PROCESSING).value,
        source=source.value,
        exchange=exchange,
        created_at=now,
    )


async def record_refund_event(
    uow: UnitOfWork,
    refund: Refund,
    event: RefundEvent,
    *,
    source: Source,
    exchange: dict[str, Any] | None = None,
    facts: RefundFacts = NO_REFUND_FACTS,
) -> bool:
    """Apply ``event`` to a stored refund, with its log row, money and announcement. True when
    the state changed; False for an acknowledged repeat or a refused event (recorded)."""
    now = utc_now()
    try:
        step = apply_refund_event(refund, event, facts, now)
    except IllegalTransition as exc:
        row = refund_log(None, f"refused:{exc.event}", source, exchange, now, initial=refund.state)
        row.from_state = refund.state.value
        row.trade_id, row.refund_id = refund.trade_id, refund.id
        uow.trades.add_log(row)
        metrics.ALERTS.labels("illegal_refund_transition", refund.channel).inc()
        log.warning(
            "alert.illegal_refund_transition",
            refund_no=refund.refund_no,
            state=refund.state.value,
            refused=str(exc.event),
        )
        return False
    if not step.changed:
        return False
    if refund.kind is RefundKind.BUSINESS and step.after in REFUND_TERMINAL:
        # a business refund was reserved against the trade's payment; a system refund returns
        # an extra payment, which is its own cap. The trade row first: every transaction that
        # writes a trade and one of its refunds locks them in that order (a new refund reserves
        # on the trade, then inserts; the other order deadlocks with a concurrent repeat of the
        # refund's number on PostgreSQL, whose unique check waits for this refund's new row)
        await uow.trades.settle_refund(
            refund.trade_id, refund.amount, refunded=step.after is RefundState.SUCCEEDED
        )
    await uow.refunds.save_state(refund)  # the version check (ConcurrentUpdate → re-run)
    row = refund_log(step, event.value, source, exchange, now)
    row.trade_id, row.refund_id = refund.trade_id, refund.id
    uow.trades.add_log(row)
    trade = await uow.trades.by_id(refund.trade_id)
    assert trade is not None
    await announce(uow, refund, trade)
    metrics.REFUND_TRANSITIONS.labels(refund.channel, step.after.value).inc()
    return True


async def announce(uow: UnitOfWork, refund: Refund, trade: Trade) -> None:
    """The event for a state an app is told about (nothing for the others), in order with
    its trade's events (R-NTF-5, R-NTF-6)."""
    type_ = TOPICS.get(refund.state)
    if type_ is None:
        return
    await events.record(
        uow,
        type_,
        aggregate=trade.trade_no,  # a refund belongs to its trade: one order, one timeline
        app_id=refund.app_id,
        data=refund_view(refund, trade),
        notify_url=refund.notify_url or trade.notify_url,
    )
