"""Trade bills (§2.5): ``GET /v3/bill/tradebill`` answers ``{hash_type, hash_value,
download_url}``; the file is fetched, signed by the merchant but unsigned in return, from
``GET /v3/billdownload/file?token=…`` within 30 seconds.

The file is UTF-8 CSV: a header row, detail rows whose every value starts with a
backtick, a summary header row and a summary row, lines ending ``\\r\\n``. ``hash_value``
is the SHA1 of the uncompressed file; with ``tar_type=GZIP`` the file is served gzipped.

As at WeChat, a day's bill is ready from 10:00 (Beijing time, sandbox clock) the next
day: before that a day with activity answers ``STATEMENT_CREATING``; a day without any
answers ``NO_STATEMENT_EXIST``. Advance the sandbox clock to get today's bill.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import re
import secrets
from collections.abc import Collection, Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal

from starlette.responses import Response

from paygate.sandbox.harness.faultspec import BillFaults

from .api import Call, Reply
from .errors import WechatError, param_error
from .state import CST, Refund, Trade
from .store import BillFile, WechatStore

__all__ = [
    "ALL_HEADER",
    "BILL_URL_TTL_SECONDS",
    "REFUND_HEADER",
    "SUCCESS_HEADER",
    "SUMMARY_HEADER",
    "download",
    "render_trade_bill",
    "synthetic_trade",
    "synthetic_trade_bill",
    "tradebill",
]

BILL_URL_TTL_SECONDS = 30.0
BILL_HISTORY_DAYS = 90
#: A day's bill is ready this long after the day began (10:00 the next day).
BILL_READY_AFTER = dt.timedelta(days=1, hours=10)
FEE_RATE = Decimal("0.006")
FEE_RATE_TEXT = "0.60%"

ALL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注"
).split(",")
SUCCESS_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,"
    "订单金额,费率备注"
).split(",")
REFUND_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,"
    "商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,"
    "订单金额,申请退款金额,费率备注"
).split(",")
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
).split(",")
BILL_TYPES = ("ALL", "SUCCESS", "REFUND")
#: A refund's status as bills spell it (v2 vocabulary, which the bill file kept).
BILL_REFUND_STATUS = {
    "SUCCESS": "SUCCESS",
    "PROCESSING": "PROCESSING",
    "ABNORMAL": "CHANGE",
    "CLOSED": "REFUNDCLOSE",
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _fee(value: Decimal) -> Decimal:
    return (value * FEE_RATE).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


def _time(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


class _Totals:
    def __init__(self) -> None:
        self.count = 0
        self.settled = Decimal(0)
        self.refunded = Decimal(0)
        self.fees = Decimal(0)
        self.ordered = Decimal(0)
        self.refund_applied = Decimal(0)

    def row(self) -> list[str]:
        return [
            str(self.count),
            _money(self.settled),
            _money(self.refunded),
            "0.00",
            str(self.fees.quantize(Decimal("0.00001"))),
            _money(self.ordered),
            _money(self.refund_applied),
        ]


def _trade_prefix(trade: Trade, moment: dt.datetime | None, state: str) -> list[str]:
    return [
        _time(moment),
        trade.appid,
        trade.mchid,
        "0",
        "",
        trade.transaction_id or "",
        trade.out_trade_no,
        trade.payer_openid or "",
        trade.trade_type,
        state,
        trade.bank_type or "OTHERS",
        trade.currency,
    ]


def booked(moment: dt.datetime | None, ref: str, late: Collection[str]) -> dt.datetime | None:
    """When a movement is booked: when it happened, or — ``late`` names it (bill faults) —
    30 s after the midnight (Beijing time) that follows, so the next day's bill holds it."""
    if moment is None or ref not in late:
        return moment
    day = moment.astimezone(CST).date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), CST) + dt.timedelta(seconds=30)


def _payment_row(
    trade: Trade,
    bill_type: str,
    totals: _Totals,
    delta: int = 0,
    fee_delta: int = 0,
    late: Collection[str] = (),
) -> list[str]:
    amount = _yuan(trade.total + delta)
    fee = _fee(amount) + _yuan(fee_delta)
    totals.count += 1
    totals.settled += amount
    totals.ordered += amount
    totals.fees += fee
    moment = booked(trade.success_time, trade.out_trade_no, late)
    head = [*_trade_prefix(trade, moment, "SUCCESS"), _money(amount), "0.00"]
    tail = [trade.description, trade.attach or "", str(fee), FEE_RATE_TEXT, _money(amount)]
    if bill_type == "SUCCESS":
        return [*head, *tail, ""]
    return [*head, "0", "0", "0.00", "0.00", "", "", *tail, "0.00", ""]


