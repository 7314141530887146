"""The gateway's protocol: the exact signed response shape, Alipay's error answers for
bad requests (always HTTP 200), the request canonical string, charsets, absolute-form
request targets, permissions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote_plus

import uvicorn

from paygate.kit.crypto import generate_rsa_key, private_key_pem, public_key_pem, rsa_sign, rsa_verify
from paygate.sandbox.alipay.api import SIGN_CONTENT_HEADER
from tests.sandbox.alipay.conftest import Env
from tests.support.servers import free_port, release_port

ENVELOPE = re.compile(r'\{"([a-z_]+_response)":(\{.*\}),"sign":"([A-Za-z0-9+/=]+)"\}', re.S)


def signed_query(env: Env, method: str, biz: dict[str, Any], **extra: str) -> str:
    """A GET query string signed by python-alipay-sdk (independent of the sandbox)."""
    alipay = env.python_sdk()
    data = alipay.build_body(method, biz, **extra)
    return str(alipay.sign_data(data))


def envelope(env: Env, text: str, codec: str = "utf-8") -> tuple[str, dict[str, Any]]:
    """Check §1.2's shape and the signature over the exact response-object bytes."""
    match = ENVELOPE.fullmatch(text)
    assert match, text
    key, inner, sign = match.groups()
    assert rsa_verify(env.creds["alipay_public_key"], inner.encode(codec), sign, "SHA256")
    return key, json.loads(inner)


async def get(env: Env, query: str) -> tuple[str, dict[str, Any]]:
    response = await env.http.get(f"{env.gateway}?{query}")
    assert response.status_code == 200
    return envelope(env, response.text)


class TestResponseShape:
    async def test_success_is_signed_over_the_exact_bytes_with_escaped_slashes(self, env: Env) -> None:
        query = signed_query(
            env,
            "alipay.trade.precreate",
            {"out_trade_no": "SHAPE1", "total_amount": "1.00", "subject": "中文"},
        )
        response = await env.http.get(f"{env.gateway}?{query}")
        assert response.headers["content-type"].startswith("text/html;charset=utf-8")
        assert '"qr_code":"http:\\/\\/127.0.0.1' in response.text  # Alipay escapes "/"
        key, body = envelope(env, response.text)
        assert key == "alipay_trade_precreate_response"
        assert list(body)[:2] == ["code", "msg"] and body["code"] == "10000"

    async def test_business_failure_is_signed_too(self, env: Env) -> None:
        key, body = await get(env, signed_query(env, "alipay.trade.query", {"out_trade_no": "NO_SUCH"}))
        assert key == "alipay_trade_query_response"
        assert body == {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": "ACQ.TRADE_NOT_EXIST",
            "sub_msg": "交易不存在",
        }


