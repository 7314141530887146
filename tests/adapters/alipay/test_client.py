"""AlipayClient over real HTTP against a scripted gateway: signing, verification, errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest
import pytest_asyncio

from paygate.channels.alipay.client import AlipayClient
from paygate.channels.alipay.protocol import BEIJING
from paygate.channels.contract import (
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    ChannelProtocolError,
    ChannelTimeout,
    ChannelUnavailable,
    UnknownChannelStatus,
)
from paygate.kit.crypto import Secret
from tests.adapters.alipay.fake_gateway import FakeGateway
from tests.adapters.alipay.support import (
    APP_ID,
    Keys,
    make_account,
    pem_private,
    ref_sign,
    signed_body,
)
from tests.support.servers import free_port, serve_asgi

FIXED_NOW = datetime(2026, 6, 5, 16, 0, 0, tzinfo=BEIJING)
QUERY = "alipay.trade.query"
PAY = "alipay.trade.pay"
OK = {"code": "10000", "msg": "Success", "out_trade_no": "A1", "trade_status": "TRADE_SUCCESS"}


@dataclass
class Env:
    gateway: FakeGateway
    client: AlipayClient
    account: ChannelAccount
    keys: Keys


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(keys: Keys) -> AsyncIterator[tuple[FakeGateway, str, httpx.AsyncClient]]:
    gateway = FakeGateway(keys)
    async with serve_asgi(gateway.app) as base, httpx.AsyncClient() as http:
        yield gateway, base, http


@pytest.fixture
def env(keys: Keys, served: tuple[FakeGateway, str, httpx.AsyncClient]) -> Env:
    gateway, base, http = served
    gateway.answer, gateway.delay, gateway.requests = None, 0.0, []
    account = make_account(keys, base + "/gateway.do", timeout_seconds=0.3)
    return Env(gateway, AlipayClient(http, clock=lambda: FIXED_NOW), account, keys)


class TestRequests:
    async def test_common_params_and_signature(self, env: Env) -> None:
        env.gateway.reply(OK)
        reply = await env.client.execute(
            env.account, PAY, {"out_trade_no": "A1", "subject": "充值"}, operation="create"
        )
        assert reply.data == OK
        sent = env.gateway.requests[0]  # the gateway verified its signature independently
        assert sent["app_id"] == APP_ID
        assert sent["method"] == PAY
        assert sent["charset"] == "utf-8"
        assert sent["sign_type"] == "RSA2"
        assert sent["version"] == "1.0"
        assert sent["format"] == "JSON"
        assert sent["timestamp"] == "2026-06-05 16:00:00"
        assert sent["notify_url"] == env.account.notify_url
        assert sent["biz_content"] == '{"out_trade_no":"A1","subject":"\\u5145\\u503c"}'
        assert json.loads(sent["biz_content"])["subject"] == "充值"
        assert env.gateway.body_keys == ["biz_content"]  # the rest travels in the query

    async def test_query_has_no_notify_url(self, env: Env) -> None:
        env.gateway.reply(OK)
        await env.client.execute(env.account, QUERY, {"out_trade_no": "A1"}, operation="query")
        assert "notify_url" not in env.gateway.requests[0]

    async def test_rsa_sha1_accounts(self, env: Env) -> None:
        account = make_account(env.keys, env.account.gateway_url, params={"sign_type": "RSA"})
        inner = json.dumps(OK, separators=(",", ":"))
        sig = ref_sign(env.keys.alipay, inner, sha1=True)
        env.gateway.raw(f'{{"alipay_trade_query_response":{inner},"sign":"{sig}"}}')
        reply = await env.client.execute(account, QUERY, {"out_trade_no": "A1"}, operation="q")
        assert reply.data == OK
        assert env.gateway.requests[0]["sign_type"] == "RSA"

    async def test_wrong_app_key_is_refused_by_the_gateway(self, env: Env) -> None:
        secrets = {**env.account.secrets, "app_private_key": Secret(pem_private(env.keys.other))}
        account = make_account(env.keys, env.account.gateway_url, secrets=secrets)
        with pytest.raises(ChannelBusinessError) as caught:
            await env.client.execute(account, QUERY, {"out_trade_no": "A1"}, operation="query")
        assert caught.value.sub_code == "isv.invalid-signature"


class TestExchange:
    async def test_masked_and_complete(self, env: Env) -> None:
        env.gateway.reply({**OK, "code": "10000"})
        reply = await env.client.execute(
            env.account,
            PAY,
            {"out_trade_no": "A1", "auth_code": "287654321098765432"},
            operation="create",
        )
        exchange = reply.exchange
        assert exchange.operation == "create"
        assert exchange.http_status == 200
        assert exchange.duration_ms is not None and exchange.duration_ms >= 0
        assert exchange.response == reply.data
        assert "sign" not in exchange.request
        assert exchange.request["biz_content"]["auth_code"] == "28***32"
        text = json.dumps([exchange.request, exchange.response], ensure_ascii=False)
        assert "PRIVATE KEY" not in text and "287654321098765432" not in text
        assert env.gateway.requests[0]["sign"] not in text

    async def test_attached_to_errors(self, env: Env) -> None:
        env.gateway.reply(
            {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.TRADE_NOT_EXIST",
                "sub_msg": "交易不存在",
            }
        )
        with pytest.raises(ChannelBusinessError) as caught:
            await env.client.execute(env.account, QUERY, {"out_trade_no": "A1"}, operation="q")
        exchange = caught.value.exchange
        assert exchange is not None
        assert exchange.response["sub_code"] == "ACQ.TRADE_NOT_EXIST"
        assert exchange.error and "ACQ.TRADE_NOT_EXIST" in exchange.error


class TestVerification:
    async def test_tampered_body(self, env: Env) -> None:
        body = signed_body(env.keys.alipay, QUERY, {**OK, "total_amount": "0.01"})
        env.gateway.raw(body.replace('"0.01"', '"1000.00"'))
        with pytest.raises(ChannelProtocolError, match="badly signed"):
            await env.client.execute(env.account, QUERY, {}, operation="query")

    async def test_signed_by_someone_else(self, env: Env) -> None:
        env.gateway.raw(signed_body(env.keys.other, QUERY, OK))
        with pytest.raises(ChannelProtocolError, match="badly signed"):
            await env.client.execute(env.account, QUERY, {}, operation="query")

    async def test_unsigned_success_is_not_trusted(self, env: Env) -> None:
        env.gateway.raw(json.dumps({"alipay_trade_query_response": OK}))
        with pytest.raises(ChannelProtocolError, match="unsigned") as caught:
            await env.client.execute(env.account, QUERY, {}, operation="query")
        assert caught.value.code == "10000"

    async def test_unsigned_error_is_not_trusted_either(self, env: Env) -> None:
        env.gateway.raw(json.dumps({"error_response": {"code": "40002", "sub_code": "x"}}))
        with pytest.raises(ChannelProtocolError, match="unsigned"):
            await env.client.execute(env.account, QUERY, {}, operation="query")

    async def test_braces_in_values_still_verify(self, env: Env) -> None:
        obj = {**OK, "subject": 'x}{"sign":"y"},'}
        env.gateway.reply(obj)
        reply = await env.client.execute(env.account, QUERY, {}, operation="query")
        assert reply.data == obj

    @pytest.mark.parametrize(
        ("status", "body"),
        [(200, "<html>gateway busy</html>"), (200, '{"other":1}'), (404, "not found")],
    )
    async def test_unreadable(self, env: Env, status: int, body: str) -> None:
        env.gateway.raw(body, status)
        with pytest.raises(ChannelProtocolError):
            await env.client.execute(env.account, QUERY, {}, operation="query")


def failure(code: str, sub_code: str = "", **extra: str) -> dict[str, str]:
    return {"code": code, "msg": "x", "sub_code": sub_code, "sub_msg": "y", **extra}


class TestCodes:
    @pytest.mark.parametrize(
        ("method", "answer", "expected"),
        [
            (QUERY, failure("20000", "isp.unknow-error"), ChannelUnavailable),
            (PAY, failure("20000", "isp.unknow-error"), ChannelTimeout),
            (PAY, failure("40004", "ACQ.SYSTEM_ERROR"), ChannelTimeout),
            ("alipay.trade.refund", failure("40004", "ACQ.SYSTEM_ERROR"), ChannelTimeout),
            (QUERY, failure("40004", "ACQ.SYSTEM_ERROR"), ChannelUnavailable),
            ("alipay.trade.cancel", failure("40004", "ACQ.X", retry_flag="Y"), ChannelTimeout),
            (PAY, failure("40004", "ACQ.TRADE_HAS_SUCCESS"), ChannelBusinessError),
            (PAY, failure("40004", "ACQ.PAYMENT_AUTH_CODE_INVALID"), ChannelBusinessError),
            (PAY, failure("40002", "isv.invalid-app-id"), ChannelBusinessError),
            (PAY, failure("40006", "isv.insufficient-isv-permissions"), ChannelBusinessError),
            (PAY, failure("99999"), UnknownChannelStatus),
            (QUERY, failure("10003"), UnknownChannelStatus),  # 10003 belongs to trade.pay
        ],
    )
    async def test_mapping(
        self, env: Env, method: str, answer: dict[str, str], expected: type[ChannelError]
    ) -> None:
        env.gateway.reply(answer)
        with pytest.raises(ChannelError) as caught:
            await env.client.execute(env.account, method, {}, operation="x")
        assert type(caught.value) is expected
        assert caught.value.code == answer["code"]
        assert caught.value.sub_code == answer["sub_code"]

    async def test_trade_pay_in_process_is_returned(self, env: Env) -> None:
        env.gateway.reply({"code": "10003", "msg": "order success pay inprocess"})
        reply = await env.client.execute(env.account, PAY, {}, operation="create")
        assert reply.code == "10003"

    @pytest.mark.parametrize(("method", "expected"), [(QUERY, ChannelUnavailable), (PAY, ChannelTimeout)])
    async def test_http_5xx(self, env: Env, method: str, expected: type[ChannelError]) -> None:
        env.gateway.raw("busy", 503)
        with pytest.raises(expected):
            await env.client.execute(env.account, method, {}, operation="x")


class TestTransport:
    async def test_connection_refused_is_unavailable(self, keys: Keys) -> None:
        account = make_account(keys, f"http://127.0.0.1:{free_port()}/gateway.do")
        async with httpx.AsyncClient() as http:
            with pytest.raises(ChannelUnavailable) as caught:
                await AlipayClient(http).execute(account, PAY, {}, operation="create")
        assert caught.value.exchange is not None
        assert caught.value.exchange.request["method"] == PAY

    async def test_slow_answer_is_a_timeout(self, env: Env) -> None:
        env.gateway.reply(OK)
        env.gateway.delay = 0.6  # the account allows 0.3 s
        with pytest.raises(ChannelTimeout) as caught:
            await env.client.execute(env.account, PAY, {}, operation="create")
        assert caught.value.retryable
        assert caught.value.exchange is not None and caught.value.exchange.duration_ms


class TestMisconfiguredAccounts:
    @pytest.mark.parametrize("name", ["app_private_key", "alipay_public_key"])
    async def test_unusable_key_stops_before_sending(self, env: Env, name: str) -> None:
        secrets = {**env.account.secrets, name: Secret("not a key")}
        account = make_account(env.keys, env.account.gateway_url, secrets=secrets)
        with pytest.raises(ChannelError, match=name) as caught:
            await env.client.execute(account, PAY, {}, operation="create")
        assert type(caught.value) is ChannelError and not caught.value.retryable
        assert env.gateway.requests == []
        assert "not a key" not in str(caught.value)

    async def test_unknown_sign_type(self, env: Env) -> None:
        account = make_account(env.keys, env.account.gateway_url, params={"sign_type": "MD5"})
        with pytest.raises(ChannelError, match="sign_type"):
            await env.client.execute(account, PAY, {}, operation="create")
        assert env.gateway.requests == []
