"""A tiny scripted WeChat Pay v3 API for client tests: it checks each request's
Authorization with the test-side reference code, records it, and answers whatever the test
says, signed (or not) as the test says. ``/v3/certificates`` lists ``certificates``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.adapters.wechatpay.support import (
    APIV3_KEY,
    AUTH_PATTERN,
    MCHID,
    MERCHANT_SERIAL,
    PUBLIC_KEY_ID,
    Keys,
    cert_pem,
    cert_serial,
    compact,
    encrypt,
    ref_verify,
    signed_headers,
)


@dataclass
class Seen:
    method: str
    target: str  # raw path + query, as on the request line
    headers: dict[str, str]
    body: bytes
    authorized: bool

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    signer: str = "public"  # public | cert | rotated | forged | none
    headers: dict[str, str] = field(default_factory=dict)


def answer(obj: Any = None, status: int = 200, signer: str = "public", **headers: str) -> Answer:
    return Answer(status, b"" if obj is None else compact(obj), signer, dict(headers))


@dataclass
class FakeWechat:
    keys: Keys
    script: Callable[[Seen], Answer] | None = None
    delay: float = 0.0
    seen: list[Seen] = field(default_factory=list)
    certificates: list[x509.Certificate] = field(default_factory=list)
    certificates_signer: str = "cert"
    certificates_apiv3_key: str = APIV3_KEY
    certificate_fetches: int = 0
    certificate_delay: float = 0.0

    def reset(self) -> None:
        self.script, self.delay, self.seen = None, 0.0, []
        self.certificates = [self.keys.certificate]
        self.certificates_signer, self.certificates_apiv3_key = "cert", APIV3_KEY
        self.certificate_fetches, self.certificate_delay = 0, 0.0

    def reply(self, obj: Any = None, status: int = 200, signer: str = "public") -> None:
        """Answer every call with ``obj``."""
        self.script = lambda _seen: answer(obj, status, signer)

    def _signing(self, signer: str) -> tuple[rsa.RSAPrivateKey, str] | None:
        keys = self.keys
        return {
            "public": (keys.platform, PUBLIC_KEY_ID),
            "cert": (keys.cert_key, cert_serial(keys.certificate)),
            "rotated": (keys.rotated, cert_serial(keys.rotated_certificate)),
            "forged": (keys.other, PUBLIC_KEY_ID),
        }.get(signer)

    def _respond(self, reply: Answer) -> Response:
        headers = {"Request-ID": "08F78BB5AF0D11E9BF0D00163E0A3D3F-0"}
        signing = self._signing(reply.signer)
        if signing is not None:
            headers.update(signed_headers(signing[0], signing[1], reply.body))
        headers.update(reply.headers)
        media = "application/json; charset=utf-8" if reply.body else None
        return Response(reply.body, status_code=reply.status, headers=headers, media_type=media)

    def _authorized(self, request: Request, target: str, body: bytes) -> bool:
        match = AUTH_PATTERN.fullmatch(request.headers.get("authorization", ""))
        if match is None:
            return False
        mchid, nonce, signature, ts, serial = match.groups()
        message = f"{request.method}\n{target}\n{ts}\n{nonce}\n".encode() + body + b"\n"
        return (
            mchid == MCHID
            and serial == MERCHANT_SERIAL
            and ref_verify(self.keys.merchant, message, signature)
        )

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        raw_path = request.scope["raw_path"].decode()
        query = request.scope["query_string"].decode()
        target = raw_path + ("?" + query if query else "")
        seen = Seen(request.method, target, dict(request.headers), body, False)
        seen.authorized = self._authorized(request, target, body)
        self.seen.append(seen)
        if not seen.authorized:
            error = {"code": "SIGN_ERROR", "message": "错误的签名，验签失败"}
            return self._respond(answer(error, 401))
        if raw_path == "/v3/certificates":
            self.certificate_fetches += 1
            await asyncio.sleep(self.certificate_delay)
            return self._respond(self._certificates())
        await asyncio.sleep(self.delay)
        assert self.script is not None, "no answer scripted"
        return self._respond(self.script(seen))

    def _certificates(self) -> Answer:
        data = [
            {
                "serial_no": cert_serial(cert),
                "effective_time": cert.not_valid_before_utc.isoformat(),
                "expire_time": cert.not_valid_after_utc.isoformat(),
                "encrypt_certificate": encrypt(
                    self.certificates_apiv3_key, cert_pem(cert).encode(), "certificate"
                ),
            }
            for cert in self.certificates
        ]
        return answer({"data": data}, signer=self.certificates_signer)

    @property
    def app(self) -> Starlette:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=methods)])
