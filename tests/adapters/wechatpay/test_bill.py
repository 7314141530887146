"""Trade bill parsing (shared/spec/channels.md §2.5): backtick values, summary check."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from paygate.channels.contract import UnknownChannelStatus
from paygate.channels.wechatpay.bill import BillFormatError, parse_trade_bill
from paygate.kit.money import Money

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


@pytest.mark.parametrize("end", ["\r\n", "\n"])
def test_payment_and_refund(end: str) -> None:
    parsed = parse_trade_bill(bill(PAYMENT, REFUND, end=end), DAY)
    assert parsed.bill_date == DAY
    payment, refund = parsed.lines
    assert payment.kind == "payment" and refund.kind == "refund"
    assert payment.channel_trade_no == "4200000891202606058088184743"
    assert payment.attempt_no == refund.attempt_no == "PG20260605A1"
    assert payment.amount == Money(888, "CNY") and payment.refund_no is None
    assert payment.fee == Money(5, "CNY")  # 0.05328 rounded half-up to the fen
    assert payment.occurred_at == datetime(2026, 6, 5, 8, 29, 5, tzinfo=UTC)
    assert payment.raw["商品名称"] == "会员充值, 月卡"  # a comma inside a value
    assert refund.amount == Money(300, "CNY") and refund.refund_no == "RF20260605A1"
    assert refund.fee == Money(2, "CNY")


def test_empty_day_with_a_bom() -> None:
    assert (
        parse_trade_bill("\ufeff" + bill(summary="`0,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00"), DAY).lines
        == []
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        (bill(PAYMENT, REFUND).replace("商户订单号", "商户单号"), "header lacks"),
        (bill(PAYMENT, REFUND).replace(SUMMARY_HEADER, "合计"), "no summary"),
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
        parse_trade_bill(text, DAY)


def test_unknown_trade_state() -> None:
    with pytest.raises(UnknownChannelStatus):
        parse_trade_bill(bill(PAYMENT.replace("`SUCCESS", "`REVOKED"), REFUND), DAY)
