"""WeChat Pay's error answers: ``{"code", "message"[, "detail"]}`` with the HTTP status
WeChat uses for the code, signed like any answer.

An injected error fault reads ``{"code", "status"?, "message"?}`` (or just the code): the
status defaults to WeChat's for the code (500 for an unknown one) and the message to
WeChat's usual text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_MESSAGES",
    "ERROR_STATUS",
    "WechatError",
    "from_fault",
    "param_error",
    "parse_fault",
]

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


def parse_fault(spec: Any) -> dict[str, Any]:
    """An error fault's fields, defaults filled in (``ValueError`` if it is not one)."""
    if isinstance(spec, str):
        spec = {"code": spec}
    if not isinstance(spec, Mapping) or set(spec) - {"code", "status", "message"}:
        raise ValueError(f'an error is a code or {{"code", "status", "message"}}, not {spec!r}')
    code = spec.get("code")
    if not isinstance(code, str) or not code:
        raise ValueError("an error needs a code such as SYSTEM_ERROR")
    status = spec.get("status", ERROR_STATUS.get(code, 500))
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    message = spec.get("message") or DEFAULT_MESSAGES.get(code, code)
    return {"code": code, "status": status, "message": str(message)}


def from_fault(fields: Mapping[str, Any] | None) -> WechatError:
    """The answer to an injected fault: its error, or ``SYSTEM_ERROR`` for a request that
    never reached WeChat's business layer."""
    if fields is None:
        return WechatError.of("SYSTEM_ERROR")
    return WechatError(fields["status"], fields["code"], fields["message"])