def _refund_row(
    refund: Refund,
    bill_type: str,
    totals: _Totals,
    delta: int = 0,
    fee_delta: int = 0,
    late: Collection[str] = (),
) -> list[str]:
    trade = refund.trade
    amount = _yuan(refund.refund + delta)
    fee = -_fee(amount) - _yuan(fee_delta)
    totals.count += 1
    totals.refunded += amount
    totals.refund_applied += amount
    totals.fees += fee
    head = [
        *_trade_prefix(trade, booked(refund.created_at, refund.out_refund_no, late), "REFUND"),
        "0.00",
        "0.00",
    ]
    if bill_type == "REFUND":
        head += [_time(refund.created_at), _time(refund.success_time)]
    return [
        *head,
        refund.refund_id,
        refund.out_refund_no,
        _money(amount),
        "0.00",
        "ORIGINAL",
        BILL_REFUND_STATUS[refund.status],
        trade.description,
        trade.attach or "",
        str(fee),
        FEE_RATE_TEXT,
        "0.00",
        _money(amount),
        "",
    ]


def render_trade_bill(
    trades: Iterable[Trade],
    refunds: Iterable[Refund],
    bill_type: str = "ALL",
    faults: BillFaults | None = None,
) -> bytes:
    """The bill file for the given paid trades and refunds (already chosen for the day),
    with the bill faults in force (docs/sandbox: ``bills``)."""
    header = {"ALL": ALL_HEADER, "SUCCESS": SUCCESS_HEADER, "REFUND": REFUND_HEADER}[bill_type]
    faults = faults or BillFaults()
    totals = _Totals()
    rows: list[list[str]] = []
    if bill_type in ("ALL", "SUCCESS"):
        for t, delta, fee_delta in faults.lines(trades, lambda t: t.out_trade_no):
            rows.append(_payment_row(t, bill_type, totals, delta, fee_delta, faults.late))
    if bill_type in ("ALL", "REFUND"):
        for r, delta, fee_delta in faults.lines(refunds, lambda r: r.out_refund_no):
            rows.append(_refund_row(r, bill_type, totals, delta, fee_delta, faults.late))
    lines = [",".join(header)]
    lines += [",".join("`" + value for value in row) for row in rows]
    lines.append(",".join(SUMMARY_HEADER))
    lines.append(",".join("`" + value for value in totals.row()))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _bill_date(store: WechatStore, call: Call) -> dt.date:
    text = call.query.get("bill_date")
    if text is None:
        raise param_error(
            "输入源“/query/bill_date”映射到值字段“账单日期”必填性规则校验失败，此字段为必填项",
            location="query",
            field="bill_date",
        )
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise param_error(
            "账单日期格式不正确，应为 YYYY-MM-DD", location="query", field="bill_date", value=text
        ) from None
    today = store.now().date()
    if day > today:
        raise param_error("账单日期不能晚于当前日期", location="query", value=text)
    if (today - day).days > BILL_HISTORY_DAYS:
        raise param_error("仅支持下载三个月内的账单", location="query", value=text)
    return day


async def tradebill(store: WechatStore, call: Call) -> Reply:
    day = _bill_date(store, call)
    bill_type = call.query.get("bill_type", "ALL")
    if bill_type not in BILL_TYPES:
        raise param_error("账单类型不正确", location="query", field="bill_type", value=bill_type)
    tar_type = call.query.get("tar_type")
    if tar_type not in (None, "GZIP"):
        raise param_error("压缩类型不正确", location="query", field="tar_type", value=tar_type)
    mchid = call.merchant.mchid
    late = store.harness.faults.bills().late

    def on_day(moment: dt.datetime | None, ref: str) -> bool:
        at = booked(moment, ref, late)
        return at is not None and at.astimezone(CST).date() == day

    trades = [t for t in store.trades.values() if t.mchid == mchid and on_day(t.success_time, t.out_trade_no)]
    refunds = [
        r for r in store.refunds.values() if r.trade.mchid == mchid and on_day(r.created_at, r.out_refund_no)
    ]
    if not trades and not refunds:
        raise WechatError(400, "NO_STATEMENT_EXIST", "账单文件不存在")
    ready_at = dt.datetime.combine(day, dt.time(), CST) + BILL_READY_AFTER
    if store.now() < ready_at:
        raise WechatError(400, "STATEMENT_CREATING", "账单生成中，请在次日上午10点以后再下载")
    trades.sort(key=lambda t: (booked(t.success_time, t.out_trade_no, late), t.out_trade_no))
    refunds.sort(key=lambda r: (booked(r.created_at, r.out_refund_no, late), r.out_refund_no))
    faults = store.harness.faults.bills()
    content = render_trade_bill(trades, refunds, bill_type, faults)
    if faults.damage == "encoding":
        content = content.decode("utf-8").encode("gbk")
    digest = hashlib.sha1(content, usedforsecurity=False).hexdigest()
    served = faults.spoil(gzip.compress(content, mtime=0) if tar_type == "GZIP" else content)
    token = secrets.token_urlsafe(24)
    expires = asyncio.get_running_loop().time() + BILL_URL_TTL_SECONDS
    store.bills[token] = BillFile(mchid=mchid, content=served, expires_at=expires)
    return Reply(
        200,
        {
            "hash_type": "SHA1",
            "hash_value": digest,
            "download_url": f"{store.base_url}/v3/billdownload/file?token={token}",
        },
    )