class TestRefusals:
    async def test_wrong_private_key_is_an_invalid_signature(self, env: Env) -> None:
        other = private_key_pem(generate_rsa_key(), "pkcs1")
        alipay = env.python_sdk(app_private_key=other)
        answer = await asyncio.to_thread(alipay.api_alipay_trade_query, out_trade_no="X1")
        assert (answer["code"], answer["msg"], answer["sub_code"]) == (
            "40002",
            "Invalid Arguments",
            "isv.invalid-signature",
        )
        assert "{" not in answer["sub_msg"]  # python-alipay-sdk counts braces naively

    async def test_unknown_app_id(self, env: Env) -> None:
        alipay = env.python_sdk(app_id="2021009999999999")
        answer = await asyncio.to_thread(alipay.api_alipay_trade_query, out_trade_no="X1")
        assert (answer["code"], answer["sub_code"], answer["sub_msg"]) == (
            "40002",
            "isv.invalid-app-id",
            "无效的AppID参数",
        )

    async def test_tampered_value_is_refused_and_the_verified_string_is_shown(self, env: Env) -> None:
        query = signed_query(
            env,
            "alipay.trade.precreate",
            {"out_trade_no": "TAMPER1", "total_amount": "100.00", "subject": "s"},
        )
        tampered = query.replace(quote_plus('"100.00"'), quote_plus('"1.00"'))
        assert tampered != query
        response = await env.http.get(f"{env.gateway}?{tampered}")
        _, body = envelope(env, response.text)
        assert body["sub_code"] == "isv.invalid-signature"
        assert "total_amount" in response.headers[SIGN_CONTENT_HEADER]
        assert env.sandbox.trade("TAMPER1") is None

    async def test_added_parameter_breaks_the_signature_but_an_empty_one_does_not(self, env: Env) -> None:
        query = signed_query(env, "alipay.trade.query", {"out_trade_no": "NO_SUCH"})
        _, added = await get(env, query + "&terminal_type=APP")
        assert added["sub_code"] == "isv.invalid-signature"
        _, empty = await get(env, query + "&terminal_type=")  # empty values are not signed
        assert empty["sub_code"] == "ACQ.TRADE_NOT_EXIST"

    async def test_missing_and_invalid_common_parameters(self, env: Env) -> None:
        query = signed_query(env, "alipay.trade.query", {"out_trade_no": "NO_SUCH"})
        params = dict(p.split("=", 1) for p in query.split("&"))

        def without(*names: str, **changes: str) -> str:
            kept = {k: v for k, v in params.items() if k not in names} | changes
            return "&".join(f"{k}={v}" for k, v in kept.items())

        cases = {
            without("sign"): ("alipay_trade_query_response", "40001", "isv.missing-signature"),
            without("sign_type"): ("alipay_trade_query_response", "40001", "isv.missing-signature-type"),
            without(sign_type="MD5"): ("alipay_trade_query_response", "40002", "isv.invalid-signature-type"),
            without("timestamp"): ("alipay_trade_query_response", "40001", "isv.missing-timestamp"),
            without(timestamp="yesterday"): ("alipay_trade_query_response", "40002", "isv.invalid-timestamp"),
            without("app_id"): ("alipay_trade_query_response", "40001", "isv.missing-app-id"),
            without(charset="latin9"): ("alipay_trade_query_response", "40002", "isv.invalid-charset"),
            without(format="xml"): ("alipay_trade_query_response", "40002", "isv.invalid-format"),
            without("method"): ("error_response", "40001", "isv.missing-method"),
            without(method="alipay.trade.nope"): ("error_response", "40002", "isv.invalid-method"),
        }
        for query_string, (key, code, sub_code) in cases.items():
            response = await env.http.post(f"{env.gateway}?{query_string}")
            assert response.status_code == 200
            assert envelope(env, response.text)[0] == key
            body = envelope(env, response.text)[1]
            assert (body["code"], body["sub_code"]) == (code, sub_code), query_string

    async def test_garbage_still_gets_http_200(self, env: Env) -> None:
        response = await env.http.post(
            env.gateway, content=b"\xff\xfe=%%%", headers={"content-type": "text/plain"}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].endswith("charset=gbk")  # Alipay's default
        assert envelope(env, response.content.decode("gbk"), "gbk")[1]["sub_code"] == "isv.missing-method"

    async def test_unsigned_methods_answer_insufficient_permissions(self, env: Env) -> None:
        key = generate_rsa_key()
        env.sandbox.register_merchant(
            "2021000000000777", public_key_pem(key), "2088000000000777", methods=["alipay.trade.query"]
        )
        alipay = env.python_sdk(app_id="2021000000000777", app_private_key=private_key_pem(key, "pkcs1"))
        answer = await asyncio.to_thread(
            alipay.api_alipay_trade_precreate, subject="s", out_trade_no="P1", total_amount="1"
        )
        assert (answer["code"], answer["sub_code"]) == ("40006", "isv.insufficient-isv-permissions")
        allowed = await asyncio.to_thread(alipay.api_alipay_trade_query, out_trade_no="P1")
        assert allowed["sub_code"] == "ACQ.TRADE_NOT_EXIST"


class TestBusinessValidation:
    async def test_amounts_are_validated_like_alipay(self, env: Env) -> None:
        cases = [
            ("0.00", "ACQ.INVALID_PARAMETER"),
            ("1.001", "ACQ.INVALID_PARAMETER"),
            ("abc", "ACQ.INVALID_PARAMETER"),
            ("100000000.01", "ACQ.TOTAL_FEE_EXCEED"),
        ]
        for amount, sub_code in cases:
            biz = {"out_trade_no": "AMT1", "total_amount": amount, "subject": "s"}
            _, body = await get(env, signed_query(env, "alipay.trade.precreate", biz))
            assert (body["code"], body["sub_code"]) == ("40004", sub_code), amount
        biz = {"out_trade_no": "AMT2", "total_amount": "100000000.00", "subject": "s"}
        assert (await get(env, signed_query(env, "alipay.trade.precreate", biz)))[1]["code"] == "10000"

    async def test_missing_business_fields(self, env: Env) -> None:
        _, body = await get(
            env, signed_query(env, "alipay.trade.precreate", {"total_amount": "1.00", "subject": "s"})
        )
        assert body["sub_code"] == "ACQ.INVALID_PARAMETER" and "out_trade_no" in body["sub_msg"]
        _, body = await get(
            env,
            signed_query(
                env, "alipay.trade.create", {"out_trade_no": "C1", "total_amount": "1", "subject": "s"}
            ),
        )
        assert body["sub_code"] == "ACQ.INVALID_PARAMETER" and "buyer_id" in body["sub_msg"]

    async def test_changed_order_under_the_same_out_trade_no_is_refused(self, env: Env) -> None:
        first = {"out_trade_no": "SAME1", "total_amount": "1.00", "subject": "s"}
        qr1 = (await get(env, signed_query(env, "alipay.trade.precreate", first)))[1]["qr_code"]
        qr2 = (await get(env, signed_query(env, "alipay.trade.precreate", first)))[1]["qr_code"]
        assert qr1 == qr2
        changed = first | {"total_amount": "2.00"}
        assert (await get(env, signed_query(env, "alipay.trade.precreate", changed)))[1][
            "sub_code"
        ] == "ACQ.CONTEXT_INCONSISTENT"


