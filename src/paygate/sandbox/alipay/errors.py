"""Alipay's error answers: public gateway codes and the trade APIs' business ``sub_code``s.

Every error travels as ``{"code", "msg", "sub_code", "sub_msg"}`` inside the method's
``…_response`` object, signed like a success (§1.2 of channels.md):

====== =============================== ==========================================
code   msg                             raised for
====== =============================== ==========================================
20000  Service Currently Unavailable   injected faults (``isp.unknow-error``)
20001  Insufficient Token Permissions  ``app_auth_token`` (not simulated)
40001  Missing Required Arguments      ``isv.missing-*`` (method, app id, sign, …)
40002  Invalid Arguments               ``isv.invalid-*`` (app id, signature, …)
40004  Business Failed                 ``ACQ.*`` and ``isp.bill_not_exist``
40006  Insufficient Permissions        method not signed for this app
====== =============================== ==========================================

An injected error fault (``{"errors": {"alipay.trade.query": {"sub_code": …}}}``) reads
``code`` / ``sub_code`` / ``sub_msg``, each optional: ``code`` ``20000`` (the default) is
"service unavailable", a ``sub_code`` alone a ``40004`` business failure with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "BUSINESS_MESSAGES",
    "AlipayError",
    "business",
    "from_fault",
    "insufficient_permissions",
    "invalid",
    "missing",
    "parse_fault",
    "unavailable",
]

CODE_MESSAGES: dict[str, str] = {
    "10000": "Success",
    "10003": "order success pay inprocess",
    "20000": "Service Currently Unavailable",
    "20001": "Insufficient Token Permissions",
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40004": "Business Failed",
    "40006": "Insufficient Permissions",
}

#: The default ``sub_msg`` of each business ``sub_code`` the sandbox emits.
BUSINESS_MESSAGES: dict[str, str] = {
    "ACQ.SYSTEM_ERROR": "系统错误",
    "ACQ.INVALID_PARAMETER": "参数无效",
    "ACQ.ACCESS_FORBIDDEN": "无权限使用接口",
    "ACQ.TRADE_NOT_EXIST": "交易不存在",
    "ACQ.TRADE_HAS_SUCCESS": "交易已被支付",
    "ACQ.TRADE_HAS_CLOSE": "交易已经关闭",
    "ACQ.TRADE_HAS_FINISHED": "交易已完结",
    "ACQ.TRADE_STATUS_ERROR": "交易状态不合法",
    "ACQ.TOTAL_FEE_EXCEED": "订单金额超过限额",
    "ACQ.CONTEXT_INCONSISTENT": "交易信息被篡改",
    "ACQ.PAYMENT_AUTH_CODE_INVALID": "付款码无效，请顾客刷新付款码后重新收款",
    "ACQ.BUYER_BALANCE_NOT_ENOUGH": "买家余额不足",
    "ACQ.SELLER_BALANCE_NOT_ENOUGH": "卖家余额不足",
    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": "退款金额超限",
    "ACQ.DISCORDANT_REPEAT_REQUEST": "不一致的请求",
    "ACQ.REASON_TRADE_BEEN_FREEZEN": "交易已经被冻结",
    "isp.bill_not_exist": "账单不存在",
}


class AlipayError(Exception):
    """An error answer. ``extra`` fields follow ``sub_msg`` in the response object."""

    def __init__(self, code: str, sub_code: str, sub_msg: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code} {sub_code}: {sub_msg}")
        self.code = code
        self.msg = CODE_MESSAGES.get(code, "Business Failed")
        self.sub_code = sub_code
        self.sub_msg = sub_msg
        self.extra = dict(extra or {})
        #: Sandbox-only help (the canonical string the gateway verified); sent in a header.
        self.debug = ""

    def payload(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "msg": self.msg,
            "sub_code": self.sub_code,
            "sub_msg": self.sub_msg,
            **self.extra,
        }


def missing(sub_code: str, sub_msg: str) -> AlipayError:
    return AlipayError("40001", sub_code, sub_msg)


def invalid(sub_code: str, sub_msg: str) -> AlipayError:
    return AlipayError("40002", sub_code, sub_msg)


def business(sub_code: str, sub_msg: str | None = None, **extra: Any) -> AlipayError:
    return AlipayError("40004", sub_code, sub_msg or BUSINESS_MESSAGES.get(sub_code, "业务处理失败"), extra)


def unavailable() -> AlipayError:
    return AlipayError("20000", "isp.unknow-error", "系统繁忙")


def insufficient_permissions() -> AlipayError:
    return AlipayError(
        "40006", "isv.insufficient-isv-permissions", "ISV权限不足，建议在开发者中心检查签约状态"
    )


def parse_fault(spec: Any) -> dict[str, Any]:
    """An error fault's fields, defaults filled in (``ValueError`` if it is not one)."""
    if not isinstance(spec, Mapping) or set(spec) - {"code", "sub_code", "sub_msg"}:
        raise ValueError('an Alipay error fault is {"code", "sub_code", "sub_msg"}, each optional')
    code, sub_code, sub_msg = spec.get("code"), spec.get("sub_code"), spec.get("sub_msg")
    if code is None:
        code = "40004" if sub_code else "20000"
    if sub_code is None:
        sub_code = "isp.unknow-error" if code == "20000" else "ACQ.SYSTEM_ERROR"
    if sub_msg is None:
        sub_msg = BUSINESS_MESSAGES.get(sub_code, "系统繁忙")
    if not all(isinstance(v, str) and v for v in (code, sub_code, sub_msg)):
        raise ValueError("code, sub_code and sub_msg are non-empty strings")
    return {"code": code, "sub_code": sub_code, "sub_msg": sub_msg}


def from_fault(fields: Mapping[str, Any] | None) -> AlipayError:
    """The answer to an injected fault: its error, or "service unavailable" for a request
    that was never handled."""
    if fields is None:
        return unavailable()
    return AlipayError(fields["code"], fields["sub_code"], fields["sub_msg"])
