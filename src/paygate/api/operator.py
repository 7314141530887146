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
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from paygate.api.responses import ok_response
from paygate.domain.operators import Permission
from paygate.kit.errors import AuthError, ErrorCode
from paygate.operators.directory import OperatorDirectory, OperatorIdentity

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


def operator_router(auth: OperatorAuth) -> APIRouter:
    directory = auth.directory
    router = APIRouter(prefix="/operator", tags=["operators"])
    reader = Depends(auth.require(Permission.READ))

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

    return router
