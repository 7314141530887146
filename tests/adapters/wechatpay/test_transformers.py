"""Pure mapping, from payloads shaped like WeChat Pay's documented examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paygate.channels.contract import (
    ActionKind,
    CreatePayment,
    NotificationKind,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnknownChannelStatus,
    UnsupportedOperation,
)
from paygate.channels.wechatpay.transformers import (
    MAX_AMOUNT_MINOR,
    ResponseMismatch,
    app_action,
    build_pay,
    h5_action,
    jsapi_action,
    map_refund_status,
    map_trade_state,
    native_action,
    notification_from_event,
    query_result,
    refund_body,
    refund_query_result,
    refund_result,
    validate_create,
)
from paygate.kit.crypto import rsa_sign
from paygate.kit.money import Money
from tests.adapters.wechatpay.support import APPID, MCHID, OPENID, Keys, pem_private, ref_verify

NOW = datetime(2026, 6, 5, 8, 0, 0, 123456, tzinfo=UTC)
TRADE_STATES = ("SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR")
REFUND_STATUSES = ("SUCCESS", "CLOSED", "PROCESSING", "ABNORMAL")

PAID = {
    "amount": {"currency": "CNY", "payer_currency": "CNY", "payer_total": 888, "total": 888},
    "appid": APPID,
    "attach": "",
    "bank_type": "OTHERS",
    "mchid": MCHID,
    "out_trade_no": "PG20260605A1",
    "payer": {"openid": OPENID},
    "promotion_detail": [],
    "success_time": "2026-06-05T16:29:05+08:00",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "trade_type": "JSAPI",
    "transaction_id": "4200000891202606058088184743",
}
UNPAID = {
    "amount": {"currency": "CNY", "payer_currency": "CNY", "total": 888},
    "appid": APPID,
    "attach": "",
    "mchid": MCHID,
    "out_trade_no": "PG20260605A1",
    "trade_state": "NOTPAY",
    "trade_state_desc": "订单未支付",
}
REFUND = {
    "refund_id": "50000000382026060509732678859",
    "out_refund_no": "RF20260605A1",
    "transaction_id": "4200000891202606058088184743",
    "out_trade_no": "PG20260605A1",
    "channel": "ORIGINAL",
    "user_received_account": "支付用户零钱",
    "create_time": "2026-06-05T17:00:00+08:00",
    "status": "PROCESSING",
    "funds_account": "AVAILABLE",
    "amount": {
        "total": 888,
        "refund": 300,
        "from": [],
        "payer_total": 888,
        "payer_refund": 300,
        "settlement_refund": 300,
        "settlement_total": 888,
        "discount_refund": 0,
        "currency": "CNY",
        "refund_fee": 0,
    },
    "promotion_detail": [],
}


def request(method: str = "native", **overrides: Any) -> CreatePayment:
    values: dict[str, Any] = {
        "attempt_no": "PG20260605A1",
        "trade_no": "T1",
        "method": method,
        "amount": Money(888, "CNY"),
        "subject": "会员充值",
        "expire_at": NOW + timedelta(minutes=30),
        "client_ip": "203.0.113.7",
        "extra": {"openid": OPENID},
    }
    values.update(overrides)
    return CreatePayment(**values)


def refund_request(amount: int = 300, total: int = 888, **overrides: Any) -> RefundRequest:
    values: dict[str, Any] = {
        "refund_no": "RF20260605A1",
        "attempt_no": "PG20260605A1",
        "channel_trade_no": None,
        "amount": Money(amount, "CNY"),
        "total": Money(total, "CNY"),
    }
    values.update(overrides)
    return RefundRequest(**values)


class TestStatusMaps:
    @pytest.mark.parametrize(
        ("state", "expected"),
        [
            ("SUCCESS", PaymentStatus.SUCCEEDED),
            ("REFUND", PaymentStatus.REFUNDED),
            ("NOTPAY", PaymentStatus.PENDING),
            ("CLOSED", PaymentStatus.CLOSED),
            ("REVOKED", PaymentStatus.CLOSED),
            ("USERPAYING", PaymentStatus.PAYING),
            ("PAYERROR", PaymentStatus.FAILED),
        ],
    )
    def test_trade_state(self, state: str, expected: PaymentStatus) -> None:
        assert map_trade_state(state) is expected

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ("SUCCESS", RefundStatus.SUCCEEDED),
            ("PROCESSING", RefundStatus.PROCESSING),
            ("CLOSED", RefundStatus.FAILED),
            ("ABNORMAL", RefundStatus.FAILED),
        ],
    )
    def test_refund_status(self, status: str, expected: RefundStatus) -> None:
        assert map_refund_status(status) is expected

    @given(st.text(max_size=12).filter(lambda s: s not in TRADE_STATES))
    def test_any_other_trade_state_raises(self, state: str) -> None:
        with pytest.raises(UnknownChannelStatus):
            map_trade_state(state)

    @given(st.text(max_size=12).filter(lambda s: s not in REFUND_STATUSES))
    def test_any_other_refund_status_raises(self, status: str) -> None:
        with pytest.raises(UnknownChannelStatus):
            map_refund_status(status)

    def test_case_matters(self) -> None:
        with pytest.raises(UnknownChannelStatus):
            map_trade_state("success")


class TestValidate:
    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"amount": Money(888, "USD")}, "CNY only"),
            ({"amount": Money(0, "CNY")}, "between"),
            ({"amount": Money(MAX_AMOUNT_MINOR + 1, "CNY")}, "between"),
            ({"attempt_no": "A1"}, "out_trade_no"),
            ({"attempt_no": "PG 2026 A1"}, "out_trade_no"),
            ({"subject": ""}, "description"),
            ({"subject": "x" * 128}, "description"),
            ({"expire_at": NOW + timedelta(seconds=59)}, "one minute"),
            ({"expire_at": datetime(2026, 6, 5, 9, 0)}, "timezone-aware"),
            ({"client_ip": "not-an-ip"}, "IP address"),
            ({"method": "jsapi", "extra": {}}, "openid"),
            ({"method": "jsapi", "extra": {"openid": "  "}}, "openid"),
            ({"method": "h5", "client_ip": ""}, "client_ip"),
            ({"method": "h5", "extra": {"h5_type": "Desktop"}}, "h5_type"),
        ],
    )
    def test_refused(self, changes: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            validate_create(request(**changes), NOW)

    def test_foreign_form(self) -> None:
        with pytest.raises(UnsupportedOperation):
            validate_create(request("barcode"), NOW)

    @pytest.mark.parametrize("method", ["native", "jsapi", "h5", "app"])
    def test_accepted(self, method: str) -> None:
        validate_create(request(method), NOW)
        validate_create(request(method, attempt_no="a|b*c-d_e", client_ip="2001:db8::1"), NOW)


class TestBuildPay:
    def build(self, method: str, **changes: Any) -> tuple[str, dict[str, Any]]:
        call = build_pay(
            request(method, **changes), appid=APPID, mchid=MCHID, notify_url="https://n/1", now=NOW
        )
        return call.path, call.body

    def test_native(self) -> None:
        path, body = self.build("native")
        assert path == "/v3/pay/transactions/native"
        assert body == {
            "appid": APPID,
            "mchid": MCHID,
            "description": "会员充值",
            "out_trade_no": "PG20260605A1",
            "time_expire": "2026-06-05T16:30:00+08:00",  # Beijing, microseconds cut
            "notify_url": "https://n/1",
            "amount": {"total": 888, "currency": "CNY"},
            "scene_info": {"payer_client_ip": "203.0.113.7"},
        }

    def test_jsapi_carries_the_payer(self) -> None:
        path, body = self.build("jsapi")
        assert path == "/v3/pay/transactions/jsapi" and body["payer"] == {"openid": OPENID}

    def test_h5_scene(self) -> None:
        _, body = self.build("h5", extra={"h5_type": "iOS"})
        assert body["scene_info"] == {"payer_client_ip": "203.0.113.7", "h5_info": {"type": "iOS"}}
        _, body = self.build("h5", extra={})
        assert body["scene_info"]["h5_info"] == {"type": "Wap"}

    def test_app_without_ip(self) -> None:
        path, body = self.build("app", client_ip="")
        assert path == "/v3/pay/transactions/app" and "scene_info" not in body and "payer" not in body

    @given(st.integers(min_value=1, max_value=MAX_AMOUNT_MINOR))
    def test_amounts_travel_as_fen(self, minor: int) -> None:
        _, body = self.build("native", amount=Money(minor, "CNY"))
        assert body["amount"] == {"total": minor, "currency": "CNY"}
        answer = {**UNPAID, "amount": {"total": minor, "currency": "CNY"}}
        assert query_result(answer, "PG20260605A1", mchid=MCHID, appid=APPID).amount == Money(minor, "CNY")


class TestActions:
    def test_native(self) -> None:
        action = native_action({"code_url": "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"})
        assert action.kind is ActionKind.QR_CODE and action.qr_code == "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"

    def test_h5_returns_to_the_shop(self) -> None:
        h5 = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx2016&package=1037687096"
        action = h5_action({"h5_url": h5}, "https://shop.example.com/r?o=1&x=y")
        assert action.kind is ActionKind.REDIRECT and action.method == "GET"
        query = parse_qs(urlsplit(action.url or "").query)
        assert query["redirect_url"] == ["https://shop.example.com/r?o=1&x=y"]
        assert query["prepay_id"] == ["wx2016"]
        assert h5_action({"h5_url": h5}).url == h5

    @pytest.mark.parametrize("answer", [{}, {"code_url": ""}, {"code_url": 5}])
    def test_missing_fields(self, answer: dict[str, Any]) -> None:
        with pytest.raises(ResponseMismatch):
            native_action(answer)

    def test_jsapi_pay_sign_verifies(self, keys: Keys) -> None:
        def sign(message: bytes) -> str:
            return rsa_sign(pem_private(keys.merchant), message)

        prepay = "wx201410272009395522657a690389285100"
        action = jsapi_action(APPID, prepay, "1414561699", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", sign)
        params = dict(action.params or {})
        assert action.kind is ActionKind.JSAPI
        assert params["package"] == f"prepay_id={prepay}" and params["signType"] == "RSA"
        message = f"{APPID}\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id={prepay}\n"
        assert ref_verify(keys.merchant, message.encode(), params["paySign"])
        assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}

    def test_app_sign_verifies(self, keys: Keys) -> None:
        def sign(message: bytes) -> str:
            return rsa_sign(pem_private(keys.merchant), message)

        prepay = "WX1217752501201407033233368018"
        action = app_action(APPID, MCHID, prepay, "1412000000", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", sign)
        params = dict(action.params or {})
        assert action.kind is ActionKind.APP
        assert params["partnerid"] == MCHID and params["prepayid"] == prepay
        assert params["package"] == "Sign=WXPay"
        message = f"{APPID}\n1412000000\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n{prepay}\n"
        assert ref_verify(keys.merchant, message.encode(), params["sign"])


class TestQuery:
    def test_paid(self) -> None:
        result = query_result(PAID, "PG20260605A1", mchid=MCHID, appid=APPID)
        assert result.status is PaymentStatus.SUCCEEDED and result.channel_status == "SUCCESS"
        assert result.channel_trade_no == "4200000891202606058088184743"
        assert result.amount == Money(888, "CNY")
        assert result.paid_at == datetime(2026, 6, 5, 8, 29, 5, tzinfo=UTC)

    def test_unpaid(self) -> None:
        result = query_result(UNPAID, "PG20260605A1", mchid=MCHID, appid=APPID)
        assert result.status is PaymentStatus.PENDING
        assert result.channel_trade_no is None and result.paid_at is None

    def test_by_transaction_id(self) -> None:
        tid = PAID["transaction_id"]
        assert query_result(PAID, "PG20260605A1", mchid=MCHID, appid=APPID, transaction_id=str(tid))
        with pytest.raises(ResponseMismatch, match="transaction_id"):
            query_result(PAID, "PG20260605A1", mchid=MCHID, appid=APPID, transaction_id="4200X")

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"out_trade_no": "PG20260605A2"}, "out_trade_no"),
            ({"out_trade_no": None}, "out_trade_no"),
            ({"mchid": "1900000110"}, "mchid"),
            ({"appid": "wx0000000000000000"}, "appid"),
            ({"amount": {"total": 888, "currency": "USD"}}, "currency"),
            ({"amount": {"total": "888", "currency": "CNY"}}, "amount.total"),
            ({"amount": {"total": True, "currency": "CNY"}}, "amount.total"),
            ({"amount": {"total": -1, "currency": "CNY"}}, "amount.total"),
            ({"amount": None}, "amount"),
        ],
    )
    def test_contradictions(self, changes: dict[str, Any], field: str) -> None:
        with pytest.raises(ResponseMismatch, match=field):
            query_result({**PAID, **changes}, "PG20260605A1", mchid=MCHID, appid=APPID)

    def test_unknown_state(self) -> None:
        with pytest.raises(UnknownChannelStatus):
            query_result({**PAID, "trade_state": "ACCEPT"}, "PG20260605A1", mchid=MCHID, appid=APPID)


class TestRefunds:
    def test_body_by_out_trade_no(self) -> None:
        body = refund_body(refund_request(reason="退货" * 50), "https://n/1")
        assert body == {
            "out_trade_no": "PG20260605A1",
            "out_refund_no": "RF20260605A1",
            "reason": ("退货" * 50)[:80],
            "notify_url": "https://n/1",
            "amount": {"refund": 300, "total": 888, "currency": "CNY"},
        }

    def test_body_by_transaction_id(self) -> None:
        body = refund_body(refund_request(channel_trade_no="4200000891202606058088184743"), "")
        assert body["transaction_id"] == "4200000891202606058088184743"
        assert "out_trade_no" not in body and "notify_url" not in body

    @pytest.mark.parametrize(("amount", "total"), [(0, 888), (889, 888)])
    def test_body_bounds(self, amount: int, total: int) -> None:
        with pytest.raises(ValueError):
            refund_body(refund_request(amount, total), "")

    def test_applied(self) -> None:
        result = refund_result(REFUND, refund_request())
        assert result.status is RefundStatus.PROCESSING
        assert result.channel_refund_no == "50000000382026060509732678859"
        assert result.amount == Money(300, "CNY") and result.refunded_at is None

    @given(st.integers(1, 10**6), st.integers(0, 10**6))
    def test_amounts_must_be_ours(self, refund: int, extra: int) -> None:
        total = refund + extra
        answer = {**REFUND, "amount": {**REFUND["amount"], "refund": refund, "total": total}}  # type: ignore[dict-item]
        assert refund_result(answer, refund_request(refund, total)).amount == Money(refund, "CNY")
        with pytest.raises(ResponseMismatch, match=r"amount\.refund"):
            refund_result(answer, refund_request(refund + 1, total + 1))
        with pytest.raises(ResponseMismatch, match=r"amount\.total"):
            refund_result(answer, refund_request(refund, total + 1))

    def test_query_succeeded(self) -> None:
        answer = {**REFUND, "status": "SUCCESS", "success_time": "2026-06-05T17:00:05+08:00"}
        result = refund_query_result(answer, "RF20260605A1", "PG20260605A1")
        assert result.status is RefundStatus.SUCCEEDED
        assert result.refunded_at == datetime(2026, 6, 5, 9, 0, 5, tzinfo=UTC)

    def test_query_other_refund(self) -> None:
        with pytest.raises(ResponseMismatch, match="out_refund_no"):
            refund_query_result(REFUND, "RF-other", "PG20260605A1")


TRANSACTION_EVENT = {
    "id": "EV-1",
    "event_type": "TRANSACTION.SUCCESS",
    "create_time": "2026-06-05T16:29:06+08:00",
}
REFUND_RESOURCE = {
    "mchid": MCHID,
    "out_trade_no": "PG20260605A1",
    "transaction_id": "4200000891202606058088184743",
    "out_refund_no": "RF20260605A1",
    "refund_id": "50000000382026060509732678859",
    "refund_status": "SUCCESS",
    "success_time": "2026-06-05T17:00:05+08:00",
    "user_received_account": "支付用户零钱",
    "amount": {"total": 888, "refund": 300, "payer_total": 888, "payer_refund": 300},
}


class TestNotifications:
    def test_payment(self) -> None:
        note = notification_from_event(TRANSACTION_EVENT, PAID, mchid=MCHID, appid=APPID)
        assert note.kind is NotificationKind.PAYMENT and note.notification_id == "EV-1"
        assert note.attempt_no == "PG20260605A1" and note.payment_status is PaymentStatus.SUCCEEDED
        assert note.amount == Money(888, "CNY")
        assert note.channel_trade_no == "4200000891202606058088184743"
        assert note.occurred_at == datetime(2026, 6, 5, 8, 29, 5, tzinfo=UTC)
        assert OPENID not in str(note.payload) and note.payload["event_type"] == "TRANSACTION.SUCCESS"

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ("SUCCESS", RefundStatus.SUCCEEDED),
            ("ABNORMAL", RefundStatus.FAILED),
            ("CLOSED", RefundStatus.FAILED),
        ],
    )
    def test_refund(self, status: str, expected: RefundStatus) -> None:
        event = {"id": "EV-2", "event_type": f"REFUND.{status}"}
        note = notification_from_event(
            event, {**REFUND_RESOURCE, "refund_status": status}, mchid=MCHID, appid=APPID
        )
        assert note.kind is NotificationKind.REFUND and note.refund_status is expected
        assert note.refund_no == "RF20260605A1" and note.attempt_no == "PG20260605A1"
        assert note.amount == Money(300, "CNY")

    @pytest.mark.parametrize(
        ("resource", "match"),
        [
            ({**PAID, "mchid": "1900000110"}, "mchid"),
            ({**PAID, "appid": "wx0000000000000000"}, "appid"),
            ({**PAID, "trade_state": "WHATEVER"}, "trade_state"),
            ({**PAID, "amount": {"total": 888, "currency": "HKD"}}, "currency"),
        ],
    )
    def test_refused(self, resource: dict[str, Any], match: str) -> None:
        with pytest.raises((ValueError, UnknownChannelStatus), match=match):
            notification_from_event(TRANSACTION_EVENT, resource, mchid=MCHID, appid=APPID)

    def test_refund_with_an_unknown_status(self) -> None:
        event = {"id": "EV-3", "event_type": "REFUND.SUCCESS"}
        with pytest.raises(UnknownChannelStatus):
            notification_from_event(
                event, {**REFUND_RESOURCE, "refund_status": "?"}, mchid=MCHID, appid=APPID
            )

    def test_other_events_are_acknowledged_only(self) -> None:
        event = {"id": "EV-4", "event_type": "MCHTRANSFER.BILL.FINISHED"}
        note = notification_from_event(event, {"mchid": MCHID}, mchid=MCHID, appid=APPID)
        assert note.kind is NotificationKind.OTHER and note.payment_status is None
