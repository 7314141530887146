"""The operators' console at ``/console/`` on the internal listener (R-OPS-1, R-OPS-2): its
pages. Server-rendered (Jinja2), a little htmx, and uPlot for the live charts — both shipped in
``api/static/vendor`` (nothing from a CDN). Sessions, CSRF and roles are
:class:`~paygate.api.console_guard.ConsoleGuard`'s; every action — logins, searches, trade
views, decisions, re-sends, accounts added, refusals of each kind — is in the audit record
(``operator_actions``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.api.console_guard import PREFIX, ConsoleGuard, field
from paygate.api.pages import STATIC_DIR
from paygate.console.dashboard import WINDOWS, Dashboard
from paygate.console.reads import ConsoleReads
from paygate.console.reconciliation import ReconciliationView
from paygate.console.sessions import ConsoleSessions, SessionInfo
from paygate.domain.operators import Permission
from paygate.domain.refunds import RefundState
from paygate.events.console import EventConsole
from paygate.kit.errors import ErrorCode, PaygateError
from paygate.operators.directory import OperatorDirectory
from paygate.refunds.deciding import RefundDecisions
from paygate.refunds.querying import RefundQueries

__all__ = ["ConsoleServices", "mount_console"]


@dataclass(frozen=True)
class ConsoleServices:
    sessions: ConsoleSessions
    reads: ConsoleReads
    dashboard: Dashboard
    directory: OperatorDirectory
    refund_queries: RefundQueries
    refund_decisions: RefundDecisions
    events: EventConsole
    accounts: ChannelAccounts
    cookie_secure: bool = False
    reconciliation: ReconciliationView | None = None  # issue 9 plugs in here


def mount_console(app: FastAPI, services: ConsoleServices) -> None:
    directory = services.directory
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    guard = ConsoleGuard(app, services.sessions, directory, cookie_secure=services.cookie_secure)
    guard.mount_login()
    page, route, view, action = guard.page, guard.route, guard.view, guard.action

    @route("/", ["GET"])
    @view()
    async def home(request: Request, info: SessionInfo) -> Response:
        minutes = request.query_params.get("minutes", "60")
        return page(
            request,
            "console/dashboard.html",
            info,
            windows=WINDOWS,
            minutes=int(minutes) if minutes.isdigit() and int(minutes) in WINDOWS else 60,
        )

    @route("/dashboard.json", ["GET"])
    @view()
    async def dashboard_data(request: Request, info: SessionInfo) -> Response:
        minutes = request.query_params.get("minutes", "60")
        figures = await services.dashboard.figures(int(minutes) if minutes.isdigit() else -1)
        return JSONResponse(figures, headers={"Cache-Control": "no-store"})

    @route("/dashboard/totals", ["GET"])
    @view()
    async def dashboard_totals(request: Request, info: SessionInfo) -> Response:
        minutes = request.query_params.get("minutes", "60")
        figures = await services.dashboard.figures(int(minutes) if minutes.isdigit() else -1)
        return page(request, "console/_totals.html", info, f=figures)

    # ------------------------------------------------------------------ search, trades

    @route("/search", ["GET"])
    @view()
    async def search(request: Request, info: SessionInfo) -> Response:
        q = request.query_params.get("q", "").strip()[:128]
        found = await services.reads.search(q) if q else {"trades": [], "refunds": []}
        if q:
            await directory.audit(
                info.who,
                "console.search",
                q[:128],
                trades=len(found["trades"]),
                refunds=len(found["refunds"]),
            )
        recent = [] if q else await services.reads.recent()
        return page(request, "console/search.html", info, q=q, found=found, recent=recent)

    @route("/trades/{trade_no}", ["GET"])
    @view()
    async def trade(request: Request, info: SessionInfo) -> Response:
        trade_no = request.path_params["trade_no"]
        timeline = await services.reads.timeline(trade_no)
        await directory.audit(info.who, "console.view_trade", trade_no[:128])
        return page(request, "console/trade.html", info, tl=timeline, dumps=_dumps)

    # ------------------------------------------------------------------ refunds (four eyes)

    @route("/refunds", ["GET"])
    @view()
    async def refunds(request: Request, info: SessionInfo) -> Response:
        state_name = request.query_params.get("state", RefundState.PENDING_APPROVAL.value)
        try:
            state = RefundState(state_name) if state_name else None
        except ValueError:
            raise PaygateError(
                f"unknown refund state {state_name[:32]!r}", code=ErrorCode.INVALID_REQUEST
            ) from None
        items = await services.refund_queries.listing(state=state, limit=100)
        return page(
            request,
            "console/refunds.html",
            info,
            items=items,
            state=state_name,
            states=[s.value for s in RefundState],
        )

    async def decide(request: Request, info: SessionInfo, approve: bool) -> Response:
        refund_no = request.path_params["refund_no"][:32]
        reason = field(request.state.form, "reason")
        decisions = services.refund_decisions
        if approve:
            await decisions.approve(info.who, refund_no, reason)
        else:
            await decisions.reject(info.who, refund_no, reason)
        return RedirectResponse(f"{PREFIX}/refunds?state=pending_approval&done={refund_no}", status_code=303)

    @route("/refunds/{refund_no}/approve", ["POST"])
    @action(Permission.DECIDE_REFUNDS)
    async def approve(request: Request, info: SessionInfo) -> Response:
        return await decide(request, info, approve=True)

    @route("/refunds/{refund_no}/reject", ["POST"])
    @action(Permission.DECIDE_REFUNDS)
    async def reject(request: Request, info: SessionInfo) -> Response:
        return await decide(request, info, approve=False)

    # ------------------------------------------------------------------ events

    @route("/events", ["GET"])
    @view()
    async def events(request: Request, info: SessionInfo) -> Response:
        delivery = request.query_params.get("delivery") or None
        listing = await services.events.list(delivery=delivery, limit=100)
        return page(request, "console/events.html", info, items=listing["items"], delivery=delivery or "")

    @route("/events/{event_id}/resend", ["POST"])
    @action(Permission.RESEND_EVENTS)
    async def resend(request: Request, info: SessionInfo) -> Response:
        event_id = request.path_params["event_id"][:40]

        async def audit(actor: str, what: str, target: str, refused: bool, detail: dict[str, Any]) -> None:
            await directory.audit(info.who, what, target, refused=refused, **detail)

        await services.events.resend(event_id, info.who.actor, audit)
        back = field(request.state.form, "back")
        target = back if back.startswith(f"{PREFIX}/") and "//" not in back else f"{PREFIX}/events"
        sep = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{sep}resent={event_id}", status_code=303)

    # ------------------------------------------------------------------ apps, accounts, audit, recon

    @route("/apps", ["GET"])
    @view()
    async def apps(request: Request, info: SessionInfo) -> Response:
        return page(
            request,
            "console/apps.html",
            info,
            apps=await services.reads.apps(),
            accounts=await services.accounts.describe_all(),
            may_manage=info.may(Permission.MANAGE),
            added=request.query_params.get("added"),
        )

    @route("/accounts", ["POST"])
    @action(Permission.MANAGE)
    async def add_account(request: Request, info: SessionInfo) -> Response:
        form = request.state.form
        raw = field(form, "secrets")
        try:
            given = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            given = None
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise PaygateError(
                'secrets is a JSON object of strings: {"name": "value"}', code=ErrorCode.INVALID_REQUEST
            )
        channel, name, merchant = field(form, "channel"), field(form, "name"), field(form, "merchant_id")
        try:
            account_id = await services.accounts.add(
                channel, name, merchant, field(form, "gateway_url"), given
            )
        except KeyError:
            raise PaygateError(f"unknown channel {channel[:32]!r}", code=ErrorCode.UNKNOWN_CHANNEL) from None
        except PaygateError as exc:
            await directory.audit(
                info.who, "account.add", f"{channel}:{merchant}"[:128], refused=True, error=exc.code.name
            )
            raise
        # the secrets are sealed now and never shown again; only their names are audited
        await directory.audit(
            info.who, "account.add", str(account_id), channel=channel, secrets=sorted(given)
        )
        return RedirectResponse(f"{PREFIX}/apps?added={account_id}", status_code=303)

    @route("/audit", ["GET"])
    @view()
    async def audit_record(request: Request, info: SessionInfo) -> Response:
        target = request.query_params.get("target") or None
        items = await directory.actions(target=target[:128] if target else None, limit=200)
        return page(request, "console/audit.html", info, items=items)

    @route("/reconciliation", ["GET"])
    @view()
    async def reconciliation(request: Request, info: SessionInfo) -> Response:
        recon = services.reconciliation  # None until reconciliation (issue 9) is wired in
        runs = await recon.runs(50) if recon else []
        open_ = await recon.open_discrepancies(200) if recon else []
        return page(
            request,
            "console/reconciliation.html",
            info,
            installed=recon is not None,
            runs=runs,
            discrepancies=open_,
            may_resolve=info.may(Permission.RESOLVE_DISCREPANCIES),
        )

    @route("/reconciliation/{discrepancy_id}/resolve", ["POST"])
    @action(Permission.RESOLVE_DISCREPANCIES)
    async def resolve(request: Request, info: SessionInfo) -> Response:
        recon = services.reconciliation
        if recon is None:
            raise PaygateError("reconciliation is not installed", code=ErrorCode.NOT_FOUND_ROUTE)
        target = request.path_params["discrepancy_id"][:64]
        reason = field(request.state.form, "reason")[:256]
        if not reason:
            raise PaygateError("give a reason", code=ErrorCode.INVALID_REQUEST)
        try:
            await recon.resolve(info.who, target, reason)
        except PaygateError as exc:
            await directory.audit(info.who, "discrepancy.resolve", target, refused=True, error=exc.code.name)
            raise
        await directory.audit(info.who, "discrepancy.resolve", target, reason=reason)
        return RedirectResponse(f"{PREFIX}/reconciliation?resolved={target}", status_code=303)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)
