"""What goes on the wire from the sandbox: JSON bodies, the ``Wechatpay-*`` signature
headers, and WeChat's error shape ``{"code", "message"[, "detail"]}``.

Signed message (responses and notifications alike)::

    "{timestamp}\\n{nonce}\\n{body}\\n"

RSA PKCS#1 v1.5 with SHA-256 under the platform key, base64. ``Wechatpay-Serial`` is
the platform public key id in public-key mode, the platform certificate serial otherwise.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from starlette.responses import Response

from paygate.kit.crypto import rsa_sign

from .keys import Platform

__all__ = [
    "JSON_MEDIA_TYPE",
    "SIGNATURE_TYPE",
    "WechatError",
    "dump_json",
    "param_error",
    "signature_headers",
    "signed_response",
]

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
JSON_MEDIA_TYPE = "application/json; charset=utf-8"

# HTTP status WeChat uses for each error code (a fault may name any of them).
ERROR_STATUS: dict[str, int] = {
    "PARAM_ERROR": 400,
    "INVALID_REQUEST": 400,
    "APPID_MCHID_NOT_MATCH": 400,
    "MCH_NOT_EXISTS": 400,
    "ORDER_CLOSED": 400,
    "ORDERPAID": 400,
    "NO_STATEMENT_EXIST": 400,
    "STATEMENT_CREATING": 400,
    "SIGN_ERROR": 401,
    "NO_AUTH": 403,
    "OUT_TRADE_NO_USED": 403,
    "NOT_ENOUGH": 403,
    "NOTENOUGH": 403,
    "USER_ACCOUNT_ABNORMAL": 403,
    "TRADE_ERROR": 403,
    "RULE_LIMIT": 403,
    "ORDER_NOT_EXIST": 404,
    "ORDERNOTEXIST": 404,
    "RESOURCE_NOT_EXISTS": 404,
    "FREQUENCY_LIMITED": 429,
    "SYSTEM_ERROR": 500,
    "BANKERROR": 500,
}

DEFAULT_MESSAGES: dict[str, str] = {
    "SYSTEM_ERROR": "系统错误",
    "FREQUENCY_LIMITED": "频率超限",
    "BANKERROR": "银行系统异常",
    "NOT_ENOUGH": "余额不足",
    "NO_AUTH": "商户无权限",
    "INVALID_REQUEST": "无效请求",
    "PARAM_ERROR": "参数错误",
}


class WechatError(Exception):
    """An error answer in WeChat's shape; raised anywhere below an API endpoint."""

    def __init__(self, status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    @classmethod
    def of(cls, code: str, message: str | None = None) -> WechatError:
        return cls(ERROR_STATUS.get(code, 500), code, message or DEFAULT_MESSAGES.get(code, code))

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code}
        if self.detail is not None:
            out["detail"] = self.detail
        out["message"] = self.message
        return out


def param_error(
    message: str, *, location: str = "body", value: Any = None, field: str | None = None
) -> WechatError:
    detail: dict[str, Any] = {"location": location}
    if field is not None:
        detail["field"] = field
    if value is not None:
        detail["value"] = value
    return WechatError(400, "PARAM_ERROR", message, detail)


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
