"""Stripe's error responses: ``{"error": {type, code, message, param, ...}}`` and a status.

Stripe's documented error ``type``s are ``api_error``, ``card_error``, ``idempotency_error``
and ``invalid_request_error``; 401 and 429 responses also use ``invalid_request_error``
(the SDK picks its exception class from the HTTP status).

An injected error fault is a status (``500``), a preset (``api_error`` 500, ``rate_limit``
429, ``lock_timeout`` 429, ``service_unavailable`` 503, ``idempotency_key_in_use`` 409) or
an object (``preset``, ``status``, ``type``, ``code``, ``message``, ``should_retry`` →
``Stripe-Should-Retry``). It is answered instead of Stripe and never saved under the
request's Idempotency-Key, so the SDK's automatic retry (same key) goes through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "PRESETS",
    "StripeError",
    "empty_param",
    "from_fault",
    "invalid_param",
    "missing_param",
    "parse_fault",
    "resource_missing",
    "unexpected_state",
    "unknown_param",
]

_DOCS = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """An error response. ``saved`` says whether idempotency keeps it: Stripe saves a result
    only once the endpoint started executing, so parameter validation errors are not saved."""

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
        saved: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}
        self.saved = saved
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = _DOCS + self.code.replace("_", "-")
        if self.param is not None:
            error["param"] = self.param
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        error.update(self.extra)
        if request_id is not None and self.status != 401:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": dict(sorted(error.items()))}


def _invalid(message: str, **kwargs: Any) -> StripeError:
    return StripeError(400, "invalid_request_error", message, **kwargs)


def missing_param(name: str) -> StripeError:
    return _invalid(f"Missing required param: {name}.", code="parameter_missing", param=name, saved=False)


def unknown_param(name: str) -> StripeError:
    return _invalid(f"Received unknown parameter: {name}", code="parameter_unknown", param=name, saved=False)


def empty_param(name: str) -> StripeError:
    return _invalid(
        f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
        f"unset a parameter; however '{name}' cannot be unset. You should remove '{name}' "
        "from your request or supply a non-empty value.",
        code="parameter_invalid_empty",
        param=name,
        saved=False,
    )


def invalid_param(message: str, name: str, code: str | None = None) -> StripeError:
    return _invalid(message, code=code, param=name, saved=False)


def resource_missing(kind: str, ident: str, param: str, status: int = 404) -> StripeError:
    return StripeError(
        status,
        "invalid_request_error",
        f"No such {kind}: '{ident}'",
        code="resource_missing",
        param=param,
    )


def unexpected_state(message: str, intent: dict[str, Any] | None = None) -> StripeError:
    extra = {"payment_intent": intent} if intent is not None else None
    return _invalid(message, code="payment_intent_unexpected_state", extra=extra)


#: preset -> (status, type, code, message)
PRESETS: dict[str, tuple[int, str, str | None, str]] = {
    "api_error": (500, "api_error", None, "An unknown error occurred"),
    "rate_limit": (
        429,
        "invalid_request_error",
        "rate_limit",
        "Request rate limit exceeded. You can learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
    ),
    "lock_timeout": (
        429,
        "invalid_request_error",
        "lock_timeout",
        "This object cannot be accessed right now because another API request or Stripe "
        "process is currently accessing it. If you see this error intermittently, retry the "
        "request.",
    ),
    "service_unavailable": (503, "api_error", None, "Stripe is temporarily unavailable."),
    "idempotency_key_in_use": (
        409,
        "invalid_request_error",
        "idempotency_key_in_use",
        "There is currently another in-progress request using this idempotent key. Please try again later.",
    ),
}
_BY_STATUS = {500: "api_error", 429: "rate_limit", 503: "service_unavailable", 409: "idempotency_key_in_use"}


def parse_fault(spec: Any) -> dict[str, Any]:
    """An error fault's fields, defaults filled in (``ValueError`` if it is not one)."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        spec = {"status": spec}
    if isinstance(spec, str):
        spec = {"preset": spec}
    if not isinstance(spec, Mapping):
        raise ValueError('an error fault is a status, a preset or {"status": …}')
    if unknown := set(spec) - {"preset", "status", "type", "code", "message", "should_retry"}:
        raise ValueError(f"unknown error fields: {sorted(unknown)}")
    preset_name = spec.get("preset") or _BY_STATUS.get(spec.get("status", 500), "api_error")
    if preset_name not in PRESETS:
        raise ValueError(f"unknown error preset {preset_name!r}; expected one of {sorted(PRESETS)}")
    status, type_, code, message = PRESETS[preset_name]
    status = spec.get("status", status)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status")
    should_retry = spec.get("should_retry")
    if should_retry is not None and not isinstance(should_retry, bool):
        raise ValueError("should_retry is true or false")
    return {
        "status": status,
        "type": str(spec.get("type", type_)),
        "code": spec.get("code", code),
        "message": str(spec.get("message", message)),
        "should_retry": should_retry,
    }


def from_fault(fields: Mapping[str, Any] | None) -> StripeError:
    """The answer to an injected fault (never saved for idempotency): its error, or an
    ``api_error`` for a request that never reached Stripe's business logic."""
    if fields is None:
        fields = parse_fault("api_error")
    headers = {}
    if fields.get("should_retry") is not None:
        headers["Stripe-Should-Retry"] = "true" if fields["should_retry"] else "false"
    return StripeError(
        fields["status"], fields["type"], fields["message"], code=fields["code"], saved=False, headers=headers
    )
