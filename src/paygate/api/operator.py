"""The operator API on the internal listener (R-SEC-5, R-OPS-2): JSON endpoints under
``/operator/`` for people, not apps. Every call names an operator with HTTP Basic
authentication (``Authorization: Basic base64(name:password)``); an app's signed credentials
reach nothing here. What a role may do is checked per endpoint (domain/operators.py), and every
decision is audited.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from paygate.api.responses import ok_response
from paygate.api.schemas import (
    DecisionRequest,
    Envelope,
    OperatorRefundRequest,
    PayoutRequest,
    RefundData,
    RefundList,
)
from paygate.domain.apps import AppContext
from paygate.domain.operators import Permission
from paygate.domain.refunds import RefundState
from paygate.kit.errors import AuthError, ErrorCode
from paygate.operators.directory import OperatorDirectory, OperatorIdentity
from paygate.payments.commands import TradeRef
from paygate.refunds.commands import RefundCommand, RefundRef

if TYPE_CHECKING:
    from paygate.api.internal import InternalServices

__all__ = ["OperatorAuth", "operator_router"]


class OperatorAuth:
    """A FastAPI dependency: the operator named by the request, with ``permission``."""

    def __init__(self, directory: OperatorDirectory) -> None:
        self._directory = directory

    @property
    def directory(self) -> OperatorDirectory:
        return self._directory

    async def identify(self, request: Request) -> OperatorIdentity:
        """The operator the request's Basic credentials name (once per request)."""
        known: OperatorIdentity | None = getattr(request.state, "operator", None)
        if known is not None:
            return known
        name, password = _basic_credentials(request.headers.get("authorization", ""))
        who = await self._directory.authenticate(name, password)
        request.state.operator = who
        return who

    def require(self, permission: Permission) -> Callable[[Request], Awaitable[OperatorIdentity]]:
        async def dependency(request: Request) -> OperatorIdentity:
            who = await self.identify(request)
            if not who.may(permission):
                await self._directory.audit(who, f"denied:{permission}", request.url.path, refused=True)
                raise AuthError(
                    f"the role {who.role} may not {permission.value.replace('_', ' ')}",
                    code=ErrorCode.OPERATOR_FORBIDDEN,
                )
            return who

        return dependency


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise AuthError("give the operator's name and password (HTTP Basic)", code=ErrorCode.OPERATOR_AUTH)
    try:
        name, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError("the Basic credentials are not valid base64", code=ErrorCode.OPERATOR_AUTH) from None
    if not sep or not name:
        raise AuthError("the Basic credentials must be name:password", code=ErrorCode.OPERATOR_AUTH)
    return name, password


RefundNo = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


def operator_router(auth: OperatorAuth, services: InternalServices) -> APIRouter:
    directory = auth.directory
    router = APIRouter(prefix="/operator", tags=["operators"])
    reader = Depends(auth.require(Permission.READ))
    decider = Depends(auth.require(Permission.DECIDE_REFUNDS))
    requester = Depends(auth.require(Permission.REQUEST_REFUNDS))

    @router.get("/me", summary="Who the credentials name, and their role")
    async def me(request: Request, who: OperatorIdentity = reader) -> Response:
        return ok_response(request, {"name": who.name, "role": who.role.value})

    @router.get("/actions", summary="The audit record: what operators did, newest first")
    async def actions(
        request: Request,
        who: OperatorIdentity = reader,
        target: Annotated[str | None, Query(max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Response:
        items: list[dict[str, Any]] = await directory.actions(target=target, limit=limit)
        return ok_response(request, {"items": items})

    # ------------------------------------------------------------------ refunds (R-REF-3, R-REF-5)

    @router.get(
        "/refunds",
        response_model=Envelope[RefundList],
        summary="Refunds, newest first; state=pending_approval is the approval queue",
    )
    async def refunds(
        request: Request,
        who: OperatorIdentity = reader,
        state: RefundState | None = None,
        app_id: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        items = await services.refund_queries.listing(state=state, app_id=app_id, limit=limit, offset=offset)
        return ok_response(request, {"items": items})

    @router.get("/refunds/{refund_no}", response_model=Envelope[RefundData], summary="One refund")
    async def one_refund(request: Request, refund_no: RefundNo, who: OperatorIdentity = reader) -> Response:
        return ok_response(request, await services.refund_queries.query(None, RefundRef(refund_no)))

    @router.post(
        "/refunds",
        response_model=Envelope[RefundData],
        summary="Ask for a refund on an app's behalf (someone else decides it if it is held)",
    )
    async def request_refund(
        body: OperatorRefundRequest, request: Request, who: OperatorIdentity = requester
    ) -> Response:
        view = await services.refund_creator.request(
            AppContext(body.app_id, frozenset()),
            RefundCommand(
                trade=TradeRef(body.trade_no, body.out_order_no),
                out_refund_no=body.out_refund_no,
                amount=body.amount,
                currency=body.currency,
                reason=body.reason,
                notify_url=body.notify_url,
            ),
            requested_by=who.actor,
        )
        await directory.audit(who, "refund.request", view["refund_no"], amount=body.amount)
        return ok_response(request, view)

    @router.post(
        "/refunds/{refund_no}/approve",
        response_model=Envelope[RefundData],
        summary="Approve a held refund (not one you requested); it goes to the channel",
    )
    async def approve(
        body: DecisionRequest, request: Request, refund_no: RefundNo, who: OperatorIdentity = decider
    ) -> Response:
        return ok_response(request, await services.refund_decisions.approve(who, refund_no, body.reason))

    @router.post(
        "/refunds/{refund_no}/reject",
        response_model=Envelope[RefundData],
        summary="Reject a held refund (not one you requested); the app is told",
    )
    async def reject(
        body: DecisionRequest, request: Request, refund_no: RefundNo, who: OperatorIdentity = decider
    ) -> Response:
        return ok_response(request, await services.refund_decisions.reject(who, refund_no, body.reason))

    @router.post(
        "/refunds/{refund_no}/manual-payout",
        response_model=Envelope[RefundData],
        summary="Replace a refund the channel could not take by one paid out by hand",
    )
    async def manual_payout(
        body: DecisionRequest, request: Request, refund_no: RefundNo, who: OperatorIdentity = decider
    ) -> Response:
        return ok_response(
            request, await services.refund_decisions.manual_payout(who, refund_no, body.reason)
        )

    @router.post(
        "/refunds/{refund_no}/payout",
        response_model=Envelope[RefundData],
        summary="Record that a manual payout was made (the refund succeeds)",
    )
    async def payout(
        body: PayoutRequest, request: Request, refund_no: RefundNo, who: OperatorIdentity = decider
    ) -> Response:
        return ok_response(
            request, await services.refund_decisions.record_payout(who, refund_no, body.reference)
        )

    return router
