"""WeChat Pay's HTTP side: the ``/v3/…`` endpoints and the pipeline every call goes
through — the harness's faults around authentication (signature, timestamp, merchant) and
the operation's handler, then a signed answer. Errors raised as :class:`WechatError`
anywhere become WeChat's signed error JSON; unknown ``/v3/`` paths answer ``NOT_FOUND``.
Operations (the fault keys): ``pay query close refund refund_query bill bill_download
certificates``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from paygate.sandbox.harness import InjectedFault

from .errors import WechatError, from_fault, param_error
from .keys import Merchant
from .store import WechatStore
from .wire import authenticate, signed_response

__all__ = ["OPERATIONS", "Call", "Handler", "Reply", "api_routes", "endpoint"]

OPERATIONS: Final = (
    "pay",
    "query",
    "close",
    "refund",
    "refund_query",
    "bill",
    "bill_download",
    "certificates",
)
_ALL_METHODS: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


@dataclass(frozen=True)
class Call:
    request: Request
    merchant: Merchant
    body: bytes
    public_key_mode: bool

    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    @property
    def path_params(self) -> dict[str, Any]:
        return self.request.path_params

    def json(self) -> Any:
        content_type = self.request.headers.get("content-type", "")
        if not content_type.split(";")[0].strip().lower() == "application/json":
            raise WechatError(400, "INVALID_REQUEST", "Content-Type 必须为 application/json，请检查请求头")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise param_error("请求体不是合法的 JSON") from None


@dataclass(frozen=True)
class Reply:
    status: int
    payload: Any | None = None
    # An answer sent as is, unsigned (the bill file download).
    raw: Response | None = None
    # Sign with the platform certificate whatever mode the request was in.
    sign_with_certificate: bool = False


Handler = Callable[[WechatStore, Call], Awaitable[Reply]]


def endpoint(store: WechatStore, op: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint running ``handler`` as the WeChat operation ``op``."""

    async def run(request: Request) -> Response:
        public_key_mode = request.headers.get("wechatpay-serial") == store.platform.public_key_id

        async def handle() -> tuple[Reply, bool]:
            authorized = await authenticate(request, store.merchants, store.platform)
            call = Call(request, authorized.merchant, authorized.body, authorized.public_key_mode)
            return await handler(store, call), authorized.public_key_mode

        try:
            reply, public_key_mode = await store.harness.faults.around(op, handle)
        except InjectedFault as fault:
            error = from_fault(fault.fields)
            return signed_response(
                store.platform, error.status, error.body(), public_key_mode=public_key_mode
            )
        except WechatError as exc:
            return signed_response(store.platform, exc.status, exc.body(), public_key_mode=public_key_mode)
        if reply.raw is not None:
            return reply.raw
        return signed_response(
            store.platform,
            reply.status,
            reply.payload,
            public_key_mode=public_key_mode and not reply.sign_with_certificate,
        )

    run.__name__ = f"wechatpay_{op}"
    return run


def api_routes(store: WechatStore, handlers: Mapping[tuple[str, str, str], Handler]) -> list[BaseRoute]:
    """``handlers``: (HTTP method, path, operation) → handler; then the ``/v3/`` catch-all."""

    async def not_found(request: Request) -> Response:
        error = WechatError(404, "NOT_FOUND", "请求的资源不存在，请检查请求路径和方法")
        return signed_response(store.platform, error.status, error.body(), public_key_mode=False)

    routes: list[BaseRoute] = [
        Route(path, endpoint(store, op, handler), methods=[method])
        for (method, path, op), handler in handlers.items()
    ]
    routes.append(Route("/v3/{rest:path}", not_found, methods=_ALL_METHODS))
    return routes
