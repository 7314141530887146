"""Channel refund answers in the refund state machine's terms, and failures in the API's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from paygate.channels.contract import (
    ChannelBusinessError,
    ChannelError,
    ChannelUnavailable,
    RefundResult,
    RefundStatus,
    UnsupportedOperation,
)
from paygate.domain.refunds import RefundEvent
from paygate.kit.errors import ErrorCode, UpstreamError
from paygate.payments.state_changes import exchange_json
from paygate.refunds.state_changes import NO_REFUND_FACTS, RefundFacts

__all__ = ["REFUND_STATUS_EVENTS", "RefundOutcome", "refund_outcome", "refund_upstream_error"]

#: Neutral channel refund status → refund event. NOT_FOUND: the channel never got it.
REFUND_STATUS_EVENTS: Final[dict[RefundStatus, RefundEvent | None]] = {
    RefundStatus.PROCESSING: RefundEvent.ACCEPTED,
    RefundStatus.SUCCEEDED: RefundEvent.SUCCEEDED,
    RefundStatus.FAILED: RefundEvent.FAILED,
    RefundStatus.NOT_FOUND: None,
}


@dataclass(frozen=True)
class RefundOutcome:
    event: RefundEvent | None  # None: nothing reached the channel; the refund stays as it is
    facts: RefundFacts = NO_REFUND_FACTS
    exchange: dict[str, Any] | None = None


def result_facts(result: RefundResult) -> RefundFacts:
    return RefundFacts(
        channel_refund_no=result.channel_refund_no,
        channel_status=result.channel_status or result.status.value,
        refunded_at=result.refunded_at,
        failure_reason=f"the channel reports the refund {result.channel_status or 'failed'}",
    )


def refund_outcome(result: RefundResult | None, error: ChannelError | None) -> RefundOutcome:
    """What a refund call's answer (or failure) does to the refund. A timeout or an unreadable
    answer is UNCERTAIN (the amount stays reserved, the refund is re-queried); only a
    channel's final answer fails it."""
    if result is not None:
        return RefundOutcome(
            REFUND_STATUS_EVENTS[result.status], result_facts(result), exchange_json(result.exchange)
        )
    assert error is not None
    if isinstance(error, ChannelUnavailable):
        return RefundOutcome(None)
    exchange = exchange_json(error.exchange, error=f"{type(error).__name__}: {error.message}")
    if isinstance(error, ChannelBusinessError | UnsupportedOperation):
        reason = f"{error.sub_code or error.code or 'refused'}: {error.message}"
        return RefundOutcome(RefundEvent.FAILED, RefundFacts(failure_reason=reason), exchange)
    return RefundOutcome(RefundEvent.UNCERTAIN, NO_REFUND_FACTS, exchange)


def refund_upstream_error(error: ChannelError, view: dict[str, Any]) -> UpstreamError:
    details = {"refund_no": view["refund_no"], "out_refund_no": view["out_refund_no"], "state": view["state"]}
    if error.code or error.sub_code:
        details["channel_code"] = error.sub_code or error.code
    if isinstance(error, ChannelBusinessError | UnsupportedOperation):
        return UpstreamError(error.message, code=ErrorCode.CHANNEL_ERROR, details=details)
    if isinstance(error, ChannelUnavailable):
        return UpstreamError(
            f"{error.message}; the refund was not sent yet: it is retried, query it",
            code=ErrorCode.CHANNEL_UNAVAILABLE,
            retryable=True,
            details=details,
        )
    return UpstreamError(
        f"{error.message}; the refund is {view['state']}: query it",
        code=ErrorCode.CHANNEL_TIMEOUT,
        retryable=True,
        details=details,
    )
