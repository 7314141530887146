"""The sandbox's own control API (not WeChat's), JSON under ``/_sandbox/``:

- ``POST /_sandbox/pay`` ``{"trade": X, "outcome": "pay"|"fail"|"cancel"|"revoke"|
  "userpaying", ["mchid"], ["openid"], ["bank_type"]}`` — X is an out_trade_no, a
  prepay_id, or a ``code_url``/``h5_url`` the sandbox issued. Answers the trade view.
- ``GET /_sandbox/trades`` and ``GET /_sandbox/trades/{out_trade_no}[?mchid=]``.
- ``GET /_sandbox/refunds/{out_refund_no}`` and ``POST`` the same with
  ``{"outcome": "SUCCESS"|"ABNORMAL"|"CLOSED"}`` to settle a refund by hand.
- ``GET /_sandbox/notifications[?out_trade_no=]`` — every delivery and its attempts.
- ``GET``/``POST``/``DELETE /_sandbox/faults`` — see :mod:`.faults`.
- ``GET``/``POST /_sandbox/clock`` ``{"advance_seconds": N}`` — move sandbox time on
  (order expiry, timestamps, bill dates).

Errors: ``{"error": code, "message": text[, "trade": view]}`` with 400, 404 or 409 —
the same shape and codes as the Alipay sandbox's control API.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .context import Context
from .faults import FaultSpecError
from .refunds import settle
from .state import InvalidTransition, Refund, Trade, rfc3339
from .transactions import OUTCOMES, TradeExpired, apply_outcome, code_url

__all__ = [
    "ControlError",
    "refund_view",
    "resolve_refund",
    "resolve_trade",
    "routes",
    "trade_view",
]

REFUND_SETTLE_OUTCOMES = ("SUCCESS", "ABNORMAL", "CLOSED")


class ControlError(Exception):
    def __init__(self, status: int, error: str, message: str, trade: Trade | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.trade = status, error, message, trade


def resolve_trade(ctx: Context, ref: str, mchid: str | None = None) -> Trade:
    """A trade by out_trade_no, prepay_id, or an issued code_url / h5_url."""
    trade: Trade | None = None
    if ref.startswith(("http://", "https://")):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(ref).query))
        if "pr" in query:
            trade = ctx.store.by_token.get(query["pr"])
        elif "prepay_id" in query:
            trade = ctx.store.by_prepay_id.get(query["prepay_id"])
    elif ref in ctx.store.by_prepay_id:
        trade = ctx.store.by_prepay_id[ref]
    else:
        matches = [t for t in ctx.store.trades_by_out_trade_no(ref) if mchid is None or t.mchid == mchid]
        if len(matches) > 1:
            raise ControlError(409, "ambiguous_trade", f"{ref!r} exists for several merchants: pass mchid")
        trade = matches[0] if matches else None
    if trade is None or (mchid is not None and trade.mchid != mchid):
        raise ControlError(404, "unknown_trade", f"the sandbox issued no order {ref!r}")
    return trade


def resolve_refund(ctx: Context, out_refund_no: str, mchid: str | None = None) -> Refund:
    matches = [
        r
        for r in ctx.store.refunds_by_out_refund_no(out_refund_no)
        if mchid is None or r.trade.mchid == mchid
    ]
    if len(matches) > 1:
        raise ControlError(409, "ambiguous_refund", f"{out_refund_no!r} exists for several merchants")
    if not matches:
        raise ControlError(404, "unknown_refund", f"no refund {out_refund_no!r}")
    return matches[0]


def refund_view(refund: Refund) -> dict[str, Any]:
    return {**refund.to_wire(), "notify_url": refund.notify_url, "reason": refund.reason}


def trade_view(ctx: Context, trade: Trade) -> dict[str, Any]:
    view = trade.to_wire()
    view.update(
        trade_type=trade.trade_type,
        description=trade.description,
        notify_url=trade.notify_url,
        create_time=rfc3339(trade.created_at),
        time_expire=None if trade.time_expire is None else rfc3339(trade.time_expire),
        prepay_id=trade.prepay_id,
        cashier_url=(
            code_url(ctx, trade)
            if trade.trade_type == "NATIVE"
            else f"{ctx.base_url}/checkmweb?prepay_id={trade.prepay_id}"
        ),
        refunds=[refund_view(r) for r in trade.refunds],
        notifications=[
            d.to_json()
            for d in ctx.notifier.deliveries
            if (d.event.mchid, d.event.out_trade_no) == (trade.mchid, trade.out_trade_no)
        ],
    )
    return view


def _error(ctx: Context, exc: ControlError) -> JSONResponse:
    body: dict[str, Any] = {"error": exc.error, "message": exc.message}
    if exc.trade is not None:
        body["trade"] = trade_view(ctx, exc.trade)
    return JSONResponse(body, status_code=exc.status)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise ControlError(400, "bad_json", "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ControlError(400, "bad_json", "the body must be a JSON object")
    return data


def pay_trade(ctx: Context, data: dict[str, Any]) -> Trade:
    ref, outcome = data.get("trade"), data.get("outcome", "pay")
    if not isinstance(ref, str) or not ref:
        raise ControlError(400, "bad_trade", "'trade' is an out_trade_no, prepay_id or URL")
    if outcome not in OUTCOMES:
        raise ControlError(400, "bad_outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
    trade = resolve_trade(ctx, ref, data.get("mchid"))
    try:
        return apply_outcome(ctx, trade, outcome, openid=data.get("openid"), bank_type=data.get("bank_type"))
    except InvalidTransition as exc:
        code = "ORDERPAID" if exc.current in ("SUCCESS", "REFUND") else "ORDER_CLOSED"
        raise ControlError(409, code, str(exc), trade) from None
    except TradeExpired as exc:
        raise ControlError(409, "ORDER_EXPIRED", str(exc), trade) from None


def settle_refund(ctx: Context, out_refund_no: str, data: dict[str, Any]) -> Refund:
    outcome = str(data.get("outcome", "SUCCESS")).upper()
    if outcome not in REFUND_SETTLE_OUTCOMES:
        raise ControlError(400, "bad_outcome", f"outcome must be one of {', '.join(REFUND_SETTLE_OUTCOMES)}")
    refund = resolve_refund(ctx, out_refund_no, data.get("mchid"))
    try:
        return settle(ctx, refund, outcome)
    except InvalidTransition as exc:
        raise ControlError(409, "REFUND_FINAL", str(exc)) from None


Endpoint = Callable[[Request], Awaitable[Response]]


def routes(ctx: Context) -> list[Route]:
    def guarded(handler: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except ControlError as exc:
                return _error(ctx, exc)

        return endpoint

    async def pay(request: Request) -> Response:
        trade = pay_trade(ctx, await _json_body(request))
        return JSONResponse(trade_view(ctx, trade))

    async def list_trades(request: Request) -> Response:
        return JSONResponse([trade_view(ctx, t) for t in ctx.store.trades.values()])

    async def get_trade(request: Request) -> Response:
        ref, mchid = request.path_params["out_trade_no"], request.query_params.get("mchid")
        return JSONResponse(trade_view(ctx, resolve_trade(ctx, ref, mchid)))

    async def refund(request: Request) -> Response:
        out_refund_no = request.path_params["out_refund_no"]
        if request.method == "POST":
            found = settle_refund(ctx, out_refund_no, await _json_body(request))
        else:
            found = resolve_refund(ctx, out_refund_no, request.query_params.get("mchid"))
        return JSONResponse(refund_view(found))

    async def notifications(request: Request) -> Response:
        otn = request.query_params.get("out_trade_no")
        return JSONResponse(
            [d.to_json() for d in ctx.notifier.deliveries if otn in (None, d.event.out_trade_no)]
        )

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            ctx.faults.clear()
        elif request.method == "POST":
            try:
                ctx.faults.update(await _json_body(request))
            except FaultSpecError as exc:
                raise ControlError(400, "bad_faults", str(exc)) from None
        return JSONResponse(ctx.faults.to_json())

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            seconds = (await _json_body(request)).get("advance_seconds")
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise ControlError(400, "bad_clock", "'advance_seconds' must be a number >= 0")
            ctx.clock.advance(float(seconds))
        return JSONResponse({"now": rfc3339(ctx.clock.now())})

    return [
        Route("/_sandbox/pay", guarded(pay), methods=["POST"]),
        Route("/_sandbox/trades", guarded(list_trades), methods=["GET"]),
        Route("/_sandbox/trades/{out_trade_no}", guarded(get_trade), methods=["GET"]),
        Route("/_sandbox/refunds/{out_refund_no}", guarded(refund), methods=["GET", "POST"]),
        Route("/_sandbox/notifications", guarded(notifications), methods=["GET"]),
        Route("/_sandbox/faults", guarded(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/clock", guarded(clock), methods=["GET", "POST"]),
    ]
