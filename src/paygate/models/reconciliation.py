"""Reconciliation (R-REC-1..5): a run per channel account and day, the bill's lines, the
discrepancies found, and the settlements checked."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from paygate.domain.reconciliation import (
    DiscrepancyKind,
    DiscrepancyState,
    LineKind,
    LineStatus,
    Resolution,
    RunState,
    SettlementState,
)
from paygate.kit.clock import utc_now
from paygate.kit.db import Base, BigId, EnumText, UTCDateTime

__all__ = ["BillLineRow", "Discrepancy", "ReconRun", "Settlement", "StagedLine"]


class ReconRun(Base):
    """One reconciliation of one account's bill of one day: unique on (account, day), so
    however many workers try, one run exists; ``lease_until`` names who is running it."""

    __tablename__ = "recon_runs"
    __table_args__ = (UniqueConstraint("channel_account_id", "bill_date", name="uq_recon_run_account_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_account_id: Mapped[int] = mapped_column(BigId, ForeignKey("channel_accounts.id"))
    bill_date: Mapped[date] = mapped_column(Date)
    state: Mapped[RunState] = mapped_column(EnumText(RunState, 16), index=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    raw_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    raw_checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)  # SHA-256
    raw_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    raw_source: Mapped[str | None] = mapped_column(String(512), nullable=True)
    raw_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    discrepancies: Mapped[int] = mapped_column(Integer, default=0)  # found (any state)
    auto_resolved: Mapped[int] = mapped_column(Integer, default=0)
    deferred: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # counts, totals, stage times
    error: Mapped[str | None] = mapped_column(String(512), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class BillLineRow(Base):
    """One line of a channel's bill, normalised (amounts in minor units), and what it matched:
    a payment (``trade_id`` and the attempt), a repeat payment (``extra_payment_id``) or a
    refund (``refund_id``). Matched lines carry the channel's fee per trade (R-REC-4)."""

    __tablename__ = "recon_lines"
    __table_args__ = (
        # a run's lines are written together, so they lie together: on PostgreSQL a BRIN
        # index finds them at almost no cost per line; the few lines still open (not
        # matched) have a partial index of their own
        Index(
            "ix_recon_lines_run", "run_id", postgresql_using="brin", postgresql_with={"autosummarize": "on"}
        ),
        Index(
            "ix_recon_lines_open",
            "run_id",
            "status",
            postgresql_where=text("status <> 'matched'"),
            sqlite_where=text("status <> 'matched'"),
        ),
        Index("ix_recon_lines_account_trade_no", "channel_account_id", "channel_trade_no"),
        # looked up only for lines in discrepancy / refund lines: a day's million payment
        # lines need not maintain them (partial where the database has such indexes)
        Index(
            "ix_recon_lines_attempt_no",
            "attempt_no",
            postgresql_where=text("status = 'discrepancy'"),
            sqlite_where=text("status = 'discrepancy'"),
        ),
        Index(
            "ix_recon_lines_refund_no",
            "refund_no",
            postgresql_where=text("refund_no IS NOT NULL"),
            sqlite_where=text("refund_no IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # the run the reconciler claimed before writing any line (no foreign key: a bill's lines
    # are written a million at a time, and runs are never deleted)
    run_id: Mapped[int] = mapped_column(BigId)
    channel_account_id: Mapped[int] = mapped_column(BigId)
    seq: Mapped[int] = mapped_column(Integer)  # the line's place in the bill
    kind: Mapped[LineKind] = mapped_column(EnumText(LineKind, 16))
    channel_trade_no: Mapped[str] = mapped_column(String(64))
    attempt_no: Mapped[str] = mapped_column(String(64))
    refund_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[LineStatus] = mapped_column(EnumText(LineStatus, 16))
    trade_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    refund_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    extra_payment_id: Mapped[int | None] = mapped_column(BigId, nullable=True)


class StagedLine(Base):
    """A bill line on its way in: written in bulk without indexes to maintain (UNLOGGED on
    PostgreSQL), then moved into ``recon_lines`` in one INSERT … SELECT that matches the kept
    payments and marks duplicates as it goes, and deleted — all in the staging transaction."""

    __tablename__ = "recon_stage"

    run_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_account_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[LineKind] = mapped_column(EnumText(LineKind, 16))
    channel_trade_no: Mapped[str] = mapped_column(String(64))
    attempt_no: Mapped[str] = mapped_column(String(64))
    refund_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[LineStatus] = mapped_column(EnumText(LineStatus, 16))


class Discrepancy(Base):
    """A difference between a bill and paygate (R-REC-2): open (alerted, for a person),
    deferred (near the cut-off, waiting for the next bill, R-REC-3) or resolved — automatically
    through the state machine, or by an operator with a reason (audited)."""

    __tablename__ = "recon_discrepancies"
    __table_args__ = (Index("ix_recon_discrepancies_state", "state", "channel_account_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("recon_runs.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_account_id: Mapped[int] = mapped_column(BigId)
    bill_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[DiscrepancyKind] = mapped_column(EnumText(DiscrepancyKind, 24))
    state: Mapped[DiscrepancyState] = mapped_column(EnumText(DiscrepancyState, 16))
    line_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    trade_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    refund_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    extra_payment_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    trade_no: Mapped[str | None] = mapped_column(String(32), nullable=True)
    refund_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempt_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel_trade_no: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    paygate_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    detail: Mapped[str] = mapped_column(String(512), default="")
    resolution: Mapped[Resolution | None] = mapped_column(EnumText(Resolution, 16), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    resolution_reason: Mapped[str | None] = mapped_column(String(512), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Settlement(Base):
    """A settlement checked (R-REC-4): what the channel states it paid (``stated_*``; a
    Stripe payout, or the totals a day's bill states), what the bill's lines add up to, and
    what paygate computes over the trades and refunds they matched."""

    __tablename__ = "recon_settlements"
    __table_args__ = (UniqueConstraint("channel_account_id", "reference", name="uq_settlement_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("recon_runs.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_account_id: Mapped[int] = mapped_column(BigId)
    settle_date: Mapped[date] = mapped_column(Date, index=True)
    reference: Mapped[str] = mapped_column(String(64))  # payout id, or bill:<date>:<currency>
    currency: Mapped[str] = mapped_column(String(3))
    stated_payments: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    stated_refunds: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    stated_fees: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    stated_net: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # the money received
    bill_payments: Mapped[int] = mapped_column(BigInteger, default=0)
    bill_refunds: Mapped[int] = mapped_column(BigInteger, default=0)
    bill_fees: Mapped[int] = mapped_column(BigInteger, default=0)
    paygate_payments: Mapped[int] = mapped_column(BigInteger, default=0)
    paygate_refunds: Mapped[int] = mapped_column(BigInteger, default=0)
    payment_count: Mapped[int] = mapped_column(Integer, default=0)
    refund_count: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[SettlementState] = mapped_column(EnumText(SettlementState, 16))
    detail: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
