"""ASGI plumbing every sandbox app gets."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["AbsoluteFormMiddleware"]


class AbsoluteFormMiddleware:
    """Route absolute-form request targets (``POST http://127.0.0.1/gateway.do?…``, what
    Alipay's official SDK sends on port 80) like origin-form ones. httptools already splits
    them; h11 hands the whole URL over as the path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            scope = dict(scope)
            scope["path"] = parts.path or "/"
            scope["raw_path"] = scope["path"].encode()
            if parts.query and not scope.get("query_string"):
                scope["query_string"] = parts.query.encode()
        await self.app(scope, receive, send)
