"""WeChat Pay's trade bill (``bill_type=ALL``) → :class:`~paygate.channels.contract.Bill`
(pure; shared/spec/channels.md §2.5).

UTF-8 CSV: a header row, detail rows, a summary header row (``总交易单数,…``) and a summary
row; every *value* starts with a backtick, so a detail row is split on ``,``` (a comma
inside a product name cannot shift the columns). ``交易状态`` is ``SUCCESS`` (a payment) or
``REFUND`` (a refund; ``商户退款单号`` is paygate's refund number); amounts are yuan; fees
have up to 5 decimals and are rounded half-up to the fen. The summary's row count must
match the detail rows. ``\\n`` and ``\\r\\n`` line ends are both accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

from paygate.channels.contract import Bill, BillLine, BillTotals, UnknownChannelStatus
from paygate.channels.wechatpay.protocol import BEIJING
from paygate.kit.money import Money, MoneyError, exponent_of, from_decimal_string

__all__ = ["BillFormatError", "parse_trade_bill"]

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
_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


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


def _line(row: Mapping[str, str]) -> BillLine:
    kind = _kind_of(row[_STATE])
    currency = row[_CURRENCY] or "CNY"
    try:
        exponent_of(currency)
        occurred_at = datetime.strptime(row[_TIME], _TIME_FORMAT).replace(tzinfo=BEIJING)
    except (MoneyError, ValueError) as exc:
        raise BillFormatError(f"row of {row[_OUT_TRADE_NO]!r}: {exc}") from None
    if kind == "refund":
        refund_no = row.get(_REFUND_NO) or ""
        if not refund_no:
            raise BillFormatError(f"refund row of {row[_OUT_TRADE_NO]!r} has no {_REFUND_NO}")
        asked = row.get(_REFUND_ASKED) or row.get(_REFUND) or ""
        amount = _money(asked, currency, _REFUND_ASKED)
    else:
        refund_no = ""
        amount = _money(row[_TOTAL], currency, _TOTAL)
    return BillLine(
        channel_trade_no=row[_TRANSACTION_ID],
        attempt_no=row[_OUT_TRADE_NO],
        kind=kind,
        amount=amount,
        fee=_fee(row[_FEE], currency),
        occurred_at=occurred_at,
        refund_no=refund_no or None,
        raw=dict(row),
    )


def parse_trade_bill(text: str, bill_date: date) -> Bill:
    """The bill file's text → Bill (every detail row a line)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise BillFormatError("the bill is empty")
    header = [name.strip() for name in lines[0].lstrip("\ufeff").split(",")]
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise BillFormatError(f"the header lacks {missing}")
    try:
        summary_at = next(i for i, line in enumerate(lines) if line.startswith(_SUMMARY_FIRST))
    except StopIteration:
        raise BillFormatError("the bill has no summary") from None
    out: list[BillLine] = []
    for line in lines[1:summary_at]:
        values = _values(line)
        if len(values) != len(header):
            raise BillFormatError(f"a row has {len(values)} columns, not {len(header)}")
        out.append(_line(dict(zip(header, values, strict=True))))
    if len(lines) != summary_at + 2:
        raise BillFormatError("the summary is not one header row and one value row")
    summary_header = lines[summary_at].split(",")
    summary = dict(zip(summary_header, _values(lines[summary_at + 1]), strict=False))
    if summary.get(_SUMMARY_FIRST) != str(len(out)):
        raise BillFormatError(
            f"the summary counts {summary.get(_SUMMARY_FIRST)!r} rows, the bill has {len(out)}"
        )
    currency = out[0].amount.currency if out else "CNY"
    try:
        totals = BillTotals(
            payments=_money(summary.get(_SUMMARY_PAID, ""), currency, _SUMMARY_PAID).minor,
            refunds=_money(summary.get(_SUMMARY_REFUNDED, ""), currency, _SUMMARY_REFUNDED).minor,
            fees=fee.minor if (fee := _fee(summary.get(_SUMMARY_FEES, ""), currency)) else None,
        )
    except KeyError:
        raise BillFormatError("the summary lacks its totals") from None
    return Bill(
        bill_date=bill_date,
        lines=out,
        raw_name=f"tradebill_{bill_date.isoformat()}_ALL.csv",
        totals=totals,
    )
