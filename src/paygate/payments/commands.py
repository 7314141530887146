"""Commands the payment services accept (imperative, validated at the API edge for types;
the services check meaning: currency, amount bounds, pay type, expiry)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PayCommand", "TradeRef"]


@dataclass(frozen=True)
class PayCommand:
    out_order_no: str
    pay_type: str
    amount: int
    currency: str
    subject: str
    description: str | None = None
    expire_minutes: int | None = None
    notify_url: str | None = None
    return_url: str | None = None
    client_ip: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """What makes two pay requests for one order "the same" payment: amount and currency.
        A repeat that differs in these is refused (ORDER_MISMATCH); one with another pay type
        is the payer switching method (a new attempt of the same trade)."""
        core = {"amount": self.amount, "currency": self.currency}
        return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class TradeRef:
    """A trade named by paygate's number or by the app's order number."""

    trade_no: str | None = None
    out_order_no: str | None = None
