"""Commands the refund services accept (types checked at the API edge; meaning here)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from paygate.payments.commands import TradeRef

__all__ = ["RefundCommand", "RefundRef"]


@dataclass(frozen=True)
class RefundCommand:
    trade: TradeRef
    out_refund_no: str
    amount: int
    currency: str | None = None  # the trade's when omitted; another one is refused
    reason: str | None = None
    notify_url: str | None = None

    def fingerprint(self, trade_no: str) -> str:
        """What makes two refund requests "the same": the trade and the amount. A repeat of
        an ``out_refund_no`` that differs in these is refused (REFUND_MISMATCH)."""
        core = {"trade_no": trade_no, "amount": self.amount}
        return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class RefundRef:
    """A refund named by paygate's number or by the app's refund number."""

    refund_no: str | None = None
    out_refund_no: str | None = None
