"""Bill files (§1.5): ``alipay.data.dataservice.bill.downloadurl.query`` and the unsigned,
short-lived download URL it returns. A bill lists exactly what happened in the sandbox:
each payment at its payment time, each refund at the time its money moved (a refund still
processing, or failed, is not in any bill).

A ``trade`` bill is a zip named ``<account>_<yyyyMMdd>.csv.zip`` (``<account>`` is the
seller's PID + ``0156``) holding ``…_业务明细.csv`` (25 columns, a TAB before the comma
after ID-like fields, refunds as ``退款`` rows with negative amounts) and
``…_业务明细(汇总).csv``. Contents are GBK and so are the entry names, without the zip
UTF-8 flag. A bill exists for a past day (or month) only; today's comes tomorrow.
"""

from __future__ import annotations

import io
import re
import threading
import zipfile
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlencode

from paygate.sandbox.alipay.api import Call, bad_parameter
from paygate.sandbox.alipay.errors import business, invalid
from paygate.sandbox.alipay.keys import MerchantApp
from paygate.sandbox.alipay.state import Refund, Trade, new_cashier_token
from paygate.sandbox.alipay.wire import BEIJING, format_fen, format_time
from paygate.sandbox.harness.faultspec import BillFaults

if TYPE_CHECKING:
    from paygate.sandbox.alipay.store import AlipayStore

__all__ = [
    "DETAIL_HEADER",
    "DOWNLOAD_TTL",
    "BillEntry",
    "BillFile",
    "BillStore",
    "bill_download_url",
    "bill_entries",
    "bill_period",
    "render_signcustomer_bill",
    "render_trade_bill",
    "service_fee",
]

DOWNLOAD_TTL: Final = timedelta(seconds=30)
#: The service fee the sandbox charges, in basis points (0.6 %, Alipay's usual rate).
FEE_RATE_BP: Final = 60
DETAIL_HEADER: Final = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)
SUMMARY_HEADER: Final = (
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,"
    "支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）"
)
ACCOUNT_HEADER: Final = (
    "账务流水号,业务流水号,商户订单号,商品名称,发生时间,对方账号,收入金额（+元）,"
    "支出金额（-元）,账户余额（元）,交易渠道,业务类型,备注"
)
_DASH = "-"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"\d{4}-\d{2}")


@dataclass(frozen=True)
class BillEntry:
    kind: Literal["trade", "refund"]
    trade: Trade
    refund: Refund | None
    at: datetime


def bill_entries(
    trades: Iterable[Trade], start: datetime, end: datetime, late: Collection[str] = ()
) -> list[BillEntry]:
    """The payments and the refunds whose money moved in ``[start, end)``, in time order;
    those ``late`` names (bill faults) are booked just after the midnight that follows them."""

    def entries(trade: Trade) -> Iterator[BillEntry]:
        if trade.gmt_payment is None:
            return
        yield BillEntry("trade", trade, None, trade.gmt_payment)
        for refund in trade.refunds:
            if refund.done:
                yield BillEntry("refund", trade, refund, refund.at)

    found = [e for t in trades for e in entries(t)]
    if late:
        found = [replace(e, at=_next_day(e.at)) if _ref(e) in late else e for e in found]
    return sorted((e for e in found if start <= e.at < end), key=lambda e: e.at)


def _next_day(moment: datetime) -> datetime:
    local = moment.astimezone(BEIJING)
    return datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), BEIJING) + timedelta(
        seconds=30
    )


