"""parse_notification / parse_return / notify_reply: only a genuine notification is trusted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from urllib.parse import urlencode

import pytest

from paygate.channels.alipay import AlipayAdapter
from paygate.channels.contract import (
    ChannelAccount,
    NotificationKind,
    NotificationRejected,
    PaymentStatus,
    RefundStatus,
)
from paygate.kit.money import Money
from tests.adapters.alipay.support import (
    APP_ID,
    SELLER_ID,
    Keys,
    make_account,
    ref_notify_string,
    ref_sign,
)

FIELDS = {
    "gmt_create": "2026-06-05 16:00:01",
    "charset": "utf-8",
    "seller_email": "shop@example.com",
    "subject": "会员充值",
    "body": "",
    "buyer_id": "2088102146225135",
    "notify_id": "2026060500222160007011111111111111",
    "fund_bill_list": '[{"amount":"8.88","fundChannel":"ALIPAYACCOUNT"}]',
    "notify_type": "trade_status_sync",
    "trade_status": "TRADE_SUCCESS",
    "receipt_amount": "8.88",
    "app_id": APP_ID,
    "buyer_pay_amount": "8.88",
    "seller_id": SELLER_ID,
    "gmt_payment": "2026-06-05 16:00:07",
    "notify_time": "2026-06-05 16:00:08",
    "version": "1.0",
    "out_trade_no": "A20260605001",
    "total_amount": "8.88",
    "trade_no": "2026060522001455611000123456",
    "auth_app_id": APP_ID,
    "buyer_logon_id": "159****5620",
}


def signed(keys: Keys, fields: dict[str, str], *, signer: str = "alipay") -> dict[str, str]:
    key = keys.alipay if signer == "alipay" else keys.other
    sha1 = fields.get("sign_type") == "RSA"
    params = {"sign_type": "RSA2", **fields}
    return {**params, "sign": ref_sign(key, ref_notify_string(params), sha1=sha1)}


def form(params: dict[str, str], encoding: str = "utf-8") -> bytes:
    return urlencode(params, encoding=encoding).encode("ascii")


@pytest.fixture
async def adapter() -> AsyncIterator[AlipayAdapter]:
    instance = AlipayAdapter()
    yield instance
    await instance.aclose()


HEADERS = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}


class TestGenuine:
    def test_payment(self, adapter: AlipayAdapter, keys: Keys, account: ChannelAccount) -> None:
        note = adapter.parse_notification(account, HEADERS, form(signed(keys, FIELDS)))
        assert note.kind is NotificationKind.PAYMENT
        assert note.notification_id == FIELDS["notify_id"]
        assert note.attempt_no == "A20260605001"
        assert note.channel_trade_no == FIELDS["trade_no"]
        assert note.payment_status is PaymentStatus.SUCCEEDED
        assert note.amount == Money(888, "CNY")
        assert "sign" not in note.payload
        assert note.payload["subject"] == "会员充值"

    def test_refund(self, adapter: AlipayAdapter, keys: Keys, account: ChannelAccount) -> None:
        fields = {
            **FIELDS,
            "out_biz_no": "R1",
            "refund_fee": "2.00",
            "gmt_refund": "2026-06-05 17:00:00.000",
        }
        note = adapter.parse_notification(account, HEADERS, form(signed(keys, fields)))
        assert note.kind is NotificationKind.REFUND
        assert note.refund_no == "R1"
        assert note.refund_status is RefundStatus.SUCCEEDED
        assert note.occurred_at is not None
        assert note.occurred_at.isoformat() == "2026-06-05T17:00:00+08:00"

    def test_gbk_body(self, adapter: AlipayAdapter, keys: Keys, account: ChannelAccount) -> None:
        fields = {**FIELDS, "charset": "gbk"}
        note = adapter.parse_notification(account, HEADERS, form(signed(keys, fields), "gbk"))
        assert note.payload["subject"] == "会员充值"

    def test_rsa_account(self, adapter: AlipayAdapter, keys: Keys) -> None:
        account = make_account(keys, "http://x/gateway.do", params={"sign_type": "RSA"})
        body = form(signed(keys, {**FIELDS, "sign_type": "RSA"}))
        assert adapter.parse_notification(account, HEADERS, body).amount == Money(888, "CNY")

    def test_without_seller_check(self, adapter: AlipayAdapter, keys: Keys) -> None:
        account = make_account(keys, "http://x/gateway.do", params={})
        body = form(signed(keys, {**FIELDS, "seller_id": "2088999999999999"}))
        assert adapter.parse_notification(account, HEADERS, body).kind is NotificationKind.PAYMENT


def tampered_amount(keys: Keys) -> bytes:
    params = signed(keys, FIELDS)
    return form({**params, "total_amount": "0.01"})


def dropped_empty_body(keys: Keys) -> bytes:
    # Alipay signs empty values too: removing one must break the signature.
    params = signed(keys, FIELDS)
    return form({k: v for k, v in params.items() if k != "body"})


class TestRejected:
    @pytest.mark.parametrize(
        ("make_body", "reason"),
        [
            (
                lambda k: form({k2: v for k2, v in signed(k, FIELDS).items() if k2 != "sign"}),
                "unsigned",
            ),
            (lambda k: form(signed(k, FIELDS, signer="other")), "signature"),
            (tampered_amount, "signature"),
            (dropped_empty_body, "signature"),
            (lambda k: form({**signed(k, FIELDS), "extra": "1"}), "signature"),
            (lambda k: form(signed(k, {**FIELDS, "app_id": "2021000000009999"})), "app_id"),
            (lambda k: form(signed(k, {**FIELDS, "seller_id": "2088999999999999"})), "seller_id"),
            (
                lambda k: form(signed(k, {**FIELDS, "trade_status": "TRADE_WHATEVER"})),
                "trade_status",
            ),
            (lambda k: form(signed(k, {**FIELDS, "total_amount": "8.888"})), "total_amount"),
            (lambda k: form(signed(k, {**FIELDS, "notify_id": ""})), "notify_id"),
            (lambda k: form(signed(k, {**FIELDS, "sign_type": "RSA"})), "signature"),
            (lambda k: form(signed(k, FIELDS)) + b"&app_id=" + APP_ID.encode(), "twice"),
            (lambda k: b"\xff\xfe garbage", "unreadable"),
            (lambda k: b"", "unsigned"),
            (lambda k: b'{"json": "body"}', "unreadable"),
        ],
    )
    def test_refused(
        self,
        adapter: AlipayAdapter,
        keys: Keys,
        account: ChannelAccount,
        make_body: Callable[[Keys], bytes],
        reason: str,
    ) -> None:
        with pytest.raises(NotificationRejected, match=reason) as caught:
            adapter.parse_notification(account, HEADERS, make_body(keys))
        assert "sign" not in caught.value.payload


def test_replies(adapter: AlipayAdapter) -> None:
    assert adapter.notify_reply(True).body == b"success"
    assert adapter.notify_reply(False).body == b"fail"
    assert adapter.notify_reply(True).status_code == 200


RETURN = {
    "charset": "utf-8",
    "out_trade_no": "A20260605001",
    "method": "alipay.trade.page.pay.return",
    "total_amount": "8.88",
    "trade_no": "2026060522001455611000123456",
    "auth_app_id": APP_ID,
    "version": "1.0",
    "app_id": APP_ID,
    "seller_id": SELLER_ID,
    "timestamp": "2026-06-05 16:00:09",
}


class TestReturn:
    def test_verified(self, adapter: AlipayAdapter, keys: Keys, account: ChannelAccount) -> None:
        info = adapter.parse_return(account, signed(keys, RETURN))
        assert info.verified
        assert info.attempt_no == "A20260605001"
        assert info.amount == Money(888, "CNY")

    def test_tampered(self, adapter: AlipayAdapter, keys: Keys, account: ChannelAccount) -> None:
        query = {**signed(keys, RETURN), "total_amount": "0.01"}
        info = adapter.parse_return(account, query)
        assert not info.verified
        assert info.attempt_no == "A20260605001"
        assert info.amount is None

    def test_unsigned(self, adapter: AlipayAdapter, account: ChannelAccount) -> None:
        assert not adapter.parse_return(account, RETURN).verified
