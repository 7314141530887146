"""Edge guards of the internal listener: source allow-list (R-SEC-2), body limits, and the
authentication dependency (R-SEC-1)."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from paygate.auth.apps import AuthenticatedApp
from paygate.kit.errors import ErrorCode, RequestError

__all__ = ["NotJson", "SourceAllowList", "authenticated"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SourceAllowList:
    """Pure ASGI middleware: refuses connections from sources outside ``networks`` with
    403 ``SOURCE_NOT_ALLOWED`` before any work is done."""

    def __init__(self, app: ASGIApp, networks: Iterable[str], trusted_proxies: Iterable[str] = ()) -> None:
        self.app = app
        self.networks: list[IPNetwork] = [ipaddress.ip_network(n, strict=False) for n in networks]
        self.proxies: list[IPNetwork] = [ipaddress.ip_network(n, strict=False) for n in trusted_proxies]
        self._seen: dict[str, bool] = {}

    @staticmethod
    def _within(host: str, networks: list[IPNetwork]) -> bool:
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in networks)

    def source(self, scope: Scope) -> str | None:
        """The caller's address: the peer, or — when the peer is a trusted proxy — the
        right-most address of ``X-Forwarded-For`` that is not a trusted proxy."""
        client = scope.get("client")
        host: str | None = str(client[0]) if client else None
        if host is None or not self.proxies or not self._within(host, self.proxies):
            return host
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for":
                hops: list[str] = [h.strip() for h in bytes(value).decode("latin-1").split(",") if h.strip()]
                for hop in reversed(hops):
                    if not self._within(hop, self.proxies):
                        return hop
        return host

    def allowed(self, host: str | None) -> bool:
        if host is None:
            return False
        hit = self._seen.get(host)
        if hit is None:
            hit = self._within(host, self.networks)
            if len(self._seen) < 10_000:
                self._seen[host] = hit
        return hit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            source = self.source(scope)
            if self.proxies and source is not None:
                client = scope.get("client")
                scope = {**scope, "client": (source, client[1] if client else 0)}
            if not self.allowed(source):
                body = json.dumps(
                    {
                        "errno": ErrorCode.SOURCE_NOT_ALLOWED.errno,
                        "msg": ErrorCode.SOURCE_NOT_ALLOWED.default_message,
                        "error": ErrorCode.SOURCE_NOT_ALLOWED.name,
                        "data": None,
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class NotJson:
    """What ``request.state.request_json`` holds for a body that is not JSON: its length."""

    length: int


async def authenticated(request: Request) -> AuthenticatedApp:
    """Size, media type and signature checks, in that order, before the body is parsed.
    A request the fast lane already authenticated (and handed on) is not authenticated twice:
    its nonce is spent once."""
    known: AuthenticatedApp | None = getattr(request.state, "paygate_app", None)
    if known is not None:
        return known
    request.state.started = time.perf_counter()
    services = request.app.state.services
    limit: int = services.limits.max_body_bytes
    length = request.headers.get("content-length")
    if length is not None and (not (length.isascii() and length.isdigit()) or int(length) > limit):
        raise RequestError(code=ErrorCode.BODY_TOO_LARGE)
    body = await request.body()
    if len(body) > limit:
        raise RequestError(code=ErrorCode.BODY_TOO_LARGE)
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if not ctype.split(";")[0].strip().lower() == "application/json":
            raise RequestError(code=ErrorCode.UNSUPPORTED_MEDIA_TYPE)
    scope = request.scope
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path is not None else request.url.path
    query = scope.get("query_string", b"").decode("latin-1")
    target = f"{path}?{query}" if query else path
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    app: AuthenticatedApp = await services.authenticator.authenticate(request.method, target, headers, body)
    request.state.paygate_app = app
    try:  # parsed once: the fast lane validates it, the call log keeps it
        request.state.request_json = json.loads(body) if body else None
    except ValueError:  # not JSON, or not UTF-8
        request.state.request_json = NotJson(len(body))
    return app
