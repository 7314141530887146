"""The trade and refund state machines (R-PAY-3).

Every state change goes through :func:`transition`, which consults an explicit table. An
event that the table does not allow raises :class:`IllegalTransition`; an event that
repeats the current outcome (a second "paid" for a paid trade) is a *no-op*, so channel
retries and duplicate notifications change nothing. Terminal states never change.

Trade::

    CREATED ──accepted──▶ PENDING ──paid──▶ SUCCEEDED
       │  └─uncertain─▶ UNKNOWN ──paid──▶ SUCCEEDED
       │                 │  └──accepted──▶ PENDING
       ├──paid──▶ SUCCEEDED          (synchronous channels: barcode)
       ├──rejected / failed──▶ FAILED  (from CREATED, PENDING, UNKNOWN)
       └──closed──▶ CLOSED            (from CREATED, PENDING, UNKNOWN)

A channel timeout leaves the trade UNKNOWN, never FAILED: only a channel's final answer
fails a trade.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "REFUND_TERMINAL",
    "TERMINAL",
    "IllegalTransition",
    "RefundEvent",
    "RefundState",
    "TradeEvent",
    "TradeState",
    "Transition",
    "refund_transition",
    "transition",
]


class TradeState(StrEnum):
    CREATED = "created"  # written before the channel is called
    PENDING = "pending"  # the channel accepted it; awaiting the payer
    UNKNOWN = "unknown"  # the channel's answer was lost (timeout, unreadable): must re-check
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"


class TradeEvent(StrEnum):
    ACCEPTED = "accepted"  # the channel took the order (or says the payer is paying)
    UNCERTAIN = "uncertain"  # the channel call's outcome is unknown
    REJECTED = "rejected"  # the channel refused the order for good
    PAID = "paid"
    FAILED = "failed"  # the payment failed for good
    CLOSED = "closed"  # closed / expired / cancelled unpaid


TERMINAL: Final = frozenset({TradeState.SUCCEEDED, TradeState.FAILED, TradeState.CLOSED})

_S, _E = TradeState, TradeEvent

#: (state, event) → next state. Pairs mapping to the same state are acknowledged no-ops.
_TRADE_TABLE: Final[dict[tuple[TradeState, TradeEvent], TradeState]] = {
    (_S.CREATED, _E.ACCEPTED): _S.PENDING,
    (_S.CREATED, _E.UNCERTAIN): _S.UNKNOWN,
    (_S.CREATED, _E.REJECTED): _S.FAILED,
    (_S.CREATED, _E.PAID): _S.SUCCEEDED,
    (_S.CREATED, _E.FAILED): _S.FAILED,
    (_S.CREATED, _E.CLOSED): _S.CLOSED,
    (_S.PENDING, _E.ACCEPTED): _S.PENDING,
    (_S.PENDING, _E.UNCERTAIN): _S.PENDING,
    (_S.PENDING, _E.PAID): _S.SUCCEEDED,
    (_S.PENDING, _E.FAILED): _S.FAILED,
    (_S.PENDING, _E.REJECTED): _S.FAILED,
    (_S.PENDING, _E.CLOSED): _S.CLOSED,
    (_S.UNKNOWN, _E.ACCEPTED): _S.PENDING,
    (_S.UNKNOWN, _E.UNCERTAIN): _S.UNKNOWN,
    (_S.UNKNOWN, _E.PAID): _S.SUCCEEDED,
    (_S.UNKNOWN, _E.FAILED): _S.FAILED,
    (_S.UNKNOWN, _E.REJECTED): _S.FAILED,
    (_S.UNKNOWN, _E.CLOSED): _S.CLOSED,
    # Terminal states: only their own outcome repeats, as a no-op.
    (_S.SUCCEEDED, _E.PAID): _S.SUCCEEDED,
    (_S.SUCCEEDED, _E.ACCEPTED): _S.SUCCEEDED,  # a late "created" answer after payment
    (_S.SUCCEEDED, _E.UNCERTAIN): _S.SUCCEEDED,
    (_S.FAILED, _E.FAILED): _S.FAILED,
    (_S.FAILED, _E.REJECTED): _S.FAILED,
    (_S.CLOSED, _E.CLOSED): _S.CLOSED,
    (_S.CLOSED, _E.UNCERTAIN): _S.CLOSED,
}


class IllegalTransition(Exception):
    """The event is not allowed in the current state (e.g. *paid* on a closed trade)."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"{event!s} is not allowed in state {state!s}")
        self.state = state
        self.event = event


@dataclass(frozen=True)
class Transition:
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def transition(state: TradeState | str, event: TradeEvent) -> Transition:
    current = TradeState(state)
    try:
        after = _TRADE_TABLE[(current, event)]
    except KeyError:
        raise IllegalTransition(current, event) from None
    return Transition(current.value, after.value)


# --------------------------------------------------------------------------- refunds


class RefundState(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    PROCESSING = "processing"  # sent (or about to be sent) to the channel
    UNKNOWN = "unknown"  # the channel's answer was lost
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"  # refused in approval


class RefundEvent(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    ACCEPTED = "accepted"
    UNCERTAIN = "uncertain"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


REFUND_TERMINAL: Final = frozenset({RefundState.SUCCEEDED, RefundState.FAILED, RefundState.REJECTED})

_R, _RE = RefundState, RefundEvent
_REFUND_TABLE: Final[dict[tuple[RefundState, RefundEvent], RefundState]] = {
    (_R.PENDING_APPROVAL, _RE.APPROVED): _R.PROCESSING,
    (_R.PENDING_APPROVAL, _RE.DECLINED): _R.REJECTED,
    (_R.PROCESSING, _RE.ACCEPTED): _R.PROCESSING,
    (_R.PROCESSING, _RE.UNCERTAIN): _R.UNKNOWN,
    (_R.PROCESSING, _RE.SUCCEEDED): _R.SUCCEEDED,
    (_R.PROCESSING, _RE.FAILED): _R.FAILED,
    (_R.UNKNOWN, _RE.ACCEPTED): _R.PROCESSING,
    (_R.UNKNOWN, _RE.UNCERTAIN): _R.UNKNOWN,
    (_R.UNKNOWN, _RE.SUCCEEDED): _R.SUCCEEDED,
    (_R.UNKNOWN, _RE.FAILED): _R.FAILED,
    (_R.SUCCEEDED, _RE.SUCCEEDED): _R.SUCCEEDED,
    (_R.SUCCEEDED, _RE.ACCEPTED): _R.SUCCEEDED,
    (_R.SUCCEEDED, _RE.UNCERTAIN): _R.SUCCEEDED,
    (_R.FAILED, _RE.FAILED): _R.FAILED,
    (_R.REJECTED, _RE.DECLINED): _R.REJECTED,
}


def refund_transition(state: RefundState | str, event: RefundEvent) -> Transition:
    current = RefundState(state)
    try:
        after = _REFUND_TABLE[(current, event)]
    except KeyError:
        raise IllegalTransition(current, event) from None
    return Transition(current.value, after.value)
