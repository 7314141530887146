"""The tables, row shapes and helpers the reconciliation repository's parts share."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar, cast

from sqlalchemy import ColumnElement, Table, literal_column
from sqlalchemy.sql.selectable import NamedFromClause

from paygate.domain.reconciliation import (
    LineKind,
    LineStatus,
)
from paygate.domain.refunds import RefundState
from paygate.domain.trades import TradeState
from paygate.models import (
    BillLineRow,
    ChannelAttempt,
    ExtraPayment,
    Refund,
    StagedLine,
    Trade,
)

__all__ = [
    "LINE_COLUMNS",
    "A",
    "E",
    "L",
    "LeftOver",
    "MissingItem",
    "R",
    "Reconciled",
    "S",
    "T",
    "chunks",
    "open_status",
]


_T = TypeVar("_T")
L = cast(Table, BillLineRow.__table__)
A = cast(Table, ChannelAttempt.__table__)
T = cast(Table, Trade.__table__)
E = cast(Table, ExtraPayment.__table__)
R = cast(Table, Refund.__table__)
S = cast(Table, StagedLine.__table__)

#: The columns a staged line is written with, in COPY order.
LINE_COLUMNS = (
    "run_id",
    "channel_account_id",
    "seq",
    "kind",
    "channel_trade_no",
    "attempt_no",
    "refund_no",
    "amount",
    "fee",
    "currency",
    "occurred_at",
    "status",
)


@dataclass(frozen=True)
class LeftOver:
    """A line no matching statement took, with what paygate knows of it."""

    line_id: int
    kind: LineKind
    attempt_no: str
    channel_trade_no: str
    refund_no: str | None
    amount: int
    currency: str
    trade_id: int | None
    trade_no: str | None
    trade_state: TradeState | None
    trade_paid_attempt_no: str | None
    trade_channel_trade_no: str | None
    trade_paid_amount: int | None
    trade_currency: str | None
    refund_id: int | None
    refund_state: RefundState | None
    refund_amount: int | None
    refund_currency: str | None


@dataclass(frozen=True)
class Reconciled:
    """What paygate holds for a settlement's trades: those a matched line reconciled."""

    paid: int
    paid_count: int
    refunded: int
    refund_count: int


@dataclass(frozen=True)
class MissingItem:
    """Money paygate counts for an account's day that no bill line matched."""

    kind: LineKind
    trade_id: int
    trade_no: str
    amount: int
    currency: str
    at: datetime
    attempt_no: str | None = None
    channel_trade_no: str | None = None
    refund_id: int | None = None
    refund_no: str | None = None
    extra_payment_id: int | None = None


def chunks(ids: Sequence[_T], size: int) -> Iterable[Sequence[_T]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def open_status(table: NamedFromClause, status: LineStatus) -> ColumnElement[bool]:
    """``status = '<status>'`` for a status other than ``matched``, written inline: the
    planner then sees it satisfies the partial index of a run's open lines
    (``ix_recon_lines_open``), which a bound parameter would hide from a generic plan."""
    assert status is not LineStatus.MATCHED
    return table.c.status == literal_column(f"'{status.value}'")
