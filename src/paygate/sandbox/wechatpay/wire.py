"""WeChat Pay v3's wire rules, both ways, implemented independently of the adapter.

**Answers and notifications** carry JSON bodies and the ``Wechatpay-*`` signature headers;
the signed message is ``"{timestamp}\\n{nonce}\\n{body}\\n"``, RSA PKCS#1 v1.5 with
SHA-256 under the platform key, base64. ``Wechatpay-Serial`` is the platform public key
id in public-key mode, the platform certificate serial otherwise.

**Requests** (``Authorization: WECHATPAY2-SHA256-RSA2048 …``) are verified over
``"{METHOD}\\n{url}\\n{timestamp}\\n{nonce_str}\\n{body}\\n"`` where ``url`` is the
absolute path with its query string and ``body`` the **raw bytes** received (never a
re-serialisation), with the merchant's API key. Because the sandbox lives under a prefix
(``…/wechatpay``), a client whose base URL includes the prefix signs the path below it
(``/v3/…``) while a client that signs the request line signs ``/wechatpay/v3/…``; both are
accepted. A path segment percent-encoded by the HTTP library (``|`` → ``%7C``) is
accepted in either spelling.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from paygate.kit.crypto import rsa_sign, rsa_verify

from .errors import WechatError
from .keys import Merchant, Platform

__all__ = [
    "JSON_MEDIA_TYPE",
    "SIGNATURE_TYPE",
    "TIMESTAMP_WINDOW_SECONDS",
    "Authorization",
    "AuthorizedRequest",
    "authenticate",
    "canonical_urls",
    "dump_json",
    "parse_authorization",
    "request_message",
    "signature_headers",
    "signed_response",
    "verify",
]

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
JSON_MEDIA_TYPE = "application/json; charset=utf-8"


def dump_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON, Chinese kept as is (what WeChat sends)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def new_nonce() -> str:
    return secrets.token_hex(16)


def signature_headers(
    platform: Platform, body: bytes, *, public_key_mode: bool, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = new_nonce()
    message = ts.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    return {
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa_sign(platform.private_key, message),
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Serial": (platform.public_key_id if public_key_mode else platform.certificate_serial),
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


def new_request_id() -> str:
    return secrets.token_hex(16).upper() + "-" + str(secrets.randbelow(10**9))


def signed_response(
    platform: Platform,
    status: int,
    payload: Any | None,
    *,
    public_key_mode: bool,
) -> Response:
    """A JSON (or, for 204, empty) answer carrying the five ``Wechatpay-*`` headers."""
    body = b"" if payload is None else dump_json(payload)
    headers = signature_headers(platform, body, public_key_mode=public_key_mode)
    headers["Request-ID"] = new_request_id()
    if payload is None:
        return Response(content=b"", status_code=status, headers=headers)
    return Response(content=body, status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)


# -- requests: the merchant's Authorization header ----------------------------------

TIMESTAMP_WINDOW_SECONDS = 300
_AUTH_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
_PAIR = re.compile(r'\s*([a-z_]+)\s*=\s*"([^"]*)"\s*')

_FORMAT_MESSAGE = "Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》"
_SIGN_MESSAGE = "错误的签名，验签失败"


@dataclass(frozen=True)
class Authorization:
    mchid: str
    nonce_str: str
    signature: str
    timestamp: str
    serial_no: str


@dataclass(frozen=True)
class AuthorizedRequest:
    merchant: Merchant
    body: bytes
    # True when the request named the platform public key id in ``Wechatpay-Serial``:
    # the answer is then signed in public-key mode.
    public_key_mode: bool


def _sign_error(message: str, detail: dict[str, object] | None = None) -> WechatError:
    return WechatError(401, "SIGN_ERROR", message, detail)


def parse_authorization(header: str | None) -> Authorization:
    if not header:
        raise _sign_error(_FORMAT_MESSAGE)
    scheme, _, rest = header.strip().partition(" ")
    if scheme != SIGNATURE_TYPE or not rest:
        raise _sign_error(_FORMAT_MESSAGE)
    values: dict[str, str] = {}
    for part in rest.split(","):
        match = _PAIR.fullmatch(part)
        if match is None:
            raise _sign_error(_FORMAT_MESSAGE)
        values[match.group(1)] = match.group(2)
    if any(not values.get(name) for name in _AUTH_FIELDS):
        raise _sign_error(_FORMAT_MESSAGE)
    return Authorization(**{name: values[name] for name in _AUTH_FIELDS})


def request_message(method: str, url: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    head = f"{method}\n{url}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def canonical_urls(raw_path: str, root_path: str, query_string: str) -> list[str]:
    """Every spelling of the request URL a correct client may have signed."""
    paths = [raw_path]
    if root_path and raw_path.startswith(root_path + "/"):
        paths.insert(0, raw_path[len(root_path) :])
    paths += [urllib.parse.unquote(p) for p in paths]
    suffix = "?" + query_string if query_string else ""
    seen: list[str] = []
    for p in paths:
        if p + suffix not in seen:
            seen.append(p + suffix)
    return seen


def verify(
    auth: Authorization,
    merchant: Merchant,
    method: str,
    urls: list[str],
    body: bytes,
    now: float,
) -> None:
    """Raise ``SIGN_ERROR`` unless ``auth`` is a valid signature of this request."""
    if auth.serial_no.upper() != merchant.serial_no.upper():
        raise _sign_error(
            "商户证书序列号有误。请使用签名私钥匹配的证书序列号",
            {"field": "serial_no", "location": "authorization", "value": auth.serial_no},
        )
    try:
        ts = int(auth.timestamp)
    except ValueError:
        raise _sign_error(_FORMAT_MESSAGE) from None
    if abs(now - ts) > TIMESTAMP_WINDOW_SECONDS:
        raise _sign_error(
            "签名中的时间戳已过期或早于当前时间5分钟以上，请使用当前时间戳重新签名",
            {
                "detail": {"issue": "timestamp expired"},
                "field": "timestamp",
                "location": "authorization",
            },
        )
    for url in urls:
        message = request_message(method, url, auth.timestamp, auth.nonce_str, body)
        if rsa_verify(merchant.public_key, message, auth.signature):
            return
    first = request_message(method, urls[0], auth.timestamp, auth.nonce_str, body)
    raise _sign_error(
        _SIGN_MESSAGE,
        {
            "detail": {"issue": "sign not match"},
            "field": "signature",
            "location": "authorization",
            "sign_information": {
                "method": method,
                "sign_message_length": len(first),
                "truncated_sign_message": first[:100].decode("utf-8", "replace"),
                "url": urls[0].partition("?")[0],
            },
        },
    )


def _public_key_mode(request_serial: str | None, platform: Platform) -> bool:
    if not request_serial:
        return False
    if request_serial == platform.public_key_id:
        return True
    try:
        if int(request_serial, 16) == platform.certificate.serial_number:
            return False
    except ValueError:
        pass
    raise WechatError(
        400,
        "PARAM_ERROR",
        "请求头Wechatpay-Serial对应的微信支付平台证书或公钥不存在",
        {"field": "Wechatpay-Serial", "location": "header", "value": request_serial},
    )


async def authenticate(
    request: Request, merchants: Mapping[str, Merchant], platform: Platform
) -> AuthorizedRequest:
    auth = parse_authorization(request.headers.get("authorization"))
    merchant = merchants.get(auth.mchid)
    if merchant is None:
        raise WechatError(400, "MCH_NOT_EXISTS", "商户号不存在")
    body = await request.body()
    scope = request.scope
    urls = canonical_urls(
        scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
        scope.get("root_path", ""),
        scope.get("query_string", b"").decode("latin-1"),
    )
    verify(auth, merchant, request.method, urls, body, time.time())
    public_key_mode = _public_key_mode(request.headers.get("wechatpay-serial"), platform)
    return AuthorizedRequest(merchant=merchant, body=body, public_key_mode=public_key_mode)
