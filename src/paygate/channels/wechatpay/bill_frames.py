"""WeChat Pay's trade bill read in columns, for bills of millions of lines (R-REC-1, issue 9):
the same file, the same checks and the same normalised lines as
:class:`~paygate.channels.wechatpay.bill.TradeBillReader`, but a block of the file at a time
(bounded memory) parsed by Polars' CSV reader in native code instead of line by line in
Python.

``on_bytes`` sees every byte read (a checksum, a size limit), ``on_end`` is called once the
file is read to its end (where a checksum is compared); a stream that cannot be read (not
gzip, cut short, garbled) is a :class:`BillFormatError` like any other bad file.

A block is the file's next ``block_bytes`` of whole lines. Every detail line must start with a
backtick; ``,``` separates the values (as for the line reader, so a comma inside a product name
cannot shift the columns); every line must have the header's number of columns. A block whose
amounts, fees, currencies or times are not in the usual shape (two-decimal CNY amounts,
five-decimal fees, ``YYYY-MM-DD HH:MM:SS``) is read by the line reader's exact code instead,
so the result never depends on which path read it.

Each frame has the columns of :data:`FRAME_SCHEMA`: ``seq`` (the line's place in the bill),
``kind``, ``channel_trade_no``, ``attempt_no``, ``refund_no`` (null for payments), ``amount``
and ``fee`` (minor units; fee null when the bill has none), ``currency`` and ``occurred_at``
(UTC).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Final, Protocol

import polars as pl

from paygate.channels.contract import BillLine, BillTotals, UnknownChannelStatus
from paygate.channels.wechatpay.bill import (
    _CURRENCY,
    _FEE,
    _OUT_TRADE_NO,
    _REFUND,
    _REFUND_ASKED,
    _REFUND_NO,
    _REQUIRED,
    _STATE,
    _SUMMARY_FIRST,
    _TIME,
    _TOTAL,
    _TRANSACTION_ID,
    BillFormatError,
    TradeBillReader,
    summary_totals,
)

__all__ = ["FRAME_SCHEMA", "TradeBillFrames"]

FRAME_SCHEMA: Final[dict[str, pl.DataType | type[pl.DataType]]] = {
    "seq": pl.Int64,
    "kind": pl.String,
    "channel_trade_no": pl.String,
    "attempt_no": pl.String,
    "refund_no": pl.String,
    "amount": pl.Int64,
    "fee": pl.Int64,
    "currency": pl.String,
    "occurred_at": pl.Datetime("us", "UTC"),
}
_SUMMARY: Final = _SUMMARY_FIRST.encode()
_USED: Final = (
    _TIME,
    _TRANSACTION_ID,
    _OUT_TRADE_NO,
    _STATE,
    _CURRENCY,
    _FEE,
    _TOTAL,
    _REFUND_NO,
    _REFUND_ASKED,
    _REFUND,
)
_AMOUNT: Final = r"^\d{1,15}\.\d\d$"
_FEE_SHAPE: Final = r"^-?\d{1,15}\.\d{5}$"
_TIME_SHAPE: Final = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class TradeBillFrames:
    """A trade bill (its decompressed bytes, from ``stream``) as frames of normalised lines;
    :attr:`totals` once they are all read. ``on_bytes`` sees every byte read (a checksum)."""

    def __init__(
        self,
        stream: Readable,
        *,
        block_bytes: int = 4 * 1024 * 1024,
        on_bytes: Callable[[bytes], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self._stream = stream
        self._block = block_bytes
        self._on_bytes = on_bytes
        self._on_end = on_end
        self.count = 0
        self.totals: BillTotals | None = None

    def _read(self, size: int = -1) -> bytes:
        try:
            data = self._stream.read(size)
        except (OSError, EOFError, zlib.error) as exc:  # not gzip, cut short, garbled …
            raise BillFormatError(f"the bill file cannot be read: {exc}") from None
        if data and self._on_bytes is not None:
            self._on_bytes(data)
        return data

    def __iter__(self) -> Iterator[pl.DataFrame]:
        pending = b""
        header: list[str] | None = None
        while True:
            chunk = self._read(self._block)
            data = pending + chunk
            if header is None:
                data = data.lstrip(b"\r\n")
                end = data.find(b"\n")
                if end < 0 and chunk:
                    pending = data
                    continue
                if not data:
                    raise BillFormatError("the bill is empty")
                first = data[: end if end >= 0 else len(data)]
                header = self._header(first)
                data = data[end + 1 :] if end >= 0 else b""
            at = 0 if data.startswith(_SUMMARY) else data.find(b"\n" + _SUMMARY) + 1  # a line of its own
            if at > 0 or data.startswith(_SUMMARY):
                if data[:at].strip():
                    yield self._frame(data[:at], header)
                self._summary(data[at:] + self._read())
                if self._on_end is not None:
                    self._on_end()
                return
            if not chunk:  # the file ended without its summary
                if data.strip():
                    yield self._frame(data, header)
                raise BillFormatError("the bill has no summary: it is cut short")
            cut = data.rfind(b"\n")
            if cut < 0:
                pending = data
                continue
            pending = data[cut + 1 :]
            if data[:cut].strip():
                yield self._frame(data[:cut], header)

    @staticmethod
    def _header(first: bytes) -> list[str]:
        try:
            text = first.decode("utf-8").lstrip("\ufeff").rstrip("\r")
        except UnicodeDecodeError:
            raise BillFormatError("the bill is not UTF-8 text") from None
        header = [name.strip() for name in text.split(",")]
        missing = [name for name in _REQUIRED if name not in header]
        if missing:
            raise BillFormatError(f"the header lacks {missing}")
        return header

    def _summary(self, tail: bytes) -> None:
        try:
            lines = [line for line in tail.decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            raise BillFormatError("the bill's summary is not UTF-8 text") from None
        if len(lines) < 2:
            raise BillFormatError("the bill has no summary: it is cut short")
        if len(lines) > 2:
            raise BillFormatError("the summary is not one header row and one value row")
        self.totals = summary_totals(lines[0], lines[1], self.count)

    def _frame(self, block: bytes, header: list[str]) -> pl.DataFrame:
        block = block.strip(b"\r\n")
        if b"\n\n" in block or b"\n\r" in block:  # blank lines between rows: the line reader's way
            return self._slow(block, header)
        rows = block.count(b"\n") + 1
        width = len(header)
        if block.count(b"`") != width * rows:  # a backtick missing, or one inside a value
            return self._slow(block, header)
        # split on the backticks: an empty field before the first, a comma ending every other
        field = {name: i + 1 for i, name in reversed(list(enumerate(header)))}
        used = sorted({0} | {field[name] for name in _USED if name in field})
        try:
            raw = pl.read_csv(
                block,
                has_header=False,
                separator="`",
                quote_char=None,
                schema={f"c{i}": pl.String for i in range(width + 1)},
                columns=used,
                encoding="utf8",
            )
        except (pl.exceptions.ComputeError, pl.exceptions.NoDataError):
            return self._slow(block, header)
        inner = [f"c{i}" for i in used if 0 < i < width]
        shaped = raw.select(
            (pl.col("c0").is_null() & pl.all_horizontal(pl.col(c).str.ends_with(",") for c in inner)).all()
        ).item()
        if raw.height != rows or not shaped:
            return self._slow(block, header)

        def col(name: str) -> pl.Expr:
            if name not in field:
                return pl.lit("")
            value = pl.col(f"c{field[name]}").fill_null("")
            if field[name] < width:
                value = value.str.strip_suffix(",")
            return value.str.strip_chars()

        values = raw.select(
            time=col(_TIME),
            channel_trade_no=col(_TRANSACTION_ID),
            attempt_no=col(_OUT_TRADE_NO),
            state=col(_STATE),
            currency=col(_CURRENCY),
            fee=col(_FEE),
            total=col(_TOTAL),
            refund_no=col(_REFUND_NO),
            asked=col(_REFUND_ASKED),
            refunded=col(_REFUND),
        )
        states = values["state"]
        unknown = states.filter(~states.is_in(["SUCCESS", "REFUND"]))
        if len(unknown):
            state = unknown[0]
            raise UnknownChannelStatus(f"unknown wechatpay bill trade state {state!r}", code=state)
        refund = pl.col("state") == "REFUND"
        asked = pl.when(pl.col("asked") != "").then(pl.col("asked")).otherwise(pl.col("refunded"))
        amount_text = pl.when(refund).then(asked).otherwise(pl.col("total"))
        usual = values.select(
            ok=(
                pl.col("currency").is_in(["CNY", ""])
                & amount_text.str.contains(_AMOUNT)
                & pl.col("fee").str.contains(_FEE_SHAPE)
                & pl.col("time").str.contains(_TIME_SHAPE)
                & (~refund | (pl.col("refund_no") != ""))
            ).all()
        ).item()
        if not usual:
            return self._slow(block, header)
        fee_units = pl.col("fee").str.replace(".", "", literal=True).cast(pl.Int64).abs()
        try:
            frame = values.select(
                seq=pl.int_range(self.count, self.count + rows, dtype=pl.Int64),
                kind=pl.when(refund).then(pl.lit("refund")).otherwise(pl.lit("payment")),
                channel_trade_no=pl.col("channel_trade_no"),
                attempt_no=pl.col("attempt_no"),
                refund_no=pl.when(refund).then(pl.col("refund_no")).otherwise(None),
                amount=amount_text.str.replace(".", "", literal=True).cast(pl.Int64),
                fee=(fee_units + 500) // 1000,
                currency=pl.lit("CNY"),
                occurred_at=pl.col("time")
                .str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us", strict=True)
                .dt.offset_by("-8h")
                .dt.replace_time_zone("UTC"),
            )
        except pl.exceptions.InvalidOperationError:  # a time that is not one (month 13 …)
            return self._slow(block, header)
        self.count += rows
        return frame

    def _slow(self, block: bytes, header: list[str]) -> pl.DataFrame:
        """The block through the line reader's exact code (its errors name the row)."""
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            raise BillFormatError("the bill is not UTF-8 text") from None
        reader = TradeBillReader(iter([",".join(header), *text.split("\n")]))
        lines: list[BillLine] = []
        for line in reader.rows():
            lines.append(line)
        frame = lines_frame(lines, self.count)
        self.count += len(lines)
        return frame


def lines_frame(lines: list[BillLine], first_seq: int) -> pl.DataFrame:
    """Normalised lines as a frame of :data:`FRAME_SCHEMA`."""
    return pl.DataFrame(
        {
            "seq": range(first_seq, first_seq + len(lines)),
            "kind": [x.kind for x in lines],
            "channel_trade_no": [x.channel_trade_no for x in lines],
            "attempt_no": [x.attempt_no for x in lines],
            "refund_no": [x.refund_no for x in lines],
            "amount": [x.amount.minor for x in lines],
            "fee": [x.fee.minor if x.fee is not None else None for x in lines],
            "currency": [x.amount.currency for x in lines],
            "occurred_at": [x.occurred_at.astimezone(UTC) for x in lines],
        },
        schema=FRAME_SCHEMA,
    )
