"""Refund states (R-PAY-3, R-REF-4, R-REF-5).

Refund::

    PENDING_APPROVAL ──approved──▶ PROCESSING ──succeeded──▶ SUCCEEDED
            └──declined──▶ REJECTED        │ └──failed──▶ FAILED
                                           └─uncertain─▶ UNKNOWN ──succeeded / failed──▶ …
    AWAITING_PAYOUT ──paid_out──▶ SUCCEEDED      (a manual payout, recorded by an operator)

A refund starts in PENDING_APPROVAL (an approval rule matched), PROCESSING (sent, or about to
be sent, back along the payment's route) or AWAITING_PAYOUT (paid out by hand, R-REF-3). A
timeout leaves it UNKNOWN — its amount stays reserved and it is re-queried, never failed by
guess. Money: PENDING_APPROVAL, PROCESSING, UNKNOWN and AWAITING_PAYOUT hold their amount
reserved against the payment; SUCCEEDED counts as refunded; FAILED and REJECTED release it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from paygate.domain.machine import StateMachine

__all__ = [
    "IN_FLIGHT",
    "REFUNDS",
    "REFUND_TERMINAL",
    "RefundEvent",
    "RefundKind",
    "RefundRoute",
    "RefundState",
]


class RefundState(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    PROCESSING = "processing"  # sent (or about to be sent) to the channel
    UNKNOWN = "unknown"  # the channel's answer was lost
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"  # refused in approval
    AWAITING_PAYOUT = "awaiting_payout"  # to be paid out by hand; an operator records it


class RefundEvent(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    ACCEPTED = "accepted"
    UNCERTAIN = "uncertain"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PAID_OUT = "paid_out"


class RefundKind(StrEnum):
    """Why the money goes back (R-REF-3)."""

    BUSINESS = "business"  # the app (or an operator) asked for it
    REPEAT_PAYMENT = "repeat_payment"  # a second payment of one trade (R-PAY-6)
    PAID_AFTER_CLOSE = "paid_after_close"  # a payment that arrived after the close (R-PAY-5)


class RefundRoute(StrEnum):
    ORIGINAL = "original"  # back along the payment's channel
    MANUAL = "manual"  # paid out by hand (the channel could not take it)


REFUND_TERMINAL: Final = frozenset({RefundState.SUCCEEDED, RefundState.FAILED, RefundState.REJECTED})
#: States whose amount is reserved against the payment (not yet refunded, not released).
IN_FLIGHT: Final = frozenset(
    {RefundState.PENDING_APPROVAL, RefundState.PROCESSING, RefundState.UNKNOWN, RefundState.AWAITING_PAYOUT}
)

_R, _RE = RefundState, RefundEvent

REFUNDS: Final = StateMachine(
    RefundState,
    {
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
        (_R.AWAITING_PAYOUT, _RE.PAID_OUT): _R.SUCCEEDED,
        (_R.SUCCEEDED, _RE.SUCCEEDED): _R.SUCCEEDED,
        (_R.SUCCEEDED, _RE.ACCEPTED): _R.SUCCEEDED,
        (_R.SUCCEEDED, _RE.UNCERTAIN): _R.SUCCEEDED,
        (_R.SUCCEEDED, _RE.PAID_OUT): _R.SUCCEEDED,
        (_R.FAILED, _RE.FAILED): _R.FAILED,
        (_R.REJECTED, _RE.DECLINED): _R.REJECTED,
    },
    REFUND_TERMINAL,
)
