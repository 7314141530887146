"""The pipeline every WeChat Pay API call goes through:

authenticate (signature, timestamp, merchant) → latency fault → error/hold faults →
handler → signed answer. Errors raised as :class:`WechatError` anywhere become WeChat's
signed error JSON.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from .auth import authenticate
from .context import Context
from .faults import ErrorFault, HoldFault
from .keys import Merchant
from .wire import WechatError, param_error, signed_response

__all__ = ["Call", "Handler", "Reply", "endpoint"]


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


Handler = Callable[[Context, Call], Awaitable[Reply]]


def _raise(fault: ErrorFault) -> None:
    raise WechatError(fault.status, fault.code, fault.message)


async def _run_with_faults(ctx: Context, op: str, call: Call, handler: Handler) -> Reply:
    latency = ctx.faults.latency_for(op)
    if latency:
        await asyncio.sleep(latency)
    error = ctx.faults.take_error(op)
    if error is not None and not error.apply:
        _raise(error)
    hold: HoldFault | None = ctx.faults.take_hold(op)
    if hold is not None and not hold.apply:
        await ctx.faults.wait(hold)
        if hold.seconds is None:
            # A timeout that never reached WeChat's business layer: nothing happened.
            raise WechatError.of("SYSTEM_ERROR")
    try:
        reply = await handler(ctx, call)
    finally:
        if hold is not None and hold.apply:
            await ctx.faults.wait(hold)
    if error is not None:
        _raise(error)
    return reply


def endpoint(ctx: Context, op: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint running ``handler`` as the WeChat operation ``op``."""

    async def run(request: Request) -> Response:
        public_key_mode = request.headers.get("wechatpay-serial") == ctx.platform.public_key_id
        try:
            authorized = await authenticate(request, ctx.merchants, ctx.platform)
            public_key_mode = authorized.public_key_mode
            call = Call(
                request=request,
                merchant=authorized.merchant,
                body=authorized.body,
                public_key_mode=public_key_mode,
            )
            reply = await _run_with_faults(ctx, op, call, handler)
        except WechatError as exc:
            return signed_response(ctx.platform, exc.status, exc.body(), public_key_mode=public_key_mode)
        if reply.raw is not None:
            return reply.raw
        return signed_response(
            ctx.platform,
            reply.status,
            reply.payload,
            public_key_mode=public_key_mode and not reply.sign_with_certificate,
        )

    run.__name__ = f"wechatpay_{op}"
    return run