def _cn_time(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y年%m月%d日 %H:%M:%S")


def bill_period(bill_date: str, now: datetime) -> tuple[datetime, datetime, str]:
    """``(start, end, label)`` of a ``yyyy-MM-dd`` or ``yyyy-MM`` bill, refused unless
    the period is over (sandbox clock)."""
    try:
        if _DAY.fullmatch(bill_date):
            start = datetime.strptime(bill_date, "%Y-%m-%d").replace(tzinfo=BEIJING)
            end, label = start + timedelta(days=1), start.strftime("%Y%m%d")
        elif _MONTH.fullmatch(bill_date):
            start = datetime.strptime(bill_date, "%Y-%m").replace(tzinfo=BEIJING)
            end = (start + timedelta(days=32)).replace(day=1)
            label = start.strftime("%Y%m")
        else:
            raise ValueError(bill_date)
    except ValueError:
        raise invalid("isv.invalid-parameter", "参数无效: bill_date") from None
    if end > now:
        raise business("isp.bill_not_exist", "账单不存在（当期账单尚未生成）")
    return start, end, label


def _head(title: str, account: str, start: datetime, end: datetime, list_name: str) -> list[str]:
    return [
        f"#支付宝{title}查询",
        f"#账号：[{account}]",
        f"#起始日期：[{_cn_time(start)}]   终止日期：[{_cn_time(end)}]",
        f"#{_DASH * 41}{list_name}{_DASH * 40}",
    ]


def service_fee(amount: int) -> int:
    """Alipay's service fee on ``amount`` fen: 0.6 %, rounded half up to the fen (a refund
    gives back the fee of the amount refunded)."""
    return (amount * FEE_RATE_BP + 5000) // 10000


def _ref(entry: BillEntry) -> str:
    return entry.refund.out_request_no if entry.refund else entry.trade.out_trade_no


def _detail_row(entry: BillEntry, delta: int = 0, fee_delta: int = 0) -> tuple[str, int, int]:
    t, refund = entry.trade, entry.refund
    sign, kind = (-1, "退款") if refund else (1, "交易")
    amount = (refund.amount if refund else t.total_amount) + delta
    account = t.buyer.bill_account if t.buyer else ""
    cells = [
        f"{t.trade_no}\t", f"{t.out_trade_no}\t", f"{kind}\t", t.subject,
        format_time(t.gmt_create or entry.at), format_time(entry.at),
        f"{t.store_id}\t", f"{t.store_id}\t", f"{t.operator_id}\t", f"{t.terminal_id}\t",
        f"{account}\t", format_fen(sign * amount), format_fen(sign * amount),
        "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00\t", "0.00",
        f"{refund.out_request_no if refund else ''}\t",
        format_fen(sign * (service_fee(amount) + fee_delta)), "0.00",
        t.body,
    ]  # fmt: skip
    return ",".join(cells), sign * amount, 1 if refund else 0


def render_trade_bill(
    entries: list[BillEntry], merchant: MerchantApp, start: datetime, end: datetime,
    label: str, now: datetime, faults: BillFaults | None = None,
) -> tuple[str, bytes]:  # fmt: skip
    """The ``trade`` bill: ``(zip file name, zip bytes)``, with the bill faults in force."""
    account = merchant.bill_account
    rows = [_detail_row(e, d, f) for e, d, f in (faults or BillFaults()).lines(entries, _ref)]
    paid = [amt for _, amt, is_refund in rows if not is_refund]
    refunded = [amt for _, amt, is_refund in rows if is_refund]
    exported = f"#导出时间：[{_cn_time(now)}]"
    detail = [
        *_head("业务明细", account, start, end, "业务明细列表"),
        DETAIL_HEADER,
        *(line for line, _, _ in rows),
        f"#{_DASH * 41}业务明细列表结束{_DASH * 36}",
        f"#交易合计：{len(paid)}笔，商家实收共{format_fen(sum(paid))}元，商家优惠共0.00元",
        f"#退款合计：{len(refunded)}笔，商家实收退款共{format_fen(sum(refunded))}元，商家优惠退款共0.00元",
        exported,
    ]
    net = format_fen(sum(paid) + sum(refunded))
    totals = f"{len(paid)},{len(refunded)},{net},{net},0.00,0.00,0.00,0.00,0.00,{net}"
    summary = [
        *_head("业务汇总", account, start, end, "业务汇总列表"),
        SUMMARY_HEADER,
        *([f"\t,\t,{totals}"] if rows else []),
        f"合计,,{totals}",
        f"#{_DASH * 40}业务汇总列表结束{_DASH * 37}",
        exported,
    ]
    files = {
        f"{account}_{label}_业务明细.csv": detail,
        f"{account}_{label}_业务明细(汇总).csv": summary,
    }
    encoding = "utf-16" if faults is not None and faults.damage == "encoding" else "gbk"
    return f"{account}_{label}.csv.zip", _zip(files, now, encoding)


def render_signcustomer_bill(
    entries: list[BillEntry], merchant: MerchantApp, start: datetime, end: datetime,
    label: str, now: datetime,
) -> tuple[str, bytes]:  # fmt: skip
    """The ``signcustomer`` (account) bill; ``entries`` run from the beginning of time so
    the balance column adds up."""
    account = merchant.bill_account
    balance, lines, income, expense = 0, [], [0, 0], [0, 0]
    for n, entry in enumerate(entries):
        t, refund = entry.trade, entry.refund
        amount = -refund.amount if refund else t.total_amount
        balance += amount
        if not start <= entry.at < end:
            continue
        (expense if refund else income)[0] += 1
        (expense if refund else income)[1] += amount
        buyer = t.buyer.masked_logon_id if t.buyer else ""
        lines.append(
            f"{entry.at.strftime('%Y%m%d')}{n:012d}\t,{t.trade_no}\t,{t.out_trade_no}\t,{t.subject},"
            f"{format_time(entry.at)},{buyer}\t,{format_fen(max(amount, 0))},"
            f"{format_fen(min(amount, 0))},{format_fen(balance)},支付宝,"
            f"{'交易退款' if refund else '在线支付'},{t.body}"
        )
    content = [
        *_head("账务明细", account, start, end, "账务明细列表"),
        ACCOUNT_HEADER,
        *lines,
        f"#{_DASH * 41}账务明细列表结束{_DASH * 36}",
        f"#支出合计：{expense[0]}笔，共{format_fen(expense[1])}元",
        f"#收入合计：{income[0]}笔，共{format_fen(income[1])}元",
        f"#导出时间：[{_cn_time(now)}]",
    ]
    return f"{account}_{label}.csv.zip", _zip({f"{account}_{label}_账务明细.csv": content}, now)


class _GbkZipInfo(zipfile.ZipInfo):
    """Entry names in GBK without the UTF-8 flag, as Alipay's bill zips have them."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def _zip(files: dict[str, list[str]], now: datetime, encoding: str = "gbk") -> bytes:
    buffer = io.BytesIO()
    stamp = now.astimezone(BEIJING).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, lines in files.items():
            info = _GbkZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, ("\n".join(lines) + "\n").encode(encoding, "replace"))
    return buffer.getvalue()


@dataclass(frozen=True)
class BillFile:
    name: str
    content: bytes
    expires_at: datetime


class BillStore:
    """Rendered bills behind one-time-looking tokens, valid for :data:`DOWNLOAD_TTL`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, BillFile] = {}

    def put(self, bill: BillFile) -> str:
        token = new_cashier_token()
        with self._lock:
            self._files = {
                k: f for k, f in self._files.items() if f.expires_at > bill.expires_at - DOWNLOAD_TTL
            }
            self._files[token] = bill
        return token

    def get(self, token: str, now: datetime) -> BillFile | None:
        with self._lock:
            bill = self._files.get(token)
        return bill if bill is not None and now < bill.expires_at else None

    @staticmethod
    def query_string(
        *, bill_type: str, merchant: MerchantApp, label: str, name: str, token: str, now: datetime
    ) -> str:
        return urlencode(
            {
                "bizType": bill_type,
                "userId": merchant.seller_id,
                "fileType": "csv.zip",
                "bizDates": label,
                "downloadFileName": name,
                "fileId": f"/{bill_type}/{merchant.seller_id}/{label}",
                "timestamp": str(int(now.timestamp())),
                "token": token,
            }
        )


