"""paygate's error hierarchy and its stable codes (R-API-7).

::

    PaygateError                 every error a caller can see; carries an ErrorCode
    ├── RequestError             the caller's request is wrong (4xx)
    ├── AuthError                authentication / signing failures (401/403)
    ├── ConflictError            idempotency and state conflicts (409)
    ├── NotFoundError            unknown trade, app ... (404)
    └── UpstreamError            a channel failed; ``retryable`` says whether to try again

Channel-side exceptions live in :mod:`paygate.channels.contract`; the resilience layer
turns them into :class:`UpstreamError` for the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "AuthError",
    "ConflictError",
    "ErrorCode",
    "NotFoundError",
    "PaygateError",
    "RequestError",
    "UpstreamError",
]


@dataclass(frozen=True)
class _Code:
    errno: int
    http_status: int
    message: str


class ErrorCode(Enum):
    """Every error code paygate returns. ``errno`` values never change meaning."""

    # 1xxx: request shape
    INVALID_REQUEST = _Code(1000, 400, "the request is invalid")
    INVALID_JSON = _Code(1001, 400, "the body is not valid JSON")
    BODY_TOO_LARGE = _Code(1002, 413, "the body is too large")
    INVALID_AMOUNT = _Code(1003, 400, "the amount is invalid")
    UNKNOWN_CURRENCY = _Code(1004, 400, "the currency is not supported")
    UNKNOWN_PAY_TYPE = _Code(1005, 400, "the pay type is unknown")
    UNSUPPORTED_OPERATION = _Code(1006, 400, "the channel does not support this operation")
    CHANNEL_VALIDATION = _Code(1007, 400, "the channel refused the request's fields")
    UNSUPPORTED_MEDIA_TYPE = _Code(1008, 415, "the body must be application/json")
    NOT_FOUND_ROUTE = _Code(1009, 404, "no such endpoint")
    METHOD_NOT_ALLOWED = _Code(1010, 405, "method not allowed")
    UNKNOWN_CHANNEL = _Code(1011, 400, "the channel is unknown")
    # 2xxx: authentication
    MISSING_CREDENTIALS = _Code(2000, 401, "authentication headers are missing")
    UNKNOWN_APP = _Code(2001, 401, "the app is unknown or disabled")
    BAD_SIGNATURE = _Code(2002, 401, "the signature does not verify")
    TIMESTAMP_OUT_OF_WINDOW = _Code(2003, 401, "the timestamp is outside the allowed window")
    NONCE_REUSED = _Code(2004, 401, "the nonce was already used")
    PAY_TYPE_NOT_ALLOWED = _Code(2005, 403, "the app may not use this pay type")
    SOURCE_NOT_ALLOWED = _Code(2006, 403, "the source address is not allowed")
    OPERATOR_AUTH = _Code(2007, 401, "operator name or password is wrong, or the operator is locked")
    OPERATOR_FORBIDDEN = _Code(2008, 403, "the operator's role does not allow this")
    CONSOLE_SESSION = _Code(2009, 401, "log in to the console first (no session, or it ended)")
    CONSOLE_CSRF = _Code(2010, 403, "the form's CSRF token is missing or wrong")
    # 3xxx: trades
    TRADE_NOT_FOUND = _Code(3000, 404, "no such trade")
    ORDER_MISMATCH = _Code(3001, 409, "the order number was used with different parameters")
    TRADE_IN_PROGRESS = _Code(3002, 409, "the same request is being processed; retry shortly")
    ILLEGAL_STATE = _Code(3003, 409, "the trade's state does not allow this")
    NO_CHANNEL_ACCOUNT = _Code(3004, 503, "no enabled channel account serves this pay type")
    TRADE_EXPIRED = _Code(3005, 409, "the trade has expired")
    CHECKOUT_NOT_FOUND = _Code(3006, 404, "no such checkout (unknown cashier link)")
    CHECKOUT_EXPIRED = _Code(3007, 410, "the checkout has expired")
    # 4xxx: refunds
    REFUND_NOT_FOUND = _Code(4000, 404, "no such refund")
    REFUND_MISMATCH = _Code(4001, 409, "the refund number was used with a different trade or amount")
    REFUND_EXCEEDS_REMAINDER = _Code(4002, 409, "the amount exceeds what is left to refund")
    TRADE_NOT_REFUNDABLE = _Code(4003, 409, "only a paid trade can be refunded")
    CURRENCY_MISMATCH = _Code(4004, 400, "the currency is not the trade's")
    REFUND_ILLEGAL_STATE = _Code(4005, 409, "the refund's state does not allow this")
    FOUR_EYES = _Code(4006, 403, "an operator cannot decide a refund they requested")
    # 5xxx: channels
    CHANNEL_ERROR = _Code(5000, 422, "the channel refused the request")
    CHANNEL_UNAVAILABLE = _Code(5001, 503, "the channel is unavailable; retry later")
    CHANNEL_TIMEOUT = _Code(5002, 504, "the channel did not answer in time; query the trade")
    CIRCUIT_OPEN = _Code(5003, 503, "the channel is failing; requests are paused")
    # 6xxx: operations
    OPERATOR_NOT_FOUND = _Code(6000, 404, "no such operator")
    EVENT_NOT_FOUND = _Code(6001, 404, "no such event")
    EVENT_NOT_DELIVERABLE = _Code(6002, 409, "the event has no notify URL to send to")
    INVALID_EVENT_ID = _Code(6003, 400, "an event id looks like evt_ followed by 26 digits")
    UNKNOWN_JOB = _Code(6004, 400, "no such background job")
    # 7xxx: reconciliation
    RECON_RUN_NOT_FOUND = _Code(7000, 404, "no such reconciliation run")
    DISCREPANCY_NOT_FOUND = _Code(7001, 404, "no such discrepancy")
    DISCREPANCY_RESOLVED = _Code(7002, 409, "the discrepancy is already resolved")
    INVALID_BILL_DATE = _Code(7003, 400, "the bill date is not a past day (YYYY-MM-DD)")
    # 9xxx: ours
    INTERNAL = _Code(9000, 500, "internal error")

    @property
    def errno(self) -> int:
        return self.value.errno

    @property
    def http_status(self) -> int:
        return self.value.http_status

    @property
    def default_message(self) -> str:
        return self.value.message


class PaygateError(Exception):
    """An error with a stable code, safe to show to the caller."""

    default_code: ErrorCode = ErrorCode.INTERNAL

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.message = message or self.code.default_message
        self.details = details or {}
        super().__init__(self.message)


class RequestError(PaygateError):
    default_code = ErrorCode.INVALID_REQUEST


class AuthError(PaygateError):
    default_code = ErrorCode.BAD_SIGNATURE


class ConflictError(PaygateError):
    default_code = ErrorCode.ILLEGAL_STATE


class NotFoundError(PaygateError):
    default_code = ErrorCode.TRADE_NOT_FOUND


class UpstreamError(PaygateError):
    default_code = ErrorCode.CHANNEL_ERROR

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        retryable: bool = False,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.retryable = retryable
