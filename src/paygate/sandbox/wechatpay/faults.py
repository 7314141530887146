"""Injected faults: what a real channel does on a bad day.

JSON accepted by ``POST /_sandbox/faults`` and :meth:`Faults.update` (every key optional;
keys given replace the same keys, per operation)::

    {
      "latency_ms": 300,                      # or {"pay": 300, "*": 50}
      "errors":   {"refund": "SYSTEM_ERROR"}, # or {"code", "status", "message",
                                              #     "times": N, "apply": bool}
      "holds":    {"query": {"seconds": 5, "apply": true, "times": N}},  # or {"query": 5}
      "timeouts": {"close": {"apply": false}},  # hold until the faults are cleared
      "notify":   {"drop": 2, "duplicate": true, "reorder": true},
      "refunds":  {"outcome": "ABNORMAL", "times": 1}
    }

Operations: ``pay query close refund refund_query bill bill_download certificates`` and
``*`` for all of them. ``apply`` says whether the operation takes effect before the fault
shows (an error after a refund was in fact accepted; a response held after the close
happened). ``times`` limits a fault to the next N calls. Notification faults: ``drop`` loses
the next N delivery attempts (WeChat then retries on its schedule); ``duplicate`` delivers
each notification once more after it was acknowledged (``true`` for all, or a count);
``reorder`` sends notifications that arrive together newest first. ``refunds.outcome``
(``SUCCESS`` by default, ``ABNORMAL``, ``CLOSED``, or ``MANUAL`` to leave new refunds
``PROCESSING`` until ``POST /_sandbox/refunds/{out_refund_no}``) decides how the next
refunds end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .wire import DEFAULT_MESSAGES, ERROR_STATUS

__all__ = ["OPERATIONS", "REFUND_OUTCOMES", "ErrorFault", "Faults", "HoldFault", "NotifyFaults"]

OPERATIONS = (
    "pay",
    "query",
    "close",
    "refund",
    "refund_query",
    "bill",
    "bill_download",
    "certificates",
)
_ANY = "*"
REFUND_OUTCOMES = ("SUCCESS", "ABNORMAL", "CLOSED", "MANUAL")


@dataclass
class ErrorFault:
    code: str
    status: int
    message: str
    times: int | None = None
    apply: bool = False


@dataclass
class HoldFault:
    seconds: float | None  # None: until the faults are cleared (a timeout for the client)
    apply: bool = True
    times: int | None = None


@dataclass
class RefundFault:
    outcome: str
    times: int | None = None


@dataclass
class NotifyFaults:
    drop: int = 0
    duplicate: int | bool = False
    reorder: bool = False


def _op_key(op: str) -> str:
    if op != _ANY and op not in OPERATIONS:
        raise ValueError(f"unknown operation {op!r}; expected one of {', '.join(OPERATIONS)}")
    return op


def _times(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("times must be a positive integer")
    return value


def _parse_error(value: Any) -> ErrorFault:
    if isinstance(value, str):
        value = {"code": value}
    if not isinstance(value, Mapping) or not isinstance(value.get("code"), str):
        raise ValueError('an error fault is a code or {"code": …}')
    code = value["code"]
    status = value.get("status", ERROR_STATUS.get(code, 500))
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status")
    return ErrorFault(
        code=code,
        status=status,
        message=str(value.get("message") or DEFAULT_MESSAGES.get(code, code)),
        times=_times(value.get("times")),
        apply=bool(value.get("apply", False)),
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


def _parse_notify(value: Any, current: NotifyFaults) -> NotifyFaults:
    if not isinstance(value, Mapping):
        raise ValueError("notify is an object")
    drop = value.get("drop", current.drop)
    if isinstance(drop, bool) or not isinstance(drop, int) or drop < 0:
        raise ValueError("notify.drop is a count")
    duplicate = value.get("duplicate", current.duplicate)
    if not isinstance(duplicate, bool | int) or duplicate < 0:
        raise ValueError("notify.duplicate is true/false or a count")
    return NotifyFaults(drop=drop, duplicate=duplicate, reorder=bool(value.get("reorder", current.reorder)))


@dataclass
class Faults:
    latency_ms: dict[str, int] = field(default_factory=dict)
    errors: dict[str, ErrorFault] = field(default_factory=dict)
    holds: dict[str, HoldFault] = field(default_factory=dict)
    notify: NotifyFaults = field(default_factory=NotifyFaults)
    refunds: RefundFault | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    # -- configuration ---------------------------------------------------------------

    def update(self, spec: Mapping[str, Any]) -> None:
        """Merge ``spec`` (the JSON above). Validates everything before changing anything."""
        unknown = set(spec) - {"latency_ms", "errors", "holds", "timeouts", "notify", "refunds"}
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
        notify = _parse_notify(spec["notify"], self.notify) if "notify" in spec else self.notify
        refunds = _parse_refunds(spec["refunds"]) if "refunds" in spec else self.refunds
        self.latency_ms, self.errors, self.holds = latency, errors, holds
        self.notify, self.refunds = notify, refunds

    def clear(self) -> None:
        """Remove every fault and release the requests held until now."""
        self.latency_ms, self.errors, self.holds = {}, {}, {}
        self.notify = NotifyFaults()
        self.refunds = None
        self.release_holds()

    def release_holds(self) -> None:
        self._release.set()
        self._release = asyncio.Event()

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": dict(self.latency_ms),
            "errors": {op: asdict(f) for op, f in self.errors.items()},
            "holds": {op: asdict(h) for op, h in self.holds.items()},
            "notify": asdict(self.notify),
            "refunds": None if self.refunds is None else asdict(self.refunds),
        }

    # -- use by the API ------------------------------------------------------------------

    def latency(self, op: str) -> float:
        return self.latency_ms.get(op, self.latency_ms.get(_ANY, 0)) / 1000

    def take_error(self, op: str) -> ErrorFault | None:
        key = op if op in self.errors else _ANY
        fault = self.errors.get(key)
        if fault is None:
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self.errors[key]
        return fault

    def take_hold(self, op: str) -> HoldFault | None:
        key = op if op in self.holds else _ANY
        fault = self.holds.get(key)
        if fault is None:
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self.holds[key]
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

    def take_refund_outcome(self) -> str:
        fault = self.refunds
        if fault is None:
            return "SUCCESS"
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.refunds = None
        return fault.outcome

    # -- use by the notifier ---------------------------------------------------------------

    def take_drop(self) -> bool:
        if self.notify.drop > 0:
            self.notify.drop -= 1
            return True
        return False

    def take_duplicate(self) -> bool:
        duplicate = self.notify.duplicate
        if duplicate is True:
            return True
        if duplicate is False or duplicate <= 0:
            return False
        self.notify.duplicate = duplicate - 1
        return True


def _parse_refunds(value: Any) -> RefundFault | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"outcome": value}
    if not isinstance(value, Mapping):
        raise ValueError("refunds is an object")
    outcome = str(value.get("outcome", "")).upper()
    if outcome not in REFUND_OUTCOMES:
        raise ValueError(f"refunds.outcome is one of {', '.join(REFUND_OUTCOMES)}")
    return RefundFault(outcome=outcome, times=_times(value.get("times")))


def _mapping(spec: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = spec.get(key, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} is an object keyed by operation")
    return value
