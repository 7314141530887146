"""Merchant applications (the business systems calling paygate) and their channel config."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paygate.kit.clock import utc_now
from paygate.kit.db import Base, BigId, UTCDateTime


class App(Base):
    """An app authenticates with HMAC-SHA256 (``secret_sealed``, encrypted at rest) or
    RSA-SHA256 (``public_key``, its registered public half)."""

    __tablename__ = "apps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    sign_type: Mapped[str] = mapped_column(String(16))  # HMAC-SHA256 | RSA-SHA256
    secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    public_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    allowed_pay_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    notify_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Standard Webhooks secret (``whsec_…``) that signs notifications to the app, sealed;
    #: after a rotation the previous one still signs until ``webhook_previous_until``.
    webhook_secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_previous_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_previous_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AppChannelAccount(Base):
    """Per-app channel configuration (R-CH-3): which accounts serve this app, by priority.
    An app without rows for a channel is served by any enabled account of that channel."""

    __tablename__ = "app_channel_accounts"
    __table_args__ = (UniqueConstraint("app_id", "channel_account_id", name="uq_app_channel_account"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    app_id: Mapped[str] = mapped_column(String(32), ForeignKey("apps.app_id"))
    channel_account_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_accounts.id"))
    priority: Mapped[int] = mapped_column(Integer, default=0)
