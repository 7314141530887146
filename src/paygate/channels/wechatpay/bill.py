"""WeChat Pay's trade bill (``bill_type=ALL``) read line by line (pure; shared/spec/channels.md
§2.5); :mod:`.bill_frames` reads it in columns, and uses this exact code for any block whose
values are not in the usual shape.

UTF-8 CSV: a header row, detail rows, a summary header row (``总交易单数,…``) and a summary
row; every *value* starts with a backtick, so a detail row is split on ``,``` (a comma
inside a product name cannot shift the columns). ``交易状态`` is ``SUCCESS`` (a payment) or
``REFUND`` (a refund; ``商户退款单号`` is paygate's refund number); amounts are yuan; fees
have up to 5 decimals and are rounded half-up to the fen. The summary's row count must
match the detail rows. ``\\n`` and ``\\r\\n`` line ends are both accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

from paygate.channels.contract import BillLine, BillTotals, UnknownChannelStatus
from paygate.channels.wechatpay.protocol import BEIJING
from paygate.kit.money import Money, MoneyError, exponent_of, from_decimal_string

__all__ = ["BillFormatError", "TradeBillReader", "summary_totals"]

_TIME: Final = "交易时间"
_TRANSACTION_ID: Final = "微信订单号"
_OUT_TRADE_NO: Final = "商户订单号"
_STATE: Final = "交易状态"
_CURRENCY: Final = "货币种类"
_REFUND_NO: Final = "商户退款单号"
_REFUND: Final = "退款金额"
_REFUND_ASKED: Final = "申请退款金额"
_FEE: Final = "手续费"
_TOTAL: Final = "订单金额"
_REQUIRED: Final = (_TIME, _TRANSACTION_ID, _OUT_TRADE_NO, _STATE, _CURRENCY, _FEE, _TOTAL)
_SUMMARY_FIRST: Final = "总交易单数"
_SUMMARY_PAID: Final = "应结订单总金额"
_SUMMARY_REFUNDED: Final = "退款总金额"
_SUMMARY_FEES: Final = "手续费总金额"


class BillFormatError(ValueError):
    """A bill file that does not have WeChat Pay's layout."""


def _kind_of(state: str) -> str:
    match state:
        case "SUCCESS":
            return "payment"
        case "REFUND":
            return "refund"
        case _:
            raise UnknownChannelStatus(f"unknown wechatpay bill trade state {state!r}", code=state)


def _values(line: str) -> list[str]:
    if not line.startswith("`"):
        raise BillFormatError(f"a value row does not start with a backtick: {line[:60]!r}")
    return [v.strip() for v in line[1:].split(",`")]


def _money(text: str, currency: str, column: str) -> Money:
    try:
        return Money(abs(from_decimal_string(text, currency)), currency)
    except MoneyError as exc:
        raise BillFormatError(f"{column}: {exc}") from None


