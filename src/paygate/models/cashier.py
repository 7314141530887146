"""Hosted checkouts (the cashier, R-API-9) and operators' console sessions (R-OPS-2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paygate.kit.clock import utc_now
from paygate.kit.db import Base, BigId, UTCDateTime


class Checkout(Base):
    """An order an app sent to the hosted cashier (``pay_type: "cashier"``). ``token`` is the
    unguessable part of the cashier's URL (256 random bits); ``(app_id, out_order_no)`` is
    unique, as for trades, so a repeated ``/gopay`` returns the same checkout. The trade is
    made only when the payer picks a pay type, under the same order number."""

    __tablename__ = "checkouts"
    __table_args__ = (UniqueConstraint("app_id", "out_order_no", name="uq_checkout_app_order"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    app_id: Mapped[str] = mapped_column(String(32), ForeignKey("apps.app_id"))
    out_order_no: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    subject: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    notify_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    return_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    expire_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class ConsoleSession(Base):
    """A logged-in operator's console session. The browser holds a random session id; only
    its SHA-256 is stored, so a copy of the table opens no session. ``csrf_token`` must come
    back with every form the console posts."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator: Mapped[str] = mapped_column(String(64), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
