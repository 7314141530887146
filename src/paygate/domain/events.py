"""Events paygate announces (R-NTF-5, R-NTF-6): their types and the states of their delivery
to an app.

A delivery of an event to an app's notify URL::

    PENDING ──2xx──▶ SUCCEEDED
       │ └──failure, attempts left──▶ PENDING (next attempt later)
       └──failure, no attempts left──▶ DEAD   (alert; an operator may re-send)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["DEFAULT_RETRY_SCHEDULE", "AttemptOutcome", "DeliveryState", "EventType"]


class EventType(StrEnum):
    """Every event type paygate emits; the names are part of the API (docs/api.md)."""

    TRADE_SUCCEEDED = "trade.succeeded"
    TRADE_CLOSED = "trade.closed"
    TRADE_FAILED = "trade.failed"
    TRADE_PAID_AFTER_CLOSE = "trade.paid_after_close"  # to be refunded (R-PAY-5)
    TRADE_REPEAT_PAYMENT = "trade.repeat_payment"  # to be refunded (R-PAY-6)
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    REFUND_PENDING_APPROVAL = "refund.pending_approval"
    REFUND_REJECTED = "refund.rejected"


class DeliveryState(StrEnum):
    PENDING = "pending"  # due at ``next_attempt_at`` (or being sent under a lease)
    SUCCEEDED = "succeeded"  # the app answered 2xx
    DEAD = "dead"  # every attempt failed; an operator may re-send


class AttemptOutcome(StrEnum):
    """What one HTTP attempt came to (``pay_notify_app_log``)."""

    ACKNOWLEDGED = "acknowledged"  # 2xx
    REFUSED = "refused"  # any other HTTP status
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"  # connection refused, DNS, TLS …


#: Seconds to wait before each attempt: 16 attempts over about 24 hours (R-NTF-5). The first
#: is immediate; each wait is stretched or shrunk by up to 20 % at random (jitter), so that
#: a recovering app is not hit by every retry at once.
DEFAULT_RETRY_SCHEDULE: Final[tuple[float, ...]] = (
    0,
    15,
    15,
    30,
    3 * 60,
    10 * 60,
    20 * 60,
    30 * 60,
    30 * 60,
    30 * 60,
    60 * 60,
    3 * 3600,
    3 * 3600,
    3 * 3600,
    6 * 3600,
    6 * 3600,
)
