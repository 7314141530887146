"""Trades, the attempts sent to channels, and refunds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from paygate.domain.refunds import RefundKind, RefundRoute, RefundState
from paygate.domain.trades import AttemptStatus, TradeState
from paygate.kit.clock import utc_now
from paygate.kit.db import Base, BigId, EnumText, UTCDateTime


class Trade(Base):
    """One payment an app asked for (R-PAY-2). ``trade_no`` is paygate's, unique across
    apps; ``(app_id, out_order_no)`` is the app's, unique per app — the last line of
    anti-duplicate defence (R-PAY-7). ``version`` guards every state change."""

    __tablename__ = "trades"
    __table_args__ = (UniqueConstraint("app_id", "out_order_no", name="uq_trade_app_order"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    app_id: Mapped[str] = mapped_column(String(32), ForeignKey("apps.app_id"))
    out_order_no: Mapped[str] = mapped_column(String(64))
    pay_type: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    channel_account_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    subject: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    state: Mapped[TradeState] = mapped_column(EnumText(TradeState, 16), index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    expire_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paid_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)  # refunds that succeeded
    #: refunded plus in flight (pending approval, processing, unknown, awaiting payout): the
    #: sum that may never exceed ``paid_amount`` (R-REF-1); changed by one conditional UPDATE
    refund_reserved: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    channel_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempt_no: Mapped[str] = mapped_column(String(32))  # the latest attempt (the payer may switch)
    paid_attempt_no: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the one that paid
    #: payments beyond the one the trade kept (after its close, or a second one): refunded
    extra_paid_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: when the reliability engine next asks the channel about this open trade (NULL: final)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    checks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    notify_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    return_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ChannelAttempt(Base):
    """One request sent to a channel for a trade (R-PAY-2, ``pay_transaction_extension``):
    ``attempt_no`` is the order number the channel sees, mapped to its trade number."""

    __tablename__ = "channel_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    attempt_no: Mapped[str] = mapped_column(String(32), unique=True)
    trade_id: Mapped[int] = mapped_column(BigId, ForeignKey("trades.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_account_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_accounts.id"))
    channel_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    status: Mapped[AttemptStatus] = mapped_column(EnumText(AttemptStatus, 16))
    action: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)


class Refund(Base):
    """Money going back to the payer (R-REF-1..5). ``refund_no`` is paygate's, unique across
    apps and sent to the channel as its refund number; ``(app_id, out_refund_no)`` is the
    app's, unique per app (idempotency). The payment refunded is named by ``attempt_no`` (and
    its ``payment_channel_trade_no``); ``version`` guards every state change."""

    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("app_id", "out_refund_no", name="uq_refund_app_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    refund_no: Mapped[str] = mapped_column(String(32), unique=True)
    trade_id: Mapped[int] = mapped_column(BigId, ForeignKey("trades.id"), index=True)
    app_id: Mapped[str] = mapped_column(String(32), ForeignKey("apps.app_id"))
    out_refund_no: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    kind: Mapped[RefundKind] = mapped_column(EnumText(RefundKind, 16), default=RefundKind.BUSINESS)
    route: Mapped[RefundRoute] = mapped_column(EnumText(RefundRoute, 16), default=RefundRoute.ORIGINAL)
    state: Mapped[RefundState] = mapped_column(EnumText(RefundState, 20), index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    channel: Mapped[str] = mapped_column(String(32), server_default="")
    channel_account_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("channel_accounts.id", name="fk_refunds_channel_account"), nullable=True
    )
    attempt_no: Mapped[str] = mapped_column(String(32), server_default="")
    payment_channel_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel_refund_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel_status: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(64), server_default="")
    notify_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(80), server_default="")
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    replaces_refund_no: Mapped[str | None] = mapped_column(String(32), nullable=True)  # a manual payout's
    payout_reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: when the reliability engine next asks the channel about this refund (NULL: nothing to ask)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    checks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ExtraPayment(Base):
    """Money that arrived for a trade beyond the payment it kept (``pay_repeat_transaction``):
    a payment after the trade was closed or failed (R-PAY-5), or a second payment of a paid
    trade through another attempt or channel (R-PAY-6). Each is refunded once, by a refund of
    its own (``refund_no``); ``payment_key`` (attempt and channel trade number) makes the same
    payment, reported twice, one row."""

    __tablename__ = "extra_payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trade_id: Mapped[int] = mapped_column(BigId, ForeignKey("trades.id"), index=True)
    kind: Mapped[RefundKind] = mapped_column(EnumText(RefundKind, 16))
    payment_key: Mapped[str] = mapped_column(String(100), unique=True)
    attempt_no: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    channel_account_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_accounts.id"))
    channel_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kept_channel_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    detected_by: Mapped[str] = mapped_column(String(16))
    refund_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
