"""A bill on its way in: the source of its lines, the row each becomes, the check that the
lines add up to what the channel states."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from paygate.channels.contract import (
    BillLine,
    BillTotals,
    PayoutReport,
)
from paygate.domain.reconciliation import (
    LineKind,
    LineStatus,
)

if TYPE_CHECKING:  # polars is imported where a bill is read in columns (it takes ≈ 0.2 s)
    import polars as pl

#: lines per COPY batch
STAGE_BATCH = 20_000

__all__ = [
    "STAGE_BATCH",
    "BillRefused",
    "BillSource",
    "Kept",
    "add_frame_sums",
    "check_totals",
    "line_record",
]

#: what the run records of the raw file: (name, sha256, size, source, path)
Kept = tuple[str | None, str | None, int | None, str | None, str | None]


@dataclass(frozen=True)
class BillSource:
    """A bill to reconcile: its lines (read once, in order: a list, or a streaming parser's
    iterator), the channel's stated totals (asked for once the lines are read: a streamed
    file states them at its end) and what is kept of the raw file."""

    lines: Iterable[BillLine]
    totals: Callable[[], BillTotals | None]
    kept: Kept
    size_hint: int = 0  # how many lines to expect (the progress bar)
    payouts: Sequence[PayoutReport] = ()  # settlements the channel reports apart (Stripe)
    #: the lines as columnar frames instead (``lines`` is then ignored): a columnar reader
    #: such as :class:`~paygate.channels.wechatpay.bill_frames.TradeBillFrames`
    frames: Iterable[pl.DataFrame] | None = None


class BillRefused(Exception):
    """A bill that cannot be reconciled: nothing of it is kept."""


def check_totals(totals: BillTotals | None, sums: dict[str, list[int]]) -> None:
    """The lines must add up to what the channel states (a cut or altered file does not)."""
    if totals is None:
        return
    (paid_n, paid), (refunded_n, refunded) = sums[LineKind.PAYMENT.value], sums[LineKind.REFUND.value]
    if (paid, refunded) != (totals.payments, totals.refunds):
        raise BillRefused(
            f"the lines add up to {paid} paid and {refunded} refunded; the bill states "
            f"{totals.payments} and {totals.refunds}"
        )
    for what, count, stated in (
        ("payment", paid_n, totals.payment_count),
        ("refund", refunded_n, totals.refund_count),
    ):
        if stated is not None and count != stated:
            raise BillRefused(f"the bill holds {count} {what} lines; it states {stated}")


def line_record(run_id: int, account_id: int, seq: int, line: BillLine) -> tuple[Any, ...]:
    """A bill line as a staged row, in :data:`LINE_COLUMNS` order (minor units, UTC)."""
    kind = LineKind(line.kind).value
    fee = line.fee
    return (
        run_id,
        account_id,
        seq,
        kind,
        line.channel_trade_no[:64],
        line.attempt_no[:64],
        line.refund_no[:64] if line.refund_no else None,
        line.amount.minor,
        fee.minor if fee is not None else None,
        line.amount.currency,
        line.occurred_at,
        UNMATCHED,
    )


UNMATCHED: Final = LineStatus.UNMATCHED.value


def add_frame_sums(sums: dict[str, list[int]], frame: pl.DataFrame) -> None:
    """Count a frame's lines and amounts per kind into ``sums`` (as the line path does)."""
    import polars as pl

    grouped = frame.group_by("kind").agg(pl.len().alias("n"), pl.col("amount").sum().alias("total"))
    for kind, n, total in grouped.iter_rows():
        if (figures := sums.get(kind)) is not None:
            figures[0] += int(n)
            figures[1] += int(total)
