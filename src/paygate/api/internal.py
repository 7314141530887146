"""The internal listener: the app-facing unified API (R-API-1..7)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from paygate.api.console import ConsoleServices, mount_console
from paygate.api.fast_lane import Endpoint, FastLane, LaneRoute
from paygate.api.framework import APP_OPTIONS
from paygate.api.guards import SourceAllowList, authenticated
from paygate.api.operator import OperatorAuth, operator_router
from paygate.api.operator_events import operator_events_router
from paygate.api.operator_reconciliation import operator_reconciliation_router
from paygate.api.responses import code_response, error_response, ok_response
from paygate.api.schemas import (
    BillQueryRequest,
    Envelope,
    ErrorEnvelope,
    PayRequest,
    QueryRequest,
    RefundData,
    RefundQueryRequest,
    RefundRequest,
    SettleQueryRequest,
    TradeData,
    TradeRefRequest,
)
from paygate.auth.apps import AppAuthenticator, AuthenticatedApp
from paygate.cashier import CASHIER_PAY_TYPE, Cashier, CheckoutCommand
from paygate.events.console import EventConsole
from paygate.kit.errors import ErrorCode, PaygateError
from paygate.operators.directory import OperatorDirectory
from paygate.payments.closing import TradeCloser
from paygate.payments.commands import PayCommand, TradeRef
from paygate.payments.creating import PaymentCreator
from paygate.payments.querying import TradeQueries
from paygate.reconciliation.console import ReconciliationConsole, parse_bill_date
from paygate.refunds.commands import RefundCommand, RefundRef
from paygate.refunds.creating import RefundCreator
from paygate.refunds.deciding import RefundDecisions
from paygate.refunds.querying import RefundQueries
from paygate.workers.call_log import CallLogWriter

__all__ = ["ApiLimits", "InternalServices", "Lifespan", "create_internal_app"]

#: Start and stop callables run around the app's life (when it owns its services).
Lifespan = tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]


@dataclass(frozen=True)
class ApiLimits:
    max_body_bytes: int
    internal_allow: list[str]  # source networks allowed on the internal listener (R-SEC-2)
    trusted_proxies: list[str]  # honour X-Forwarded-For from these only


@dataclass(frozen=True)
class InternalServices:
    """Everything the internal listener calls, given to it explicitly."""

    limits: ApiLimits
    authenticator: AppAuthenticator
    call_log: CallLogWriter
    creator: PaymentCreator
    queries: TradeQueries
    closer: TradeCloser
    platform_public_key: str
    health: Callable[[], dict[str, Any]]
    operators: OperatorDirectory
    refund_creator: RefundCreator
    refund_queries: RefundQueries
    refund_decisions: RefundDecisions
    events: EventConsole | None = None  # the operator's view of events (/operator/events…)
    cashier: Cashier | None = None  # pay_type "cashier": the hosted cashier (R-API-9)
    console: ConsoleServices | None = None  # the operators' console at /console/ (R-OPS-2)
    reconciliation: ReconciliationConsole | None = (
        None  # /query/bill, /query/settle, /operator/reconciliation…
    )
    channels: frozenset[str] = frozenset()  # the configured channels (bill and settle queries name one)


log = structlog.get_logger("paygate.api")
App = Annotated[AuthenticatedApp, Depends(authenticated)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorEnvelope, "description": "Refused: see `error` for the stable code"},
    "5XX": {"model": ErrorEnvelope, "description": "Channel failure or internal error"},
}


def _validation_code(exc: RequestValidationError) -> tuple[ErrorCode, str]:
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return ErrorCode.INVALID_JSON, "the body is not valid JSON"
    if first.get("type") == "missing" and tuple(first.get("loc", ())) == ("body",):
        return ErrorCode.INVALID_JSON, "the body is empty: send a JSON object"
    field = ".".join(str(p) for p in first.get("loc", ())[1:])
    if field == "amount" and first.get("type") != "missing":  # a missing field is INVALID_REQUEST
        return ErrorCode.INVALID_AMOUNT, f"amount: {first.get('msg')}"
    return ErrorCode.INVALID_REQUEST, f"{field or 'body'}: {first.get('msg', 'invalid')}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PaygateError)
    async def _paygate(request: Request, exc: PaygateError) -> Response:
        return error_response(request, exc)

    async def refused_caller(request: Request) -> Response | None:
        """FastAPI decodes the body before dependencies run: authenticate first, so an
        unauthenticated caller learns nothing about bodies (checks keep their order) and the
        answer about the body is signed and uses up the nonce, like any other."""
        if request.url.path.startswith("/operator/"):
            if getattr(request.state, "operator", None) is None:
                try:
                    await request.app.state.operator_auth.identify(request)
                except PaygateError as auth_error:
                    return error_response(request, auth_error)
        elif getattr(request.state, "paygate_app", None) is None and request.method == "POST":
            try:
                await authenticated(request)
            except PaygateError as auth_error:
                return error_response(request, auth_error)
        return None

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        refused = await refused_caller(request)
        if refused is not None:
            return refused
        code, message = _validation_code(exc)
        fields = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg")} for e in exc.errors()[:10]]
        return code_response(request, code, message, {"fields": fields})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI could not decode the body (e.g. not UTF-8)
            refused = await refused_caller(request)
            if refused is not None:
                return refused
            return code_response(request, ErrorCode.INVALID_JSON, "the body is not valid JSON in UTF-8")
        code = {404: ErrorCode.NOT_FOUND_ROUTE, 405: ErrorCode.METHOD_NOT_ALLOWED}.get(
            exc.status_code, ErrorCode.INVALID_REQUEST
        )
        return code_response(request, code)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        return code_response(request, ErrorCode.INTERNAL)


def create_internal_app(services: InternalServices, *, lifespan: Lifespan | None = None) -> FastAPI:
    """The internal API. With ``lifespan`` the app starts and stops what it runs on."""

    @contextlib.asynccontextmanager
    async def run(_: FastAPI) -> AsyncIterator[None]:
        if lifespan:
            await lifespan[0]()
        try:
            yield
        finally:
            if lifespan:
                await lifespan[1]()

    app = FastAPI(
        title="paygate internal API",
        version="1.0",
        description="The unified payment API. Every request is signed (see docs/api.md); "
        "every answer is `{errno, msg, data}`.",
        lifespan=run,
        responses=_ERRORS,
        **APP_OPTIONS,
    )
    app.state.services = services
    app.state.operator_auth = OperatorAuth(services.operators)
    install_error_handlers(app)

    @app.post(
        "/gopay",
        response_model=Envelope[TradeData],
        tags=["payments"],
        summary="Pay: create a trade and get the pay data (idempotent on out_order_no)",
    )
    async def gopay(body: PayRequest, request: Request, app_: App) -> Response:
        client_ip = body.client_ip or (request.client.host if request.client else None)
        if body.pay_type == CASHIER_PAY_TYPE and services.cashier is not None:
            checkout = await services.cashier.open(
                app_.context,
                CheckoutCommand(
                    out_order_no=body.out_order_no,
                    amount=body.amount,
                    currency=body.currency,
                    subject=body.subject,
                    description=body.description,
                    expire_minutes=body.expire_minutes,
                    notify_url=body.notify_url,
                    return_url=body.return_url,
                    client_ip=body.client_ip,  # else the payer's, when they pay on the page
                    metadata=dict(body.metadata),
                ),
            )
            return ok_response(request, checkout)
        view = await services.creator.pay(
            app_.context,
            PayCommand(
                out_order_no=body.out_order_no,
                pay_type=body.pay_type,
                amount=body.amount,
                currency=body.currency,
                subject=body.subject,
                description=body.description,
                expire_minutes=body.expire_minutes,
                notify_url=body.notify_url,
                return_url=body.return_url,
                client_ip=client_ip,
                extra=dict(body.extra),
                metadata=dict(body.metadata),
            ),
        )
        return ok_response(request, view)

    @app.post(
        "/query/trade",
        response_model=Envelope[TradeData],
        tags=["payments"],
        summary="Trade query: paygate's state, or the channel's with sync=true",
    )
    async def query_trade(body: QueryRequest, request: Request, app_: App) -> Response:
        view = await services.queries.query(
            app_.context.app_id, TradeRef(body.trade_no, body.out_order_no), sync=body.sync
        )
        return ok_response(request, view)

    @app.post(
        "/close",
        response_model=Envelope[TradeData],
        tags=["payments"],
        summary="Close an unpaid trade (at the channel too)",
    )
    async def close(body: TradeRefRequest, request: Request, app_: App) -> Response:
        view = await services.closer.close(app_.context.app_id, TradeRef(body.trade_no, body.out_order_no))
        return ok_response(request, view)

    @app.post(
        "/refund",
        response_model=Envelope[RefundData],
        tags=["refunds"],
        summary="Refund a paid trade, in part or whole (idempotent on out_refund_no)",
    )
    async def refund(body: RefundRequest, request: Request, app_: App) -> Response:
        view = await services.refund_creator.request(
            app_.context,
            RefundCommand(
                trade=TradeRef(body.trade_no, body.out_order_no),
                out_refund_no=body.out_refund_no,
                amount=body.amount,
                currency=body.currency,
                reason=body.reason,
                notify_url=body.notify_url,
            ),
            requested_by=f"app:{app_.context.app_id}",
        )
        return ok_response(request, view)

    @app.post(
        "/query/refund",
        response_model=Envelope[RefundData],
        tags=["refunds"],
        summary="Refund query: paygate's state, or the channel's with sync=true",
    )
    async def query_refund(body: RefundQueryRequest, request: Request, app_: App) -> Response:
        view = await services.refund_queries.query(
            app_.context.app_id, RefundRef(body.refund_no, body.out_refund_no), sync=body.sync
        )
        return ok_response(request, view)

    def reconciliation(channel: str) -> ReconciliationConsole:
        if services.reconciliation is None:
            raise PaygateError("reconciliation is not configured", code=ErrorCode.UNSUPPORTED_OPERATION)
        if channel not in services.channels:
            known = ", ".join(sorted(services.channels))
            raise PaygateError(f"unknown channel {channel!r}; known: {known}", code=ErrorCode.UNKNOWN_CHANNEL)
        return services.reconciliation

    @app.post(
        "/query/bill",
        response_model=Envelope[dict[str, Any]],
        tags=["reconciliation"],
        summary="Bill query: the app's lines of a channel's bills of one day, as reconciled (paginated)",
    )
    async def query_bill(body: BillQueryRequest, request: Request, app_: App) -> Response:
        console = reconciliation(body.channel)
        page = await console.bill_for_app(
            app_.context.app_id,
            body.channel,
            parse_bill_date(body.bill_date),
            after=None if body.after is None else int(body.after),  # the validator made it a number
            limit=body.limit,
        )
        return ok_response(request, page)

    @app.post(
        "/query/settle",
        response_model=Envelope[dict[str, Any]],
        tags=["reconciliation"],
        summary="Settlement query: a channel's settlements of one day and the app's share",
    )
    async def query_settle(body: SettleQueryRequest, request: Request, app_: App) -> Response:
        console = reconciliation(body.channel)
        data = await console.settle_for_app(
            app_.context.app_id, body.channel, parse_bill_date(body.settle_date)
        )
        return ok_response(request, data)

    @app.get("/health", tags=["operations"], summary="Liveness: up, or degraded with the reasons")
    async def health() -> dict[str, Any]:
        return {"errno": 0, "msg": "ok", "data": services.health()}

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics_endpoint() -> Response:
        if services.console is not None:
            try:  # the backlog and breaker gauges (R-OPS-1); the rest is counted as it happens
                await services.console.dashboard.refresh_gauges(services.health().get("breakers", {}))
            except Exception:  # a database outage must not hide the other metrics
                log.warning("metrics.gauges_unavailable", exc_info=True)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/platform/public-key",
        tags=["operations"],
        summary="paygate's public key (verifies responses to RSA apps)",
    )
    async def public_key() -> dict[str, Any]:
        return {"errno": 0, "msg": "ok", "data": {"public_key": services.platform_public_key}}

    app.include_router(operator_router(app.state.operator_auth, services))
    if services.events is not None:
        app.include_router(operator_events_router(app.state.operator_auth, services.events))
    if services.console is not None:
        mount_console(app, services.console)
    if services.reconciliation is not None:
        app.include_router(operator_reconciliation_router(app.state.operator_auth, services.reconciliation))

    # the signed POST endpoints, called directly when the request is plain (api/fast_lane.py)
    declared = {
        r.path: r for r in app.router.routes if isinstance(r, APIRoute) and "POST" in (r.methods or ())
    }
    lanes: dict[str, tuple[type[BaseModel], Endpoint]] = {
        "/gopay": (PayRequest, gopay),
        "/query/trade": (QueryRequest, query_trade),
        "/close": (TradeRefRequest, close),
        "/refund": (RefundRequest, refund),
        "/query/refund": (RefundQueryRequest, query_refund),
        "/query/bill": (BillQueryRequest, query_bill),
        "/query/settle": (SettleQueryRequest, query_settle),
    }
    routes = {path: LaneRoute(model, call, declared.get(path)) for path, (model, call) in lanes.items()}
    app.add_middleware(FastLane, routes=routes)
    app.add_middleware(  # added last, so it runs first: refused sources reach nothing else
        SourceAllowList,
        networks=services.limits.internal_allow,
        trusted_proxies=services.limits.trusted_proxies,
    )
    return app
