"""Stripe's "bills": the settlement data paygate reconciles — balance transactions, the
balance and payouts (their API is in :mod:`.resources.balance` and
:mod:`.resources.payouts`).

Every charge, refund, failed refund and payout moves the balance by one
:class:`BalanceTransaction`. Funds become available ``SETTLEMENT_DELAY_SECONDS`` (two days,
times ``time_scale``) after the charge; a payout sweeps the available balance of one
currency and records which transactions it paid out (``GET /v1/balance_transactions?
payout=po_…``). Fees follow Stripe's standard card pricing (2.9 % plus a fixed fee; 3.6 %
for JPY); refunds carry no fee. Times are the sandbox clock's.

The ``bills`` faults (reconciliation tests, R-REC-2..4) change what is *served*, never what is
stored: :func:`served_transactions` is the listing as the faults show it — a movement left
out (``drop``), booked twice under two ids (``duplicate``), booked just after the next UTC
midnight (``late``), its amount or fee shifted (``amount_delta``, ``fee_delta``: amount,
fee, ``fee_details`` and ``net`` agree, and so does its source where the listing expands
it: :func:`shifted_source`) — and :func:`served_payout` a payout stating what its movements
net to as served.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from paygate.sandbox.harness.faultspec import BillFaults

from .currencies import THREE_DECIMAL, ZERO_DECIMAL
from .state import Record
from .wire import derived_id

__all__ = [
    "LATE_BOOKING_SECONDS",
    "PAYOUT_ARRIVAL_SECONDS",
    "SETTLEMENT_DELAY_SECONDS",
    "BalanceTransaction",
    "BtType",
    "Payout",
    "ServedTransaction",
    "balance_wire",
    "processing_fee",
    "rank",
    "served_payout",
    "served_transactions",
    "shifted_source",
]

SETTLEMENT_DELAY_SECONDS = 2 * 24 * 3600
PAYOUT_ARRIVAL_SECONDS = 24 * 3600
#: A ``late`` movement (bill fault) is booked this long after the next midnight, UTC: the
#: day paygate lists Stripe's balance transactions by (Alipay's sandbox does the same).
LATE_BOOKING_SECONDS = 30
_DAY_SECONDS = 24 * 3600

BtType = Literal["charge", "refund", "refund_failure", "payout"]
_REPORTING = {"charge": "charge", "refund": "refund", "refund_failure": "refund_failure", "payout": "payout"}
_FIXED_FEE = {"usd": 30, "eur": 25, "gbp": 20, "cad": 30, "aud": 30, "hkd": 235, "sgd": 50}


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def processing_fee(amount: int, currency: str) -> int:
    """A card charge's fee, in the charge's currency (three-decimal ones rounded up to 10)."""
    if currency in ZERO_DECIMAL:
        fee = _round(Decimal(amount) * Decimal("0.036"))
    else:
        fee = _round(Decimal(amount) * Decimal("0.029")) + _FIXED_FEE.get(currency, 0)
    if currency in THREE_DECIMAL:
        fee = (fee + 9) // 10 * 10
    return fee


@dataclass(kw_only=True)
class BalanceTransaction(Record):
    amount: int
    currency: str
    fee: int
    type: BtType
    source: str
    available_on: int
    description: str | None = None
    payout_id: str | None = None  # the automatic payout that swept it

    @property
    def net(self) -> int:
        return self.amount - self.fee

    #: The sandbox clock (unix seconds): the status depends on when it is looked at.
    clock: Callable[[], int] = field(default=lambda: 0, repr=False, compare=False)

    def status(self, at: int | None = None) -> str:
        at = self.clock() if at is None else at
        return "available" if at >= self.available_on else "pending"

    def to_wire(self) -> dict[str, Any]:
        fee_details = (
            [
                {
                    "amount": self.fee,
                    "application": None,
                    "currency": self.currency,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ]
            if self.fee
            else []
        )
        return {
            "id": self.id,
            "object": "balance_transaction",
            "amount": self.amount,
            "available_on": self.available_on,
            "balance_type": "payments",
            "created": self.created,
            "currency": self.currency,
            "description": self.description,
            "exchange_rate": None,
            "fee": self.fee,
            "fee_details": fee_details,
            "net": self.net,
            "reporting_category": _REPORTING[self.type],
            "source": self.source,
            "status": self.status(),
            "type": self.type,
        }


@dataclass(kw_only=True)
class Payout(Record):
    amount: int
    currency: str
    arrival_date: int
    balance_transaction: str
    status: str = "pending"
    automatic: bool = True
    metadata: dict[str, str] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "payout",
            "amount": self.amount,
            "application_fee": None,
            "application_fee_amount": None,
            "arrival_date": self.arrival_date,
            "automatic": self.automatic,
            "balance_transaction": self.balance_transaction,
            "created": self.created,
            "currency": self.currency,
            "description": "STRIPE PAYOUT",
            "destination": "ba_1SandboxBankAccount0000",
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": dict(self.metadata),
            "method": "standard",
            "original_payout": None,
            "payout_method": None,
            "reconciliation_status": "completed" if self.automatic else "not_applicable",
            "reversed_by": None,
            "source_type": "card",
            "statement_descriptor": None,
            "status": self.status,
            "trace_id": None,
            "type": "bank_account",
        }


@dataclass(kw_only=True)
class ServedTransaction(BalanceTransaction):
    """A balance transaction as a ``bills`` fault shows it (never stored)."""

    #: minor units added to the source's own amount (the charge's, the refund's)
    source_delta: int = 0
    #: the second booking of a ``duplicate`` (its own id, the same source)
    twin: bool = False


def rank(record: Record) -> tuple[int, int, bool]:
    """Where a balance transaction stands in a listing: Stripe lists by ``created``, newest
    first; the store's sequence breaks ties, and a duplicate's twin follows its original."""
    return (record.created, record.seq, isinstance(record, ServedTransaction) and record.twin)


def _next_midnight(moment: int) -> int:
    return (moment // _DAY_SECONDS + 1) * _DAY_SECONDS


def served_transactions(
    transactions: Sequence[BalanceTransaction],
    faults: BillFaults,
    reference: Callable[[BalanceTransaction], str],
) -> list[BalanceTransaction]:
    """``transactions`` (newest first) as the bill faults show them, newest first.

    ``reference`` names a movement as the faults do (its charge's ``attempt_no``, its
    refund's ``refund_no``). A ``duplicate`` is a second balance transaction of the same
    source, amount and time under its own id (a double booking: one object is never listed
    twice). ``amount_delta`` moves the amount away from zero by N for a refund as for a
    charge (the refund's own amount grows by N), ``fee_delta`` adds N to the fee; ``net``
    follows. A payout's own transaction is minus what its movements net to as served."""
    if not faults.touch_lines:
        return list(transactions)
    movements = [bt for bt in transactions if bt.type != "payout"]
    refs = {bt.id: reference(bt) for bt in movements}
    served: list[BalanceTransaction] = []
    booked: set[str] = set()
    for bt, amount_delta, fee_delta in faults.lines(movements, lambda bt: refs[bt.id]):
        twin = bt.id in booked
        booked.add(bt.id)
        late = refs[bt.id] in faults.late
        if not (twin or late or amount_delta or fee_delta):
            served.append(bt)
            continue
        shift = _next_midnight(bt.created) + LATE_BOOKING_SECONDS - bt.created if late else 0
        direction = -1 if bt.type == "refund" else 1
        values = {f.name: getattr(bt, f.name) for f in fields(bt) if f.init}
        values.update(
            id=derived_id("txn", f"{bt.id}/duplicate") if twin else bt.id,
            created=bt.created + shift,
            available_on=bt.available_on + shift,
            amount=bt.amount + direction * amount_delta,
            fee=bt.fee + fee_delta,
            source_delta=amount_delta,
            twin=twin,
        )
        served.append(ServedTransaction(**values))
    nets: dict[str, int] = {}
    for bt in served:
        if bt.payout_id is not None:
            nets[bt.payout_id] = nets.get(bt.payout_id, 0) + bt.net
    for bt in transactions:
        if bt.type == "payout":
            amount = -nets.get(bt.source, 0)
            served.append(bt if amount == bt.amount else replace(bt, amount=amount))
    return sorted(served, key=rank, reverse=True)


def served_payout(payout: Payout, served: Iterable[BalanceTransaction]) -> Payout:
    """The payout as served: it pays what its balance transactions net to as served (minus
    its own ``payout`` transaction there), so ``?payout=`` always sums to zero."""
    for bt in served:
        if bt.id == payout.balance_transaction:
            return payout if -bt.amount == payout.amount else replace(payout, amount=-bt.amount)
    return payout


def shifted_source(source: dict[str, Any], delta: int) -> dict[str, Any]:
    """A charge's or refund's wire with its amount off by ``delta`` (``amount_delta``): what
    the listing shows where it expands the source, so the amount paygate reads there and
    the balance transaction's agree."""
    if delta:
        source["amount"] = source["amount"] + delta
        if source.get("object") == "charge" and source.get("amount_captured"):
            source["amount_captured"] = source["amount_captured"] + delta
    return source


def balance_wire(transactions: list[BalanceTransaction], at: int) -> dict[str, Any]:
    """``GET /v1/balance``: available and pending sums per currency at ``at``."""
    sums: dict[str, dict[str, int]] = {"available": {}, "pending": {}}
    for bt in transactions:
        bucket = sums[bt.status(at)]
        bucket[bt.currency] = bucket.get(bt.currency, 0) + bt.net
    currencies = sorted({bt.currency for bt in transactions}) or ["usd"]

    def entries(kind: str) -> list[dict[str, Any]]:
        return [
            {"amount": sums[kind].get(c, 0), "currency": c, "source_types": {"card": sums[kind].get(c, 0)}}
            for c in currencies
        ]

    return {
        "object": "balance",
        "available": entries("available"),
        "livemode": False,
        "pending": entries("pending"),
    }
