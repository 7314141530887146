"""Alipay's HTTP side: ``/gateway.do`` (the OpenAPI gateway) and how a request becomes an
authenticated :class:`Call`.

GET or POST; the query string and an urlencoded body are merged (python-alipay-sdk sends
everything in a GET query, the official SDK POSTs the common parameters in the query and
``biz_content`` in the body). Every answer is HTTP 200: server methods answer signed JSON,
client methods (page/wap/app pay) the cashier page or Alipay's HTML error page.

The checks run in the order a merchant meets them at Alipay: method, app, charset,
format, timestamp, version, signature type, signature, then permissions and the
``biz_content`` JSON. Each failure is Alipay's public error (``40001``/``40002``/...).
Injected faults (latency, errors, timeouts, hangs) apply per OpenAPI method, around
everything the gateway does for the request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from paygate.sandbox.alipay.errors import (
    AlipayError,
    business,
    from_fault,
    insufficient_permissions,
    invalid,
    missing,
)
from paygate.sandbox.alipay.keys import MerchantApp
from paygate.sandbox.alipay.wire import (
    BEIJING,
    MAX_TOTAL_FEN,
    MIN_TOTAL_FEN,
    SIGN_HASHES,
    WireRequest,
    decode_request,
    parse_time,
    parse_yuan,
    request_sign_content,
    response_body,
    response_key,
    verify_request,
)
from paygate.sandbox.harness import InjectedFault

if TYPE_CHECKING:
    from paygate.sandbox.alipay.store import AlipayStore

__all__ = [
    "API_METHODS",
    "CLIENT_METHODS",
    "METHODS",
    "SIGN_CONTENT_HEADER",
    "Call",
    "authenticate",
    "bad_parameter",
    "gateway_endpoint",
]

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


#: On ``isv.invalid-signature`` the sandbox (not Alipay) tells which string it verified.
SIGN_CONTENT_HEADER: Final = "X-Sandbox-Sign-Content"


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").lower()
    return content_type == "" or content_type.startswith("application/x-www-form-urlencoded")


#: An OpenAPI method's handler: the answer object of a successful call.
ApiHandler = Callable[["AlipayStore", Call], dict[str, Any]]


def _answer(
    store: AlipayStore, wire: WireRequest, method: str, payload: Mapping[str, Any], debug: str
) -> Response:
    key = response_key(method) if method in METHODS else "error_response"
    hash_name = SIGN_HASHES.get(wire.params.get("sign_type", ""), "SHA256")
    body = response_body(key, payload, store.identity.alipay_private_key, hash_name, wire.codec)
    headers = {SIGN_CONTENT_HEADER: quote(debug, safe="=&")} if debug else {}
    charset = "utf-8" if wire.codec == "utf-8" else "gbk"
    return Response(body, headers=headers, media_type=f"text/html;charset={charset}")


def gateway_endpoint(
    store: AlipayStore,
    handlers: Mapping[str, ApiHandler],
    cashier: Callable[[Call], Response],
    error_page: Callable[[AlipayError], Response],
) -> Callable[[Request], Awaitable[Response]]:
    """``handlers`` answer the server methods; ``cashier`` opens a page/wap/app order (the
    buyer's browser brought it) and ``error_page`` is what a refused one shows."""
    faults = store.harness.faults

    async def gateway(request: Request) -> Response:
        body = await request.body() if request.method == "POST" and _is_form(request) else b""
        wire = decode_request(request.scope.get("query_string", b""), body)
        method = wire.params.get("method", "")

        async def open_cashier() -> Response:
            return cashier(authenticate(wire, store.merchants))

        async def call_method() -> dict[str, Any]:
            call = authenticate(wire, store.merchants)  # refuses an unknown method first
            return handlers[call.method](store, call)

        if method in CLIENT_METHODS:
            try:
                return await faults.around(method, open_cashier)
            except InjectedFault as fault:
                return error_page(from_fault(fault.fields))
            except AlipayError as error:
                return error_page(error)
        try:
            return _answer(store, wire, method, await faults.around(method, call_method), "")
        except InjectedFault as fault:
            return _answer(store, wire, method, from_fault(fault.fields).payload(), "")
        except AlipayError as error:
            return _answer(store, wire, method, error.payload(), error.debug)

    return gateway
