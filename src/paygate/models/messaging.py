"""Outbox and request nonces."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paygate.kit.clock import utc_now
from paygate.kit.db import Base, BigId, UTCDateTime


class OutboxMessage(Base):
    """App notifications and domain events, written in the same transaction as the state
    change they announce (R-NTF-5, R-NTF-6); a relay delivers them afterwards."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)  # idempotency key for receivers
    aggregate: Mapped[str] = mapped_column(String(32))  # e.g. trade_no
    app_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    payload: Mapped[Any] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class RequestNonce(Base):
    """Nonces seen within the signing window, when Redis is not configured (R-SEC-1)."""

    __tablename__ = "request_nonces"
    __table_args__ = (UniqueConstraint("app_id", "nonce", name="uq_request_nonce"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    def __repr__(self) -> str:
        return f"RequestNonce({self.app_id!r})"


__all__ = ["OutboxMessage", "RequestNonce"]
