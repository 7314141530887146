"""Channel accounts: credentials and settings of one merchant account at one channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from paygate.kit.clock import utc_now
from paygate.kit.db import Base, BigId, UTCDateTime


class ChannelAccountRow(Base):
    """``secrets_sealed`` is a JSON object of secret name → value, sealed as one blob with
    the master key (R-SEC-4); ``params`` holds the non-secret settings."""

    __tablename__ = "channel_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(128))
    merchant_id: Mapped[str] = mapped_column(String(64))
    gateway_url: Mapped[str] = mapped_column(String(512))
    secrets_sealed: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    return_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    fee_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    fee_fixed: Mapped[int] = mapped_column(Integer, default=0)  # minor units of fee_currency
    fee_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    timeout_seconds: Mapped[float] = mapped_column(Float, default=10.0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)
