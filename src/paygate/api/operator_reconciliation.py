"""Operator API for reconciliation (R-REC-2, R-OPS-2): runs, discrepancies, resolving one
with a reason (``resolve_discrepancies``: approvers and admins; audited), a run's lines as
CSV. Reading needs ``read``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from paygate.api.operator import OperatorAuth
from paygate.api.responses import ok_response
from paygate.api.schemas import ResolveRequest
from paygate.domain.operators import Permission
from paygate.operators.directory import OperatorIdentity
from paygate.reconciliation.console import ReconciliationConsole, parse_bill_date

__all__ = ["operator_reconciliation_router"]

Id = Annotated[int, Path(ge=1, le=2**62)]


def operator_reconciliation_router(auth: OperatorAuth, console: ReconciliationConsole) -> APIRouter:
    router = APIRouter(prefix="/operator/reconciliation", tags=["operators"])
    reader = Depends(auth.require(Permission.READ))
    resolver = Depends(auth.require(Permission.RESOLVE_DISCREPANCIES))

    @router.get("/runs", summary="Reconciliation runs, newest first")
    async def list_runs(
        request: Request,
        who: OperatorIdentity = reader,
        account_id: Annotated[int | None, Query(ge=1)] = None,
        bill_date: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Response:
        day = parse_bill_date(bill_date) if bill_date else None
        items = await console.runs(account_id=account_id, bill_date=day, limit=limit)
        return ok_response(request, {"items": items})

    @router.get("/runs/{run_id}", summary="One run: counts, raw file, stage times, settlements")
    async def show_run(request: Request, run_id: Id, who: OperatorIdentity = reader) -> Response:
        return ok_response(request, await console.run(run_id))

    @router.get("/runs/{run_id}/lines.csv", summary="The run's bill lines and what each matched, as CSV")
    async def export_run(run_id: Id, who: OperatorIdentity = reader) -> Response:
        await console.run(run_id)  # 404 before the stream starts

        async def body() -> Any:
            async for chunk in console.csv_pages(run_id):
                yield chunk.encode()

        headers = {"content-disposition": f'attachment; filename="reconciliation-{run_id}.csv"'}
        return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)

    @router.get("/discrepancies", summary="Discrepancies, oldest first (filter: state, kind, account, run)")
    async def list_discrepancies(
        request: Request,
        who: OperatorIdentity = reader,
        state: Annotated[str | None, Query(max_length=16, description="open | deferred | resolved")] = None,
        kind: Annotated[str | None, Query(max_length=24)] = None,
        account_id: Annotated[int | None, Query(ge=1)] = None,
        run_id: Annotated[int | None, Query(ge=1)] = None,
        after: Annotated[int | None, Query(ge=0, description="the `next` of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> Response:
        page = await console.discrepancies(
            state=state, kind=kind, account_id=account_id, run_id=run_id, after=after, limit=limit
        )
        return ok_response(request, page)

    @router.get("/discrepancies/{discrepancy_id}", summary="One discrepancy")
    async def show_discrepancy(
        request: Request, discrepancy_id: Id, who: OperatorIdentity = reader
    ) -> Response:
        return ok_response(request, await console.discrepancy(discrepancy_id))

    @router.post("/discrepancies/{discrepancy_id}/resolve", summary="Resolve with a reason (audited)")
    async def resolve(
        request: Request, discrepancy_id: Id, body: ResolveRequest, who: OperatorIdentity = resolver
    ) -> Response:
        return ok_response(request, await console.resolve(who, discrepancy_id, body.reason))

    return router
