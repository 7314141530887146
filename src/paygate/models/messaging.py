"""The outbox (events, their deliveries to apps, every attempt) and request nonces."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paygate.domain.events import AttemptOutcome, DeliveryState
from paygate.kit.clock import utc_now
from paygate.kit.db import Base, BigId, EnumText, UTCDateTime


class OutboxMessage(Base):
    """One event paygate announces (R-NTF-5, R-NTF-6), written in the same transaction as the
    state change it announces — the outbox. ``key`` is the event's public id (``evt_…``): the
    ``webhook-id`` an app receives and the broker message id, stable across retries and
    re-sends, so receivers de-duplicate on it. ``body`` is the exact JSON sent, kept as text
    so that every attempt and re-send carries the same bytes.

    Apps are told through :class:`EventDelivery` rows (one per event and notify URL); other
    services through the broker, once ``published_at`` is set.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)  # the event id, evt_…
    topic: Mapped[str] = mapped_column(String(64), index=True)  # the event type, trade.succeeded …
    aggregate: Mapped[str] = mapped_column(String(32), index=True)  # trade_no, refund_no
    app_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
    #: the broker (R-NTF-6): published with a confirm at; retried after; tries so far
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    publish_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    publish_attempts: Mapped[int] = mapped_column(Integer, default=0)
    publish_error: Mapped[str | None] = mapped_column(String(256), nullable=True)


class EventDelivery(Base):
    """The delivery of one event to one app notify URL (R-NTF-5). Claimed by a dispatcher
    with a lease (``lease_until``) while it is being sent; the deliveries of one
    ``sequence_key`` (a trade or refund) go out in ``id`` order, each waiting until the ones
    before it succeeded or are dead. ``requested_by`` names the operator of a re-send."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        Index("ix_event_deliveries_due", "state", "next_attempt_at"),
        Index("ix_event_deliveries_sequence", "sequence_key", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("outbox.id"), index=True)
    app_id: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(512))
    sequence_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[DeliveryState] = mapped_column(EnumText(DeliveryState, 16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the lease's token
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(256), nullable=True)
    requested_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeliveryAttempt(Base):
    """One HTTP attempt of a delivery (R-NTF-5's ``pay_notify_app_log``): when, the status,
    how long it took, and the start of the app's answer."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(BigId, ForeignKey("event_deliveries.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[AttemptOutcome] = mapped_column(EnumText(AttemptOutcome, 16))
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_excerpt: Mapped[str | None] = mapped_column(String(512), nullable=True)
    error: Mapped[str | None] = mapped_column(String(256), nullable=True)
    sent_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the worker (host:pid:…)


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


__all__ = ["DeliveryAttempt", "EventDelivery", "OutboxMessage", "RequestNonce"]
