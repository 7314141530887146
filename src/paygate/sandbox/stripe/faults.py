"""Injected faults: what Stripe (or the network in front of it) does on a bad day.

Same shape as the other sandboxes' faults. JSON accepted by ``POST /_sandbox/faults`` and
:meth:`Faults.update` (every key optional; keys given replace the same keys, per
operation)::

    {
      "latency_ms": 300,                          # or {"payment_intents.create": 300, "*": 50}
      "errors":   {"refunds.create": 500},        # a status, a preset name, or
                  # {"status", "type", "code", "message", "times": N, "apply": bool,
                  #  "should_retry": bool}
      "holds":    {"payment_intents.confirm": {"seconds": 5, "apply": true, "times": N}},
      "timeouts": {"refunds.create": {"apply": false}},  # hold until the faults are cleared
      "webhooks": {"drop": 2, "duplicate": true, "reorder": true}   ("notify" is an alias)
    }

Operations are ``<resource>.<verb>`` (``payment_intents.create``, ``payment_intents.confirm``,
``refunds.create``, ``events.list`` … see :data:`OPERATIONS`) or ``*``. Error presets:
``api_error`` (500), ``rate_limit`` (429), ``lock_timeout`` (429), ``service_unavailable``
(503), ``idempotency_key_in_use`` (409). An error fault answers *instead of* Stripe and is
not saved under the request's Idempotency-Key; with ``apply: true`` the operation took
effect (and its real result is saved for the key) before the error was returned — a
response lost on the way back. ``should_retry`` sets ``Stripe-Should-Retry``. A hold delays
the response (``apply: true``: after the operation took effect; ``false``: before it runs).
Webhook faults: ``drop`` loses the next N delivery attempts (Stripe then retries on its
schedule); ``duplicate`` delivers each event once more after it was acknowledged (``true``
or a count); ``reorder`` sends events created together newest first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import StripeError

__all__ = ["OPERATIONS", "ErrorFault", "Faults", "HoldFault", "WebhookFaults"]

OPERATIONS = frozenset(
    {
        "payment_intents.create",
        "payment_intents.retrieve",
        "payment_intents.update",
        "payment_intents.confirm",
        "payment_intents.cancel",
        "payment_intents.capture",
        "payment_intents.list",
        "payment_methods.create",
        "payment_methods.retrieve",
        "charges.retrieve",
        "charges.list",
        "refunds.create",
        "refunds.retrieve",
        "refunds.update",
        "refunds.list",
        "events.retrieve",
        "events.list",
        "balance.retrieve",
        "balance_transactions.retrieve",
        "balance_transactions.list",
        "payouts.retrieve",
        "payouts.list",
        "webhook_endpoints.create",
        "webhook_endpoints.retrieve",
        "webhook_endpoints.update",
        "webhook_endpoints.delete",
        "webhook_endpoints.list",
    }
)
_ANY = "*"

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


@dataclass
class ErrorFault:
    status: int
    type: str
    code: str | None
    message: str
    times: int | None = None
    apply: bool = False
    should_retry: bool | None = None

    def error(self) -> StripeError:
        headers = {}
        if self.should_retry is not None:
            headers["Stripe-Should-Retry"] = "true" if self.should_retry else "false"
        return StripeError(self.status, self.type, self.message, code=self.code, saved=False, headers=headers)


@dataclass
class HoldFault:
    seconds: float | None  # None: until the faults are cleared (a timeout for the client)
    apply: bool = True
    times: int | None = None


@dataclass
class WebhookFaults:
    drop: int = 0
    duplicate: int | bool = False
    reorder: bool = False


def _op_key(op: str) -> str:
    if op != _ANY and op not in OPERATIONS:
        raise ValueError(f"unknown operation {op!r}; expected one of {', '.join(sorted(OPERATIONS))}")
    return op


def _times(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("times must be a positive integer")
    return value


def _parse_error(value: Any) -> ErrorFault:
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"status": value}
    if isinstance(value, str):
        value = {"preset": value}
    if not isinstance(value, Mapping):
        raise ValueError('an error fault is a status, a preset or {"status": …}')
    preset_name = value.get("preset") or _BY_STATUS.get(value.get("status", 500), "api_error")
    if preset_name not in PRESETS:
        raise ValueError(f"unknown error preset {preset_name!r}; expected one of {sorted(PRESETS)}")
    status, type_, code, message = PRESETS[preset_name]
    status = value.get("status", status)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status")
    should_retry = value.get("should_retry")
    if should_retry is not None and not isinstance(should_retry, bool):
        raise ValueError("should_retry is true or false")
    return ErrorFault(
        status=status,
        type=str(value.get("type", type_)),
        code=value.get("code", code),
        message=str(value.get("message", message)),
        times=_times(value.get("times")),
        apply=bool(value.get("apply", False)),
        should_retry=should_retry,
    )


def _parse_hold(value: Any, *, indefinite: bool) -> HoldFault:
    if indefinite and isinstance(value, bool):
        value = {}
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = {"seconds": value}
    if not isinstance(value, Mapping):
        raise ValueError("a hold is a number of seconds or an object")
    seconds = None if indefinite else value.get("seconds")
    if not indefinite and (not isinstance(seconds, int | float) or seconds < 0):
        raise ValueError("a hold needs seconds >= 0")
    return HoldFault(
        seconds=None if seconds is None else float(seconds),
        apply=bool(value.get("apply", True)),
        times=_times(value.get("times")),
    )


def _parse_webhooks(value: Any, current: WebhookFaults) -> WebhookFaults:
    if not isinstance(value, Mapping):
        raise ValueError("webhooks is an object")
    unknown = set(value) - {"drop", "duplicate", "reorder"}
    if unknown:
        raise ValueError(f"unknown webhook faults: {', '.join(sorted(unknown))}")
    drop = value.get("drop", current.drop)
    if isinstance(drop, bool) or not isinstance(drop, int) or drop < 0:
        raise ValueError("webhooks.drop is a count")
    duplicate = value.get("duplicate", current.duplicate)
    if not isinstance(duplicate, bool | int) or duplicate < 0:
        raise ValueError("webhooks.duplicate is true/false or a count")
    return WebhookFaults(drop=drop, duplicate=duplicate, reorder=bool(value.get("reorder", current.reorder)))


def _mapping(spec: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = spec.get(key, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} is an object keyed by operation")
    return value


@dataclass
class Faults:
    latency_ms: dict[str, int] = field(default_factory=dict)
    errors: dict[str, ErrorFault] = field(default_factory=dict)
    holds: dict[str, HoldFault] = field(default_factory=dict)
    webhooks: WebhookFaults = field(default_factory=WebhookFaults)
    _release: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def update(self, spec: Mapping[str, Any]) -> None:
        """Merge ``spec`` (the JSON above). Validates everything before changing anything."""
        unknown = set(spec) - {"latency_ms", "errors", "holds", "timeouts", "webhooks", "notify"}
        if unknown:
            raise ValueError(f"unknown fault kinds: {', '.join(sorted(unknown))}")
        latency = dict(self.latency_ms)
        if "latency_ms" in spec:
            value = spec["latency_ms"]
            items = value.items() if isinstance(value, Mapping) else [(_ANY, value)]
            for op, ms in items:
                if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
                    raise ValueError("latency_ms values are non-negative integers")
                latency[_op_key(op)] = ms
        errors = dict(self.errors)
        for op, value in _mapping(spec, "errors").items():
            errors[_op_key(op)] = _parse_error(value)
        holds = dict(self.holds)
        for op, value in _mapping(spec, "holds").items():
            holds[_op_key(op)] = _parse_hold(value, indefinite=False)
        for op, value in _mapping(spec, "timeouts").items():
            holds[_op_key(op)] = _parse_hold(value, indefinite=True)
        webhooks = self.webhooks
        for key in ("notify", "webhooks"):
            if key in spec:
                webhooks = _parse_webhooks(spec[key], webhooks)
        self.latency_ms, self.errors, self.holds, self.webhooks = latency, errors, holds, webhooks

    def clear(self) -> None:
        """Remove every fault and release the requests held until now."""
        self.latency_ms, self.errors, self.holds = {}, {}, {}
        self.webhooks = WebhookFaults()
        self._release.set()
        self._release = asyncio.Event()

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": dict(self.latency_ms),
            "errors": {op: asdict(f) for op, f in self.errors.items()},
            "holds": {op: asdict(h) for op, h in self.holds.items()},
            "webhooks": asdict(self.webhooks),
        }

    # -- use by the API ------------------------------------------------------------------

    def latency(self, op: str) -> float:
        return self.latency_ms.get(op, self.latency_ms.get(_ANY, 0)) / 1000

    def _take(self, table: dict[str, Any], op: str) -> Any:
        key = op if op in table else _ANY
        fault = table.get(key)
        if fault is not None and fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del table[key]
        return fault

    def take_error(self, op: str) -> ErrorFault | None:
        fault: ErrorFault | None = self._take(self.errors, op)
        return fault

    def take_hold(self, op: str) -> HoldFault | None:
        fault: HoldFault | None = self._take(self.holds, op)
        return fault

    async def wait(self, hold: HoldFault) -> None:
        release = self._release
        if hold.seconds is None:
            await release.wait()
            return
        try:
            await asyncio.wait_for(release.wait(), timeout=hold.seconds)
        except TimeoutError:
            pass

    # -- use by webhook delivery ---------------------------------------------------------

    def take_drop(self) -> bool:
        if self.webhooks.drop > 0:
            self.webhooks.drop -= 1
            return True
        return False

    def take_duplicate(self) -> bool:
        duplicate = self.webhooks.duplicate
        if duplicate is True:
            return True
        if duplicate is False or duplicate <= 0:
            return False
        self.webhooks.duplicate = duplicate - 1
        return True
