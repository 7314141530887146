"""Time: every timestamp paygate writes is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

__all__ = ["iso_utc", "utc_now"]


def utc_now() -> datetime:
    """Now, as an aware UTC datetime (never a naive one)."""
    return datetime.now(UTC)


@overload
def iso_utc(value: datetime) -> str: ...
@overload
def iso_utc(value: None) -> None: ...
def iso_utc(value: datetime | None) -> str | None:
    """A moment as every answer and event shows it: ISO 8601 in UTC, always with six
    fractional digits and ``Z`` (``2026-01-01T00:30:00.000000Z``) — one shape a client can
    parse with one format. A channel's own time (Alipay's is +08:00) is converted."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
