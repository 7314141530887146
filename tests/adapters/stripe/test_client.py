"""StripeClient over real HTTP against a scripted server: what goes on the wire, the error
mapping, retries with the same idempotency key, and what the exchange records."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paygate.channels.contract import (
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    ChannelProtocolError,
    ChannelTimeout,
    ChannelUnavailable,
)
from paygate.channels.stripe.client import StripeClient
from paygate.channels.stripe.protocol import API_VERSION
from paygate.kit.crypto import Secret
from tests.support.servers import free_port, serve_asgi

pytestmark = pytest.mark.asyncio(loop_scope="module")
SECRET_KEY = "sk_test_51abcdefSECRETKEY"
INTENT = {"id": "pi_1", "object": "payment_intent", "client_secret": "pi_1_secret_zzz", "status": "succeeded"}


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    form: list[tuple[str, str]]
    query: list[tuple[str, str]]


@dataclass
class Scripted:
    """Answers the scripted responses in turn (the last one repeats) and records requests."""

    answers: list[Answer] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        body = (await request.body()).decode()
        self.seen.append(
            Seen(
                request.method,
                request.url.path,
                dict(request.headers),
                parse_qsl(body, keep_blank_values=True),
                parse_qsl(request.url.query, keep_blank_values=True),
            )
        )
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if answer.delay:
            await asyncio.sleep(answer.delay)
        content = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        return Response(content, answer.status, headers=answer.headers, media_type="application/json")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/{rest:path}", self.handle, methods=["GET", "POST"])])


@dataclass
class Env:
    server: Scripted
    client: StripeClient
    account: ChannelAccount

    def script(self, *answers: Answer) -> None:
        self.server.answers, self.server.seen = list(answers), []


def account(base: str, timeout: float = 2.0) -> ChannelAccount:
    return ChannelAccount(
        id=1,
        channel="stripe",
        name="t",
        merchant_id="acct_1",
        gateway_url=base,
        secrets={"secret_key": Secret(SECRET_KEY), "webhook_secret": Secret("whsec_x")},
        timeout_seconds=timeout,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served() -> AsyncIterator[tuple[Scripted, str, httpx.AsyncClient]]:
    server = Scripted()
    async with serve_asgi(server.app()) as base, httpx.AsyncClient() as http:
        yield server, base, http


@pytest.fixture
def env(served: tuple[Scripted, str, httpx.AsyncClient]) -> Env:
    server, base, http = served
    return Env(server, StripeClient(http, retry_delay=0.01), account(base))


def error(status: int, type_: str, code: str | None = None, **extra: Any) -> Answer:
    body: dict[str, Any] = {"type": type_, "message": "m"}
    if code:
        body["code"] = code
    body.update(extra)
    return Answer(status, {"error": body})


async def post(env: Env, key: str = "create:P1", **params: Any) -> Any:
    return await env.client.post(
        env.account, "/v1/payment_intents", params or {"amount": 1}, operation="create", idempotency_key=key
    )


class TestWire:
    async def test_post_form_headers_and_record(self, env: Env) -> None:
        env.script(Answer(200, INTENT, {"Request-Id": "req_1"}))
        params: dict[str, Any] = {
            "amount": 2000,
            "confirm": True,
            "payment_method_types": ["card"],
            "metadata": {"attempt_no": "P1", "note": "a&b=c é"},
            "skipped": None,
        }
        reply = await post(env, **params)
        (seen,) = env.server.seen
        assert seen.method == "POST" and seen.path == "/v1/payment_intents"
        assert seen.headers["authorization"] == f"Bearer {SECRET_KEY}"
        assert seen.headers["stripe-version"] == API_VERSION
        assert seen.headers["idempotency-key"] == "create:P1"
        assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
        assert seen.form == [
            ("amount", "2000"),
            ("confirm", "true"),
            ("payment_method_types[0]", "card"),
            ("metadata[attempt_no]", "P1"),
            ("metadata[note]", "a&b=c é"),
        ]
        assert reply.data["client_secret"] == "pi_1_secret_zzz"  # the caller gets it ...
        exchange = reply.exchange
        recorded = json.dumps([exchange.request, exchange.response], ensure_ascii=False)
        assert "pi_1_secret_zzz" not in recorded and SECRET_KEY not in recorded  # ... the log never
        assert exchange.request["request_id"] == "req_1" and exchange.request["attempts"] == 1
        assert exchange.http_status == 200 and exchange.duration_ms is not None

    async def test_get_query(self, env: Env) -> None:
        env.script(Answer(200, {"object": "list", "data": []}))
        params = {"created": {"gte": 1, "lt": 2}, "expand": ["data.source"]}
        await env.client.get(env.account, "/v1/balance_transactions", params, operation="bill")
        (seen,) = env.server.seen
        assert seen.method == "GET" and "idempotency-key" not in seen.headers and seen.form == []
        assert seen.query == [("created[gte]", "1"), ("created[lt]", "2"), ("expand[0]", "data.source")]

    async def test_every_post_needs_a_key(self, env: Env) -> None:
        with pytest.raises(ValueError):
            await post(env, key="")


class TestErrors:
    @pytest.mark.parametrize(
        ("answer", "kind", "code", "sub_code"),
        [
            (error(402, "card_error", "card_declined", decline_code="insufficient_funds"),
             ChannelBusinessError, "card_declined", "insufficient_funds"),
            (error(400, "invalid_request_error", "parameter_missing", param="amount"),
             ChannelBusinessError, "parameter_missing", ""),
            (error(404, "invalid_request_error", "resource_missing"),
             ChannelBusinessError, "resource_missing", ""),
            (error(400, "idempotency_error"), ChannelBusinessError, "idempotency_error", ""),
            (error(401, "invalid_request_error"), ChannelBusinessError, "authentication_error", ""),
            (error(403, "invalid_request_error", "account_invalid"),
             ChannelBusinessError, "account_invalid", ""),
            (error(429, "invalid_request_error", "rate_limit"), ChannelTimeout, "rate_limit", ""),
            (error(500, "api_error"), ChannelTimeout, "", ""),
            (error(503, "api_error"), ChannelTimeout, "", ""),
            (Answer(502, b"<html>bad gateway</html>"), ChannelTimeout, "", ""),
            (Answer(200, b"not json"), ChannelProtocolError, "", ""),
            (Answer(200, [1, 2]), ChannelProtocolError, "", ""),
            (Answer(400, b"???"), ChannelProtocolError, "", ""),
            (Answer(418, {"error": {"type": "teapot"}}), ChannelProtocolError, "", ""),
        ],
    )  # fmt: skip
    async def test_write_mapping(
        self, env: Env, answer: Answer, kind: type[ChannelError], code: str, sub_code: str
    ) -> None:
        env.script(answer)
        with pytest.raises(ChannelError) as exc:
            await post(env)
        assert type(exc.value) is kind
        assert (exc.value.code, exc.value.sub_code) == (code, sub_code)
        assert exc.value.exchange is not None and exc.value.exchange.error == exc.value.message
        assert exc.value.exchange.http_status == answer.status

    @pytest.mark.parametrize("status", [409, 429, 500, 503])
    async def test_reads_are_unavailable(self, env: Env, status: int) -> None:
        env.script(error(status, "api_error", "lock_timeout" if status == 429 else None))
        with pytest.raises(ChannelUnavailable):
            await env.client.get(env.account, "/v1/payment_intents/pi_1", operation="query")

    async def test_card_error_masks_the_intent_in_the_record(self, env: Env) -> None:
        env.script(
            error(402, "card_error", "card_declined", decline_code="generic_decline", payment_intent=INTENT)
        )
        with pytest.raises(ChannelBusinessError) as exc:
            await post(env)
        assert exc.value.exchange is not None
        assert exc.value.exchange.response["error"]["payment_intent"]["client_secret"] == "***"


class TestRetries:
    async def test_500_then_success_same_key(self, env: Env) -> None:
        env.script(error(500, "api_error"), Answer(200, INTENT, {"Idempotent-Replayed": "true"}))
        reply = await post(env)
        assert [s.headers["idempotency-key"] for s in env.server.seen] == ["create:P1", "create:P1"]
        assert env.server.seen[0].form == env.server.seen[1].form
        assert reply.exchange.request["attempts"] == 2 and reply.exchange.request["replayed"] is True

    async def test_409_in_flight_is_retried(self, env: Env) -> None:
        env.script(error(409, "invalid_request_error", "idempotency_key_in_use"), Answer(200, INTENT))
        await post(env)
        assert len(env.server.seen) == 2

    async def test_retries_are_bounded(self, env: Env) -> None:
        env.script(error(503, "api_error"))
        with pytest.raises(ChannelTimeout) as exc:
            await post(env)
        assert len(env.server.seen) == 3 and exc.value.exchange is not None
        assert exc.value.exchange.request["attempts"] == 3

    async def test_should_retry_header_wins(self, env: Env) -> None:
        no = error(500, "api_error")
        no.headers["Stripe-Should-Retry"] = "false"
        env.script(no)
        with pytest.raises(ChannelTimeout):
            await post(env)
        assert len(env.server.seen) == 1
        yes = error(400, "invalid_request_error", "lock_timeout")
        yes.headers["Stripe-Should-Retry"] = "true"
        env.script(yes, Answer(200, INTENT))
        await post(env)
        assert len(env.server.seen) == 2

    async def test_business_errors_and_plain_rate_limits_are_not_retried(self, env: Env) -> None:
        for answer in (
            error(402, "card_error", "card_declined"),
            error(429, "invalid_request_error", "rate_limit"),
        ):
            env.script(answer)
            with pytest.raises(ChannelError):
                await post(env)
            assert len(env.server.seen) == 1

    async def test_a_slow_answer_uses_the_whole_budget_once(self, env: Env) -> None:
        env.script(Answer(200, INTENT, delay=1.0))
        slow = StripeClient(env.client._http, retry_delay=0.01)
        with pytest.raises(ChannelTimeout) as exc:
            await slow.post(
                account(env.account.gateway_url, timeout=0.3),
                "/v1/payment_intents",
                {"amount": 1},
                operation="create",
                idempotency_key="create:P9",
            )
        assert len(env.server.seen) == 1 and "no complete answer" in exc.value.message

    async def test_connect_failures(self, served: tuple[Scripted, str, httpx.AsyncClient]) -> None:
        _, _, http = served
        dead = account(f"http://127.0.0.1:{free_port()}")
        client = StripeClient(http, retry_delay=0.01)
        with pytest.raises(ChannelUnavailable) as exc:
            await client.post(
                dead, "/v1/refunds", {"amount": 1}, operation="refund", idempotency_key="refund:R1"
            )
        assert exc.value.exchange is not None and exc.value.exchange.request["attempts"] == 3
        with pytest.raises(ChannelUnavailable):
            await client.get(account("ftp://127.0.0.1"), "/v1/refunds", operation="query_refund")

    async def test_a_write_that_may_have_arrived_stays_unknown(self, env: Env) -> None:
        # A 500 first (maybe processed), then the server is gone: never "not processed".
        class Vanishing:
            def __init__(self, inner: httpx.AsyncClient) -> None:
                self.inner, self.calls = inner, 0

            async def request(self, *args: Any, **kwargs: Any) -> httpx.Response:
                self.calls += 1
                if self.calls == 1:
                    return await self.inner.request(*args, **kwargs)
                raise httpx.ConnectError("refused")

        env.script(error(500, "api_error"))
        client = StripeClient(Vanishing(env.client._http), retry_delay=0.01)  # type: ignore[arg-type]
        with pytest.raises(ChannelTimeout, match="earlier attempt"):
            await client.post(
                env.account, "/v1/refunds", {"amount": 1}, operation="refund", idempotency_key="k"
            )
