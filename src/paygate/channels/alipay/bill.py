"""Alipay's ``trade`` bill file → :class:`~paygate.channels.contract.Bill` (pure).

The file is ``<pid>_<yyyyMMdd>.csv.zip`` holding GBK CSVs with GBK entry names (no UTF-8
flag): ``<pid>_<date>_业务明细.csv`` (one row per payment or refund, 25 columns) and
``…_业务明细(汇总).csv``. Lines starting with ``#`` are comments and frame the detail list;
ID-like values carry a TAB before their comma. Refund rows (``业务类型`` = ``退款``) carry
``退款批次号/请求号`` (paygate's refund number) and negative amounts; BillLine amounts are
positive and ``kind`` tells them apart.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Mapping
from datetime import date, datetime
from typing import Final

from paygate.channels.alipay.protocol import BEIJING, TIME_FORMAT
from paygate.channels.contract import Bill, BillLine, BillTotals, UnknownChannelStatus
from paygate.kit.money import Money, MoneyError, from_decimal_string

__all__ = ["BillFormatError", "parse_trade_bill", "parse_trade_detail_csv", "parse_trade_totals"]

_FIRST_COLUMNS: Final = "支付宝交易号,商户订单号,业务类型"
_TRADE_NO: Final = "支付宝交易号"
_ORDER_NO: Final = "商户订单号"
_TYPE: Final = "业务类型"
_CREATED: Final = "创建时间"
_FINISHED: Final = "完成时间"
_AMOUNT: Final = "订单金额（元）"
_REFUND_NO: Final = "退款批次号/请求号"
_FEE: Final = "服务费（元）"
_REQUIRED: Final = (_TRADE_NO, _ORDER_NO, _TYPE, _CREATED, _FINISHED, _AMOUNT, _REFUND_NO, _FEE)
_MAX_ENTRY_BYTES: Final = 200 * 1024 * 1024  # refuse zip bombs
_PAID_TOTAL: Final = re.compile(r"^#交易合计：(\d+)笔，商家实收共(-?[\d.]+)元")
_REFUND_TOTAL: Final = re.compile(r"^#退款合计：(\d+)笔，商家实收退款共(-?[\d.]+)元")


class BillFormatError(ValueError):
    """A bill file that does not have Alipay's layout."""


def _kind_of(business_type: str) -> str:
    match business_type:
        case "交易":
            return "payment"
        case "退款":
            return "refund"
        case _:
            raise UnknownChannelStatus(f"unknown alipay bill business type {business_type!r}")


def _money(text: str, column: str) -> Money:
    try:
        return Money(abs(from_decimal_string(text, "CNY")), "CNY")
    except MoneyError as exc:
        raise BillFormatError(f"{column}: {exc}") from None


def _moment(row: Mapping[str, str]) -> datetime:
    for column in (_FINISHED, _CREATED):
        if row.get(column):
            try:
                return datetime.strptime(row[column], TIME_FORMAT).replace(tzinfo=BEIJING)
            except ValueError:
                raise BillFormatError(f"{column}: bad time {row[column]!r}") from None
    raise BillFormatError(f"a row of {row.get(_TRADE_NO)!r} has no time")


def _normalise_header(name: str) -> str:
    return name.strip().replace("(", "（").replace(")", "）")


def parse_trade_detail_csv(text: str) -> list[BillLine]:
    """The ``业务明细`` CSV's text → lines (comments skipped, TABs stripped)."""
    header: list[str] | None = None
    lines: list[BillLine] = []
    for raw_line in text.splitlines():
        if not raw_line.strip():
            continue
        if raw_line.startswith("#"):
            if header is not None and lines:
                break  # the "#---…结束" line: the totals after it are not rows
            continue
        values = next(csv.reader([raw_line]))
        if header is None:
            if not raw_line.startswith(_FIRST_COLUMNS):
                raise BillFormatError(f"unexpected line before the header: {raw_line[:60]!r}")
            header = [_normalise_header(v) for v in values]
            missing = [c for c in _REQUIRED if c not in header]
            if missing:
                raise BillFormatError(f"the header lacks {missing}")
            continue
        if len(values) > len(header):  # a remark holding commas
            values = [*values[: len(header) - 1], ",".join(values[len(header) - 1 :])]
        values = [v.strip() for v in values]
        if len(values) < len(header) - 1:
            raise BillFormatError(f"a row has {len(values)} columns, not {len(header)}")
        row = dict(zip(header, values, strict=False))
        kind = _kind_of(row[_TYPE])
        fee_text = row.get(_FEE, "")
        lines.append(
            BillLine(
                channel_trade_no=row[_TRADE_NO],
                attempt_no=row[_ORDER_NO],
                kind=kind,
                amount=_money(row[_AMOUNT], _AMOUNT),
                fee=_money(fee_text, _FEE) if fee_text else None,
                occurred_at=_moment(row),
                refund_no=(row.get(_REFUND_NO) or None) if kind == "refund" else None,
                raw=row,
            )
        )
    if header is None:
        raise BillFormatError("no detail header found")
    return lines


def parse_trade_totals(text: str) -> BillTotals | None:
    """The totals Alipay states after the detail list (``#交易合计`` / ``#退款合计``), or None
    when the file has none (a bill cut short has none: reconciliation then refuses it)."""
    paid = refunded = None
    for raw_line in text.splitlines():
        if m := _PAID_TOTAL.match(raw_line):
            paid = (int(m[1]), m[2])
        elif m := _REFUND_TOTAL.match(raw_line):
            refunded = (int(m[1]), m[2])
    if paid is None or refunded is None:
        return None
    return BillTotals(
        payments=_money(paid[1], "交易合计").minor,
        refunds=_money(refunded[1], "退款合计").minor,
        payment_count=paid[0],
        refund_count=refunded[0],
    )


def _decode(data: bytes) -> str:
    try:
        text = data.decode("gb18030")  # a superset of GBK: never fails on GBK input
    except UnicodeDecodeError:
        text = ""
    if _FIRST_COLUMNS in text:
        return text
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if text:
            return text
        raise BillFormatError("a bill entry is neither GBK nor UTF-8 text") from None


def parse_trade_bill(data: bytes, bill_date: date) -> Bill:
    """The downloaded zip → Bill. The detail entry is recognised by its content (its header
    row), not only its name, so an odd entry-name encoding cannot hide it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data), metadata_encoding="gbk")
    except zipfile.BadZipFile:
        raise BillFormatError("the bill is not a zip file") from None
    with archive:
        for info in archive.infolist():
            if info.is_dir() or "汇总" in info.filename:
                continue
            if info.file_size > _MAX_ENTRY_BYTES:
                raise BillFormatError(f"bill entry {info.filename!r} is too large")
            try:
                text = _decode(archive.read(info))
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise BillFormatError(f"bill entry {info.filename!r} is damaged: {exc}") from None
            if _FIRST_COLUMNS in text:
                totals = parse_trade_totals(text)
                if totals is None:
                    raise BillFormatError("the detail file has no totals: it is cut short")
                return Bill(
                    bill_date=bill_date,
                    lines=parse_trade_detail_csv(text),
                    raw_name=info.filename,
                    totals=totals,
                )
    raise BillFormatError("the bill holds no 业务明细 detail file")
