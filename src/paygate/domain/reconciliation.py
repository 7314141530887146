"""Reconciliation's vocabulary (R-REC-1..4): runs, bill lines, discrepancies, settlements."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DiscrepancyKind",
    "DiscrepancyState",
    "LineKind",
    "LineStatus",
    "Resolution",
    "RunState",
    "SettlementState",
]


class RunState(StrEnum):
    """One reconciliation of one channel account's bill of one day."""

    RUNNING = "running"  # claimed by a process (``lease_until``)
    WAITING = "waiting"  # the channel has no bill yet: tried again later
    DONE = "done"
    FAILED = "failed"  # the bill was refused (corrupt, truncated, wrong encoding): nothing kept


class LineKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    REFUND_FAILURE = "refund_failure"  # Stripe: a refund's money came back to the balance


class LineStatus(StrEnum):
    UNMATCHED = "unmatched"  # staged, not yet compared
    MATCHED = "matched"  # the same money at paygate
    DUPLICATE = "duplicate"  # the same line twice (in this bill or an earlier one)
    DISCREPANCY = "discrepancy"  # differs: see its discrepancy


class DiscrepancyKind(StrEnum):
    MISSING_AT_PAYGATE = "missing_at_paygate"  # money at the channel that paygate does not count
    MISSING_AT_CHANNEL = "missing_at_channel"  # money paygate counts that no bill shows
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"  # e.g. a refund the bill shows, still processing here
    FEE_MISMATCH = "fee_mismatch"  # the fee differs from the account's terms
    DUPLICATE = "duplicate"  # the bill lists the same money twice


class DiscrepancyState(StrEnum):
    OPEN = "open"  # a person must look (alerted)
    DEFERRED = "deferred"  # near the cut-off: waits for the next day's bill (R-REC-3)
    RESOLVED = "resolved"


class Resolution(StrEnum):
    AUTO = "auto"  # settled through the state machine after a channel query, or by a later bill
    OPERATOR = "operator"  # a person, with a recorded reason


class SettlementState(StrEnum):
    MATCHED = "matched"
    MISMATCH = "mismatch"
