"""What a bill line that no matching statement took means (R-REC-2): pure, so every case is
tested without a database.

============================================  ====================  ===========================
the line, and what paygate holds              discrepancy           resolved automatically by
============================================  ====================  ===========================
payment of an attempt paygate never made      missing_at_paygate    — (a person)
payment of a trade not paid here (lost         missing_at_paygate    querying the channel: paid,
notification), or after its close, or a                             paid after close (refunded),
second payment of a paid trade                                      or a repeat payment
payment of the kept attempt, other amount     amount_mismatch       —
refund paygate has no record of               missing_at_paygate    —
refund still processing / unknown here        status_mismatch       querying the channel
refund that failed or was refused here        status_mismatch       —
refund of another amount                      amount_mismatch       —
============================================  ====================  ===========================
"""

from __future__ import annotations

from dataclasses import dataclass

from paygate.domain.reconciliation import DiscrepancyKind, LineKind
from paygate.domain.refunds import RefundState
from paygate.domain.trades import TradeState
from paygate.repositories.reconciliation import LeftOver

__all__ = ["Finding", "classify"]

_OPEN_REFUND = frozenset({RefundState.PROCESSING, RefundState.UNKNOWN})


@dataclass(frozen=True)
class Finding:
    kind: DiscrepancyKind
    detail: str
    #: what to ask the channel before the line is compared again: "trade" | "refund" | None
    ask: str | None = None


def classify(line: LeftOver) -> Finding:
    if line.kind is LineKind.PAYMENT:
        return _payment(line)
    return _refund(line)


def _payment(line: LeftOver) -> Finding:
    if line.trade_id is None:
        return Finding(DiscrepancyKind.MISSING_AT_PAYGATE, f"no attempt {line.attempt_no!r} at paygate")
    if line.trade_state is not TradeState.SUCCEEDED:
        return Finding(
            DiscrepancyKind.MISSING_AT_PAYGATE,
            f"paid at the channel, {line.trade_state} at paygate",
            ask="trade",
        )
    same_payment = line.trade_paid_attempt_no == line.attempt_no and line.trade_channel_trade_no in (
        None,
        line.channel_trade_no,
    )
    if not same_payment:
        return Finding(
            DiscrepancyKind.MISSING_AT_PAYGATE,
            "a payment other than the one the trade kept (a repeat payment paygate has not recorded)",
            ask="trade",
        )
    return Finding(
        DiscrepancyKind.AMOUNT_MISMATCH,
        f"the channel booked {line.amount} {line.currency}, "
        f"paygate {line.trade_paid_amount} {line.trade_currency}",
    )


def _refund(line: LeftOver) -> Finding:
    if line.refund_id is None:
        return Finding(DiscrepancyKind.MISSING_AT_PAYGATE, f"no refund {line.refund_no!r} at paygate")
    if (line.refund_amount, line.refund_currency) != (line.amount, line.currency):
        return Finding(
            DiscrepancyKind.AMOUNT_MISMATCH,
            f"the channel booked {line.amount} {line.currency}, "
            f"paygate {line.refund_amount} {line.refund_currency}",
        )
    if line.refund_state in _OPEN_REFUND:
        return Finding(
            DiscrepancyKind.STATUS_MISMATCH,
            f"booked at the channel, {line.refund_state} at paygate",
            ask="refund",
        )
    return Finding(
        DiscrepancyKind.STATUS_MISMATCH,
        f"{'refund failure' if line.kind is LineKind.REFUND_FAILURE else 'refund'} booked at the channel, "
        f"{line.refund_state} at paygate",
    )
