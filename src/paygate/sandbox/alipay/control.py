"""The control API under ``/_sandbox/`` (JSON; not part of Alipay): act as the buyer,
inspect trades and notifications, inject faults, move the clock.

``POST /_sandbox/pay`` ``{"trade": X, "outcome": ..., "buyer_id"?, "app_id"?}`` where X is
an ``out_trade_no`` (or ``trade_no``) the sandbox knows, a ``qr_code`` URL, a page/wap pay
URL (``page_execute(req, "GET")`` or the signed query python-alipay-sdk returns, prefixed
with the gateway), or an app pay order string. Outcomes:

- ``scan``: the buyer scans / opens the cashier: the trade exists, ``WAIT_BUYER_PAY``.
- ``pay``: the buyer pays: ``TRADE_SUCCESS`` and its notification.
- ``fail``: a payment attempt fails (insufficient balance). Alipay changes nothing and
  notifies nothing: the trade (created if needed) keeps waiting and can still be paid.
- ``cancel``: the buyer gives up and the trade is closed: ``TRADE_CLOSED`` and its
  notification (as when an unpaid trade times out).
- ``finish``: a paid trade's refund period ends: ``TRADE_FINISHED`` and its notification.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from paygate.sandbox.alipay.amounts import format_fen
from paygate.sandbox.alipay.book import BuyerAction
from paygate.sandbox.alipay.calls import CLIENT_METHODS, authenticate
from paygate.sandbox.alipay.clock import format_time, format_time_ms
from paygate.sandbox.alipay.core import AlipayCore
from paygate.sandbox.alipay.errors import AlipayError
from paygate.sandbox.alipay.faults import FaultSpecError
from paygate.sandbox.alipay.ordering import open_client_order
from paygate.sandbox.alipay.trades import Trade, TradeState
from paygate.sandbox.alipay.wire import decode_request

__all__ = ["OUTCOMES", "ControlError", "buyer_acts", "control_routes", "trade_json"]

OUTCOMES: tuple[BuyerAction, ...] = ("scan", "pay", "fail", "cancel", "finish")
_TOKEN_PATH = re.compile(r"/(?:qr|cashier)/([A-Za-z0-9_\-]+)$")
_NOT_ISSUED_HINT = (
    "The sandbox knows no order {x!r}. Page/wap/app pay orders are signed by the merchant "
    "and reach Alipay only when the buyer brings them: pass the pay URL (page_execute(req, "
    "'GET'), or the gateway URL + the signed query) or the app pay order string instead."
)


class ControlError(Exception):
    def __init__(self, status: int, error: str, message: str, trade: Trade | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.trade = status, error, message, trade


def trade_json(core: AlipayCore, trade: Trade) -> dict[str, Any]:
    def when(moment: Any) -> str | None:
        return format_time(moment) if moment else None

    exists = trade.state is not TradeState.ISSUED
    return {
        "app_id": trade.app_id,
        "out_trade_no": trade.out_trade_no,
        "trade_no": trade.trade_no or None,
        "method": trade.method,
        "product_code": trade.product_code,
        "state": trade.state.value,
        "trade_status": trade.state.value if exists else None,
        "total_amount": format_fen(trade.total_amount),
        "refunded_amount": format_fen(trade.refunded_amount),
        "subject": trade.subject,
        "buyer_id": trade.buyer.user_id if trade.buyer else None,
        "buyer_logon_id": trade.buyer.masked_logon_id if trade.buyer else None,
        "gmt_create": when(trade.gmt_create),
        "gmt_payment": when(trade.gmt_payment),
        "gmt_close": when(trade.gmt_close),
        "pay_deadline": format_time(trade.deadline),
        "qr_code": core.qr_url(trade.token) if trade.method == "alipay.trade.precreate" else None,
        "cashier_url": core.cashier_url(trade.token),
        "notify_url": trade.notify_url or None,
        "payment_failures": list(trade.payment_failures),
        "refunds": [
            {
                "out_request_no": r.out_request_no,
                "refund_amount": format_fen(r.amount),
                "gmt_refund": format_time_ms(r.at),
            }
            for r in trade.refunds
        ],
        "notifications": [
            d.to_json()
            for d in core.notifier.deliveries
            if d.params.get("out_trade_no") == trade.out_trade_no and d.params.get("app_id") == trade.app_id
        ],
    }


def _open_signed(core: AlipayCore, query: str, buyer_id: str | None) -> str:
    wire = decode_request(query.encode("utf-8"), b"")
    try:
        call = authenticate(wire, core.merchants)
    except AlipayError as error:
        raise ControlError(400, error.sub_code, error.sub_msg) from None
    if call.method not in CLIENT_METHODS:
        raise ControlError(400, "not_a_client_order", f"{call.method} is not a page/wap/app pay order")
    try:
        return open_client_order(core, call, buyer_id).token
    except AlipayError as error:
        raise ControlError(409, error.sub_code, error.sub_msg) from None


def _resolve(core: AlipayCore, target: str, app_id: str | None, buyer_id: str | None) -> str:
    text = target.strip()
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        if match := _TOKEN_PATH.search(parts.path):
            if core.book.by_token(match.group(1)) is None:
                raise ControlError(404, "unknown_trade", f"no QR code or cashier {text!r}")
            return match.group(1)
        if parts.query:
            return _open_signed(core, parts.query, buyer_id)
        raise ControlError(400, "bad_trade", f"{text!r} is neither a QR code nor a pay URL")
    if "method=" in text and "sign=" in text:
        return _open_signed(core, text, buyer_id)
    found = core.book.find(text, app_id)
    if not found and (by_no := core.book.by_trade_no(text)) is not None:
        found = [by_no]
    if not found:
        raise ControlError(404, "unknown_trade", _NOT_ISSUED_HINT.format(x=text))
    if len(found) > 1:
        raise ControlError(409, "ambiguous_trade", f"{text!r} exists for several apps: pass app_id")
    return found[0].token


def buyer_acts(
    core: AlipayCore, target: str, outcome: str, *, buyer_id: str | None = None, app_id: str | None = None
) -> Trade:
    """Resolve ``target`` and play the buyer's ``outcome`` (raises :class:`ControlError`)."""
    if outcome not in OUTCOMES:
        raise ControlError(400, "bad_outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
    token = _resolve(core, target, app_id, buyer_id)
    try:
        trade, events = core.book.act(token, outcome, core.buyer(buyer_id), rebind=bool(buyer_id))
    except AlipayError as error:
        raise ControlError(409, error.sub_code, error.sub_msg, core.book.by_token(token)) from None
    core.publish(events)
    return trade


def _error(core: AlipayCore, exc: ControlError) -> JSONResponse:
    body: dict[str, Any] = {"error": exc.error, "message": exc.message}
    if exc.trade is not None:
        body["trade"] = trade_json(core, exc.trade)
    return JSONResponse(body, exc.status)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ControlError(400, "bad_json", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError(400, "bad_json", "the body must be a JSON object")
    return body


Endpoint = Callable[[Request], Awaitable[Response]]


def control_routes(core: AlipayCore) -> list[Route]:
    def guarded(handler: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except ControlError as exc:
                return _error(core, exc)

        return endpoint

    async def pay(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body.get("trade"), str) or not body["trade"]:
            raise ControlError(400, "bad_trade", "'trade' must be a non-empty string")
        trade = buyer_acts(
            core, body["trade"], str(body.get("outcome", "pay")),
            buyer_id=body.get("buyer_id") or None, app_id=body.get("app_id") or None,
        )  # fmt: skip
        return JSONResponse(trade_json(core, trade))

    async def get_trade(request: Request) -> Response:
        out_trade_no = request.path_params["out_trade_no"]
        found = core.book.find(out_trade_no, request.query_params.get("app_id"))
        if not found:
            raise ControlError(404, "unknown_trade", _NOT_ISSUED_HINT.format(x=out_trade_no))
        if len(found) > 1:
            raise ControlError(409, "ambiguous_trade", "several apps use this out_trade_no: pass ?app_id=")
        return JSONResponse(trade_json(core, found[0]))

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            core.faults.clear()
        elif request.method == "POST":
            try:
                core.faults.update(await _json_body(request))
            except FaultSpecError as exc:
                raise ControlError(400, "bad_faults", str(exc)) from None
        return JSONResponse(core.faults.to_json())

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            seconds = (await _json_body(request)).get("advance_seconds")
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise ControlError(400, "bad_clock", "'advance_seconds' must be a number >= 0")
            core.clock.advance(float(seconds))
            core.sweep()
        return JSONResponse({"now": format_time(core.clock.now())})

    async def notifications(request: Request) -> Response:
        out_trade_no = request.query_params.get("out_trade_no")
        return JSONResponse(
            [
                d.to_json()
                for d in core.notifier.deliveries
                if out_trade_no in (None, d.params.get("out_trade_no"))
            ]
        )

    return [
        Route("/_sandbox/pay", guarded(pay), methods=["POST"]),
        Route("/_sandbox/trades/{out_trade_no}", guarded(get_trade), methods=["GET"]),
        Route("/_sandbox/faults", guarded(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/clock", guarded(clock), methods=["GET", "POST"]),
        Route("/_sandbox/notifications", guarded(notifications), methods=["GET"]),
    ]
