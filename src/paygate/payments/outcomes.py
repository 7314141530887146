"""Channel answers in the state machine's terms, and channel failures in the API's.

- :data:`STATUS_EVENTS`: a channel's neutral payment status → the event it means.
- :func:`create_outcome`: what the answer (or failure) of a create call does to the attempt
  and the trade. A timeout or an unreadable answer is UNCERTAIN (the trade becomes
  ``unknown``, never ``failed``); a refused connection never reached the channel (the
  attempt is ``not_sent`` and a repeat of the pay request sends a new one).
- :func:`upstream_error`: a channel failure as the error the app sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from paygate.channels.contract import (
    ChannelBusinessError,
    ChannelError,
    ChannelUnavailable,
    CreateResult,
    PaymentStatus,
    UnsupportedOperation,
)
from paygate.channels.resilience import CircuitOpen
from paygate.domain.trades import AttemptStatus, TradeEvent
from paygate.kit.errors import ErrorCode, UpstreamError
from paygate.payments.state_changes import NO_FACTS, Facts, exchange_json

__all__ = ["STATUS_EVENTS", "CreateOutcome", "create_outcome", "upstream_error"]

#: Neutral channel status → state-machine event. NOT_FOUND has none: "not created yet".
STATUS_EVENTS: Final[dict[PaymentStatus, TradeEvent | None]] = {
    PaymentStatus.NOT_FOUND: None,
    PaymentStatus.PENDING: TradeEvent.ACCEPTED,
    PaymentStatus.PAYING: TradeEvent.ACCEPTED,
    PaymentStatus.SUCCEEDED: TradeEvent.PAID,
    PaymentStatus.REFUNDED: TradeEvent.PAID,
    PaymentStatus.FAILED: TradeEvent.FAILED,
    PaymentStatus.CLOSED: TradeEvent.CLOSED,
}


@dataclass(frozen=True)
class CreateOutcome:
    attempt_status: AttemptStatus
    event: TradeEvent | None  # None: the trade does not move
    facts: Facts = NO_FACTS
    exchange: dict[str, Any] | None = None
    action: dict[str, Any] | None = None
    channel_trade_no: str | None = None


def create_outcome(result: CreateResult | None, error: ChannelError | None, attempt_no: str) -> CreateOutcome:
    if result is not None:
        facts = Facts(
            channel_trade_no=result.channel_trade_no,
            paid_amount=result.paid_amount.minor if result.paid_amount else None,
            paid_at=result.paid_at,
            attempt_no=attempt_no,
        )
        return CreateOutcome(
            AttemptStatus.ACCEPTED,
            STATUS_EVENTS[result.status] or TradeEvent.ACCEPTED,
            facts,
            exchange_json(result.exchange),
            result.action.to_dict(),
            result.channel_trade_no,
        )
    assert error is not None
    if isinstance(error, ChannelUnavailable):
        return CreateOutcome(AttemptStatus.NOT_SENT, None)
    final = isinstance(error, ChannelBusinessError)
    return CreateOutcome(
        AttemptStatus.REJECTED if final else AttemptStatus.UNKNOWN,
        TradeEvent.REJECTED if final else TradeEvent.UNCERTAIN,
        exchange=exchange_json(error.exchange, error=f"{type(error).__name__}: {error.message}"),
    )


def upstream_error(error: ChannelError, view: dict[str, Any]) -> UpstreamError:
    details = {"trade_no": view["trade_no"], "state": view["state"]}
    if error.code or error.sub_code:
        details["channel_code"] = error.sub_code or error.code
    if isinstance(error, ChannelBusinessError):
        return UpstreamError(error.message, code=ErrorCode.CHANNEL_ERROR, details=details)
    if isinstance(error, UnsupportedOperation):
        return UpstreamError(error.message, code=ErrorCode.UNSUPPORTED_OPERATION, details=details)
    if isinstance(error, CircuitOpen):
        return UpstreamError(code=ErrorCode.CIRCUIT_OPEN, retryable=True, details=details)
    if isinstance(error, ChannelUnavailable):
        return UpstreamError(
            f"{error.message}; nothing was sent: retry the same request",
            code=ErrorCode.CHANNEL_UNAVAILABLE,
            retryable=True,
            details=details,
        )
    return UpstreamError(
        f"{error.message}; the trade is {view['state']}: query it",
        code=ErrorCode.CHANNEL_TIMEOUT,
        retryable=True,
        details=details,
    )
