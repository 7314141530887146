"""The public listener: channel notify and return, nothing else (R-SEC-2, R-NTF-1)."""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import structlog
from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from paygate.bootstrap import Container
from paygate.kit.errors import PaygateError

__all__ = ["create_public_app"]

log = structlog.get_logger("paygate.public")


def create_public_app(container: Container, *, manage_lifespan: bool = False) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifespan:
            await container.start()
        try:
            yield
        finally:
            if manage_lifespan:
                await container.aclose()

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.container = container

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
        if channel not in container.registry.channels or not account_id.isascii() or not account_id.isdigit():
            return PlainTextResponse("not found", status_code=404)
        body = await request.body()
        if len(body) > container.settings.max_body_bytes:
            return PlainTextResponse("too large", status_code=413)
        reply = await container.notifications.handle(channel, int(account_id), dict(request.headers), body)
        return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)

    @app.api_route("/return/{channel}/{account_id}", methods=["GET", "POST"])
    async def channel_return(channel: str, account_id: str, request: Request) -> Response:
        if channel not in container.registry.channels or not account_id.isascii() or not account_id.isdigit():
            return PlainTextResponse("not found", status_code=404)
        params = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            params.update({k: str(v) for k, v in form.items()})
        try:
            trade, info = await container.notifications.handle_return(channel, int(account_id), params)
        except PaygateError:
            trade, info = None, None
        if trade is None:
            return HTMLResponse("<h1>Unknown payment</h1>", status_code=404)
        if trade.return_url:
            sep = "&" if "?" in trade.return_url else "?"
            query = urlencode(
                {"trade_no": trade.trade_no, "out_order_no": trade.out_order_no, "state": trade.state}
            )
            return RedirectResponse(f"{trade.return_url}{sep}{query}", status_code=302)
        return HTMLResponse(
            f"<!doctype html><title>Payment {html.escape(trade.state)}</title>"
            f"<h1>Payment {html.escape(trade.state)}</h1>"
            f"<p>Trade {html.escape(trade.trade_no)} — order {html.escape(trade.out_order_no)}</p>"
            f"<p>verified return: {bool(info and info.verified)}</p>"
        )

    return app
