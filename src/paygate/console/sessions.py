"""Console sessions (R-OPS-2): an operator logs in once with name and password and gets a
server-side session — a random id in an HttpOnly cookie, only its SHA-256 stored — with a CSRF
token that every form must send back.

Passwords, lock-out (5 failures → 15 minutes) and the audit of every login are
:class:`~paygate.operators.directory.OperatorDirectory`'s. A session ends when it is unused
for ``minutes``, on logout, or as soon as its operator is disabled or locked: the operator is
read again on every request, so a role change or a disable takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from paygate.domain.operators import Permission
from paygate.kit.clock import utc_now
from paygate.kit.errors import AuthError, ErrorCode
from paygate.models import ConsoleSession
from paygate.operators.directory import OperatorDirectory, OperatorIdentity
from paygate.repositories import Database, UnitOfWork

__all__ = ["ConsoleSessions", "SessionInfo", "csrf_matches"]

#: A session's expiry moves on with use, but is written at most this often.
TOUCH_EVERY: Final = timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


@dataclass(frozen=True)
class SessionInfo:
    who: OperatorIdentity
    csrf: str

    def may(self, permission: Permission) -> bool:
        return self.who.may(permission)


class ConsoleSessions:
    def __init__(self, db: Database, directory: OperatorDirectory, *, minutes: int = 30) -> None:
        self._db = db
        self._directory = directory
        self._life = timedelta(minutes=minutes)

    async def login(self, name: str, password: str) -> tuple[str, SessionInfo]:
        """A new session for the operator (raises ``OPERATOR_AUTH`` as the operator API does)."""
        who = await self._directory.authenticate(name, password)
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), utc_now()
        async with self._db.transaction() as uow:
            await uow.console_sessions.purge_expired(now)
            uow.console_sessions.add(
                ConsoleSession(
                    token_hash=_hash(token),
                    operator=who.name,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self._life,
                )
            )
        await self._directory.audit(who, "console.login", None)
        return token, SessionInfo(who, csrf)

    async def resolve(self, token: str | None) -> SessionInfo:
        """The session the cookie names, or ``CONSOLE_SESSION``."""
        if not token or len(token) > 128:
            raise AuthError(code=ErrorCode.CONSOLE_SESSION)

        async def unit(uow: UnitOfWork) -> SessionInfo | None:
            now = utc_now()
            row = await uow.console_sessions.by_hash(_hash(token))
            if row is None or row.expires_at <= now:
                return None
            operator = await uow.operators.get(row.operator)
            locked = (
                operator is not None and operator.locked_until is not None and operator.locked_until > now
            )
            if operator is None or not operator.enabled or locked:
                await uow.console_sessions.remove(row.token_hash)
                return None
            if now - row.last_seen_at >= TOUCH_EVERY:
                row.last_seen_at, row.expires_at = now, now + self._life
            return SessionInfo(OperatorIdentity(operator.name, operator.role), row.csrf_token)

        info = await self._db.run(unit)
        if info is None:
            raise AuthError(code=ErrorCode.CONSOLE_SESSION)
        return info

    async def logout(self, token: str, who: OperatorIdentity) -> None:
        async with self._db.transaction() as uow:
            await uow.console_sessions.remove(_hash(token))
        await self._directory.audit(who, "console.logout", None)
