"""The operators' console at ``/console/`` on the internal listener (R-OPS-1, R-OPS-2).

Server-rendered pages (Jinja2), a little htmx, and uPlot for the live charts — both shipped in
``api/static/vendor`` (nothing from a CDN). Security, in order, on every request:

1. the internal listener's source allow-list (as for the API);
2. a server-side session (``console/sessions.py``): no session → the login page (GET) or
   ``401`` (POST); the operator is re-read each time, so a disabled one is out at once;
3. on every POST, the session's CSRF token from the form (or the ``X-CSRF-Token`` header),
   compared in constant time → ``403 CONSOLE_CSRF`` otherwise; the login form has its own
   (double-submit cookie);
4. the role's permission (``domain/operators.py``) → ``403 OPERATOR_FORBIDDEN``.

Every action — logins (done by the directory), searches, trade views, decisions, re-sends,
refusals of each kind — is written to the audit record (``operator_actions``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import structlog
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.api.pages import STATIC_DIR, render
from paygate.console.dashboard import WINDOWS, Dashboard
from paygate.console.reads import ConsoleReads
from paygate.console.reconciliation import ReconciliationView
from paygate.console.sessions import ConsoleSessions, SessionInfo, csrf_matches
from paygate.domain.operators import Permission
from paygate.domain.refunds import RefundState
from paygate.events.console import EventConsole
from paygate.kit.errors import AuthError, ErrorCode, PaygateError
from paygate.operators.directory import OperatorDirectory
from paygate.refunds.deciding import RefundDecisions
from paygate.refunds.querying import RefundQueries

__all__ = ["ConsoleServices", "mount_console"]

log = structlog.get_logger("paygate.console")
SESSION_COOKIE: Final = "paygate_console"
LOGIN_COOKIE: Final = "paygate_console_login"
PREFIX: Final = "/console"
_MAX_FIELD: Final = 2048


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
    session_minutes: int = 30
    reconciliation: ReconciliationView | None = None  # issue 9 plugs in here


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    if not isinstance(value, str) or len(value) > _MAX_FIELD or "\x00" in value:
        return ""
    return value.strip()


def mount_console(app: FastAPI, services: ConsoleServices) -> None:
    sessions, directory = services.sessions, services.directory
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")

    def page(
        request: Request, name: str, info: SessionInfo | None, status_code: int = 200, **ctx: Any
    ) -> Response:
        response = render(request, name, status_code=status_code, me=info, **ctx)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'"
        )
        return response

    def problem(request: Request, info: SessionInfo | None, exc: PaygateError) -> Response:
        return page(
            request,
            "console/problem.html",
            info,
            status_code=exc.code.http_status,
            error=exc.code.name,
            message=exc.message,
        )

    async def current(request: Request) -> SessionInfo | None:
        try:
            return await sessions.resolve(request.cookies.get(SESSION_COOKIE))
        except AuthError:
            return None

    Handler = Callable[[Request, SessionInfo], Awaitable[Response]]

    def view(
        permission: Permission = Permission.READ,
    ) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
        """A GET page: the login page without a session, 403 without the permission."""

        def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                info = await current(request)
                if info is None:
                    return RedirectResponse(f"{PREFIX}/login", status_code=303)
                if not info.may(permission):
                    await directory.audit(info.who, f"denied:{permission}", request.url.path, refused=True)
                    return problem(request, info, AuthError(code=ErrorCode.OPERATOR_FORBIDDEN))
                try:
                    return await handler(request, info)
                except PaygateError as exc:
                    return problem(request, info, exc)

            return endpoint

        return wrap

    def action(permission: Permission) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
        """A POST: a session, then its CSRF token, then the permission — each refusal audited."""

        def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
            async def endpoint(request: Request) -> Response:
                info = await current(request)
                if info is None:
                    return problem(request, None, AuthError(code=ErrorCode.CONSOLE_SESSION))
                form = await request.form()
                request.state.form = form
                given = request.headers.get("x-csrf-token") or _field(form, "csrf")
                if not csrf_matches(info.csrf, given):
                    await directory.audit(info.who, "denied:csrf", request.url.path, refused=True)
                    return problem(request, info, AuthError(code=ErrorCode.CONSOLE_CSRF))
                if not info.may(permission):
                    await directory.audit(info.who, f"denied:{permission}", request.url.path, refused=True)
                    return problem(request, info, AuthError(code=ErrorCode.OPERATOR_FORBIDDEN))
                try:
                    return await handler(request, info)
                except PaygateError as exc:
                    return problem(request, info, exc)

            return endpoint

        return wrap

    def route(path: str, methods: list[str]) -> Callable[[Callable[[Request], Awaitable[Response]]], Any]:
        def add(endpoint: Callable[[Request], Awaitable[Response]]) -> Any:
            app.add_api_route(f"{PREFIX}{path}", endpoint, methods=methods, include_in_schema=False)
            return endpoint

        return add

    # ------------------------------------------------------------------ login, logout

    @route("/login", ["GET"])
    async def login_page(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        response = page(request, "console/login.html", None, login_csrf=token, failed=False)
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            path=PREFIX,
            secure=services.cookie_secure,
            max_age=3600,
        )
        return response

    @route("/login", ["POST"])
    async def login(request: Request) -> Response:
        form = await request.form()
        expected = request.cookies.get(LOGIN_COOKIE) or ""
        if not expected or not csrf_matches(expected, _field(form, "csrf")):
            return problem(request, None, AuthError(code=ErrorCode.CONSOLE_CSRF))
        try:
            token, _info = await sessions.login(_field(form, "name")[:64], _field(form, "password"))
        except AuthError:
            fresh = secrets.token_urlsafe(24)
            response = page(
                request, "console/login.html", None, status_code=401, login_csrf=fresh, failed=True
            )
            response.set_cookie(
                LOGIN_COOKIE,
                fresh,
                httponly=True,
                samesite="strict",
                path=PREFIX,
                secure=services.cookie_secure,
                max_age=3600,
            )
            return response
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            path=PREFIX,
            secure=services.cookie_secure,
        )
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    @route("/logout", ["POST"])
    @action(Permission.READ)
    async def logout(request: Request, info: SessionInfo) -> Response:
        await sessions.logout(request.cookies.get(SESSION_COOKIE, ""), info.who)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    # ------------------------------------------------------------------ dashboard

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
        reason = _field(request.state.form, "reason")
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
        back = _field(request.state.form, "back")
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
        raw = _field(form, "secrets")
        try:
            given = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            given = None
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise PaygateError(
                'secrets is a JSON object of strings: {"name": "value"}', code=ErrorCode.INVALID_REQUEST
            )
        channel, name, merchant = _field(form, "channel"), _field(form, "name"), _field(form, "merchant_id")
        try:
            account_id = await services.accounts.add(
                channel, name, merchant, _field(form, "gateway_url"), given
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
        reason = _field(request.state.form, "reason")[:256]
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
