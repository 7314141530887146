"""Stripe's error responses: ``{"error": {type, code, message, param, ...}}`` and a status.

Stripe's documented error ``type``s are ``api_error``, ``card_error``, ``idempotency_error``
and ``invalid_request_error``; 401 and 429 responses also use ``invalid_request_error``
(the SDK picks its exception class from the HTTP status).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "StripeError",
    "empty_param",
    "invalid_param",
    "missing_param",
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
