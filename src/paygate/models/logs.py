"""Trade log, call log and the channel notification inbox (R-LOG-1..3, R-NTF-1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paygate.domain.inbox import InboxOutcome
from paygate.kit.clock import utc_now
from paygate.kit.db import Base, BigId, EnumText, UTCDateTime


class TradeLog(Base):
    """Every state change of a trade or refund, with the exchange that caused it. Written in
    the same transaction as the change, so the two are never out of step."""

    __tablename__ = "trade_logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trade_id: Mapped[int] = mapped_column(BigId, ForeignKey("trades.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("refunds.id"), nullable=True)
    event: Mapped[str] = mapped_column(String(32))  # a trade's or (with refund_id) a refund's
    from_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_state: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(16))  # api | notify | query | return | sweep
    exchange: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class CallLog(Base):
    """One API call: masked request and response (R-LOG-1). Written best-effort."""

    __tablename__ = "call_logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    app_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    endpoint: Mapped[str] = mapped_column(String(128))
    http_method: Mapped[str] = mapped_column(String(8))
    http_status: Mapped[int] = mapped_column(Integer)
    errno: Mapped[int] = mapped_column(Integer)
    trade_no: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request: Mapped[Any] = mapped_column(JSON, nullable=True)
    response: Mapped[Any] = mapped_column(JSON, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class ChannelNotification(Base):
    """The inbox: every notification a channel sent. A verified one is stored under its
    channel identity, unique per channel, so a repeat is recognised; a rejected one is kept
    (``notification_id`` NULL, ``outcome`` rejected) for the investigation it deserves."""

    __tablename__ = "channel_notifications"
    __table_args__ = (UniqueConstraint("channel", "notification_id", name="uq_channel_notification"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_account_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    notification_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome: Mapped[InboxOutcome] = mapped_column(EnumText(InboxOutcome, 16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    trade_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    payload: Mapped[Any] = mapped_column(JSON, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
