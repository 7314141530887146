"""Identifiers: trade, attempt and refund numbers.

``T20261122014655`` + 12 random digits: time-ordered (helps indexes and humans), unique
without coordination (random part: 10**12 per second), 27 characters — within every
channel's limit for merchant order numbers (WeChat: 6–32 of ``[A-Za-z0-9_-|*]``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

__all__ = ["new_attempt_no", "new_id", "new_refund_no", "new_trade_no"]


def new_id(prefix: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    return f"{prefix}{stamp}{secrets.randbelow(10**12):012d}"


def new_trade_no() -> str:
    return new_id("T")


def new_attempt_no(trade_no: str, seq: int) -> str:
    """The order number a channel sees for attempt ``seq`` of a trade."""
    return f"P{trade_no[1:]}{seq:02d}"[:32]


def new_refund_no() -> str:
    return new_id("R")
