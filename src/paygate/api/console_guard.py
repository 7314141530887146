"""Who may do what in the operators' console (R-OPS-2, R-SEC-5): sessions, CSRF, roles, and
the login and logout pages. Every console route is declared through :class:`ConsoleGuard`:

1. the internal listener's source allow-list has already run (as for the API);
2. a server-side session (``console/sessions.py``): none → the login page (GET) or ``401
   CONSOLE_SESSION`` (POST); the operator is re-read each time, so a disabled one is out at once;
3. on every POST, the session's CSRF token from the form (or the ``X-CSRF-Token`` header),
   compared in constant time → ``403 CONSOLE_CSRF``; the login form has its own
   (double-submit cookie);
4. the role's permission (``domain/operators.py``) → ``403 OPERATOR_FORBIDDEN``.

Each refusal of 3 and 4 is written to the audit record; logins are, by the directory.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response

from paygate.api.pages import render
from paygate.console.sessions import ConsoleSessions, SessionInfo, csrf_matches
from paygate.domain.operators import Permission
from paygate.kit.errors import AuthError, ErrorCode, PaygateError
from paygate.operators.directory import OperatorDirectory

__all__ = ["PREFIX", "ConsoleGuard", "field"]

SESSION_COOKIE: Final = "paygate_console"
LOGIN_COOKIE: Final = "paygate_console_login"
PREFIX: Final = "/console"
MAX_FIELD: Final = 2048
CSP: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'"
)

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, SessionInfo], Awaitable[Response]]


def field(form: Any, name: str) -> str:
    """A form field as text: empty when missing, too long, or holding U+0000."""
    value = form.get(name)
    if not isinstance(value, str) or len(value) > MAX_FIELD or "\x00" in value:
        return ""
    return value.strip()


class ConsoleGuard:
    def __init__(
        self, app: FastAPI, sessions: ConsoleSessions, directory: OperatorDirectory, *, cookie_secure: bool
    ) -> None:
        self._app = app
        self._sessions = sessions
        self._directory = directory
        self._secure = cookie_secure

    def page(
        self, request: Request, name: str, info: SessionInfo | None, status_code: int = 200, **ctx: Any
    ) -> Response:
        response = render(request, name, status_code=status_code, me=info, **ctx)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = CSP
        return response

    def problem(self, request: Request, info: SessionInfo | None, exc: PaygateError) -> Response:
        return self.page(
            request,
            "console/problem.html",
            info,
            status_code=exc.code.http_status,
            error=exc.code.name,
            message=exc.message,
        )

    async def current(self, request: Request) -> SessionInfo | None:
        try:
            return await self._sessions.resolve(request.cookies.get(SESSION_COOKIE))
        except AuthError:
            return None

    def route(self, path: str, methods: list[str]) -> Callable[[Endpoint], Endpoint]:
        def add(endpoint: Endpoint) -> Endpoint:
            self._app.add_api_route(f"{PREFIX}{path}", endpoint, methods=methods, include_in_schema=False)
            return endpoint

        return add

    def view(self, permission: Permission = Permission.READ) -> Callable[[Handler], Endpoint]:
        """A GET page: the login page without a session, 403 without the permission."""

        def wrap(handler: Handler) -> Endpoint:
            async def endpoint(request: Request) -> Response:
                info = await self.current(request)
                if info is None:
                    return RedirectResponse(f"{PREFIX}/login", status_code=303)
                if not info.may(permission):
                    return await self._forbidden(request, info, permission)
                try:
                    return await handler(request, info)
                except PaygateError as exc:
                    return self.problem(request, info, exc)

            return endpoint

        return wrap

    def action(self, permission: Permission) -> Callable[[Handler], Endpoint]:
        """A POST: a session, then its CSRF token, then the permission. The parsed form is
        ``request.state.form``."""

        def wrap(handler: Handler) -> Endpoint:
            async def endpoint(request: Request) -> Response:
                info = await self.current(request)
                if info is None:
                    return self.problem(request, None, AuthError(code=ErrorCode.CONSOLE_SESSION))
                form = await request.form()
                request.state.form = form
                given = request.headers.get("x-csrf-token") or field(form, "csrf")
                if not csrf_matches(info.csrf, given):
                    await self._directory.audit(info.who, "denied:csrf", request.url.path, refused=True)
                    return self.problem(request, info, AuthError(code=ErrorCode.CONSOLE_CSRF))
                if not info.may(permission):
                    return await self._forbidden(request, info, permission)
                try:
                    return await handler(request, info)
                except PaygateError as exc:
                    return self.problem(request, info, exc)

            return endpoint

        return wrap

    async def _forbidden(self, request: Request, info: SessionInfo, permission: Permission) -> Response:
        await self._directory.audit(info.who, f"denied:{permission}", request.url.path, refused=True)
        return self.problem(request, info, AuthError(code=ErrorCode.OPERATOR_FORBIDDEN))

    def cookie(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(
            name, value, httponly=True, samesite="strict", path=PREFIX, secure=self._secure, max_age=max_age
        )

    # ------------------------------------------------------------------ login, logout

    def mount_login(self) -> None:
        route, sessions = self.route, self._sessions

        def login_form(request: Request, *, failed: bool) -> Response:
            token = secrets.token_urlsafe(24)
            response = self.page(
                request,
                "console/login.html",
                None,
                status_code=401 if failed else 200,
                login_csrf=token,
                failed=failed,
            )
            self.cookie(response, LOGIN_COOKIE, token, max_age=3600)
            return response

        @route("/login", ["GET"])
        async def login_page(request: Request) -> Response:
            return login_form(request, failed=False)

        @route("/login", ["POST"])
        async def login(request: Request) -> Response:
            form = await request.form()
            expected = request.cookies.get(LOGIN_COOKIE) or ""
            if not expected or not csrf_matches(expected, field(form, "csrf")):
                return self.problem(request, None, AuthError(code=ErrorCode.CONSOLE_CSRF))
            try:
                token, _ = await sessions.login(field(form, "name")[:64], field(form, "password"))
            except AuthError:
                return login_form(request, failed=True)
            response = RedirectResponse(f"{PREFIX}/", status_code=303)
            self.cookie(response, SESSION_COOKIE, token)
            response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
            return response

        @route("/logout", ["POST"])
        @self.action(Permission.READ)
        async def logout(request: Request, info: SessionInfo) -> Response:
            await sessions.logout(request.cookies.get(SESSION_COOKIE, ""), info.who)
            response = RedirectResponse(f"{PREFIX}/login", status_code=303)
            response.delete_cookie(SESSION_COOKIE, path=PREFIX)
            return response
