"""WechatPayClient over real HTTP against a scripted WeChat Pay API: request signing,
answer verification (public-key and certificate modes), error mapping, transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import httpx
import pytest
import pytest_asyncio

from paygate.channels.contract import (
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    ChannelProtocolError,
    ChannelTimeout,
    ChannelUnavailable,
)
from paygate.channels.wechatpay.client import WechatPayClient
from paygate.kit.crypto import Secret
from tests.adapters.wechatpay.fake_wechat import Answer, FakeWechat, answer
from tests.adapters.wechatpay.support import (
    APIV3_KEY,
    AUTH_PATTERN,
    MCHID,
    OPENID,
    PUBLIC_KEY_ID,
    Keys,
    cert_serial,
    compact,
    make_account,
    pem_private,
    signed_headers,
)
from tests.support.servers import free_port, serve_asgi

pytestmark = pytest.mark.asyncio(loop_scope="module")

ORDER = {"appid": "wxd678efh567hg6787", "mchid": MCHID, "out_trade_no": "A1", "trade_state": "NOTPAY"}
PAY_BODY = {
    "appid": "wxd678efh567hg6787",
    "mchid": MCHID,
    "description": "会员充值",
    "out_trade_no": "A1",
    "payer": {"openid": OPENID},
    "amount": {"total": 888, "currency": "CNY"},
}
NATIVE = "/v3/pay/transactions/native"


@dataclass
class Env:
    fake: FakeWechat
    http: httpx.AsyncClient
    base: str
    keys: Keys

    def client(self, **kwargs: float) -> WechatPayClient:
        return WechatPayClient(self.http, **kwargs)  # type: ignore[arg-type]

    def account(self, *, public_key_mode: bool = True, **overrides: object) -> ChannelAccount:
        gateway_url = str(overrides.pop("gateway_url", self.base))
        return make_account(self.keys, gateway_url, public_key_mode=public_key_mode, **overrides)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(keys: Keys) -> AsyncIterator[tuple[FakeWechat, str, httpx.AsyncClient]]:
    fake = FakeWechat(keys)
    async with serve_asgi(fake.app) as base, httpx.AsyncClient() as http:
        yield fake, base, http


@pytest.fixture
def env(keys: Keys, served: tuple[FakeWechat, str, httpx.AsyncClient]) -> Env:
    fake, base, http = served
    fake.reset()
    return Env(fake, http, base, keys)


class TestRequests:
    async def test_signed_as_sent(self, env: Env) -> None:
        env.fake.reply({"code_url": "weixin://wxpay/bizpayurl?pr=abc"})
        reply = await env.client().call(
            env.account(), "POST", NATIVE, body=PAY_BODY, operation="create", read=False
        )
        assert reply.data == {"code_url": "weixin://wxpay/bizpayurl?pr=abc"}
        seen = env.fake.seen[0]
        assert seen.authorized  # verified independently over the raw bytes received
        assert seen.target == NATIVE
        assert seen.body == json.dumps(PAY_BODY, separators=(",", ":")).encode()
        assert b"\\u4f1a" in seen.body  # ASCII-only JSON: means the same in any charset
        assert seen.headers["content-type"] == "application/json"
        assert seen.headers["wechatpay-serial"] == PUBLIC_KEY_ID
        assert AUTH_PATTERN.fullmatch(seen.headers["authorization"])

    async def test_query_string_and_encoded_segment(self, env: Env) -> None:
        env.fake.reply(ORDER)
        path = "/v3/pay/transactions/out-trade-no/A%7C1%2Ax"
        await env.client().call(
            env.account(), "GET", path, query={"mchid": MCHID}, operation="query", read=True
        )
        seen = env.fake.seen[0]
        assert seen.authorized and seen.body == b""
        assert seen.target == f"{path}?mchid={MCHID}"
        assert "content-type" not in seen.headers

    async def test_gateway_under_a_prefix_signs_the_full_path(self, env: Env) -> None:
        env.fake.reply(ORDER)
        account = env.account(gateway_url=env.base + "/wechatpay/")
        await env.client().call(account, "GET", "/v3/x", operation="query", read=True)
        assert env.fake.seen[0].target == "/wechatpay/v3/x" and env.fake.seen[0].authorized

    async def test_certificate_mode_names_no_platform_serial(self, env: Env) -> None:
        env.fake.reply(ORDER, signer="cert")
        await env.client().call(
            env.account(public_key_mode=False), "GET", "/v3/x", operation="query", read=True
        )
        assert all("wechatpay-serial" not in s.headers for s in env.fake.seen)

    async def test_a_wrong_merchant_key_is_refused_by_wechat(self, env: Env) -> None:
        secrets = {**env.account().secrets, "merchant_private_key": Secret(pem_private(env.keys.other))}
        with pytest.raises(ChannelBusinessError) as caught:
            await env.client().call(
                env.account(secrets=secrets), "GET", "/v3/x", operation="query", read=True
            )
        assert caught.value.code == "SIGN_ERROR"


class TestExchange:
    async def test_masked_and_complete(self, env: Env) -> None:
        env.fake.reply({"prepay_id": "wx201410272009395522657a690389285100"})
        reply = await env.client().call(
            env.account(), "POST", "/v3/pay/transactions/jsapi", body=PAY_BODY, operation="create", read=False
        )
        exchange = reply.exchange
        assert exchange.operation == "create" and exchange.http_status == 200
        assert exchange.duration_ms is not None and exchange.duration_ms >= 0
        assert exchange.request["url"] == "/v3/pay/transactions/jsapi"
        assert exchange.request["body"]["amount"] == {"total": 888, "currency": "CNY"}
        assert exchange.response == {"prepay_id": "wx201410272009395522657a690389285100"}
        text = json.dumps([exchange.request, exchange.response], ensure_ascii=False)
        seen = env.fake.seen[0].headers
        assert OPENID not in text and "PRIVATE KEY" not in text and APIV3_KEY not in text
        assert AUTH_PATTERN.fullmatch(seen["authorization"])
        signature = AUTH_PATTERN.fullmatch(seen["authorization"]).group(3)  # type: ignore[union-attr]
        assert signature not in text and "WECHATPAY2" not in text

    async def test_attached_to_errors(self, env: Env) -> None:
        env.fake.reply({"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, 404)
        with pytest.raises(ChannelBusinessError) as caught:
            await env.client().call(env.account(), "GET", "/v3/x", operation="query", read=True)
        exchange = caught.value.exchange
        assert exchange is not None and exchange.http_status == 404
        assert exchange.response == {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
        assert exchange.error and "ORDER_NOT_EXIST" in exchange.error and "Request-ID" in exchange.error


class TestVerification:
    async def query(self, env: Env, account: ChannelAccount | None = None) -> object:
        reply = await env.client().call(
            account or env.account(), "GET", "/v3/x", operation="query", read=True
        )
        return reply.data

    @pytest.mark.parametrize(
        ("drop", "match"),
        [
            ("Wechatpay-Signature", "unsigned"),
            ("Wechatpay-Timestamp", "unsigned"),
            ("Wechatpay-Nonce", "unsigned"),
            ("Wechatpay-Serial", "unsigned"),
            ("Wechatpay-Signature-Type", "Signature-Type"),
        ],
    )
    async def test_every_header_is_required(self, env: Env, drop: str, match: str) -> None:
        body = compact(ORDER)
        headers = {
            k: v for k, v in signed_headers(env.keys.platform, PUBLIC_KEY_ID, body).items() if k != drop
        }
        env.fake.script = lambda _s: Answer(200, body, "none", headers)
        with pytest.raises(ChannelProtocolError, match=match):
            await self.query(env)

    async def test_another_signature_type(self, env: Env) -> None:
        body = compact(ORDER)
        headers = signed_headers(
            env.keys.platform, PUBLIC_KEY_ID, body, signature_type="WECHATPAY2-SM2-WITH-SM3"
        )
        env.fake.script = lambda _s: Answer(200, body, "none", headers)
        with pytest.raises(ChannelProtocolError, match="Signature-Type"):
            await self.query(env)

    async def test_signed_by_someone_else(self, env: Env) -> None:
        env.fake.reply(ORDER, signer="forged")
        with pytest.raises(ChannelProtocolError, match="badly signed"):
            await self.query(env)

    async def test_tampered_body(self, env: Env) -> None:
        genuine = compact({**ORDER, "amount": {"total": 1}})
        headers = signed_headers(env.keys.platform, PUBLIC_KEY_ID, genuine)
        tampered = genuine.replace(b'"total":1', b'"total":100000')
        env.fake.script = lambda _s: Answer(200, tampered, "none", headers)
        with pytest.raises(ChannelProtocolError, match="badly signed"):
            await self.query(env)

    async def test_204_is_verified_with_an_empty_body(self, env: Env) -> None:
        env.fake.reply(None, 204)
        close = "/v3/pay/transactions/out-trade-no/A1/close"
        reply = await env.client().call(
            env.account(), "POST", close, body={"mchid": MCHID}, operation="close", read=False
        )
        assert reply.status == 204 and reply.data is None
        env.fake.reply(None, 204, signer="forged")
        with pytest.raises(ChannelProtocolError):
            await env.client().call(
                env.account(), "POST", close, body={"mchid": MCHID}, operation="close", read=False
            )

    @pytest.mark.parametrize("body", [b"<html>busy</html>", b"[1,2]", b"\xff\xfe"])
    async def test_unreadable_success(self, env: Env, body: bytes) -> None:
        env.fake.script = lambda _s: Answer(200, body, "public")
        with pytest.raises(ChannelProtocolError):
            await self.query(env)

    async def test_public_key_id_without_the_key_is_a_configuration_error(self, env: Env) -> None:
        account = env.account()
        account = replace(
            account, secrets={k: v for k, v in account.secrets.items() if k != "platform_public_key"}
        )
        with pytest.raises(ChannelError) as caught:
            await self.query(env, account)
        assert not caught.value.retryable and "platform_public_key" in caught.value.message
        assert env.fake.seen == []  # refused before anything was sent


def failure(code: str, status: int) -> Answer:
    return answer({"code": code, "message": "x"}, status)


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("status", "code", "read", "expected"),
        [
            (400, "PARAM_ERROR", False, ChannelBusinessError),
            (400, "INVALID_REQUEST", False, ChannelBusinessError),
            (400, "ORDER_CLOSED", False, ChannelBusinessError),
            (400, "ORDERPAID", False, ChannelBusinessError),
            (400, "APPID_MCHID_NOT_MATCH", False, ChannelBusinessError),
            (401, "SIGN_ERROR", True, ChannelBusinessError),
            (403, "NOT_ENOUGH", False, ChannelBusinessError),
            (403, "OUT_TRADE_NO_USED", False, ChannelBusinessError),
            (404, "ORDER_NOT_EXIST", True, ChannelBusinessError),
            (404, "RESOURCE_NOT_EXISTS", True, ChannelBusinessError),
            (500, "SYSTEM_ERROR", True, ChannelUnavailable),
            (500, "SYSTEM_ERROR", False, ChannelTimeout),
            (429, "FREQUENCY_LIMITED", True, ChannelUnavailable),
            (429, "FREQUENCY_LIMITED", False, ChannelTimeout),
            (403, "SYSTEM_ERROR", False, ChannelTimeout),  # the code decides, not the status
            (500, "BANKERROR", False, ChannelTimeout),
            (502, "", True, ChannelUnavailable),
            (503, "", False, ChannelTimeout),
            (404, "", True, ChannelProtocolError),  # not WeChat's error shape
            (302, "", True, ChannelProtocolError),
        ],
    )
    async def test_table(
        self, env: Env, status: int, code: str, read: bool, expected: type[ChannelError]
    ) -> None:
        reply = failure(code, status) if code else Answer(status, b"<html>oops</html>", "none")
        env.fake.script = lambda _s: reply
        with pytest.raises(ChannelError) as caught:
            await env.client().call(env.account(), "POST", "/v3/x", body={}, operation="x", read=read)
        assert type(caught.value) is expected
        assert caught.value.code == code
        assert caught.value.exchange is not None and caught.value.exchange.http_status == status

    async def test_errors_need_no_signature(self, env: Env) -> None:
        """Like WeChat's SDKs, error answers are mapped without a signature check (a
        gateway 5xx carries none); only 2xx answers are ever acted upon as success."""
        env.fake.script = lambda _s: Answer(400, compact({"code": "ORDERPAID", "message": "已支付"}), "none")
        with pytest.raises(ChannelBusinessError):
            await env.client().call(env.account(), "POST", "/v3/x", body={}, operation="x", read=False)


class TestCertificateMode:
    async def test_fetched_on_an_unknown_serial_then_cached(self, env: Env) -> None:
        env.fake.reply(ORDER, signer="cert")
        client, account = env.client(), env.account(public_key_mode=False)
        for _ in range(3):
            assert await client.call(account, "GET", "/v3/x", operation="query", read=True)
        targets = [s.target for s in env.fake.seen]
        assert targets == ["/v3/x", "/v3/certificates", "/v3/x", "/v3/x"]
        assert all(s.authorized for s in env.fake.seen)
        assert client.certificates.serials(account) == [cert_serial(env.keys.certificate)]

    async def test_public_key_mode_accepts_certificate_signed_answers(self, env: Env) -> None:
        env.fake.reply(ORDER, signer="cert")  # WeChat switching modes signs with either
        assert await env.client().call(env.account(), "GET", "/v3/x", operation="query", read=True)
        assert env.fake.certificate_fetches == 1

    async def test_rotation(self, env: Env) -> None:
        client, account = env.client(certificate_refresh_interval=0), env.account(public_key_mode=False)
        env.fake.reply(ORDER, signer="cert")
        await client.call(account, "GET", "/v3/x", operation="query", read=True)
        env.fake.certificates = [env.keys.certificate, env.keys.rotated_certificate]
        env.fake.reply(ORDER, signer="rotated")
        await client.call(account, "GET", "/v3/x", operation="query", read=True)
        assert env.fake.certificate_fetches == 2
        assert len(client.certificates.serials(account)) == 2
        env.fake.certificates = [env.keys.rotated_certificate]  # the old one withdrawn
        await client.refresh_certificates(account)
        assert client.certificates.serials(account) == [cert_serial(env.keys.rotated_certificate)]
        env.fake.reply(ORDER, signer="cert")
        with pytest.raises(ChannelProtocolError, match="no platform key"):
            await client.call(account, "GET", "/v3/x", operation="query", read=True)

    async def test_refreshes_are_throttled(self, env: Env) -> None:
        client, account = env.client(), env.account(public_key_mode=False)
        env.fake.reply(ORDER, signer="cert")
        await client.call(account, "GET", "/v3/x", operation="query", read=True)
        env.fake.reply(ORDER, signer="rotated")  # an unknown serial, again and again
        for _ in range(3):
            with pytest.raises(ChannelProtocolError, match="no platform key"):
                await client.call(account, "GET", "/v3/x", operation="query", read=True)
        assert env.fake.certificate_fetches == 1

    async def test_concurrent_misses_fetch_once(self, env: Env) -> None:
        env.fake.reply(ORDER, signer="cert")
        env.fake.certificate_delay = 0.1
        client, account = env.client(), env.account(public_key_mode=False)
        calls = [client.call(account, "GET", "/v3/x", operation="query", read=True) for _ in range(8)]
        assert len(await asyncio.gather(*calls)) == 8
        assert env.fake.certificate_fetches == 1

    async def test_certificates_not_encrypted_with_our_apiv3_key(self, env: Env) -> None:
        env.fake.certificates_apiv3_key = "X" * 32
        env.fake.reply(ORDER, signer="cert")
        client, account = env.client(), env.account(public_key_mode=False)
        with pytest.raises(ChannelProtocolError, match="platform key") as caught:
            await client.call(account, "GET", "/v3/x", operation="query", read=True)
        assert "decryption failed" in caught.value.message
        assert client.certificates.serials(account) == []

    async def test_certificates_answer_signed_by_an_unlisted_key(self, env: Env) -> None:
        env.fake.certificates_signer = "rotated"
        env.fake.reply(ORDER, signer="cert")
        client, account = env.client(), env.account(public_key_mode=False)
        with pytest.raises(ChannelProtocolError):
            await client.call(account, "GET", "/v3/x", operation="query", read=True)
        assert client.certificates.serials(account) == []

    async def test_certificate_fetch_failure_leaves_the_outcome_unknown(self, env: Env) -> None:
        def script(seen: object) -> Answer:
            return answer(ORDER, signer="cert")

        env.fake.script = script
        env.fake.certificates = []  # "no certificates": nothing can verify the answer
        with pytest.raises(ChannelProtocolError, match="lists no certificates"):
            await env.client().call(
                env.account(public_key_mode=False), "POST", "/v3/x", body={}, operation="x", read=False
            )


class TestTransport:
    async def test_connection_refused_is_unavailable(self, keys: Keys) -> None:
        account = make_account(keys, f"http://127.0.0.1:{free_port()}")
        async with httpx.AsyncClient() as http:
            with pytest.raises(ChannelUnavailable) as caught:
                await WechatPayClient(http).call(
                    account, "POST", NATIVE, body={}, operation="create", read=False
                )
        assert caught.value.exchange is not None and caught.value.exchange.request["url"] == NATIVE

    async def test_slow_answer_is_a_timeout(self, env: Env) -> None:
        env.fake.reply(ORDER)
        env.fake.delay = 0.6
        with pytest.raises(ChannelTimeout) as caught:
            await env.client().call(
                env.account(timeout_seconds=0.2), "GET", "/v3/x", operation="query", read=True
            )
        assert caught.value.retryable and caught.value.exchange is not None

    @pytest.mark.parametrize(
        ("secret", "value"),
        [("merchant_private_key", "not a key"), ("apiv3_key", "too-short"), ("platform_public_key", "junk")],
    )
    async def test_unusable_keys_are_refused_before_sending(self, env: Env, secret: str, value: str) -> None:
        account = env.account()
        account = replace(account, secrets={**account.secrets, secret: Secret(value)})
        with pytest.raises(ChannelError) as caught:
            await env.client().call(account, "GET", "/v3/x", operation="query", read=True)
        assert not caught.value.retryable and secret in caught.value.message
        assert value not in caught.value.message
        assert env.fake.seen == []

    async def test_missing_serial_no(self, env: Env) -> None:
        account = env.account(params={"appid": "wx1"})
        with pytest.raises(ChannelError, match="merchant_serial_no"):
            await env.client().call(account, "GET", "/v3/x", operation="query", read=True)


class TestDownload:
    async def test_signed_get_unsigned_answer(self, env: Env) -> None:
        env.fake.script = lambda _s: Answer(200, b"\x1f\x8bfile", "none")
        url = env.base + "/v3/billdownload/file?token=abc-_1"
        content = await env.client().download(env.account(), url, operation="bill")
        assert content == b"\x1f\x8bfile"
        assert env.fake.seen[0].authorized and env.fake.seen[0].target == "/v3/billdownload/file?token=abc-_1"

    async def test_foreign_url_is_never_called(self, env: Env) -> None:
        with pytest.raises(ChannelProtocolError, match="foreign"):
            await env.client().download(
                env.account(), "https://evil.example.com/v3/billdownload/file", operation="bill"
            )
        assert env.fake.seen == []

    async def test_expired_link(self, env: Env) -> None:
        env.fake.reply({"code": "INVALID_REQUEST", "message": "账单下载链接已过期"}, 400)
        with pytest.raises(ChannelBusinessError):
            await env.client().download(
                env.account(), env.base + "/v3/billdownload/file?token=x", operation="bill"
            )
