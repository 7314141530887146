"""Operator identities: adding, listing, disabling, and checking a credential.

Passwords are hashed with Argon2id (argon2-cffi's defaults). Repeated failed logins lock the
operator for a while (:data:`LOCKOUT_AFTER` failures → :data:`LOCKOUT_MINUTES`); a locked,
disabled or unknown operator is refused with the same answer, so a caller learns nothing
about which names exist. Every decision an operator makes is kept by :meth:`audit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paygate.domain.operators import PERMISSIONS, OperatorRole, Permission
from paygate.kit import metrics
from paygate.kit.clock import utc_now
from paygate.kit.errors import AuthError, ConflictError, ErrorCode, NotFoundError, RequestError
from paygate.models import Operator, OperatorAction
from paygate.repositories import Database

__all__ = ["LOCKOUT_AFTER", "LOCKOUT_MINUTES", "OperatorDirectory", "OperatorIdentity"]

log = structlog.get_logger("paygate.operators")

LOCKOUT_AFTER: Final = 5
LOCKOUT_MINUTES: Final = 15
MIN_PASSWORD_LENGTH: Final = 12
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


@dataclass(frozen=True)
class OperatorIdentity:
    """An authenticated operator."""

    name: str
    role: OperatorRole

    def may(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]

    @property
    def actor(self) -> str:
        """How the operator is named where actions are recorded (``operator:alice``)."""
        return f"operator:{self.name}"


class OperatorDirectory:
    def __init__(self, db: Database, hasher: PasswordHasher | None = None) -> None:
        self._db = db
        self._hasher = hasher or PasswordHasher()

    async def add(self, name: str, role: OperatorRole | str, password: str) -> OperatorIdentity:
        if not name or len(name) > 64 or not set(name) <= _NAME_CHARS:
            raise RequestError("an operator name is 1-64 of a-z, 0-9, '.', '_', '-'")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise RequestError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        try:
            role = OperatorRole(role)
        except ValueError:
            raise RequestError(f"unknown role {role!r}; roles: {', '.join(OperatorRole)}") from None
        row = Operator(
            name=name, role=role, password_hash=self._hasher.hash(password), enabled=True, failed_logins=0
        )
        async with self._db.transaction() as uow:
            added = await uow.operators.add(row)
            if not added:
                uow.mark_rollback_only()
        if not added:
            raise ConflictError(f"operator {name!r} exists", code=ErrorCode.ILLEGAL_STATE)
        return OperatorIdentity(name, role)

    async def describe_all(self) -> list[dict[str, Any]]:
        async with self._db.reading() as uow:
            rows = await uow.operators.all()
        return [
            {
                "name": r.name,
                "role": r.role.value,
                "enabled": r.enabled,
                "locked": r.locked_until is not None and r.locked_until > utc_now(),
                "last_login_at": r.last_login_at.isoformat() if r.last_login_at else None,
            }
            for r in rows
        ]

    async def set_enabled(self, name: str, enabled: bool) -> None:
        async with self._db.transaction() as uow:
            row = await uow.operators.get(name)
            if row is None:
                raise NotFoundError(f"no operator {name!r}", code=ErrorCode.OPERATOR_NOT_FOUND)
            row.enabled = enabled
            row.failed_logins = 0
            row.locked_until = None

    async def authenticate(self, name: str, password: str) -> OperatorIdentity:
        """The operator, when ``password`` is theirs and they are enabled and not locked."""
        async with self._db.transaction() as uow:
            row = await uow.operators.get(name)
            now = utc_now()
            if row is None or not row.enabled or (row.locked_until is not None and row.locked_until > now):
                if row is None:
                    self._burn(password)  # the same work as a real check: no timing oracle
                refused = True
            else:
                refused = not self._verify(row.password_hash, password)
                if refused:
                    row.failed_logins += 1
                    if row.failed_logins >= LOCKOUT_AFTER:
                        row.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
                        row.failed_logins = 0
                        log.warning("alert.operator_locked_out", operator=name)
                        metrics.ALERTS.labels("operator_locked_out", "").inc()
                else:
                    row.failed_logins = 0
                    row.locked_until = None
                    row.last_login_at = now
                    if self._hasher.check_needs_rehash(row.password_hash):
                        row.password_hash = self._hasher.hash(password)
            uow.operators.record(
                OperatorAction(
                    operator=name[:64],
                    action="login",
                    outcome="refused" if refused else "done",
                    created_at=now,
                )
            )
        if refused or row is None:
            raise AuthError(
                "operator name or password is wrong, or the operator is locked", code=ErrorCode.OPERATOR_AUTH
            )
        return OperatorIdentity(row.name, row.role)

    async def audit(
        self,
        who: OperatorIdentity | str,
        action: str,
        target: str | None,
        *,
        refused: bool = False,
        **detail: Any,
    ) -> None:
        name = who.name if isinstance(who, OperatorIdentity) else who
        async with self._db.transaction() as uow:
            uow.operators.record(
                OperatorAction(
                    operator=name,
                    action=action,
                    target=target,
                    outcome="refused" if refused else "done",
                    detail=detail or None,
                )
            )

    async def actions(self, *, target: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        async with self._db.reading() as uow:
            rows = await uow.operators.actions(target=target, limit=limit)
        return [
            {
                "operator": r.operator,
                "action": r.action,
                "target": r.target,
                "outcome": r.outcome,
                "detail": r.detail,
                "at": r.created_at.isoformat(),
            }
            for r in rows
        ]

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _burn(self, password: str) -> None:
        self._hasher.hash(password)
