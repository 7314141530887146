"""Pure mapping, from payloads shaped like Alipay's documented answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paygate.channels.alipay.transformers import (
    MAX_AMOUNT_MINOR,
    ResponseMismatch,
    barcode_result,
    build_create,
    jsapi_result,
    map_trade_status,
    parse_time,
    parse_yuan,
    precreate_result,
    query_result,
    validate_create,
    yuan,
)
from paygate.channels.contract import (
    ActionKind,
    CreatePayment,
    PaymentStatus,
    UnknownChannelStatus,
    UnsupportedOperation,
)
from paygate.kit.money import Money, MoneyError

NOW = datetime(2026, 6, 5, 8, 0, 0, tzinfo=UTC)  # 16:00:00 in Beijing


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def make_request(method: str = "qr", **overrides: Any) -> CreatePayment:
    values: dict[str, Any] = {
        "attempt_no": "A20260605001",
        "trade_no": "T1",
        "method": method,
        "amount": cny(888),
        "subject": "会员充值",
        "expire_at": NOW + timedelta(minutes=30),
    }
    if method == "barcode":
        values["extra"] = {"auth_code": "287654321098765432"}
    if method == "jsapi":
        values["extra"] = {"buyer_id": "2088102146225135"}
    values.update(overrides)
    return CreatePayment(**values)


# --------------------------------------------------------------------------- statuses

KNOWN = {
    "WAIT_BUYER_PAY": PaymentStatus.PENDING,
    "TRADE_CLOSED": PaymentStatus.CLOSED,
    "TRADE_SUCCESS": PaymentStatus.SUCCEEDED,
    "TRADE_FINISHED": PaymentStatus.SUCCEEDED,
}


class TestTradeStatusMap:
    @pytest.mark.parametrize(("word", "status"), KNOWN.items())
    def test_known(self, word: str, status: PaymentStatus) -> None:
        assert map_trade_status(word) is status

    def test_closed_after_payment_is_a_full_refund(self) -> None:
        assert map_trade_status("TRADE_CLOSED", was_paid=True) is PaymentStatus.REFUNDED
        assert map_trade_status("TRADE_SUCCESS", was_paid=True) is PaymentStatus.SUCCEEDED

    @given(st.text(max_size=30).filter(lambda s: s not in KNOWN))
    def test_anything_else_raises(self, word: str) -> None:
        with pytest.raises(UnknownChannelStatus):
            map_trade_status(word)

    @pytest.mark.parametrize("word", ["", "trade_success", "TRADE_PENDING", "WAIT_BUYER_PAY "])
    def test_near_misses_raise(self, word: str) -> None:
        with pytest.raises(UnknownChannelStatus):
            map_trade_status(word)


# --------------------------------------------------------------------------- amounts, times


class TestAmounts:
    @given(st.integers(min_value=0, max_value=10**12))
    def test_round_trip(self, minor: int) -> None:
        text = yuan(cny(minor))
        assert text == f"{minor // 100}.{minor % 100:02d}"
        assert parse_yuan(text, "x") == cny(minor)

    @pytest.mark.parametrize(("text", "minor"), [("0.1", 10), ("8.88", 888), ("100", 10000)])
    def test_channel_spellings(self, text: str, minor: int) -> None:
        assert parse_yuan(text, "x") == cny(minor)

    @pytest.mark.parametrize("text", ["1.001", "abc", "", None, 8.88, "NaN"])
    def test_refused(self, text: object) -> None:
        with pytest.raises(ResponseMismatch):
            parse_yuan(text, "x")

    def test_cny_only(self) -> None:
        with pytest.raises(MoneyError):
            yuan(Money(100, "USD"))

    def test_times_are_beijing(self) -> None:
        assert parse_time("2026-06-05 16:00:00") == NOW
        assert parse_time("2026-06-05 16:00:00.320") == NOW + timedelta(milliseconds=320)
        assert parse_time("garbage") is None
        assert parse_time("") is None


# --------------------------------------------------------------------------- create


class TestBuildCreate:
    @pytest.mark.parametrize(
        ("form", "method", "product_code"),
        [
            ("qr", "alipay.trade.precreate", "FACE_TO_FACE_PAYMENT"),
            ("page", "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
            ("wap", "alipay.trade.wap.pay", "QUICK_WAP_WAY"),
            ("app", "alipay.trade.app.pay", "QUICK_MSECURITY_PAY"),
            ("jsapi", "alipay.trade.create", "JSAPI_PAY"),
            ("barcode", "alipay.trade.pay", "FACE_TO_FACE_PAYMENT"),
        ],
    )
    def test_forms(self, form: str, method: str, product_code: str) -> None:
        call = build_create(make_request(form, description="月卡"), NOW)
        assert call.method == method
        assert call.biz["product_code"] == product_code
        assert call.biz["out_trade_no"] == "A20260605001"
        assert call.biz["total_amount"] == "8.88"
        assert call.biz["subject"] == "会员充值"
        assert call.biz["body"] == "月卡"
        assert call.biz["time_expire"] == "2026-06-05 16:30:00"
        assert ("timeout_express" in call.biz) == (form == "qr")
        assert "form" not in call.biz

    def test_barcode_fields(self) -> None:
        biz = build_create(make_request("barcode"), NOW).biz
        assert biz["scene"] == "bar_code"
        assert biz["auth_code"] == "287654321098765432"

    def test_jsapi_fields(self) -> None:
        biz = build_create(make_request("jsapi"), NOW).biz
        assert biz["buyer_id"] == "2088102146225135"

    def test_no_empty_description(self) -> None:
        assert "body" not in build_create(make_request("qr"), NOW).biz

    @given(st.integers(min_value=60, max_value=30 * 86400), st.integers(0, 999_999))
    def test_qr_life_never_exceeds_expire_at(self, seconds: int, micros: int) -> None:
        expire_at = NOW + timedelta(seconds=seconds, microseconds=micros)
        biz = build_create(make_request("qr", expire_at=expire_at), NOW).biz
        minutes = int(biz["timeout_express"].removesuffix("m"))
        assert 1 <= minutes <= 15 * 24 * 60
        assert NOW + timedelta(minutes=minutes) <= expire_at
        absolute = parse_time(biz["time_expire"])
        assert absolute is not None
        assert expire_at - timedelta(seconds=1) < absolute <= expire_at

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"amount": Money(100, "USD")}, "CNY"),
            ({"amount": cny(0)}, "between"),
            ({"amount": cny(MAX_AMOUNT_MINOR + 1)}, "between"),
            ({"attempt_no": "bad-no!"}, "out_trade_no"),
            ({"subject": " "}, "subject"),
            ({"description": "x" * 129}, "body"),
            ({"expire_at": datetime(2026, 6, 5, 17, 0)}, "timezone"),
            ({"expire_at": NOW + timedelta(seconds=59)}, "one minute"),
        ],
    )
    def test_validation(self, overrides: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            validate_create(make_request("qr", **overrides), NOW)

    def test_max_amount_allowed(self) -> None:
        validate_create(make_request("qr", amount=cny(MAX_AMOUNT_MINOR)), NOW)

    def test_barcode_needs_auth_code(self) -> None:
        with pytest.raises(ValueError, match="auth_code"):
            validate_create(make_request("barcode", extra={}), NOW)

    def test_jsapi_needs_buyer(self) -> None:
        with pytest.raises(ValueError, match="buyer_id"):
            validate_create(make_request("jsapi", extra={"buyer_id": ""}), NOW)

    def test_unknown_form(self) -> None:
        with pytest.raises(UnsupportedOperation):
            validate_create(make_request("native"), NOW)


# --------------------------------------------------------------------------- create answers

PRECREATE = {
    "code": "10000",
    "msg": "Success",
    "out_trade_no": "A20260605001",
    "qr_code": "https://qr.alipay.com/bavh4wjlxf12tper3a",
}
PAY_OK = {
    "code": "10000",
    "msg": "Success",
    "buyer_logon_id": "159****5620",
    "buyer_pay_amount": "8.88",
    "buyer_user_id": "2088101117955611",
    "fund_bill_list": [{"amount": "8.88", "fund_channel": "ALIPAYACCOUNT"}],
    "gmt_payment": "2026-06-05 16:00:07",
    "invoice_amount": "8.88",
    "out_trade_no": "A20260605001",
    "point_amount": "0.00",
    "receipt_amount": "8.88",
    "total_amount": "8.88",
    "trade_no": "2026060522001455611000123456",
}


class TestCreateAnswers:
    def test_precreate(self) -> None:
        result = precreate_result(PRECREATE, make_request("qr"))
        assert result.action.kind is ActionKind.QR_CODE
        assert result.action.qr_code == PRECREATE["qr_code"]
        assert result.status is PaymentStatus.PENDING

    def test_precreate_for_another_order(self) -> None:
        with pytest.raises(ResponseMismatch):
            precreate_result({**PRECREATE, "out_trade_no": "OTHER"}, make_request("qr"))

    def test_precreate_without_code(self) -> None:
        with pytest.raises(ResponseMismatch):
            precreate_result({**PRECREATE, "qr_code": ""}, make_request("qr"))

    def test_barcode_paid(self) -> None:
        result = barcode_result(PAY_OK, make_request("barcode"))
        assert result.status is PaymentStatus.SUCCEEDED
        assert result.paid_amount == cny(888)
        assert result.channel_trade_no == "2026060522001455611000123456"
        assert result.paid_at == NOW + timedelta(seconds=7)
        assert result.action.kind is ActionKind.NONE

    def test_barcode_paying(self) -> None:
        answer = {**PAY_OK, "code": "10003", "msg": "order success pay inprocess"}
        assert barcode_result(answer, make_request("barcode")).status is PaymentStatus.PAYING

    def test_barcode_other_amount(self) -> None:
        with pytest.raises(ResponseMismatch, match="total_amount"):
            barcode_result({**PAY_OK, "total_amount": "0.01"}, make_request("barcode"))

    def test_jsapi(self) -> None:
        answer = {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": "A20260605001",
            "trade_no": "2026060522001455611000000001",
        }
        result = jsapi_result(answer, make_request("jsapi"))
        assert result.action.kind is ActionKind.JSAPI
        assert result.action.params == {"trade_no": "2026060522001455611000000001"}


# --------------------------------------------------------------------------- query

QUERY = {
    "code": "10000",
    "msg": "Success",
    "trade_no": "2026060522001455611000123456",
    "out_trade_no": "A20260605001",
    "buyer_logon_id": "159****5620",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "88.88",
    "buyer_pay_amount": "88.88",
    "send_pay_date": "2026-06-05 16:00:07",
    "receipt_amount": "88.88",
}


class TestQuery:
    def test_paid(self) -> None:
        result = query_result(QUERY, "A20260605001")
        assert result.status is PaymentStatus.SUCCEEDED
        assert result.amount == cny(8888)
        assert result.channel_status == "TRADE_SUCCESS"
        assert result.paid_at is not None

    def test_closed_unpaid_vs_refunded(self) -> None:
        unpaid = {**QUERY, "trade_status": "TRADE_CLOSED", "send_pay_date": ""}
        assert query_result(unpaid, "A20260605001").status is PaymentStatus.CLOSED
        refunded = {**QUERY, "trade_status": "TRADE_CLOSED"}
        assert query_result(refunded, "A20260605001").status is PaymentStatus.REFUNDED

    def test_unknown_status(self) -> None:
        with pytest.raises(UnknownChannelStatus):
            query_result({**QUERY, "trade_status": "TRADE_PENDING"}, "A20260605001")

    def test_other_order(self) -> None:
        with pytest.raises(ResponseMismatch):
            query_result(QUERY, "A2")