def _fee(text: str, currency: str) -> Money | None:
    if not text:
        return None
    try:
        value = abs(Decimal(text))
    except InvalidOperation:
        raise BillFormatError(f"{_FEE}: not an amount {text!r}") from None
    minor = value.scaleb(exponent_of(currency)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Money(int(minor), currency)


_FAST_AMOUNT: Final = re.compile(r"^-?\d{1,15}\.\d\d$")
_FAST_FEE: Final = re.compile(r"^-?\d{1,15}\.\d{5}$")


def _fee_fast(text: str, currency: str) -> Money | None:
    """``_fee`` for the usual five-decimal CNY fee, in integer arithmetic (half up)."""
    if currency == "CNY" and _FAST_FEE.match(text):
        hundred_thousandths = abs(int(text.replace(".", "", 1)))
        return Money((hundred_thousandths + 500) // 1000, "CNY")
    return _fee(text, currency)


def _fen(text: str, currency: str, column: str) -> int:
    """An amount of a two-decimal currency as minor units; the exact slow path otherwise."""
    if currency == "CNY" and _FAST_AMOUNT.match(text):
        return abs(int(text.replace(".", "", 1)))
    return _money(text, currency, column).minor


def summary_totals(names_line: str, values_line: str, count: int) -> BillTotals:
    """The summary's two rows → the totals it states; its row count must be ``count``."""
    names = names_line.split(",")
    stated = dict(zip(names, _values(values_line), strict=False))
    if stated.get(_SUMMARY_FIRST) != str(count):
        raise BillFormatError(f"the summary counts {stated.get(_SUMMARY_FIRST)!r} rows, the bill has {count}")
    fee = _fee(stated.get(_SUMMARY_FEES, ""), "CNY")
    return BillTotals(
        payments=_fen(stated.get(_SUMMARY_PAID, ""), "CNY", _SUMMARY_PAID),
        refunds=_fen(stated.get(_SUMMARY_REFUNDED, ""), "CNY", _SUMMARY_REFUNDED),
        fees=fee.minor if fee else None,
    )


class TradeBillReader:
    """A trade bill read line by line, for bills of any size in bounded memory: iterate it
    for the lines (no ``raw`` kept), then read :attr:`totals`. The same checks as
    :func:`parse_trade_bill`: header, backtick values, column counts, the summary's count."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = lines
        self.count = 0
        self.totals: BillTotals | None = None
        self._summary: tuple[str, str] | None = None

    def __iter__(self) -> Iterator[BillLine]:
        yield from self.rows()
        if self._summary is None or not self._summary[1].strip():
            raise BillFormatError("the bill has no summary: it is cut short")
        self.totals = summary_totals(self._summary[0], self._summary[1], self.count)

    def rows(self) -> Iterator[BillLine]:
        """The header, then the detail rows up to the summary (kept for :meth:`__iter__`) or
        the end; no check of the summary."""
        it = (line.rstrip("\r\n") for line in self._lines)
        first = next((line for line in it if line.strip()), None)
        if first is None:
            raise BillFormatError("the bill is empty")
        header = [name.strip() for name in first.lstrip("\ufeff").split(",")]
        missing = [name for name in _REQUIRED if name not in header]
        if missing:
            raise BillFormatError(f"the header lacks {missing}")
        at = {name: header.index(name) for name in header}
        width = len(header)
        i_time, i_tx, i_out, i_state = at[_TIME], at[_TRANSACTION_ID], at[_OUT_TRADE_NO], at[_STATE]
        i_cur, i_fee, i_total = at[_CURRENCY], at[_FEE], at[_TOTAL]
        i_refund_no, i_asked, i_refunded = at.get(_REFUND_NO), at.get(_REFUND_ASKED), at.get(_REFUND)
        last_time, last_moment = "", datetime.min
        for line in it:
            if not line.strip():
                continue
            if line.startswith(_SUMMARY_FIRST):
                self._summary = (line, next(it, ""))
                return
            values = _values(line)
            if len(values) != width:
                raise BillFormatError(f"a row has {len(values)} columns, not {width}")
            kind = _kind_of(values[i_state])
            currency = values[i_cur] or "CNY"
            if values[i_time] != last_time:  # consecutive lines often share their second
                try:
                    last_moment = datetime.fromisoformat(values[i_time]).replace(tzinfo=BEIJING)
                except ValueError:
                    raise BillFormatError(f"row of {values[i_out]!r}: bad time {values[i_time]!r}") from None
                last_time = values[i_time]
            occurred_at = last_moment
            refund_no = None
            if kind == "refund":
                refund_no = values[i_refund_no] if i_refund_no is not None else ""
                if not refund_no:
                    raise BillFormatError(f"refund row of {values[i_out]!r} has no {_REFUND_NO}")
                asked = (values[i_asked] if i_asked is not None else "") or (
                    values[i_refunded] if i_refunded is not None else ""
                )
                amount = _fen(asked, currency, _REFUND_ASKED)
            else:
                amount = _fen(values[i_total], currency, _TOTAL)
            self.count += 1
            yield BillLine(
                channel_trade_no=values[i_tx],
                attempt_no=values[i_out],
                kind=kind,
                amount=Money(amount, currency),
                fee=_fee_fast(values[i_fee], currency),
                occurred_at=occurred_at,
                refund_no=refund_no,
            )
