"""Every left-over bill line maps to one discrepancy kind, and only those a channel query can
settle ask for one (R-REC-2). Pure: no database."""

from __future__ import annotations

from dataclasses import replace

import pytest

from paygate.domain.reconciliation import DiscrepancyKind, LineKind
from paygate.domain.refunds import RefundState
from paygate.domain.trades import TradeState
from paygate.reconciliation.classifying import classify
from paygate.repositories.reconciliation import LeftOver

PAYMENT = LeftOver(
    line_id=1, kind=LineKind.PAYMENT, attempt_no="P1", channel_trade_no="C1", refund_no=None, amount=1000,
    currency="CNY", trade_id=7, trade_no="T7", trade_state=TradeState.SUCCEEDED, trade_paid_attempt_no="P1",
    trade_channel_trade_no="C1", trade_paid_amount=1000, trade_currency="CNY", refund_id=None,
    refund_state=None, refund_amount=None, refund_currency=None,
)  # fmt: skip
REFUND = replace(
    PAYMENT, kind=LineKind.REFUND, refund_no="R1", amount=300, refund_id=9,
    refund_state=RefundState.SUCCEEDED, refund_amount=300, refund_currency="CNY",
)  # fmt: skip


@pytest.mark.parametrize(
    ("line", "kind", "ask"),
    [
        (
            replace(PAYMENT, trade_id=None, trade_no=None, trade_state=None),
            DiscrepancyKind.MISSING_AT_PAYGATE,
            None,
        ),
        (replace(PAYMENT, trade_state=TradeState.PENDING), DiscrepancyKind.MISSING_AT_PAYGATE, "trade"),
        (replace(PAYMENT, trade_state=TradeState.CLOSED), DiscrepancyKind.MISSING_AT_PAYGATE, "trade"),
        (replace(PAYMENT, trade_paid_attempt_no="P0"), DiscrepancyKind.MISSING_AT_PAYGATE, "trade"),
        (replace(PAYMENT, channel_trade_no="C2"), DiscrepancyKind.MISSING_AT_PAYGATE, "trade"),
        (replace(PAYMENT, amount=1001), DiscrepancyKind.AMOUNT_MISMATCH, None),
        (replace(PAYMENT, currency="USD"), DiscrepancyKind.AMOUNT_MISMATCH, None),
        (replace(REFUND, refund_id=None, refund_state=None), DiscrepancyKind.MISSING_AT_PAYGATE, None),
        (replace(REFUND, refund_state=RefundState.PROCESSING), DiscrepancyKind.STATUS_MISMATCH, "refund"),
        (replace(REFUND, refund_state=RefundState.UNKNOWN), DiscrepancyKind.STATUS_MISMATCH, "refund"),
        (replace(REFUND, refund_state=RefundState.FAILED), DiscrepancyKind.STATUS_MISMATCH, None),
        (replace(REFUND, refund_state=RefundState.REJECTED), DiscrepancyKind.STATUS_MISMATCH, None),
        (
            replace(REFUND, amount=301, refund_state=RefundState.PROCESSING),
            DiscrepancyKind.AMOUNT_MISMATCH,
            None,
        ),
        (replace(REFUND, kind=LineKind.REFUND_FAILURE), DiscrepancyKind.STATUS_MISMATCH, None),
    ],
)
def test_a_left_over_line_is_classified(line: LeftOver, kind: DiscrepancyKind, ask: str | None) -> None:
    finding = classify(line)
    assert (finding.kind, finding.ask) == (kind, ask)
    assert finding.detail
