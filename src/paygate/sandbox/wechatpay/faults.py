"""Injected faults: slow or failing WeChat Pay operations, misbehaving notifications,
refunds that do not end well. Shaped like the Alipay sandbox's faults.

The same settings are reachable from Python (``sandbox.faults.error("refund")``) and from
the control API (``POST /_sandbox/faults`` with :meth:`Faults.update`'s JSON). Operation
keys: ``pay query close refund refund_query bill bill_download certificates``; ``"*"``
means every operation.

- **latency**: wait before handling the request.
- **error**: answer with a WeChat error (default ``SYSTEM_ERROR``, 500) instead of handling
  the request (nothing happens) — or, with ``apply``, after handling it (the operation
  took effect but the merchant sees an error). ``times`` limits how many requests fail.
- **timeout**: handle the request, then hold the answer for N seconds — or, without a
  number of seconds, until the faults are cleared — so the client times out although the
  operation took effect. With ``apply: false`` the request is held *before* being
  handled: after N seconds it is handled normally; held until cleared, it is never
  handled and ends in ``SYSTEM_ERROR``. (``holds`` is a synonym of ``timeouts``.)
- **notifications**: drop the next N delivery attempts (each counts as a failed attempt
  and the retry schedule goes on), send every attempt twice (same ``id``), or hold
  deliveries until ``reorder_window`` of them are waiting and deliver those newest first.
- **refunds**: how the next refunds end — ``SUCCESS`` (default), ``ABNORMAL``, ``CLOSED``,
  or ``MANUAL`` (they stay ``PROCESSING`` until ``POST /_sandbox/refunds/{no}``).

JSON::

    {"latency_ms": 200 | {"*": 100, "query": 800},
     "errors": {"refund": "SYSTEM_ERROR",
                "query": {"code": "FREQUENCY_LIMITED", "status": 429, "message": "…",
                          "times": 2, "apply": false}},
     "timeouts": {"close": 3.0, "refund": true,
                  "pay": {"seconds": 2, "apply": false, "times": 1}},
     "notifications": {"drop_next": 2, "duplicate": true, "reorder_window": 3},
     "refunds": {"outcome": "ABNORMAL", "times": 1}}
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .wire import DEFAULT_MESSAGES, ERROR_STATUS

__all__ = [
    "ANY_OPERATION",
    "OPERATIONS",
    "REFUND_OUTCOMES",
    "ErrorFault",
    "FaultSpecError",
    "Faults",
    "HoldFault",
    "RefundFault",
]

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
ANY_OPERATION = "*"
REFUND_OUTCOMES = ("SUCCESS", "ABNORMAL", "CLOSED", "MANUAL")


class FaultSpecError(ValueError):
    """A fault description that cannot be applied."""


@dataclass
class ErrorFault:
    code: str
    status: int
    message: str
    times: int | None = None
    apply: bool = False


@dataclass
class HoldFault:
    seconds: float | None  # None: until the faults are cleared
    apply: bool = True
    times: int | None = None


@dataclass
class RefundFault:
    outcome: str
    times: int | None = None


def _operation(op: str) -> str:
    if op != ANY_OPERATION and op not in OPERATIONS:
        raise FaultSpecError(f"unknown operation {op!r}; expected one of {', '.join(OPERATIONS)}")
    return op


def _times(times: Any) -> int | None:
    if times is None:
        return None
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise FaultSpecError("times must be an integer >= 1")
    return times


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultSpecError(f"{name} must be an integer >= 0")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _take(table: dict[str, Any], op: str) -> Any:
    """The fault for ``op`` (or ``*``), counting down its ``times``."""
    key = op if op in table else ANY_OPERATION
    fault = table.get(key)
    if fault is not None and fault.times is not None:
        fault.times -= 1
        if fault.times <= 0:
            del table[key]
    return fault


class Faults:
    def __init__(self) -> None:
        self._latency_ms: dict[str, int] = {}
        self._errors: dict[str, ErrorFault] = {}
        self._holds: dict[str, HoldFault] = {}
        self._drop_next = 0
        self._duplicate = False
        self._reorder_window = 0
        self._refunds: RefundFault | None = None
        self._release = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []

    # -- configuring ------------------------------------------------------------------

    def latency(self, ms: int, op: str = ANY_OPERATION) -> None:
        self._latency_ms[_operation(op)] = _count(ms, "latency_ms")

    def error(
        self,
        op: str = ANY_OPERATION,
        *,
        code: str = "SYSTEM_ERROR",
        status: int | None = None,
        message: str | None = None,
        times: int | None = None,
        apply: bool = False,
    ) -> None:
        """Answer ``op`` with WeChat error ``code`` (its usual HTTP status unless given)."""
        if not isinstance(code, str) or not code:
            raise FaultSpecError("an error needs a code such as SYSTEM_ERROR")
        status = ERROR_STATUS.get(code, 500) if status is None else status
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise FaultSpecError("status must be an HTTP error status (400-599)")
        self._errors[_operation(op)] = ErrorFault(
            code, status, message or DEFAULT_MESSAGES.get(code, code), _times(times), bool(apply)
        )

    def timeout(
        self,
        seconds: float | None = None,
        op: str = ANY_OPERATION,
        *,
        apply: bool = True,
        times: int | None = None,
    ) -> None:
        """Hold ``op``'s answer ``seconds`` (None: until cleared); see the module doc."""
        if seconds is not None and (not _is_number(seconds) or seconds < 0):
            raise FaultSpecError("a timeout is a number of seconds >= 0")
        self._holds[_operation(op)] = HoldFault(
            None if seconds is None else float(seconds), bool(apply), _times(times)
        )

    def drop_notifications(self, n: int) -> None:
        self._drop_next = _count(n, "drop_next")
        self._changed()

    def duplicate_notifications(self, enabled: bool = True) -> None:
        self._duplicate = bool(enabled)
        self._changed()

    def reorder_notifications(self, window: int) -> None:
        """Hold deliveries until ``window`` wait, then send them newest first (0: off)."""
        self._reorder_window = _count(window, "reorder_window")
        self._changed()

    def refund_outcome(self, outcome: str, *, times: int | None = None) -> None:
        outcome = str(outcome).upper()
        if outcome not in REFUND_OUTCOMES:
            raise FaultSpecError(f"refunds.outcome is one of {', '.join(REFUND_OUTCOMES)}")
        self._refunds = RefundFault(outcome, _times(times))

    def clear(self) -> None:
        """Remove every fault; held requests and notifications are released."""
        self._latency_ms.clear()
        self._errors.clear()
        self._holds.clear()
        self._drop_next = 0
        self._duplicate = False
        self._reorder_window = 0
        self._refunds = None
        self.release_holds()
        self._changed()

    def release_holds(self) -> None:
        self._release.set()
        self._release = asyncio.Event()

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- JSON (the control API) --------------------------------------------------------

    def update(self, spec: Mapping[str, Any]) -> None:
        """Merge a JSON description (module doc). Checks it all before changing anything."""
        known = {"latency_ms", "errors", "timeouts", "holds", "notifications", "refunds"}
        if unknown := set(spec) - known:
            raise FaultSpecError(f"unknown fault kinds: {sorted(unknown)}")
        staged = Faults()
        staged._apply(spec)  # validation only
        self._apply(spec)

    def _apply(self, spec: Mapping[str, Any]) -> None:
        try:
            latency = spec.get("latency_ms", {})
            for op, ms in ({ANY_OPERATION: latency} if _is_number(latency) else latency).items():
                self.latency(ms, op)
            for op, err in spec.get("errors", {}).items():
                err = {"code": err} if isinstance(err, str) else dict(err)
                unknown = set(err) - {"code", "status", "message", "times", "apply"}
                if unknown or "code" not in err:
                    raise FaultSpecError(f'an error is a code or {{"code", …}}, not {err}')
                self.error(op, **err)
            for kind in ("timeouts", "holds"):
                for op, hold in spec.get(kind, {}).items():
                    self._hold_from_json(op, hold)
            notes = spec.get("notifications", {})
            if unknown := set(notes) - {"drop_next", "duplicate", "reorder_window"}:
                raise FaultSpecError(f"unknown notification faults: {sorted(unknown)}")
            if "drop_next" in notes:
                self.drop_notifications(notes["drop_next"])
            if "duplicate" in notes:
                self.duplicate_notifications(notes["duplicate"])
            if "reorder_window" in notes:
                self.reorder_notifications(notes["reorder_window"])
            refunds = spec.get("refunds")
            if refunds is not None:
                refunds = {"outcome": refunds} if isinstance(refunds, str) else dict(refunds)
                self.refund_outcome(refunds.get("outcome", ""), times=refunds.get("times"))
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            if isinstance(exc, FaultSpecError):
                raise
            raise FaultSpecError(f"malformed fault description: {exc}") from exc

    def _hold_from_json(self, op: str, hold: Any) -> None:
        if _is_number(hold):
            self.timeout(hold, op)
        elif hold is True:
            self.timeout(None, op)
        elif isinstance(hold, Mapping) and not set(hold) - {"seconds", "apply", "times"}:
            self.timeout(hold.get("seconds"), op, apply=hold.get("apply", True), times=hold.get("times"))
        else:
            raise FaultSpecError(f'a timeout is seconds, true, or {{"seconds", "apply"}}: {hold}')

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": dict(self._latency_ms),
            "errors": {op: asdict(e) for op, e in self._errors.items()},
            "timeouts": {op: asdict(h) for op, h in self._holds.items()},
            "notifications": {
                "drop_next": self._drop_next,
                "duplicate": self._duplicate,
                "reorder_window": self._reorder_window,
            },
            "refunds": None if self._refunds is None else asdict(self._refunds),
        }

    # -- consulted by the API, the refunds and the notifier ------------------------------

    def latency_for(self, op: str) -> float:
        return self._latency_ms.get(op, self._latency_ms.get(ANY_OPERATION, 0)) / 1000

    def take_error(self, op: str) -> ErrorFault | None:
        fault: ErrorFault | None = _take(self._errors, op)
        return fault

    def take_hold(self, op: str) -> HoldFault | None:
        fault: HoldFault | None = _take(self._holds, op)
        return fault

    async def wait(self, hold: HoldFault) -> None:
        """Sleep out ``hold`` (cut short when the faults are cleared)."""
        release = self._release
        try:
            async with asyncio.timeout(hold.seconds):
                await release.wait()
        except TimeoutError:
            pass

    def take_refund_outcome(self) -> str:
        fault = self._refunds
        if fault is None:
            return "SUCCESS"
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                self._refunds = None
        return fault.outcome

    def take_drop(self) -> bool:
        if self._drop_next > 0:
            self._drop_next -= 1
            return True
        return False

    @property
    def duplicate(self) -> bool:
        return self._duplicate

    @property
    def reorder_window(self) -> int:
        return self._reorder_window
