"""Trade bill reading (shared/spec/channels.md §2.5): backtick values, summary check — through
the columnar reader the adapter uses (``TradeBillFrames``)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import polars as pl
import pytest

from paygate.channels.contract import BillTotals, UnknownChannelStatus
from paygate.channels.wechatpay.bill import BillFormatError
from paygate.channels.wechatpay.bill_frames import TradeBillFrames

HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,"
    "退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
PAYMENT = (
    "`2026-06-05 16:29:05,`wxd678efh567hg6787,`1900000109,`0,`,`4200000891202606058088184743,"
    "`PG20260605A1,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`SUCCESS,`OTHERS,`CNY,`8.88,`0.00,`0,`0,"
    "`0.00,`0.00,`,`,`会员充值, 月卡,`,`0.05328,`0.60%,`8.88,`0.00,`"
)
REFUND = (
    "`2026-06-05 17:00:00,`wxd678efh567hg6787,`1900000109,`0,`,`4200000891202606058088184743,"
    "`PG20260605A1,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,"
    "`50000000382026060509732678859,`RF20260605A1,`3.00,`0.00,`ORIGINAL,`SUCCESS,`会员充值, 月卡,`,"
    "`-0.01800,`0.60%,`0.00,`3.00,`"
)
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
SUMMARY = "`2,`8.88,`3.00,`0.00,`0.03528,`8.88,`3.00"
DAY = date(2026, 6, 5)


def bill(*rows: str, summary: str = SUMMARY, end: str = "\r\n") -> str:
    return end.join([HEADER, *rows, SUMMARY_HEADER, summary]) + end


def read(text: str) -> tuple[list[dict[str, object]], BillTotals | None]:
    reader = TradeBillFrames(io.BytesIO(text.encode()))
    frames = list(reader)
    return (pl.concat(frames).to_dicts() if frames else []), reader.totals


@pytest.mark.parametrize("end", ["\r\n", "\n"])
def test_payment_and_refund(end: str) -> None:
    (payment, refund), totals = read(bill(PAYMENT, REFUND, end=end))
    assert payment["kind"] == "payment" and refund["kind"] == "refund"
    assert payment["channel_trade_no"] == "4200000891202606058088184743"
    assert payment["attempt_no"] == refund["attempt_no"] == "PG20260605A1"
    assert (payment["amount"], payment["currency"], payment["refund_no"]) == (888, "CNY", None)
    assert payment["fee"] == 5  # 0.05328 rounded half-up to the fen
    assert payment["occurred_at"] == datetime(2026, 6, 5, 8, 29, 5, tzinfo=UTC)
    assert (refund["amount"], refund["refund_no"]) == (
        300,
        "RF20260605A1",
    )  # a comma in 商品名称 shifts nothing
    assert refund["fee"] == 2
    assert totals == BillTotals(payments=888, refunds=300, fees=4)


def test_empty_day_with_a_bom() -> None:
    lines, totals = read("\ufeff" + bill(summary="`0,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00"))
    assert lines == [] and totals == BillTotals(payments=0, refunds=0, fees=0)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        (bill(PAYMENT, REFUND).replace("商户订单号", "商户单号"), "header lacks"),
        (bill(PAYMENT, REFUND).replace(SUMMARY_HEADER, "合计"), "backtick"),
        (bill(PAYMENT, REFUND).split(SUMMARY_HEADER)[0], "no summary"),
        (bill(PAYMENT), "summary counts"),
        (bill(PAYMENT, REFUND) + "`extra\r\n", "summary is not"),
        (bill(PAYMENT.replace(",`0.60%", ""), REFUND), "columns"),
        (bill(PAYMENT.lstrip("`"), REFUND), "backtick"),
        (bill(PAYMENT.replace("`8.88,`0.00,`", "`8.888,`0.00,`"), REFUND), "订单金额"),
        (bill(PAYMENT.replace("2026-06-05 16:29:05", "2026/06/05"), REFUND), "PG20260605A1"),
        (bill(REFUND.replace("`RF20260605A1", "`"), PAYMENT), "退款单号"),
    ],
)
def test_malformed(text: str, match: str) -> None:
    with pytest.raises(BillFormatError, match=match):
        read(text)


def test_unknown_trade_state() -> None:
    with pytest.raises(UnknownChannelStatus):
        read(bill(PAYMENT.replace("`SUCCESS", "`REVOKED"), REFUND))
