"""Authentication (R-SEC-1/2) and bad input (R-API-7): every refusal has a stable code, no
500, no stack trace, nothing written."""

from __future__ import annotations

import json
import time
import typing
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from paygate.api.schemas import (
    BillQueryRequest,
    PayRequest,
    QueryRequest,
    RefundQueryRequest,
    RefundRequest,
    RequestModel,
    SettleQueryRequest,
    TradeRefRequest,
)
from paygate.kit import signing
from paygate.models import Refund, Trade, TradeLog
from tests.support.helpers import count, order_no
from tests.support.stack import Stack

GOOD = {"out_order_no": "EDGE-1", "pay_type": "alipay.qr", "amount": 100, "currency": "CNY", "subject": "x"}


async def send(
    stack: Stack,
    body: bytes,
    *,
    path: str = "/gopay",
    headers: dict[str, str] | None = None,
    sign: bool = True,
    secret: str | None = None,
) -> httpx.Response:
    h = {"Content-Type": "application/json"}
    if sign:
        ts, nonce = str(int(time.time())), f"nonce{time.time_ns()}"
        msg = signing.request_message("POST", path, ts, nonce, body)
        h.update(
            {
                signing.HEADER_APP_ID: "demo",
                signing.HEADER_TIMESTAMP: ts,
                signing.HEADER_NONCE: nonce,
                signing.HEADER_SIGNATURE: signing.sign_hmac(secret or stack.credentials["secret"], msg),
            }
        )
    h.update(headers or {})
    async with httpx.AsyncClient(base_url=stack.internal_url) as http:
        return await http.post(path, content=body, headers=h)


def envelope(response: httpx.Response) -> dict[str, Any]:
    assert "Traceback" not in response.text
    data: dict[str, Any] = response.json()
    assert set(data) >= {"errno", "msg", "error"}
    return data


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "INVALID_JSON"),
        (b'{"out_order_no":"\xff"}', "INVALID_JSON"),  # not UTF-8
        (b"", "INVALID_JSON"),
        (b"[]", "INVALID_REQUEST"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "amount"}).encode(), "INVALID_REQUEST"),
        (json.dumps({**GOOD, "amount": 0}).encode(), "INVALID_AMOUNT"),
        (json.dumps({**GOOD, "amount": -5}).encode(), "INVALID_AMOUNT"),
        (json.dumps({**GOOD, "amount": 10**13}).encode(), "INVALID_AMOUNT"),
        (json.dumps({**GOOD, "amount": 19.99}).encode(), "INVALID_AMOUNT"),
        (json.dumps({**GOOD, "amount": "100"}).encode(), "INVALID_AMOUNT"),
        (json.dumps({**GOOD, "currency": "XYZ"}).encode(), "UNKNOWN_CURRENCY"),
        (json.dumps({**GOOD, "pay_type": "nopay.qr"}).encode(), "UNKNOWN_PAY_TYPE"),
        (json.dumps({**GOOD, "pay_type": "alipay.h5"}).encode(), "UNKNOWN_PAY_TYPE"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "subject"}).encode(), "INVALID_REQUEST"),
        (json.dumps({**GOOD, "subject": 5}).encode(), "INVALID_REQUEST"),
        (json.dumps({**GOOD, "unexpected": 1}).encode(), "INVALID_REQUEST"),
        (json.dumps({**GOOD, "currency": "USD"}).encode(), "CHANNEL_VALIDATION"),
        (json.dumps({**GOOD, "pay_type": "alipay.barcode"}).encode(), "CHANNEL_VALIDATION"),
    ],
)
async def test_bad_pay_input_is_refused_with_a_stable_code(stack: Stack, body: bytes, code: str) -> None:
    response = await send(stack, body)
    assert 400 <= response.status_code < 500
    assert envelope(response)["error"] == code
    assert await count(stack, Trade) == 0


async def test_a_body_that_is_not_utf8_is_judged_after_the_signature(stack: Stack) -> None:
    """docs/api.md, steps 3-7 before the body: bytes that are not UTF-8 from a caller whose
    signature fails get that caller's 401; from a signed caller, a signed INVALID_JSON."""
    raw = b'{"out_order_no":"\xff"}'
    r = await send(stack, raw, secret="wrong-secret")
    assert r.status_code == 401 and envelope(r)["error"] == "BAD_SIGNATURE"
    r = await send(stack, raw)
    assert r.status_code == 400 and envelope(r)["error"] == "INVALID_JSON"
    assert r.headers.get(signing.HEADER_SIGNATURE)  # answered as the authenticated app


