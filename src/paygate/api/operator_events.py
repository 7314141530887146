"""Operator API for events (R-NTF-5, R-OPS-2): list them, inspect one with every delivery
attempt, re-send one. Reading needs ``read``; re-sending needs ``resend_events`` (admins),
and every re-send — refused ones too — is in the audit record."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from paygate.api.operator import OperatorAuth
from paygate.api.responses import ok_response
from paygate.domain.operators import Permission
from paygate.events.console import EventConsole
from paygate.operators.directory import OperatorIdentity

__all__ = ["operator_events_router"]

EventId = Annotated[str, Path(max_length=64, description="evt_ followed by 26 digits")]


def operator_events_router(auth: OperatorAuth, console: EventConsole) -> APIRouter:
    directory = auth.directory
    router = APIRouter(prefix="/operator/events", tags=["operators"])
    reader = Depends(auth.require(Permission.READ))
    resender = Depends(auth.require(Permission.RESEND_EVENTS))

    @router.get("", summary="Events, newest first, with how their delivery to the app stands")
    async def list_events(
        request: Request,
        who: OperatorIdentity = reader,
        app_id: Annotated[str | None, Query(max_length=32)] = None,
        type: Annotated[str | None, Query(max_length=64, description="e.g. trade.succeeded")] = None,
        aggregate: Annotated[str | None, Query(max_length=32, description="a trade_no or refund_no")] = None,
        delivery: Annotated[
            str | None, Query(max_length=16, description="pending | succeeded | dead")
        ] = None,
        before: Annotated[
            str | None, Query(max_length=64, description="the `next` of the previous page")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Response:
        page: dict[str, Any] = await console.list(
            app_id=app_id, type_=type, aggregate=aggregate, delivery=delivery, before=before, limit=limit
        )
        return ok_response(request, page)

    @router.get("/{event_id}", summary="One event as sent, its deliveries and every attempt")
    async def show_event(request: Request, event_id: EventId, who: OperatorIdentity = reader) -> Response:
        return ok_response(request, await console.show(event_id))

    @router.post("/{event_id}/resend", summary="Deliver the event to the app again, now (audited)")
    async def resend_event(request: Request, event_id: EventId, who: OperatorIdentity = resender) -> Response:
        async def audit(actor: str, action: str, target: str, refused: bool, detail: dict[str, Any]) -> None:
            await directory.audit(who, action, target, refused=refused, **detail)

        return ok_response(request, await console.resend(event_id, who.actor, audit))

    return router
