"""The sandbox's own control API (not WeChat's), JSON under ``/_sandbox/``:

- ``POST /_sandbox/pay`` ``{"trade": X, "outcome": "pay"|"fail"|"cancel"|"revoke"|
  "userpaying", ["mchid"], ["openid"], ["bank_type"]}`` — X is an out_trade_no, a
  prepay_id, or a ``code_url``/``h5_url`` the sandbox issued. Answers the trade view.
- ``GET /_sandbox/trades`` and ``GET /_sandbox/trades/{out_trade_no}[?mchid=]``.
- ``GET /_sandbox/refunds/{out_refund_no}`` and ``POST`` the same with
  ``{"outcome": "SUCCESS"|"ABNORMAL"|"CLOSED"}`` to settle a refund by hand.
- ``GET /_sandbox/notifications[?out_trade_no=]`` — every delivery attempt.
- ``GET``/``POST``/``DELETE /_sandbox/faults`` — see :mod:`.faults`.

Errors: ``{"error": code, "message": text}`` with 400, 404 or 409.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .context import Context
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
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


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
            raise ControlError(409, "ambiguous", f"{ref} exists for several merchants; give mchid")
        trade = matches[0] if matches else None
    if trade is None or (mchid is not None and trade.mchid != mchid):
        raise ControlError(404, "trade_not_found", f"no trade {ref!r}")
    return trade


def resolve_refund(ctx: Context, out_refund_no: str, mchid: str | None = None) -> Refund:
    matches = [
        r
        for r in ctx.store.refunds_by_out_refund_no(out_refund_no)
        if mchid is None or r.trade.mchid == mchid
    ]
    if len(matches) > 1:
        raise ControlError(409, "ambiguous", f"{out_refund_no} exists for several merchants")
    if not matches:
        raise ControlError(404, "refund_not_found", f"no refund {out_refund_no!r}")
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
        notifications=[d.to_json() for d in ctx.notifier.deliveries if d.out_trade_no == trade.out_trade_no],
    )
    return view


def _error(exc: ControlError) -> JSONResponse:
    return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise ControlError(400, "bad_request", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "bad_request", "the body must be a JSON object")
    return data


def pay_trade(ctx: Context, data: dict[str, Any]) -> Trade:
    ref, outcome = data.get("trade"), data.get("outcome", "pay")
    if not isinstance(ref, str) or not ref:
        raise ControlError(400, "bad_request", '"trade" is an out_trade_no, prepay_id or URL')
    if outcome not in OUTCOMES:
        raise ControlError(400, "bad_request", f'"outcome" is one of {", ".join(OUTCOMES)}')
    trade = resolve_trade(ctx, ref, data.get("mchid"))
    try:
        return apply_outcome(ctx, trade, outcome, openid=data.get("openid"), bank_type=data.get("bank_type"))
    except (InvalidTransition, TradeExpired) as exc:
        raise ControlError(409, "invalid_state", str(exc)) from None


def settle_refund(ctx: Context, out_refund_no: str, data: dict[str, Any]) -> Refund:
    outcome = str(data.get("outcome", "SUCCESS")).upper()
    if outcome not in REFUND_SETTLE_OUTCOMES:
        raise ControlError(400, "bad_request", f'"outcome" is one of {", ".join(REFUND_SETTLE_OUTCOMES)}')
    refund = resolve_refund(ctx, out_refund_no, data.get("mchid"))
    try:
        return settle(ctx, refund, outcome)
    except InvalidTransition as exc:
        raise ControlError(409, "invalid_state", str(exc)) from None


def routes(ctx: Context) -> list[Route]:
    async def pay(request: Request) -> Response:
        try:
            trade = pay_trade(ctx, await _json_body(request))
        except ControlError as exc:
            return _error(exc)
        return JSONResponse(trade_view(ctx, trade))

    async def list_trades(request: Request) -> Response:
        return JSONResponse([trade_view(ctx, t) for t in ctx.store.trades.values()])

    async def get_trade(request: Request) -> Response:
        try:
            trade = resolve_trade(ctx, request.path_params["out_trade_no"], request.query_params.get("mchid"))
        except ControlError as exc:
            return _error(exc)
        return JSONResponse(trade_view(ctx, trade))

    async def refund(request: Request) -> Response:
        out_refund_no = request.path_params["out_refund_no"]
        try:
            if request.method == "POST":
                found = settle_refund(ctx, out_refund_no, await _json_body(request))
            else:
                found = resolve_refund(ctx, out_refund_no, request.query_params.get("mchid"))
        except ControlError as exc:
            return _error(exc)
        return JSONResponse(refund_view(found))

    async def notifications(request: Request) -> Response:
        otn = request.query_params.get("out_trade_no")
        history = [d for d in ctx.notifier.history() if otn is None or d["out_trade_no"] == otn]
        return JSONResponse(history)

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            ctx.faults.clear()
        elif request.method == "POST":
            try:
                ctx.faults.update(await _json_body(request))
            except ControlError as exc:
                return _error(exc)
            except ValueError as exc:
                return _error(ControlError(400, "bad_request", str(exc)))
        return JSONResponse(ctx.faults.to_json())

    return [
        Route("/_sandbox/pay", pay, methods=["POST"]),
        Route("/_sandbox/trades", list_trades, methods=["GET"]),
        Route("/_sandbox/trades/{out_trade_no}", get_trade, methods=["GET"]),
        Route("/_sandbox/refunds/{out_refund_no}", refund, methods=["GET", "POST"]),
        Route("/_sandbox/notifications", notifications, methods=["GET"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
    ]