async def test_oversized_and_wrong_media_type(stack: Stack) -> None:
    big = json.dumps({**GOOD, "subject": "x" * 100_000}).encode()
    response = await send(stack, big)
    assert response.status_code == 413 and envelope(response)["error"] == "BODY_TOO_LARGE"
    response = await send(stack, json.dumps(GOOD).encode(), headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and envelope(response)["error"] == "UNSUPPORTED_MEDIA_TYPE"
    assert await count(stack, Trade) == 0


async def test_unknown_trade_and_route(stack: Stack) -> None:
    response = await send(stack, b'{"trade_no":"T0000"}', path="/query/trade")
    assert response.status_code == 404 and envelope(response)["error"] == "TRADE_NOT_FOUND"
    response = await send(stack, b"{}", path="/query/trade")
    assert response.status_code == 400 and envelope(response)["error"] == "INVALID_REQUEST"
    response = await send(stack, b"{}", path="/nowhere")
    assert response.status_code == 404 and envelope(response)["error"] == "NOT_FOUND_ROUTE"


async def test_authentication_failures_each_have_their_code(stack: Stack) -> None:
    body = json.dumps({**GOOD, "out_order_no": order_no()}).encode()
    r = await send(stack, body, sign=False)
    assert r.status_code == 401 and envelope(r)["error"] == "MISSING_CREDENTIALS"
    r = await send(stack, body, secret="wrong-secret")
    assert r.status_code == 401 and envelope(r)["error"] == "BAD_SIGNATURE"
    r = await send(stack, body, headers={signing.HEADER_APP_ID: "nobody"})
    assert r.status_code == 401 and envelope(r)["error"] == "UNKNOWN_APP"

    old = str(int(time.time()) - 301)
    msg = signing.request_message("POST", "/gopay", old, "nonce-old-1", body)
    r = await send(
        stack,
        body,
        headers={
            signing.HEADER_TIMESTAMP: old,
            signing.HEADER_NONCE: "nonce-old-1",
            signing.HEADER_SIGNATURE: signing.sign_hmac(stack.credentials["secret"], msg),
        },
    )
    assert r.status_code == 401 and envelope(r)["error"] == "TIMESTAMP_OUT_OF_WINDOW"

    ts = str(int(time.time()))
    msg = signing.request_message("POST", "/gopay", ts, "nonce-replay-1", body)
    replay = {
        signing.HEADER_TIMESTAMP: ts,
        signing.HEADER_NONCE: "nonce-replay-1",
        signing.HEADER_SIGNATURE: signing.sign_hmac(stack.credentials["secret"], msg),
    }
    first = await send(stack, body, headers=replay)
    assert first.status_code == 200, first.text
    again = await send(stack, body, headers=replay)
    assert again.status_code == 401 and envelope(again)["error"] == "NONCE_REUSED"
    assert await count(stack, Trade) == 1

    tampered = body.replace(b'"amount":100', b'"amount":1')
    r = await send(stack, tampered, headers={**replay, signing.HEADER_NONCE: "nonce-tamper-1"})
    assert r.status_code == 401 and envelope(r)["error"] == "BAD_SIGNATURE"
    assert await count(stack, Trade) == 1


async def test_pay_type_not_allowed_for_the_app(stack: Stack) -> None:
    created = await stack.container.apps.create("narrow", "Narrow app", ["alipay.qr"])
    body = json.dumps({**GOOD, "pay_type": "alipay.page"}).encode()
    ts, nonce = str(int(time.time())), "nonce-narrow-1"
    msg = signing.request_message("POST", "/gopay", ts, nonce, body)
    r = await send(
        stack,
        body,
        headers={
            signing.HEADER_APP_ID: "narrow",
            signing.HEADER_TIMESTAMP: ts,
            signing.HEADER_NONCE: nonce,
            signing.HEADER_SIGNATURE: signing.sign_hmac(created["secret"], msg),
        },
    )
    assert r.status_code == 403 and envelope(r)["error"] == "PAY_TYPE_NOT_ALLOWED"


async def test_responses_are_signed_and_secrets_never_returned(stack: Stack) -> None:
    body = json.dumps({**GOOD, "out_order_no": order_no()}).encode()
    r = await send(stack, body)
    assert r.status_code == 200
    ts, nonce = r.headers[signing.HEADER_TIMESTAMP], r.headers[signing.HEADER_NONCE]
    assert signing.verify_hmac(
        stack.credentials["secret"],
        signing.response_message(ts, nonce, r.content),
        r.headers[signing.HEADER_SIGNATURE],
    )
    assert stack.credentials["secret"] not in r.text and "PRIVATE KEY" not in r.text


async def test_rsa_app_signs_with_its_key_and_verifies_platform_signature(stack: Stack) -> None:
    from paygate.kit.crypto import generate_rsa_key, private_key_pem, public_key_pem
    from paygate.sdk import PaygateClient

    key = generate_rsa_key()
    await stack.container.apps.create("rsa-app", "RSA app", ["alipay.qr"], public_key=public_key_pem(key))
    async with httpx.AsyncClient() as http:
        platform = (await http.get(f"{stack.internal_url}/platform/public-key")).json()["data"]["public_key"]
    async with PaygateClient(
        stack.internal_url, "rsa-app", private_key=private_key_pem(key), platform_public_key=platform
    ) as client:
        trade = await client.pay(out_order_no=order_no(), pay_type="alipay.qr", amount=100, subject="rsa")
    assert trade["state"] == "pending"


async def test_sources_outside_the_allow_list_are_refused(db_url: str, data_dir: Any) -> None:
    from tests.support.stack import running_stack, stack_settings

    settings = stack_settings(db_url, data_dir, internal_allow=["10.0.0.0/8"])
    async with running_stack(settings) as s:
        r = await send(s, json.dumps(GOOD).encode())
        assert r.status_code == 403 and r.json()["error"] == "SOURCE_NOT_ALLOWED"
        assert await count(s, Trade) == 0


NUL = "\x00"
#: per endpoint: a valid body, and each string field of its request model with a NUL in it.
#: Dicts of strings (extra, metadata) get the NUL in a key and in a value.
NUL_CASES: dict[str, tuple[type[BaseModel], dict[str, Any], list[tuple[str, Any]]]] = {
    "/gopay": (
        PayRequest,
        GOOD,
        [
            ("out_order_no", f"EDGE{NUL}1"),
            ("pay_type", f"alipay{NUL}.qr"),
            ("currency", f"CN{NUL}"),
            ("subject", f"TV{NUL}"),
            ("description", f"big{NUL}"),
            ("notify_url", f"https://shop.test/n{NUL}"),
            ("return_url", f"https://shop.test/r{NUL}"),
            ("client_ip", f"127.0.0.1{NUL}"),
            ("extra", {"openid": f"o{NUL}"}),
            ("extra", {f"openid{NUL}": "o"}),
            ("metadata", {"k": f"v{NUL}"}),
            ("metadata", {f"k{NUL}": "v"}),
        ],
    ),
    "/query/trade": (
        QueryRequest,
        {"out_order_no": "EDGE-1"},
        [("trade_no", f"T{NUL}"), ("out_order_no", f"EDGE{NUL}1")],
    ),
    "/close": (
        TradeRefRequest,
        {"out_order_no": "EDGE-1"},
        [("trade_no", f"T{NUL}"), ("out_order_no", f"EDGE{NUL}1")],
    ),
    "/refund": (
        RefundRequest,
        {"out_order_no": "EDGE-1", "out_refund_no": "RF-1", "amount": 1},
        [
            ("trade_no", f"T{NUL}"),
            ("out_order_no", f"EDGE{NUL}1"),
            ("out_refund_no", f"RF{NUL}1"),
            ("currency", f"CN{NUL}"),
            ("reason", f"why{NUL}"),
            ("notify_url", f"https://shop.test/n{NUL}"),
        ],
    ),
    "/query/refund": (
        RefundQueryRequest,
        {"out_refund_no": "RF-1"},
        [("refund_no", f"R{NUL}"), ("out_refund_no", f"RF{NUL}1")],
    ),
    "/query/bill": (
        BillQueryRequest,
        {"channel": "alipay", "bill_date": "2026-06-05"},
        [("channel", f"alipay{NUL}"), ("bill_date", f"2026-06-0{NUL}"), ("after", f"1{NUL}")],
    ),
    "/query/settle": (
        SettleQueryRequest,
        {"channel": "alipay", "settle_date": "2026-06-05"},
        [("channel", f"alipay{NUL}"), ("settle_date", f"2026-06-0{NUL}")],
    ),
}


def test_every_request_body_refuses_nul_and_every_app_endpoint_is_covered(stack: Stack) -> None:
    """A new endpoint cannot forget the NUL rule: every request body model of the internal
    API is a RequestModel, and every signed app endpoint has its cases above."""
    from fastapi.routing import APIRoute

    from paygate.api.internal import create_internal_app

    app = create_internal_app(stack.container.internal_services())
    bodies = {
        route.path: route.body_field.field_info.annotation
        for route in app.routes
        if isinstance(route, APIRoute) and route.body_field
    }
    assert bodies and all(issubclass(model, RequestModel) for model in bodies.values()), bodies
    app_paths = {path for path in bodies if not path.startswith("/operator/")}
    assert app_paths == set(NUL_CASES)


def holds_str(annotation: Any) -> bool:
    return annotation is str or any(holds_str(arg) for arg in typing.get_args(annotation))


def string_fields(model: type[BaseModel]) -> set[str]:
    return {name for name, field in model.model_fields.items() if holds_str(field.annotation)}


@pytest.mark.parametrize("path", list(NUL_CASES))
async def test_a_nul_character_in_any_string_field_is_refused(stack: Stack, path: str) -> None:
    """PostgreSQL text cannot hold U+0000; every backend refuses it the same way, with 400
    INVALID_REQUEST naming the field, before anything is written."""
    model, good, cases = NUL_CASES[path]
    assert {field for field, _ in cases} == string_fields(model)  # a new string field needs a case
    for field, value in cases:
        response = await send(stack, json.dumps({**good, field: value}).encode(), path=path)
        body = envelope(response)
        assert response.status_code == 400, (field, response.text)
        assert body["error"] == "INVALID_REQUEST" and body["msg"].startswith(f"{field}: "), body
        assert "U+0000" in body["msg"]
    assert await count(stack, Trade) == 0
    assert await count(stack, TradeLog) == 0
    assert await count(stack, Refund) == 0
