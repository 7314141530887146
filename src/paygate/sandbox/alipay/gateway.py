"""``/gateway.do``: Alipay's OpenAPI gateway.

GET or POST; the query string and an urlencoded body are merged (python-alipay-sdk sends
everything in a GET query, the official SDK POSTs the common parameters in the query and
``biz_content`` in the body). Every answer is HTTP 200: server methods answer signed JSON,
client methods (page/wap/app pay) the cashier page or Alipay's HTML error page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from paygate.sandbox.alipay import managing, ordering
from paygate.sandbox.alipay.calls import CLIENT_METHODS, METHODS, authenticate
from paygate.sandbox.alipay.core import AlipayCore
from paygate.sandbox.alipay.errors import AlipayError
from paygate.sandbox.alipay.notifications import charset_label
from paygate.sandbox.alipay.pages import cashier_page, error_page
from paygate.sandbox.alipay.wire import (
    SIGN_HASHES,
    WireRequest,
    decode_request,
    response_body,
    response_key,
)

__all__ = ["HANDLERS", "SIGN_CONTENT_HEADER", "gateway_endpoint"]

ApiHandler = Callable[[AlipayCore, Any], dict[str, Any]]

HANDLERS: Final[dict[str, ApiHandler]] = {
    "alipay.trade.precreate": ordering.precreate,
    "alipay.trade.create": ordering.create,
    "alipay.trade.pay": ordering.barcode_pay,
    "alipay.trade.query": managing.query,
    "alipay.trade.close": managing.close,
    "alipay.trade.cancel": managing.cancel,
    "alipay.trade.refund": managing.refund,
    "alipay.trade.fastpay.refund.query": managing.refund_query,
    "alipay.data.dataservice.bill.downloadurl.query": managing.bill_download_url,
}

#: On ``isv.invalid-signature`` the sandbox (not Alipay) tells which string it verified.
SIGN_CONTENT_HEADER: Final = "X-Sandbox-Sign-Content"


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").lower()
    return content_type == "" or content_type.startswith("application/x-www-form-urlencoded")


def _api_answer(core: AlipayCore, wire: WireRequest, method: str) -> Response:
    key = response_key(method) if method in METHODS else "error_response"
    hash_name = SIGN_HASHES.get(wire.params.get("sign_type", ""), "SHA256")
    headers: dict[str, str] = {}
    try:
        call = authenticate(wire, core.merchants)
        if fault := core.faults.take_error(method):
            raise fault
        payload = HANDLERS[method](core, call)
    except AlipayError as error:
        payload = error.payload()
        if error.debug:
            headers[SIGN_CONTENT_HEADER] = quote(error.debug, safe="=&")
    body = response_body(key, payload, core.identity.alipay_private_key, hash_name, wire.codec)
    media_type = f"text/html;charset={charset_label(wire.codec)}"
    return Response(body, headers=headers, media_type=media_type)


def _cashier_answer(core: AlipayCore, wire: WireRequest, method: str) -> Response:
    try:
        call = authenticate(wire, core.merchants)
        if fault := core.faults.take_error(method):
            raise fault
        trade = ordering.open_client_order(core, call)
    except AlipayError as error:
        return HTMLResponse(error_page(error))
    return HTMLResponse(cashier_page(trade, core.cashier_url(trade.token)))


def gateway_endpoint(core: AlipayCore) -> Callable[[Request], Awaitable[Response]]:
    async def gateway(request: Request) -> Response:
        body = await request.body() if request.method == "POST" and _is_form(request) else b""
        wire = decode_request(request.scope.get("query_string", b""), body)
        method = wire.params.get("method", "")
        if delay := core.faults.latency_for(method):
            await asyncio.sleep(delay)
        if method in CLIENT_METHODS:
            response = _cashier_answer(core, wire, method)
        else:
            response = _api_answer(core, wire, method)
        if hold := core.faults.timeout_for(method):
            await asyncio.sleep(hold)
        return response

    return gateway
