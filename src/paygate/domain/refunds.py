"""Refund states (R-PAY-3, R-REF-4, R-REF-5).

Refund::

    PENDING_APPROVAL ──approved──▶ PROCESSING ──succeeded──▶ SUCCEEDED
            └──declined──▶ REJECTED        │ └──failed──▶ FAILED
                                           └─uncertain─▶ UNKNOWN ──succeeded / failed──▶ …
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from paygate.domain.machine import StateMachine

__all__ = ["REFUNDS", "REFUND_TERMINAL", "RefundEvent", "RefundState"]


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
        (_R.SUCCEEDED, _RE.SUCCEEDED): _R.SUCCEEDED,
        (_R.SUCCEEDED, _RE.ACCEPTED): _R.SUCCEEDED,
        (_R.SUCCEEDED, _RE.UNCERTAIN): _R.SUCCEEDED,
        (_R.FAILED, _RE.FAILED): _R.FAILED,
        (_R.REJECTED, _RE.DECLINED): _R.REJECTED,
    },
    REFUND_TERMINAL,
)
