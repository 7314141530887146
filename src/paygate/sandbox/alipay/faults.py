"""Injected faults: slow or failing gateway methods and misbehaving notifications.

The same settings are reachable from Python (``sandbox.faults.error(...)``) and from the
control API (``POST /_sandbox/faults`` with :meth:`Faults.update`'s JSON). Method keys
are OpenAPI method names; ``"*"`` means every method.

- **latency**: wait before handling the request.
- **error**: answer with an error instead of handling the request (nothing happens);
  ``times`` limits how many requests fail (``None``: until cleared).
- **timeout**: handle the request, then hold the answer for N seconds, so the client
  times out although the operation took effect (the ambiguous outcome).
- **notifications**: drop the next N deliveries (each drop counts as a failed attempt and
  the retry schedule goes on), duplicate every delivery, or hold deliveries until
  ``reorder_window`` of them are waiting and deliver those newest first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from paygate.sandbox.alipay.errors import BUSINESS_MESSAGES, AlipayError

__all__ = ["ErrorFault", "FaultSpecError", "Faults"]

ANY_METHOD = "*"


class FaultSpecError(ValueError):
    """A fault description that cannot be applied."""


@dataclass
class ErrorFault:
    code: str = "20000"
    sub_code: str = "isp.unknow-error"
    sub_msg: str = "系统繁忙"
    times: int | None = None

    def to_error(self) -> AlipayError:
        return AlipayError(self.code, self.sub_code, self.sub_msg)


def _per_method(method: str, table: Mapping[str, Any]) -> Any:
    return table.get(method, table.get(ANY_METHOD))


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._latency_ms: dict[str, int] = {}
        self._errors: dict[str, ErrorFault] = {}
        self._timeouts: dict[str, float] = {}
        self._drop_next = 0
        self._duplicate = False
        self._reorder_window = 0

    # -- configuring ------------------------------------------------------------------

    def latency(self, ms: int, method: str = ANY_METHOD) -> None:
        if ms < 0:
            raise FaultSpecError("latency must be >= 0 ms")
        with self._lock:
            self._latency_ms[method] = int(ms)

    def error(
        self,
        method: str = ANY_METHOD,
        *,
        code: str | None = None,
        sub_code: str | None = None,
        sub_msg: str | None = None,
        times: int | None = None,
    ) -> None:
        """``code="20000"`` (service unavailable, the default) or a business
        ``sub_code`` such as ``ACQ.SYSTEM_ERROR`` (code ``40004``)."""
        if code is None:
            code = "40004" if sub_code else "20000"
        if sub_code is None:
            sub_code = "isp.unknow-error" if code == "20000" else "ACQ.SYSTEM_ERROR"
        if sub_msg is None:
            sub_msg = BUSINESS_MESSAGES.get(sub_code, "系统繁忙")
        if times is not None and times < 1:
            raise FaultSpecError("times must be >= 1")
        with self._lock:
            self._errors[method] = ErrorFault(code, sub_code, sub_msg, times)

    def timeout(self, seconds: float, method: str = ANY_METHOD) -> None:
        if seconds < 0:
            raise FaultSpecError("timeout must be >= 0 s")
        with self._lock:
            self._timeouts[method] = float(seconds)

    def drop_notifications(self, n: int) -> None:
        with self._lock:
            self._drop_next = max(0, int(n))
        self._changed()

    def duplicate_notifications(self, enabled: bool = True) -> None:
        with self._lock:
            self._duplicate = bool(enabled)
        self._changed()

    def reorder_notifications(self, window: int) -> None:
        """Hold deliveries until ``window`` wait, then send them newest first (0: off)."""
        with self._lock:
            self._reorder_window = max(0, int(window))
        self._changed()

    def clear(self) -> None:
        """Remove every fault; held notifications are released in their original order."""
        with self._lock:
            self._latency_ms.clear()
            self._errors.clear()
            self._timeouts.clear()
            self._drop_next = 0
            self._duplicate = False
            self._reorder_window = 0
        self._changed()

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- JSON (the control API) --------------------------------------------------------

    def update(self, spec: Mapping[str, Any]) -> None:
        """Merge a JSON description::

        {"latency_ms": 200 | {"*": 100, "alipay.trade.query": 800},
         "errors": {"alipay.trade.refund": {"code": "20000"},
                    "alipay.trade.query": {"sub_code": "ACQ.SYSTEM_ERROR", "times": 2}},
         "timeouts": {"alipay.trade.pay": 3.0},
         "notifications": {"drop_next": 2, "duplicate": true, "reorder_window": 3}}
        """
        known = {"latency_ms", "errors", "timeouts", "notifications"}
        if unknown := set(spec) - known:
            raise FaultSpecError(f"unknown fault kinds: {sorted(unknown)}")
        try:
            latency = spec.get("latency_ms", {})
            for method, ms in ({ANY_METHOD: latency} if _is_number(latency) else latency).items():
                self.latency(int(ms), method)
            for method, err in spec.get("errors", {}).items():
                self.error(
                    method, **{k: err[k] for k in ("code", "sub_code", "sub_msg", "times") if k in err}
                )
            for method, seconds in spec.get("timeouts", {}).items():
                self.timeout(float(seconds), method)
            notes = spec.get("notifications", {})
            if "drop_next" in notes:
                self.drop_notifications(int(notes["drop_next"]))
            if "duplicate" in notes:
                self.duplicate_notifications(bool(notes["duplicate"]))
            if "reorder_window" in notes:
                self.reorder_notifications(int(notes["reorder_window"]))
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise FaultSpecError(f"malformed fault description: {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latency_ms": dict(self._latency_ms),
                "errors": {m: asdict(e) for m, e in self._errors.items()},
                "timeouts": dict(self._timeouts),
                "notifications": {
                    "drop_next": self._drop_next,
                    "duplicate": self._duplicate,
                    "reorder_window": self._reorder_window,
                },
            }

    # -- consulted by the gateway and the notifier -----------------------------------

    def latency_for(self, method: str) -> float:
        with self._lock:
            return float(_per_method(method, self._latency_ms) or 0) / 1000

    def take_error(self, method: str) -> AlipayError | None:
        with self._lock:
            key = method if method in self._errors else ANY_METHOD
            fault = self._errors.get(key)
            if fault is None:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self._errors[key]
            return fault.to_error()

    def timeout_for(self, method: str) -> float:
        with self._lock:
            return float(_per_method(method, self._timeouts) or 0)

    def take_drop(self) -> bool:
        with self._lock:
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


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
