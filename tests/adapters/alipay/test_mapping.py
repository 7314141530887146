"""Pure mapping of refunds, notifications and returns, from payloads shaped like Alipay's
documented answers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from paygate.channels.alipay.protocol import BEIJING
from paygate.channels.alipay.transformers import (
    ResponseMismatch,
    notification_from_params,
    refund_biz,
    refund_query_result,
    refund_result,
    return_info,
)
from paygate.channels.contract import (
    NotificationKind,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    UnknownChannelStatus,
)
from tests.adapters.alipay.test_transformers import NOW, cny

# --------------------------------------------------------------------------- refunds


def refund_request(amount: int = 1000, total: int = 8888) -> RefundRequest:
    return RefundRequest(
        refund_no="R1",
        attempt_no="A20260605001",
        channel_trade_no="2026060522001455611000123456",
        amount=cny(amount),
        total=cny(total),
        reason="退货",
    )


REFUND = {
    "code": "10000",
    "msg": "Success",
    "trade_no": "2026060522001455611000123456",
    "out_trade_no": "A20260605001",
    "buyer_logon_id": "159****5620",
    "fund_change": "Y",
    "refund_fee": "30.00",  # cumulative: an earlier 20.00 refund plus this 10.00
    "gmt_refund_pay": "2026-06-05 17:00:00",
}


class TestRefunds:
    def test_biz(self) -> None:
        assert refund_biz(refund_request()) == {
            "out_trade_no": "A20260605001",
            "trade_no": "2026060522001455611000123456",
            "refund_amount": "10.00",
            "out_request_no": "R1",
            "refund_reason": "退货",
        }

    @pytest.mark.parametrize(("amount", "total"), [(0, 100), (101, 100)])
    def test_biz_bounds(self, amount: int, total: int) -> None:
        with pytest.raises(ValueError):
            refund_biz(refund_request(amount, total))

    def test_fund_change_y(self) -> None:
        result = refund_result(REFUND, refund_request())
        assert result.status is RefundStatus.SUCCEEDED
        assert result.amount == cny(1000)  # this refund, not the cumulative refund_fee

    def test_fund_change_n_needs_confirmation(self) -> None:
        result = refund_result({**REFUND, "fund_change": "N"}, refund_request())
        assert result.status is RefundStatus.PROCESSING

    @pytest.mark.parametrize("fee", ["9.99", "88.89"])
    def test_cumulative_outside_bounds(self, fee: str) -> None:
        with pytest.raises(ResponseMismatch):
            refund_result({**REFUND, "refund_fee": fee}, refund_request())

    def test_unknown_fund_change(self) -> None:
        with pytest.raises(UnknownChannelStatus):
            refund_result({**REFUND, "fund_change": "X"}, refund_request())

    def test_query(self) -> None:
        answer = {
            "code": "10000",
            "msg": "Success",
            "trade_no": "2026060522001455611000123456",
            "out_trade_no": "A20260605001",
            "out_request_no": "R1",
            "total_amount": "88.88",
            "refund_amount": "10.00",
            "refund_status": "REFUND_SUCCESS",
            "gmt_refund_pay": "2026-06-05 17:00:00",
        }
        result = refund_query_result(answer, "R1", "A20260605001")
        assert result.status is RefundStatus.SUCCEEDED
        assert result.amount == cny(1000)
        legacy = {k: v for k, v in answer.items() if k != "refund_status"}
        assert refund_query_result(legacy, "R1", "A20260605001").status is RefundStatus.SUCCEEDED
        with pytest.raises(UnknownChannelStatus):
            refund_query_result({**answer, "refund_status": "WHATEVER"}, "R1", "A20260605001")
        with pytest.raises(ResponseMismatch):
            refund_query_result(answer, "R2", "A20260605001")

    def test_query_without_data_is_not_found(self) -> None:
        answer = {"code": "10000", "msg": "Success"}
        assert refund_query_result(answer, "R1", "A1").status is RefundStatus.NOT_FOUND


# --------------------------------------------------------------------------- inbound

NOTIFY = {
    "gmt_create": "2026-06-05 16:00:01",
    "charset": "utf-8",
    "seller_email": "shop@example.com",
    "subject": "会员充值",
    "body": "",
    "buyer_id": "2088102146225135",
    "invoice_amount": "8.88",
    "notify_id": "2026060500222160007011111111111111",
    "fund_bill_list": '[{"amount":"8.88","fundChannel":"ALIPAYACCOUNT"}]',
    "notify_type": "trade_status_sync",
    "trade_status": "TRADE_SUCCESS",
    "receipt_amount": "8.88",
    "app_id": "2021000000000001",
    "buyer_pay_amount": "8.88",
    "sign_type": "RSA2",
    "sign": "c2lnbg==",
    "seller_id": "2088000000000001",
    "gmt_payment": "2026-06-05 16:00:07",
    "notify_time": "2026-06-05 16:00:08",
    "version": "1.0",
    "out_trade_no": "A20260605001",
    "total_amount": "8.88",
    "trade_no": "2026060522001455611000123456",
    "auth_app_id": "2021000000000001",
    "buyer_logon_id": "159****5620",
    "point_amount": "0.00",
}


class TestNotifications:
    def test_payment(self) -> None:
        n = notification_from_params(NOTIFY)
        assert n.kind is NotificationKind.PAYMENT
        assert n.notification_id == NOTIFY["notify_id"]
        assert n.payment_status is PaymentStatus.SUCCEEDED
        assert n.amount == cny(888)
        assert n.attempt_no == "A20260605001"
        assert n.occurred_at == NOW + timedelta(seconds=7)
        assert "sign" not in n.payload

    def test_refund(self) -> None:
        params = {
            **NOTIFY,
            "trade_status": "TRADE_CLOSED",
            "out_biz_no": "R1",
            "refund_fee": "8.88",
            "gmt_refund": "2026-06-05 17:00:00",
        }
        n = notification_from_params(params)
        assert n.kind is NotificationKind.REFUND
        assert n.refund_no == "R1"
        assert n.refund_status is RefundStatus.SUCCEEDED
        assert n.payment_status is PaymentStatus.REFUNDED
        assert n.amount is None  # refund_fee is cumulative: not this refund's amount
        assert n.occurred_at == datetime(2026, 6, 5, 17, tzinfo=BEIJING)

    def test_closed_unpaid(self) -> None:
        params = {
            **NOTIFY,
            "trade_status": "TRADE_CLOSED",
            "gmt_payment": "",
            "gmt_close": "2026-06-05 16:30:00",
        }
        n = notification_from_params(params)
        assert n.payment_status is PaymentStatus.CLOSED
        assert n.occurred_at == NOW + timedelta(minutes=30)

    def test_without_trade_status_is_other(self) -> None:
        params = {"notify_id": "n1", "notify_type": "open_public_message"}
        assert notification_from_params(params).kind is NotificationKind.OTHER

    @pytest.mark.parametrize("drop", ["notify_id", "out_trade_no", "total_amount"])
    def test_missing_fields(self, drop: str) -> None:
        with pytest.raises(ValueError):
            notification_from_params({k: v for k, v in NOTIFY.items() if k != drop})

    def test_return_info(self) -> None:
        query = {"out_trade_no": "A1", "trade_no": "T9", "total_amount": "1.00"}
        assert return_info(query, verified=True).amount == cny(100)
        unverified = return_info(query, verified=False)
        assert unverified.attempt_no == "A1"
        assert unverified.amount is None and unverified.channel_trade_no is None