async def download(store: WechatStore, call: Call) -> Reply:
    token = call.query.get("token", "")
    bill = store.bills.get(token)
    if bill is None or bill.mchid != call.merchant.mchid:
        raise WechatError(404, "RESOURCE_NOT_EXISTS", "账单文件不存在")
    if asyncio.get_running_loop().time() > bill.expires_at:
        del store.bills[token]
        raise WechatError(400, "INVALID_REQUEST", "账单下载链接已过期，请重新申请")
    return Reply(200, raw=Response(content=bill.content, media_type="application/octet-stream"))


def synthetic_trade_bill(
    n: int, day: dt.date, *, mchid: str, appid: str, refund_every: int = 50
) -> Iterator[str]:
    """A large, realistic ``ALL`` trade bill for benchmarks, line by line (bounded memory):
    ``n`` payments spread over the day — ``out_trade_no`` ``B<11 digits>``,
    ``transaction_id`` ``4200<16 digits>``, amounts 1.00 … 1000.00 yuan — and for every
    ``refund_every``-th payment a refund of half of it (``out_refund_no`` ``BR<11 digits>``),
    then the summary. :func:`synthetic_trade` gives the same figures for seeding."""
    totals = _Totals()
    yield ",".join(ALL_HEADER)
    start = dt.datetime.combine(day, dt.time(), CST)
    step = 86_400 / max(n, 1)
    for i in range(n):
        out_trade_no, transaction_id, total, refund = synthetic_trade(i, refund_every)
        moment = _time(start + dt.timedelta(seconds=int(i * step)))
        amount = _yuan(total)
        fee = _fee(amount)
        totals.count += 1
        totals.settled += amount
        totals.ordered += amount
        totals.fees += fee
        head = [moment, appid, mchid, "0", "", transaction_id, out_trade_no, "oBENCH", "NATIVE"]
        tail = ["bench", "", str(fee), FEE_RATE_TEXT, _money(amount), "0.00", ""]
        middle = [_money(amount), "0.00", "0", "0", "0.00", "0.00", "", ""]
        yield "`" + ",`".join([*head, "SUCCESS", "OTHERS", "CNY", *middle, *tail])
        if refund:
            back = _yuan(refund)
            refund_fee = -_fee(back)
            totals.count += 1
            totals.refunded += back
            totals.refund_applied += back
            totals.fees += refund_fee
            ids = [f"5030{i:016d}", f"BR{i:011d}", _money(back), "0.00", "ORIGINAL", "SUCCESS"]
            tail = ["bench", "", str(refund_fee), FEE_RATE_TEXT, "0.00", _money(back), ""]
            yield "`" + ",`".join([*head, "REFUND", "OTHERS", "CNY", "0.00", "0.00", *ids, *tail])
    yield ",".join(SUMMARY_HEADER)
    yield "`" + ",`".join(totals.row())


def synthetic_trade(i: int, refund_every: int = 50) -> tuple[str, str, int, int]:
    """The ``i``-th payment of :func:`synthetic_trade_bill`: ``(out_trade_no, transaction_id,
    total fen, refunded fen)``."""
    total = 100 + (i * 7919) % 99_900
    refund = total // 2 if refund_every and i % refund_every == 0 else 0
    return f"B{i:011d}", f"4200{i:016d}", total, refund
