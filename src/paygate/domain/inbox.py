"""What became of an inbound channel notification (R-NTF-1, R-NTF-2, R-SEC-3)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["InboxOutcome"]


class InboxOutcome(StrEnum):
    PROCESSED = "processed"  # verified and applied (or an acknowledged repeat of the state)
    RECEIVED = "received"  # verified and kept for a flow that handles it later
    IGNORED = "ignored"  # verified, about nothing paygate owns: acknowledged
    REJECTED = "rejected"  # could not be verified or does not match: changed nothing
