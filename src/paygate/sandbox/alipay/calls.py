"""Turning a decoded gateway request into an authenticated :class:`Call`.

The checks run in the order a merchant meets them at Alipay: method, app, charset,
format, timestamp, version, signature type, signature, then permissions and the
``biz_content`` JSON. Each failure is Alipay's public error (``40001``/``40002``/...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from paygate.sandbox.alipay.amounts import MAX_TOTAL_FEN, MIN_TOTAL_FEN, parse_yuan
from paygate.sandbox.alipay.clock import BEIJING, parse_time
from paygate.sandbox.alipay.errors import (
    AlipayError,
    business,
    insufficient_permissions,
    invalid,
    missing,
)
from paygate.sandbox.alipay.keys import MerchantApp
from paygate.sandbox.alipay.wire import (
    SIGN_HASHES,
    WireRequest,
    request_sign_content,
    verify_request,
)

__all__ = ["API_METHODS", "CLIENT_METHODS", "METHODS", "Call", "authenticate"]

#: Methods answered with a signed JSON response.
API_METHODS: Final = (
    "alipay.trade.precreate",
    "alipay.trade.create",
    "alipay.trade.pay",
    "alipay.trade.query",
    "alipay.trade.close",
    "alipay.trade.cancel",
    "alipay.trade.refund",
    "alipay.trade.fastpay.refund.query",
    "alipay.data.dataservice.bill.downloadurl.query",
)
#: Methods the buyer's browser (or app) brings: they answer with the cashier page.
CLIENT_METHODS: Final = ("alipay.trade.page.pay", "alipay.trade.wap.pay", "alipay.trade.app.pay")
METHODS: Final = frozenset(API_METHODS + CLIENT_METHODS)

_SIGNATURE_MISMATCH = "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配"
_CHARSET_HINT = "验签出错，请确认charset参数放在了URL查询字符串中且各参数值使用charset参数指示的字符集编码"
_OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_TIMEOUT_EXPRESS = re.compile(r"([1-9][0-9]*)([mhdc])")
_MAX_TIMEOUT = timedelta(days=15)


def bad_parameter(name: str) -> AlipayError:
    return business("ACQ.INVALID_PARAMETER", f"参数无效: {name}")


@dataclass(frozen=True)
class Call:
    """An authenticated request: its app, common parameters and parsed ``biz_content``."""

    method: str
    app: MerchantApp
    params: Mapping[str, str]
    biz: Mapping[str, Any]
    sign_type: str
    codec: str

    def text(self, name: str, *, required: bool = False, max_len: int = 256) -> str:
        value = self.biz.get(name)
        if value is None or value == "":
            if required:
                raise bad_parameter(name)
            return ""
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        text = str(value)
        if len(text) > max_len:
            raise bad_parameter(name)
        return text

    def out_trade_no(self, *, required: bool = True) -> str:
        value = self.text("out_trade_no", required=required, max_len=64)
        if value and not _OUT_TRADE_NO.fullmatch(value):
            raise bad_parameter("out_trade_no")
        return value

    def trade_ref(self) -> tuple[str, str]:
        """``(out_trade_no, trade_no)``; at least one is required."""
        out_trade_no, trade_no = self.out_trade_no(required=False), self.text("trade_no")
        if not out_trade_no and not trade_no:
            raise bad_parameter("out_trade_no, trade_no")
        return out_trade_no, trade_no

    def amount(self, name: str) -> int:
        fen = parse_yuan(self.biz.get(name))
        if fen is None or fen < MIN_TOTAL_FEN:
            raise bad_parameter(name)
        if name == "total_amount" and fen > MAX_TOTAL_FEN:
            raise business("ACQ.TOTAL_FEE_EXCEED")
        return fen

    def deadline(self, now: datetime, default: timedelta) -> datetime:
        """When an unpaid order closes: ``time_expire`` (absolute, Beijing time) wins over
        ``timeout_express`` / ``qr_code_timeout_express`` (``90m``, ``2h``, ``1d``, ``1c``
        = end of today), each at most 15 days away."""
        if expire := self.text("time_expire"):
            try:
                moment = parse_time(expire)
            except ValueError:
                raise bad_parameter("time_expire") from None
            if moment > now + _MAX_TIMEOUT:
                raise bad_parameter("time_expire")
            return moment
        express = self.text("timeout_express") or self.text("qr_code_timeout_express")
        if not express:
            return now + default
        match = _TIMEOUT_EXPRESS.fullmatch(express)
        if match is None:
            raise bad_parameter("timeout_express")
        count, unit = int(match.group(1)), match.group(2)
        if unit == "c":
            if count != 1:
                raise bad_parameter("timeout_express")
            local = now.astimezone(BEIJING)
            return local.replace(hour=23, minute=59, second=59, microsecond=0)
        span = {"m": timedelta(minutes=count), "h": timedelta(hours=count)}.get(unit, timedelta(days=count))
        if span > _MAX_TIMEOUT:
            raise bad_parameter("timeout_express")
        return now + span


def _parse_biz(raw: str) -> dict[str, Any]:
    if raw == "":
        return {}
    try:
        biz = json.loads(raw, parse_float=str)
    except ValueError:
        biz = None
    if not isinstance(biz, dict):
        raise invalid("isv.invalid-parameter", "参数无效: biz_content")
    return biz


def authenticate(wire: WireRequest, merchants: Mapping[str, MerchantApp]) -> Call:
    p = wire.params
    method = p.get("method", "")
    if not method:
        raise missing("isv.missing-method", "缺少方法名参数")
    if method not in METHODS:
        raise invalid("isv.invalid-method", "不存在的方法名")
    app_id = p.get("app_id", "")
    if not app_id:
        raise missing("isv.missing-app-id", "缺少AppID参数")
    app = merchants.get(app_id)
    if app is None:
        raise invalid("isv.invalid-app-id", "无效的AppID参数")
    if not wire.charset_valid:
        raise invalid("isv.invalid-charset", "字符集错误")
    if p.get("format", "json").lower() != "json":
        raise invalid("isv.invalid-format", "无效的数据格式")
    timestamp = p.get("timestamp", "")
    if not timestamp:
        raise missing("isv.missing-timestamp", "缺少时间戳参数")
    try:
        parse_time(timestamp)
    except ValueError:
        raise invalid("isv.invalid-timestamp", "非法的时间戳参数") from None
    if not p.get("version"):
        raise missing("isv.missing-version", "缺少版本参数")
    sign_type = p.get("sign_type", "")
    if not sign_type:
        raise missing("isv.missing-signature-type", "缺少签名类型参数")
    if sign_type not in SIGN_HASHES:
        raise invalid("isv.invalid-signature-type", "无效的签名类型")
    if not p.get("sign"):
        raise missing("isv.missing-signature", "缺少签名参数")
    if not verify_request(p, app.app_public_key, SIGN_HASHES[sign_type], wire.codec):
        error = invalid(
            "isv.invalid-signature", _SIGNATURE_MISMATCH if wire.charset_in_query else _CHARSET_HINT
        )
        error.debug = request_sign_content(p)
        raise error
    if p.get("app_auth_token"):
        raise AlipayError("20001", "aop.invalid-app-auth-token", "无效的应用授权令牌")
    if app.methods is not None and method not in app.methods:
        raise insufficient_permissions()
    return Call(method, app, p, _parse_biz(p.get("biz_content", "")), sign_type, wire.codec)
