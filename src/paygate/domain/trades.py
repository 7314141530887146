"""Trades and the attempts sent to channels (R-PAY-2, R-PAY-3).

Trade::

    CREATED ──accepted──▶ PENDING ──paid──▶ SUCCEEDED
       │  └─uncertain─▶ UNKNOWN ──paid──▶ SUCCEEDED
       │                 │  └──accepted──▶ PENDING
       ├──paid──▶ SUCCEEDED          (synchronous channels: barcode)
       ├──rejected / failed──▶ FAILED  (from CREATED, PENDING, UNKNOWN)
       └──closed──▶ CLOSED            (from CREATED, PENDING, UNKNOWN)

A channel timeout leaves the trade UNKNOWN, never FAILED: only a channel's final answer
fails a trade. Terminal states never change; their own outcome repeats as a no-op.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from paygate.domain.machine import StateMachine

__all__ = ["TERMINAL", "TRADES", "AttemptStatus", "TradeEvent", "TradeState"]


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


class AttemptStatus(StrEnum):
    """One request sent to a channel for a trade."""

    SENT = "sent"  # written before the call; the answer is not in yet
    NOT_SENT = "not_sent"  # surely never reached the channel (refused connection, open circuit)
    ACCEPTED = "accepted"  # the channel took it; ``action`` holds the pay data
    UNKNOWN = "unknown"  # the answer was lost
    REJECTED = "rejected"  # a final refusal


TERMINAL: Final = frozenset({TradeState.SUCCEEDED, TradeState.FAILED, TradeState.CLOSED})

_S, _E = TradeState, TradeEvent

TRADES: Final = StateMachine(
    TradeState,
    {
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
    },
    TERMINAL,
)
