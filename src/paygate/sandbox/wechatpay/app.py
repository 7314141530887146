"""The ASGI app of the WeChat Pay sandbox (mounted at ``/wechatpay`` by its host)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from . import bills, certificates, control, refunds, transactions
from .api import Call, Handler, Reply, endpoint
from .context import Context
from .pages import cashier_page
from .wire import WechatError, signed_response

__all__ = ["build_app"]

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def _pay_handler(kind: str) -> Handler:
    async def handler(ctx: Context, call: Call) -> Reply:
        return await transactions.pay(ctx, call, kind)

    return handler


def build_app(ctx: Context) -> Starlette:
    def api(path: str, op: str, handler: Handler, method: str) -> Route:
        return Route(path, endpoint(ctx, op, handler), methods=[method])

    async def page(request: Request) -> Response:
        return await cashier_page(ctx, request)

    async def not_found(request: Request) -> Response:
        error = WechatError(404, "NOT_FOUND", "请求的资源不存在，请检查请求路径和方法")
        return signed_response(ctx.platform, error.status, error.body(), public_key_mode=False)

    routes: list[BaseRoute] = [
        *(
            api(f"/v3/pay/transactions/{kind}", "pay", _pay_handler(kind), "POST")
            for kind in transactions.TRADE_TYPES
        ),
        api(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}",
            "query",
            transactions.query_by_out_trade_no,
            "GET",
        ),
        api(
            "/v3/pay/transactions/id/{transaction_id}",
            "query",
            transactions.query_by_transaction_id,
            "GET",
        ),
        api(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
            "close",
            transactions.close,
            "POST",
        ),
        api("/v3/refund/domestic/refunds", "refund", refunds.create_refund, "POST"),
        api(
            "/v3/refund/domestic/refunds/{out_refund_no}",
            "refund_query",
            refunds.query_refund,
            "GET",
        ),
        api("/v3/bill/tradebill", "bill", bills.tradebill, "GET"),
        api("/v3/billdownload/file", "bill_download", bills.download, "GET"),
        api("/v3/certificates", "certificates", certificates.certificates, "GET"),
        Route("/bizpayurl", page, methods=["GET", "POST"]),
        Route("/checkmweb", page, methods=["GET", "POST"]),
        *control.routes(ctx),
        Route("/v3/{rest:path}", not_found, methods=_ALL_METHODS),
    ]
    return Starlette(routes=routes)
