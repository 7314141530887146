"""The public listener: channel notify and return, nothing else (R-SEC-2, R-NTF-1)."""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import structlog
from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from paygate.api.cashier import cashier_router
from paygate.api.framework import APP_OPTIONS
from paygate.api.internal import Lifespan
from paygate.callbacks.notifications import ChannelNotifications
from paygate.callbacks.returns import PayerReturns
from paygate.cashier import Cashier
from paygate.kit.errors import PaygateError

__all__ = ["PublicServices", "create_public_app"]

log = structlog.get_logger("paygate.public")


@dataclass(frozen=True)
class PublicServices:
    """Everything the public listener calls, given to it explicitly."""

    channels: frozenset[str]
    max_body_bytes: int
    notifications: ChannelNotifications
    returns: PayerReturns
    cashier: Cashier | None = None  # the hosted cashier's pages (R-API-9)


def _account(channel: str, account_id: str, services: PublicServices) -> int | None:
    if channel not in services.channels or not account_id.isascii() or not account_id.isdigit():
        return None
    return int(account_id)


async def _notified(services: PublicServices, channel: str, account_id: str, request: Request) -> Response:
    account = _account(channel, account_id, services)
    if account is None:
        return PlainTextResponse("not found", status_code=404)
    body = await request.body()
    if len(body) > services.max_body_bytes:
        return PlainTextResponse("too large", status_code=413)
    reply = await services.notifications.handle(channel, account, dict(request.headers), body)
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)


class NotifyLane:
    """``POST /notify/{channel}/{account_id}`` answered without FastAPI's route table and
    dependency solving (issue 11: a notification is the public listener's hot path). The path
    is matched as the declared route matches it (two non-empty segments) and handled by the
    same function; anything else, and any exception (to the app's last-resort handler), goes
    the routed way."""

    def __init__(self, app: ASGIApp, services: PublicServices) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith("/notify/"):
            parts = scope["path"].split("/")
            if len(parts) == 4 and parts[2] and parts[3]:
                response = await _notified(self.services, parts[2], parts[3], Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_public_app(services: PublicServices, *, lifespan: Lifespan | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def run(_: FastAPI) -> AsyncIterator[None]:
        if lifespan:
            await lifespan[0]()
        try:
            yield
        finally:
            if lifespan:
                await lifespan[1]()

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=run, **APP_OPTIONS)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        return PlainTextResponse(
            "not found" if exc.status_code == 404 else "refused", status_code=exc.status_code
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, _: Exception) -> Response:
        log.exception("public listener error", path=request.url.path)
        return PlainTextResponse("error", status_code=500)

    @app.post("/notify/{channel}/{account_id}")
    async def notify(channel: str, account_id: str, request: Request) -> Response:
        return await _notified(services, channel, account_id, request)

    @app.api_route("/return/{channel}/{account_id}", methods=["GET", "POST"])
    async def channel_return(channel: str, account_id: str, request: Request) -> Response:
        account = _account(channel, account_id, services)
        if account is None:
            return PlainTextResponse("not found", status_code=404)
        params = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            params.update({k: str(v) for k, v in form.items()})
        try:
            back = await services.returns.handle(channel, account, params)
        except PaygateError:
            back = None
        if back is None:
            return HTMLResponse("<h1>Unknown payment</h1>", status_code=404)
        if back.return_url:
            sep = "&" if "?" in back.return_url else "?"
            query = urlencode(
                {"trade_no": back.trade_no, "out_order_no": back.out_order_no, "state": back.state}
            )
            return RedirectResponse(f"{back.return_url}{sep}{query}", status_code=302)
        return HTMLResponse(
            f"<!doctype html><title>Payment {html.escape(back.state)}</title>"
            f"<h1>Payment {html.escape(back.state)}</h1>"
            f"<p>Trade {html.escape(back.trade_no)} — order {html.escape(back.out_order_no)}</p>"
            f"<p>verified return: {back.verified}</p>"
        )

    if services.cashier is not None:
        app.include_router(cashier_router(services.cashier))
    app.add_middleware(NotifyLane, services=services)
    return app
