"""Reading a fault description (the JSON of ``POST /_sandbox/faults``, :mod:`.faults`)
into the records the faults are kept as. Everything is checked: a description that cannot
be applied raises :class:`FaultSpecError`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

T = TypeVar("T")

__all__ = [
    "ANY",
    "BILL_DAMAGE",
    "MANUAL",
    "BillFaults",
    "ErrorFault",
    "ErrorParser",
    "FaultSpecError",
    "FaultState",
    "HangFault",
    "HoldFault",
    "RefundFate",
    "SpecReader",
]

ANY: Final = "*"
#: Every way ``bills.damage`` can spoil a bill; a channel may take fewer (Stripe: ``truncate``).
BILL_DAMAGE: Final = ("truncate", "garble", "encoding")
#: The refund outcome that leaves refunds processing until settled through the control API.
MANUAL: Final = "MANUAL"

ErrorParser = Callable[[Any], dict[str, Any]]


class FaultSpecError(ValueError):
    """A fault description that cannot be applied (nothing was changed)."""


@dataclass
class ErrorFault:
    fields: dict[str, Any]
    times: int | None = None
    apply: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**self.fields, "times": self.times, "apply": self.apply}


@dataclass
class HoldFault:
    seconds: float | None  # None: until the faults are cleared
    apply: bool = True
    times: int | None = None


@dataclass
class HangFault:
    times: int | None = None


@dataclass
class RefundFate:
    outcome: str
    delay_seconds: float | None = None  # None: the channel's usual delay
    times: int | None = None


@dataclass
class BillFaults:
    """Discrepancies written into the bills the sandbox serves (reconciliation tests), keyed
    by the merchant's reference of a line: the order number (``out_trade_no``) of a payment,
    the refund's request number of a refund. ``drop``: the line is left out; ``duplicate``:
    it appears twice; ``amount_delta`` / ``fee_delta``: minor units added to its amount / fee.
    ``late``: the line is booked just after the next midnight (a cut-off case).
    ``damage`` spoils the whole file as served: ``truncate`` (cut in half), ``garble`` (bytes
    changed after any checksum was computed), ``encoding`` (text in the wrong encoding); a
    channel takes only the kinds that mean something for its bills (:data:`BILL_DAMAGE`)."""

    drop: set[str] = field(default_factory=set)
    duplicate: set[str] = field(default_factory=set)
    late: set[str] = field(default_factory=set)
    amount_delta: dict[str, int] = field(default_factory=dict)
    fee_delta: dict[str, int] = field(default_factory=dict)
    damage: str | None = None

    @property
    def touch_lines(self) -> bool:
        """Whether any line-level discrepancy is in force (``damage`` aside)."""
        return bool(self.drop or self.duplicate or self.late or self.amount_delta or self.fee_delta)

    def spoil(self, content: bytes) -> bytes:
        """The file as served after ``damage`` (``encoding`` is the channel's to apply)."""
        if self.damage == "truncate":
            return content[: len(content) // 2]
        if self.damage == "garble":
            middle = len(content) // 2
            return (
                content[:middle]
                + bytes(b ^ 0x5A for b in content[middle : middle + 16])
                + content[middle + 16 :]
            )
        return content

    def lines(self, items: Iterable[T], ref: Callable[[T], str]) -> Iterator[tuple[T, int, int]]:
        """``(item, amount delta, fee delta)`` for each line of the bill as it must be served."""
        for item in items:
            key = ref(item)
            if key in self.drop:
                continue
            line = (item, self.amount_delta.get(key, 0), self.fee_delta.get(key, 0))
            yield line
            if key in self.duplicate:
                yield line


@dataclass
class FaultState:
    """Everything :meth:`Faults.clear` resets; plain data, so a copy can be tried first."""

    latency_ms: dict[str, int] = field(default_factory=dict)
    errors: dict[str, ErrorFault] = field(default_factory=dict)
    holds: dict[str, HoldFault] = field(default_factory=dict)
    hangs: dict[str, HangFault] = field(default_factory=dict)
    drop_next: int = 0
    duplicate: bool | int = False
    reorder_window: int = 0
    refunds: RefundFate | None = None
    bills: BillFaults = field(default_factory=BillFaults)


def _times(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FaultSpecError("times must be an integer >= 1")
    return value


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultSpecError(f"{name} must be an integer >= 0")
    return value


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultSpecError(f"{name} must be a number of seconds >= 0")
    return float(value)


def _table(spec: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = spec.get(key, {})
    if not isinstance(value, Mapping):
        raise FaultSpecError(f"{key} is an object keyed by operation")
    return value


def _hold(value: Any) -> HoldFault:
    if value is True:
        return HoldFault(None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return HoldFault(_seconds(value, "a timeout"))
    if isinstance(value, Mapping) and not set(value) - {"seconds", "apply", "times"}:
        seconds = value.get("seconds")
        apply = value.get("apply", True)
        if not isinstance(apply, bool):
            raise FaultSpecError("apply is true or false")
        return HoldFault(
            None if seconds is None else _seconds(seconds, "a timeout"), apply, _times(value.get("times"))
        )
    raise FaultSpecError(f'a timeout is seconds, true, or {{"seconds", "apply", "times"}}: {value!r}')


def _bills(bills: BillFaults, spec: Any, damage_kinds: tuple[str, ...]) -> None:
    kinds = {"drop", "duplicate", "late", "amount_delta", "fee_delta", "damage"}
    if not isinstance(spec, Mapping) or set(spec) - kinds:
        raise FaultSpecError(f"bills take {', '.join(sorted(kinds))}")
    for key in ("drop", "duplicate", "late"):
        refs = spec.get(key, [])
        if not isinstance(refs, list) or not all(isinstance(r, str) and r for r in refs):
            raise FaultSpecError(f"bills.{key} is a list of references")
        getattr(bills, key).update(refs)
    for key in ("amount_delta", "fee_delta"):
        deltas = spec.get(key, {})
        if not isinstance(deltas, Mapping) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in deltas.values()
        ):
            raise FaultSpecError(f"bills.{key} maps references to integers (minor units)")
        getattr(bills, key).update(deltas)
    if "damage" in spec:
        damage = spec["damage"]
        if damage is not None and damage not in damage_kinds:
            takes = ", ".join((*damage_kinds, "null"))
            if damage in BILL_DAMAGE:
                raise FaultSpecError(
                    f"bills.damage {damage!r} means nothing for this channel's bills; it takes {takes}"
                )
            raise FaultSpecError(f"bills.damage is {takes}")
        bills.damage = damage


class SpecReader:
    """Applies descriptions to a :class:`FaultState` for one channel: ``parse_error``
    reads its errors, ``operations`` are its names, ``refund_outcomes`` how refunds end,
    ``bill_damage`` the ``bills.damage`` kinds its bills can show."""

    def __init__(
        self,
        parse_error: ErrorParser,
        operations: Collection[str] | None,
        refund_outcomes: Collection[str],
        bill_damage: Collection[str] = BILL_DAMAGE,
    ) -> None:
        self._parse_error = parse_error
        self._operations = frozenset(operations) if operations is not None else None
        self._refund_outcomes = tuple(refund_outcomes)
        if unknown := set(bill_damage) - set(BILL_DAMAGE):
            raise ValueError(f"unknown bill damage kinds: {sorted(unknown)}")
        self._bill_damage = tuple(d for d in BILL_DAMAGE if d in bill_damage)

    def _op(self, op: Any) -> str:
        if not isinstance(op, str) or (
            op != ANY and self._operations is not None and op not in self._operations
        ):
            known = ", ".join(sorted(self._operations or ()))
            raise FaultSpecError(f"unknown operation {op!r}; expected * or one of {known}")
        return op

    def apply(self, state: FaultState, spec: Mapping[str, Any]) -> None:
        latency = spec.get("latency_ms", {})
        for op, ms in latency.items() if isinstance(latency, Mapping) else [(ANY, latency)]:
            state.latency_ms[self._op(op)] = _count(ms, "latency_ms")
        for op, value in _table(spec, "errors").items():
            state.errors[self._op(op)] = self._error(value)
        for key in ("timeouts", "holds"):
            for op, value in _table(spec, key).items():
                state.holds[self._op(op)] = _hold(value)
        for op, value in _table(spec, "hangs").items():
            if value is not True and not (isinstance(value, Mapping) and set(value) <= {"times"}):
                raise FaultSpecError('a hang is true or {"times": N}')
            state.hangs[self._op(op)] = HangFault(_times(value.get("times")) if value is not True else None)
        notes = spec.get("notifications", {})
        if not isinstance(notes, Mapping) or set(notes) - {"drop_next", "duplicate", "reorder_window"}:
            raise FaultSpecError("notifications take drop_next, duplicate and reorder_window")
        if "drop_next" in notes:
            state.drop_next = _count(notes["drop_next"], "drop_next")
        if "duplicate" in notes:
            duplicate = notes["duplicate"]
            state.duplicate = duplicate if isinstance(duplicate, bool) else _count(duplicate, "duplicate")
        if "reorder_window" in notes:
            state.reorder_window = _count(notes["reorder_window"], "reorder_window")
        if "refunds" in spec:
            state.refunds = self._refund(spec["refunds"])
        if "bills" in spec:
            _bills(state.bills, spec["bills"], self._bill_damage)

    def _error(self, value: Any) -> ErrorFault:
        times, apply = None, False
        if isinstance(value, Mapping):
            value = dict(value)
            times = _times(value.pop("times", None))
            apply = value.pop("apply", False)
            if not isinstance(apply, bool):
                raise FaultSpecError("apply is true or false")
        try:
            fields = self._parse_error(value)
        except FaultSpecError:
            raise
        except (TypeError, ValueError, KeyError) as exc:
            raise FaultSpecError(str(exc)) from exc
        return ErrorFault(fields, times, apply)

    def _refund(self, value: Any) -> RefundFate | None:
        if value is None:
            return None
        spec = {"outcome": value} if isinstance(value, str) else value
        if not isinstance(spec, Mapping) or set(spec) - {"outcome", "delay_seconds", "times"}:
            raise FaultSpecError('refunds is an outcome or {"outcome", "delay_seconds", "times"}')
        outcome = spec.get("outcome")
        allowed = (*self._refund_outcomes, MANUAL)
        if outcome not in allowed:
            raise FaultSpecError(f"refunds.outcome is one of {', '.join(allowed)}")
        delay = spec.get("delay_seconds")
        return RefundFate(
            outcome, None if delay is None else _seconds(delay, "delay_seconds"), _times(spec.get("times"))
        )
