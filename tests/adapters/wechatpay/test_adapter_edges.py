"""WechatPayAdapter against the scripted API and hand-made notifications, for answers a
simulator rarely gives: contradicting echoes, corrupt bills, odd notifications."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from paygate.channels.contract import (
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    ChannelProtocolError,
    CreatePayment,
    NotificationKind,
    NotificationRejected,
    RefundRequest,
    UnknownChannelStatus,
)
from paygate.channels.wechatpay import WechatPayAdapter
from paygate.channels.wechatpay.bill import BillFormatError
from paygate.kit.money import Money
from tests.adapters.wechatpay.fake_wechat import Answer, FakeWechat, Seen, answer
from tests.adapters.wechatpay.support import (
    APIV3_KEY,
    APPID,
    MCHID,
    OPENID,
    PUBLIC_KEY_ID,
    Keys,
    cert_serial,
    event_body,
    make_account,
    signed_headers,
)
from tests.adapters.wechatpay.test_bill import PAYMENT, REFUND, bill
from tests.support.servers import serve_asgi

pytestmark = pytest.mark.asyncio(loop_scope="module")
NOW = datetime(2026, 6, 5, 8, 0, 0, tzinfo=UTC)
ORDER = {
    "appid": APPID,
    "mchid": MCHID,
    "out_trade_no": "PG20260605A1",
    "trade_state": "NOTPAY",
    "amount": {"total": 888, "currency": "CNY"},
}


@dataclass
class Env:
    fake: FakeWechat
    adapter: WechatPayAdapter
    account: ChannelAccount
    keys: Keys
    base: str
    http: httpx.AsyncClient


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(keys: Keys) -> AsyncIterator[tuple[FakeWechat, str, httpx.AsyncClient]]:
    fake = FakeWechat(keys)
    async with serve_asgi(fake.app) as base, httpx.AsyncClient() as http:
        yield fake, base, http


@pytest.fixture
def env(keys: Keys, served: tuple[FakeWechat, str, httpx.AsyncClient]) -> Env:
    fake, base, http = served
    fake.reset()
    return Env(fake, WechatPayAdapter(http, clock=lambda: NOW), make_account(keys, base), keys, base, http)


def request(method: str = "native", **changes: Any) -> CreatePayment:
    values: dict[str, Any] = {
        "attempt_no": "PG20260605A1",
        "trade_no": "T1",
        "method": method,
        "amount": Money(888, "CNY"),
        "subject": "会员充值",
        "expire_at": NOW + timedelta(minutes=30),
        "extra": {"openid": OPENID},
    }
    values.update(changes)
    return CreatePayment(**values)


class TestCreate:
    async def test_body_sent(self, env: Env) -> None:
        env.fake.reply({"prepay_id": "wx201410272009395522657a690389285100"})
        await env.adapter.create_payment(env.account, request("jsapi"))
        sent = env.fake.seen[0].json()
        assert env.fake.seen[0].target == "/v3/pay/transactions/jsapi"
        assert (
            sent["notify_url"] == env.account.notify_url
            and sent["time_expire"] == "2026-06-05T16:30:00+08:00"
        )
        assert sent["payer"] == {"openid": OPENID} and sent["amount"] == {"total": 888, "currency": "CNY"}

    @pytest.mark.parametrize(
        ("method", "obj"), [("native", {"prepay_id": "wx1"}), ("jsapi", {}), ("h5", None)]
    )
    async def test_answer_without_what_was_asked(self, env: Env, method: str, obj: Any) -> None:
        env.fake.reply(obj, 200 if obj is not None else 204)
        with pytest.raises(ChannelProtocolError) as caught:
            await env.adapter.create_payment(env.account, request(method, client_ip="1.2.3.4"))
        assert caught.value.exchange is not None and caught.value.exchange.error

    async def test_account_without_notify_url(self, env: Env) -> None:
        with pytest.raises(ChannelError, match="notify_url") as caught:
            await env.adapter.create_payment(replace(env.account, notify_url=""), request())
        assert not caught.value.retryable and env.fake.seen == []

    async def test_account_without_appid(self, env: Env) -> None:
        account = replace(env.account, params={k: v for k, v in env.account.params.items() if k != "appid"})
        with pytest.raises(ChannelError, match="appid"):
            await env.adapter.create_payment(account, request())

    async def test_validate_uses_the_adapter_clock(self, env: Env) -> None:
        env.adapter.validate(request())
        with pytest.raises(ValueError, match="one minute"):
            env.adapter.validate(request(expire_at=NOW + timedelta(seconds=30)))


class TestAnswersChecked:
    async def test_query_for_another_order(self, env: Env) -> None:
        env.fake.reply({**ORDER, "out_trade_no": "PG-other"})
        with pytest.raises(ChannelProtocolError, match="out_trade_no"):
            await env.adapter.query_payment(env.account, "PG20260605A1")

    async def test_query_with_an_unknown_state(self, env: Env) -> None:
        env.fake.reply({**ORDER, "trade_state": "ACCEPTED"})
        with pytest.raises(UnknownChannelStatus) as caught:
            await env.adapter.query_payment(env.account, "PG20260605A1")
        assert caught.value.exchange is not None and caught.value.exchange.error

    async def test_refund_of_another_amount(self, env: Env) -> None:
        env.fake.reply(
            {
                "refund_id": "5000",
                "out_refund_no": "RF1",
                "out_trade_no": "PG20260605A1",
                "status": "PROCESSING",
                "amount": {"refund": 888, "total": 888, "currency": "CNY"},
            }
        )
        refund = RefundRequest("RF1", "PG20260605A1", None, Money(300, "CNY"), Money(888, "CNY"))
        with pytest.raises(ChannelProtocolError, match=r"amount\.refund"):
            await env.adapter.refund(env.account, refund)

    async def test_close_other_errors_are_raised(self, env: Env) -> None:
        env.fake.reply({"code": "ORDER_CLOSED", "message": "订单已关闭"}, 400)
        with pytest.raises(ChannelBusinessError):
            await env.adapter.close_payment(env.account, "PG20260605A1")


def bill_answer(env: Env, content: bytes, *, hash_of: bytes | None = None, url: str = "") -> Any:
    digest = hashlib.sha1(content if hash_of is None else hash_of).hexdigest()
    download = url or env.base + "/v3/billdownload/file?token=t1"

    def script(seen: Seen) -> Any:
        if seen.target.startswith("/v3/bill/tradebill"):
            return answer({"hash_type": "SHA1", "hash_value": digest, "download_url": download})
        return Answer(200, gzip.compress(content), "none")

    env.fake.script = script


class TestBills:
    async def test_download_and_hash(self, env: Env) -> None:
        content = bill(PAYMENT, REFUND).encode()
        bill_answer(env, content)
        result = await env.adapter.download_bill(env.account, date(2026, 6, 5))
        assert result.reader is not None and result.lines == []  # read in columns (issue 9)
        assert [row["kind"] for frame in result.reader for row in frame.iter_rows(named=True)] == [
            "payment",
            "refund",
        ]
        assert result.reader.totals is not None and result.reader.totals.payments == 888
        assert (
            env.fake.seen[0].target == "/v3/bill/tradebill?bill_date=2026-06-05&bill_type=ALL&tar_type=GZIP"
        )
        assert all(s.authorized for s in env.fake.seen)

    async def test_hash_mismatch(self, env: Env) -> None:
        content = bill(PAYMENT, REFUND).encode()
        bill_answer(env, content, hash_of=content + b" ")
        result = await env.adapter.download_bill(env.account, date(2026, 6, 5))
        assert result.reader is not None
        with pytest.raises(BillFormatError, match="hash_value"):  # once read to its end
            list(result.reader)

    async def test_download_url_elsewhere(self, env: Env) -> None:
        bill_answer(env, b"x", url="https://files.example.com/v3/billdownload/file?token=t1")
        with pytest.raises(ChannelProtocolError, match="foreign"):
            await env.adapter.download_bill(env.account, date(2026, 6, 5))
        assert len(env.fake.seen) == 1

    async def test_corrupt_gzip(self, env: Env) -> None:
        def script(seen: Seen) -> Any:
            if seen.target.startswith("/v3/bill/tradebill"):
                return answer(
                    {"hash_type": "SHA1", "hash_value": "0" * 40, "download_url": env.base + "/v3/f"}
                )
            return Answer(200, b"\x1f\x8b\x08garbage", "none")

        env.fake.script = script
        result = await env.adapter.download_bill(env.account, date(2026, 6, 5))
        assert result.reader is not None
        with pytest.raises(BillFormatError, match="cannot be read"):
            list(result.reader)

    async def test_no_bill(self, env: Env) -> None:
        env.fake.reply({"code": "NO_STATEMENT_EXIST", "message": "账单文件不存在"}, 400)
        with pytest.raises(ChannelBusinessError) as caught:
            await env.adapter.download_bill(env.account, date(2026, 6, 5))
        assert caught.value.code == "NO_STATEMENT_EXIST"


PAID = {**ORDER, "trade_state": "SUCCESS", "transaction_id": "4200000891202606058088184743"}


class TestHandMadeNotifications:
    def adapter(self) -> WechatPayAdapter:
        return WechatPayAdapter(clock=lambda: datetime.now(UTC))

    def parse(self, account: ChannelAccount, headers: dict[str, str], body: bytes) -> Any:
        return self.adapter().parse_notification(account, headers, body)

    def refused(self, account: ChannelAccount, headers: dict[str, str], body: bytes) -> str:
        with pytest.raises(NotificationRejected) as caught:
            self.parse(account, headers, body)
        return caught.value.reason

    async def test_genuine_with_odd_header_spellings(self, env: Env) -> None:
        body = event_body(PAID)
        headers = signed_headers(env.keys.platform, PUBLIC_KEY_ID, body, signature_type=None)
        django = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
        assert self.parse(env.account, django, body).kind is NotificationKind.PAYMENT

    async def test_another_signature_type(self, env: Env) -> None:
        body = event_body(PAID)
        headers = signed_headers(env.keys.platform, PUBLIC_KEY_ID, body, signature_type="SM2")
        assert "Signature-Type" in self.refused(env.account, headers, body)

    async def test_from_the_future(self, env: Env) -> None:
        body = event_body(PAID)
        headers = signed_headers(env.keys.platform, PUBLIC_KEY_ID, body, timestamp=int(time.time()) + 400)
        assert "5 minutes" in self.refused(env.account, headers, body)

    @pytest.mark.parametrize(
        ("resource", "match"),
        [
            ({**PAID, "appid": "wx0000000000000000"}, "appid"),
            ({**PAID, "mchid": "1900000110"}, "mchid"),
            ({**PAID, "amount": {"total": 888, "currency": "USD"}}, "currency"),
            ({**PAID, "trade_state": "NEW"}, "trade_state"),
        ],
    )
    async def test_genuine_but_unusable(self, env: Env, resource: dict[str, Any], match: str) -> None:
        body = event_body(resource)
        reason = self.refused(env.account, signed_headers(env.keys.platform, PUBLIC_KEY_ID, body), body)
        assert match in reason

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"[]",
            json.dumps({"id": "EV", "event_type": "TRANSACTION.SUCCESS"}).encode(),
            event_body(PAID, apiv3_key="Y" * 32),
            event_body(PAID).replace(b"AEAD_AES_256_GCM", b"AEAD_AES_128_GCM"),
        ],
    )
    async def test_signed_but_unreadable(self, env: Env, body: bytes) -> None:
        self.refused(env.account, signed_headers(env.keys.platform, PUBLIC_KEY_ID, body), body)

    async def test_certificate_mode_uses_the_cached_certificate(self, env: Env) -> None:
        adapter, account = WechatPayAdapter(env.http), make_account(env.keys, env.base, public_key_mode=False)
        assert await adapter.refresh_certificates(account) == [cert_serial(env.keys.certificate)]
        body = event_body(PAID)
        headers = signed_headers(env.keys.cert_key, cert_serial(env.keys.certificate), body)
        assert adapter.parse_notification(account, headers, body).payment_status is not None
        forged = signed_headers(env.keys.other, cert_serial(env.keys.certificate), body)
        with pytest.raises(NotificationRejected, match="signature"):
            adapter.parse_notification(account, forged, body)

    async def test_apiv3_key_never_in_reasons(self, env: Env) -> None:
        body = event_body(PAID, apiv3_key="Y" * 32)
        reason = self.refused(env.account, signed_headers(env.keys.platform, PUBLIC_KEY_ID, body), body)
        assert APIV3_KEY not in reason
