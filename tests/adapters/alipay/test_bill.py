"""Bill parsing from a file laid out like Alipay's (GBK zip, GBK entry names, TABs)."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import pytest

from paygate.channels.alipay.bill import BillFormatError, parse_trade_bill
from paygate.channels.alipay.protocol import BEIJING
from paygate.channels.contract import UnknownChannelStatus
from paygate.kit.money import Money

HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,"
    "券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)
PAYMENT_ROW = (
    "2026060522001419931441931972\t,USR1NOZM644N1780646479\t,交易\t,TUC1,2026-06-05 16:01:34,"
    "2026-06-05 16:01:38,\t,\t,\t,\t,**博(156******89)\t,9.90,9.90,0.00,0.00,0.00,0.00,0.00,,"
    "0.00\t,0.00,\t,-0.06,0.00,"
)
REFUND_ROW = (
    "2026060522001419931441931972\t,USR1NOZM644N1780646479\t,退款\t,TUC1,2026-06-05 16:01:34,"
    "2026-06-05 17:20:00,\t,\t,\t,\t,**博(156******89)\t,-3.30,-3.30,0.00,0.00,0.00,0.00,0.00,,"
    "0.00\t,0.00,R20260605001\t,0.02,0.00,部分退款, 尺码不合"
)
DETAIL = "\n".join(
    [
        "#支付宝业务明细查询",
        "#账号：[20887226827483540156]",
        "#起始日期：[2026年06月05日 00:00:00]   终止日期：[2026年06月06日 00:00:00]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        HEADER,
        PAYMENT_ROW,
        REFUND_ROW,
        "#-----------------------------------------业务明细列表结束------------------------------------",
        "#交易合计：1笔，商家实收共9.90元，商家优惠共0.00元",
        "#退款合计：1笔，商家实收退款共-3.30元，商家优惠退款共0.00元",
        "#导出时间：[2026年06月06日 05:46:49]",
    ]
)
SUMMARY = "#支付宝业务汇总查询\n门店编号,门店名称,交易订单总笔数\n,,1\n"


class GbkZipInfo(zipfile.ZipInfo):
    """Entry names in GBK without the UTF-8 flag, as Alipay writes them."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def bill_zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in entries.items():
            archive.writestr(GbkZipInfo(name), text.encode("gbk"))
    return buffer.getvalue()


PID = "20887226827483540156"
DETAIL_NAME = f"{PID}_20260605_业务明细.csv"


def test_parses_payments_and_refunds() -> None:
    data = bill_zip({f"{PID}_20260605_业务明细(汇总).csv": SUMMARY, DETAIL_NAME: DETAIL})
    bill = parse_trade_bill(data, date(2026, 6, 5))
    assert bill.bill_date == date(2026, 6, 5)
    assert bill.raw_name == DETAIL_NAME
    payment, refund = bill.lines
    assert payment.kind == "payment"
    assert payment.channel_trade_no == "2026060522001419931441931972"
    assert payment.attempt_no == "USR1NOZM644N1780646479"
    assert payment.amount == Money(990, "CNY")
    assert payment.fee == Money(6, "CNY")
    assert payment.refund_no is None
    assert payment.occurred_at == datetime(2026, 6, 5, 16, 1, 38, tzinfo=BEIJING)
    assert refund.kind == "refund"
    assert refund.amount == Money(330, "CNY")  # positive; kind tells
    assert refund.refund_no == "R20260605001"
    assert refund.raw["备注"] == "部分退款, 尺码不合"  # a remark holding a comma
    assert refund.raw["对方账户"] == "**博(156******89)"


def test_empty_day() -> None:
    text = DETAIL.replace(PAYMENT_ROW + "\n", "").replace(REFUND_ROW + "\n", "")
    assert parse_trade_bill(bill_zip({DETAIL_NAME: text}), date(2026, 6, 5)).lines == []


def test_unknown_business_type_raises() -> None:
    text = DETAIL.replace(",退款\t,", ",转账\t,")
    with pytest.raises(UnknownChannelStatus):
        parse_trade_bill(bill_zip({DETAIL_NAME: text}), date(2026, 6, 5))


@pytest.mark.parametrize(
    "data",
    [
        b"not a zip",
        bill_zip({f"{PID}_20260605_业务明细(汇总).csv": SUMMARY}),
        bill_zip({DETAIL_NAME: DETAIL.replace(",9.90,9.90,", ",9.9x,9.90,")}),
        bill_zip({DETAIL_NAME: DETAIL.replace("订单金额（元）", "金额")}),
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(BillFormatError):
        parse_trade_bill(data, date(2026, 6, 5))
