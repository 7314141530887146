"""Stripe's "bills": the settlement data paygate reconciles — balance transactions, the
balance and payouts (their API is in :mod:`.resources.balance` and
:mod:`.resources.payouts`).

Every charge, refund, failed refund and payout moves the balance by one
:class:`BalanceTransaction`. Funds become available ``SETTLEMENT_DELAY_SECONDS`` (two days,
times ``time_scale``) after the charge; a payout sweeps the available balance of one
currency and records which transactions it paid out (``GET /v1/balance_transactions?
payout=po_…``). Fees follow Stripe's standard card pricing (2.9 % plus a fixed fee; 3.6 %
for JPY); refunds carry no fee. Times are the sandbox clock's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from .currencies import THREE_DECIMAL, ZERO_DECIMAL
from .state import Record

__all__ = [
    "PAYOUT_ARRIVAL_SECONDS",
    "SETTLEMENT_DELAY_SECONDS",
    "BalanceTransaction",
    "BtType",
    "Payout",
    "balance_wire",
    "processing_fee",
]

SETTLEMENT_DELAY_SECONDS = 2 * 24 * 3600
PAYOUT_ARRIVAL_SECONDS = 24 * 3600

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