class TestCharsets:
    async def test_charset_only_in_the_body_decodes_as_gbk_like_alipay(self, env: Env) -> None:
        raw_biz = json.dumps(
            {"out_trade_no": "CS1", "total_amount": "1.00", "subject": "中文标题"}, ensure_ascii=False
        )
        body = signed_query(env, "alipay.trade.precreate", raw_biz)  # type: ignore[arg-type]
        form = {"content-type": "application/x-www-form-urlencoded"}
        response = await env.http.post(env.gateway, content=body, headers=form)
        refused = envelope(env, response.content.decode("gbk"), "gbk")[1]
        assert refused["sub_code"] == "isv.invalid-signature" and "charset" in refused["sub_msg"]
        accepted = await env.http.post(f"{env.gateway}?charset=utf-8", content=body, headers=form)
        assert envelope(env, accepted.text)[1]["code"] == "10000"
        assert env.sandbox.trade("CS1")["subject"] == "中文标题"  # type: ignore[index]

    async def test_gbk_requests_get_gbk_answers(self, env: Env) -> None:
        alipay = env.python_sdk()
        data = alipay.build_body(
            "alipay.trade.precreate", {"out_trade_no": "GBK1", "total_amount": "1.00", "subject": "沙箱"}
        )
        data["charset"] = "gbk"
        ordered = alipay._ordered_data(data)
        content = "&".join(f"{k}={v}" for k, v in ordered)
        # python-alipay-sdk only signs UTF-8 bytes: sign the GBK bytes by hand.
        signature = rsa_sign(env.creds["app_private_key"], content.encode("gbk"))
        query = "&".join(f"{k}={quote_plus(v, encoding='gbk')}" for k, v in [*ordered, ("sign", signature)])
        response = await env.http.get(f"{env.gateway}?{query}")
        assert response.headers["content-type"].endswith("charset=gbk")
        match = ENVELOPE.fullmatch(response.content.decode("gbk"))
        assert match and rsa_verify(
            env.creds["alipay_public_key"], match.group(2).encode("gbk"), match.group(3)
        )
        assert json.loads(match.group(2))["code"] == "10000"


@contextlib.asynccontextmanager
async def serve_h11(app: Any) -> AsyncIterator[int]:
    """Like tests.support.servers.serve_asgi, with h11 (which passes an absolute-form
    target through as the path: the sandbox must route it itself)."""
    port = release_port(free_port())  # uvicorn binds it itself here
    server = uvicorn.Server(uvicorn.Config(app, port=port, http="h11", log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def raw_post(port: int, target: str, body: bytes = b"") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


class TestAbsoluteForm:
    async def test_absolute_form_target_on_the_mounted_server(self, env: Env) -> None:
        query = signed_query(env, "alipay.trade.query", {"out_trade_no": "NO_SUCH"})
        port = int(env.base_url.rsplit(":", 1)[1])
        raw = await raw_post(port, f"http://127.0.0.1/alipay/gateway.do?{query}")
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert envelope(env, body.decode())[1]["sub_code"] == "ACQ.TRADE_NOT_EXIST"

    async def test_absolute_form_target_when_the_server_passes_it_through(self, env: Env) -> None:
        query = signed_query(env, "alipay.trade.query", {"out_trade_no": "NO_SUCH"})
        async with serve_h11(env.sandbox.app) as port:
            raw = await raw_post(port, f"http://127.0.0.1/gateway.do?{query}")
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), raw
        assert envelope(env, body.decode())[1]["sub_code"] == "ACQ.TRADE_NOT_EXIST"