def bill_download_url(store: AlipayStore, call: Call) -> dict[str, Any]:
    """``alipay.data.dataservice.bill.downloadurl.query``."""
    bill_type = call.text("bill_type")
    if bill_type not in ("trade", "signcustomer"):
        raise invalid("isv.invalid-parameter", "参数无效: bill_type")
    bill_date = call.text("bill_date")
    if not bill_date:
        raise bad_parameter("bill_date")
    now = store.harness.clock.now()
    start, end, label = bill_period(bill_date, now)
    merchant = call.app
    trades = store.book.all(merchant.seller_id)
    if bill_type == "trade":
        faults = store.harness.faults.bills()
        entries = bill_entries(trades, start, end, faults.late)
        name, content = render_trade_bill(entries, merchant, start, end, label, now, faults)
    else:  # the account bill's balance column runs from the beginning of time
        origin = datetime(2000, 1, 1, tzinfo=BEIJING)
        entries = bill_entries(trades, origin, end)
        name, content = render_signcustomer_bill(entries, merchant, start, end, label, now)
    if bill_type == "trade":
        content = faults.spoil(content)
    token = store.bills.put(BillFile(name, content, now + DOWNLOAD_TTL))
    query = BillStore.query_string(
        bill_type=bill_type, merchant=merchant, label=label, name=name, token=token, now=now
    )
    url = f"{store.public_url}/downloadBillFile.resource?{query}"
    return {"code": "10000", "msg": "Success", "bill_download_url": url}
