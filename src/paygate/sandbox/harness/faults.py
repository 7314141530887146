"""Injected faults: what a channel (or the network in front of it) does on a bad day.

One set of faults per sandbox, set from Python (``sandbox.faults.error("refund")``) or from
the control API (``POST /_sandbox/faults`` with :meth:`Faults.update`'s JSON). Operations
are the channel's own names (an OpenAPI method, ``refund``, ``payment_intents.create``);
``"*"`` is every operation. ::

    {"latency_ms": 200 | {"*": 100, "<op>": 800},
     "errors":   {"<op>": <the channel's error> | {…its fields, "times": N, "apply": bool}},
     "timeouts": {"<op>": seconds | true | {"seconds": s, "apply": bool, "times": N}},
     "hangs":    {"<op>": true | {"times": N}},
     "notifications": {"drop_next": N, "duplicate": bool | N, "reorder_window": N},
     "refunds":  "<outcome>" | {"outcome": …, "delay_seconds": s, "times": N},
     "bills":    {"drop": [ref], "duplicate": [ref], "late": [ref], "amount_delta": {ref: n},
                  "fee_delta": {ref: n}, "damage": "truncate" | "garble" | "encoding" | null}}

- **latency**: wait before handling the request.
- **errors**: answer the channel's error *instead of* handling the request (nothing
  happens) or, with ``apply``, *after* handling it (it took effect; the answer was lost).
  What an error looks like is the channel's business: ``parse_error`` reads the spec.
- **timeouts** (synonym ``holds``): handle the request, then hold the answer N seconds — or,
  with ``true`` / no seconds, until the faults are cleared: the client times out although
  the operation took effect. ``apply: false`` holds the request *before* it is handled: it
  is handled after N seconds, or, held until cleared, never (the channel's "system busy").
- **hangs**: accept the connection and never answer. The request is never handled; it is
  let go (with the channel's "system busy") only when the faults are cleared or the sandbox
  stops. A whole channel that hangs (``{"*": true}``) shows that paygate isolates channels.
- **notifications**: lose the next N delivery attempts (each counts as failed and the
  retry schedule goes on); send every attempt twice (``true``, or for the next N attempts);
  hold deliveries until ``reorder_window`` wait, then send them newest first.
- **bills**: discrepancies in the bills served from now on (reconciliation, R-REC-2): a line
  left out, served twice, booked just after the next midnight, or with its amount / fee off
  by N minor units; ``ref`` is the merchant's order number of a payment or the refund's
  request number; ``damage`` spoils the whole file (cut in half, bytes changed after its
  checksum, text in the wrong encoding) — only the kinds the channel's bills can show
  (``bill_damage``), others are refused.
- **refunds**: how the next refunds end (one of the channel's outcomes, or ``MANUAL``: they
  wait for ``POST /_sandbox/refunds/{ref}``) and after how long (channel seconds).

``times`` limits how many requests a fault affects (``None``: until cleared).
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import asdict
from typing import Any, TypeVar

from paygate.sandbox.harness.faultspec import (
    ANY,
    BILL_DAMAGE,
    MANUAL,
    BillFaults,
    ErrorFault,
    ErrorParser,
    FaultSpecError,
    FaultState,
    HangFault,
    HoldFault,
    RefundFate,
    SpecReader,
)

__all__ = [
    "ANY",
    "MANUAL",
    "BillFaults",
    "ErrorFault",
    "FaultSpecError",
    "Faults",
    "HoldFault",
    "InjectedFault",
    "RefundFate",
]

T = TypeVar("T")


class InjectedFault(Exception):
    """Raised by :meth:`Faults.around` instead of the channel's answer. ``fields`` are an
    error fault's (the channel renders them as its error); ``None`` means the request was
    never handled and the channel answers its "system busy"."""

    def __init__(self, fields: Mapping[str, Any] | None) -> None:
        super().__init__("injected fault" if fields is None else f"injected error {dict(fields)}")
        self.fields = dict(fields) if fields is not None else None


class Faults:
    """The faults of one sandbox. ``parse_error`` turns an error spec into the channel's
    error fields (raising ``ValueError``); ``operations`` are the names faults may use;
    ``refund_outcomes`` how the channel's refunds may end; ``bill_damage`` which
    ``bills.damage`` kinds mean something for its bills (others are refused)."""

    def __init__(
        self,
        *,
        parse_error: ErrorParser,
        operations: Collection[str] | None = None,
        refund_outcomes: Collection[str] = (),
        bill_damage: Collection[str] = BILL_DAMAGE,
    ) -> None:
        self._reader = SpecReader(parse_error, operations, refund_outcomes, bill_damage)
        self._state = FaultState()
        self._lock = threading.Lock()
        self._release = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []

    # -- configuring from Python ----------------------------------------------------------

    def latency(self, ms: int, op: str = ANY) -> None:
        self.update({"latency_ms": {op: ms}})

    def error(self, op: str = ANY, *, times: int | None = None, apply: bool = False, **fields: Any) -> None:
        """Answer ``op`` with the channel's error described by ``fields``."""
        self.update({"errors": {op: {**fields, "times": times, "apply": apply}}})

    def timeout(
        self, seconds: float | None = None, op: str = ANY, *, apply: bool = True, times: int | None = None
    ) -> None:
        """Hold ``op``'s answer ``seconds`` (None: until cleared); see the module doc."""
        self.update({"timeouts": {op: {"seconds": seconds, "apply": apply, "times": times}}})

    def hang(self, op: str = ANY, *, times: int | None = None) -> None:
        self.update({"hangs": {op: {"times": times}}})

    def drop_notifications(self, n: int) -> None:
        self.update({"notifications": {"drop_next": n}})

    def duplicate_notifications(self, enabled: bool | int = True) -> None:
        self.update({"notifications": {"duplicate": enabled}})

    def reorder_notifications(self, window: int) -> None:
        """Hold deliveries until ``window`` wait, then send them newest first (0: off)."""
        self.update({"notifications": {"reorder_window": window}})

    def refund_outcome(self, outcome: str, *, delay: float | None = None, times: int | None = None) -> None:
        self.update({"refunds": {"outcome": outcome, "delay_seconds": delay, "times": times}})

    def clear(self) -> None:
        """Remove every fault; held requests, hung ones and held notifications are let go."""
        with self._lock:
            self._state = FaultState()
        self.release()
        self._changed()

    def release(self) -> None:
        """Let every held or hung request go (also done by the sandbox's stop)."""
        self._release.set()
        self._release = asyncio.Event()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every change (the notifier releases held deliveries)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # -- JSON (the control API) -----------------------------------------------------------

    def update(self, spec: Mapping[str, Any]) -> None:
        """Merge a JSON description (module doc). Validates everything before changing
        anything: a bad description raises :class:`FaultSpecError` and changes nothing."""
        if not isinstance(spec, Mapping):
            raise FaultSpecError("faults are a JSON object")
        known = {"latency_ms", "errors", "timeouts", "holds", "hangs", "notifications", "refunds", "bills"}
        if unknown := set(spec) - known:
            raise FaultSpecError(f"unknown fault kinds: {sorted(unknown)}")
        with self._lock:
            trial = copy.deepcopy(self._state)
            try:
                self._reader.apply(trial, spec)
            except FaultSpecError:
                raise
            except (AttributeError, TypeError, ValueError, KeyError) as exc:
                raise FaultSpecError(f"malformed fault description: {exc}") from exc
            self._state = trial
        self._changed()

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            s = self._state
            return {
                "latency_ms": dict(s.latency_ms),
                "errors": {op: e.to_json() for op, e in s.errors.items()},
                "timeouts": {op: asdict(h) for op, h in s.holds.items()},
                "hangs": {op: asdict(h) for op, h in s.hangs.items()},
                "notifications": {
                    "drop_next": s.drop_next,
                    "duplicate": s.duplicate,
                    "reorder_window": s.reorder_window,
                },
                "refunds": None if s.refunds is None else asdict(s.refunds),
                "bills": {
                    "drop": sorted(s.bills.drop),
                    "duplicate": sorted(s.bills.duplicate),
                    "late": sorted(s.bills.late),
                    "amount_delta": dict(s.bills.amount_delta),
                    "fee_delta": dict(s.bills.fee_delta),
                    "damage": s.bills.damage,
                },
            }

    # -- consulted by the channel's endpoints ----------------------------------------------

    def _take(self, table: dict[str, Any], op: str) -> Any:
        """The fault for ``op`` (or ``*``), counting down its ``times`` (lock held)."""
        key = op if op in table else ANY
        fault = table.get(key)
        if fault is not None and fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del table[key]
        return fault

    async def around(self, op: str, handle: Callable[[], Awaitable[T]]) -> T:
        """Run ``handle`` (what the request does) as operation ``op`` under the faults:
        hang → latency → error before → hold before → handle → hold after → error after.
        Raises :class:`InjectedFault` where the channel must answer an error instead."""
        with self._lock:
            hang: HangFault | None = self._take(self._state.hangs, op)
            latency = self._state.latency_ms.get(op, self._state.latency_ms.get(ANY, 0)) / 1000
        release = self._release
        if hang is not None:
            await release.wait()
            raise InjectedFault(None)
        if latency:
            await asyncio.sleep(latency)
        with self._lock:
            error: ErrorFault | None = self._take(self._state.errors, op)
            hold: HoldFault | None = None
            if error is None or error.apply:
                hold = self._take(self._state.holds, op)
        if error is not None and not error.apply:
            raise InjectedFault(error.fields)
        if hold is not None and not hold.apply:
            await self._wait(hold)
            if hold.seconds is None:  # held until cleared: it never reached the business layer
                raise InjectedFault(None)
        try:
            result = await handle()
        finally:
            if hold is not None and hold.apply:
                await self._wait(hold)
        if error is not None:
            raise InjectedFault(error.fields)
        return result

    async def _wait(self, hold: HoldFault) -> None:
        """Sleep out ``hold`` (cut short when the faults are cleared)."""
        release = self._release
        try:
            async with asyncio.timeout(hold.seconds):
                await release.wait()
        except TimeoutError:
            pass

    # -- consulted by the notifier and the channel's refunds --------------------------------

    def take_drop(self) -> bool:
        with self._lock:
            if self._state.drop_next > 0:
                self._state.drop_next -= 1
                return True
            return False

    def take_duplicate(self) -> bool:
        with self._lock:
            duplicate = self._state.duplicate
            if isinstance(duplicate, bool):
                return duplicate
            if duplicate <= 0:
                return False
            self._state.duplicate = duplicate - 1
            return True

    @property
    def reorder_window(self) -> int:
        with self._lock:
            return self._state.reorder_window

    def bills(self) -> BillFaults:
        """The bill discrepancies in force (a copy)."""
        with self._lock:
            return copy.deepcopy(self._state.bills)

    def take_refund_fate(self) -> RefundFate | None:
        """How the next refund ends, or None for the channel's usual way."""
        with self._lock:
            fate = self._state.refunds
            if fate is None:
                return None
            if fate.times is not None:
                fate.times -= 1
                if fate.times <= 0:
                    self._state.refunds = None
            return RefundFate(fate.outcome, fate.delay_seconds)
