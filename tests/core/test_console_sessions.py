"""Console sessions on every database (R-OPS-2): a login makes a session whose id is stored
only as a hash; it ends on logout, on expiry, and at once when its operator is disabled."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, update

from paygate.console.sessions import ConsoleSessions
from paygate.kit.clock import utc_now
from paygate.kit.errors import AuthError, ErrorCode
from paygate.models import ConsoleSession
from tests.support.stack import Stack

PASSWORD = "a long enough password"


async def test_sessions_end_on_logout_expiry_and_disable(stack: Stack) -> None:
    directory = stack.container.operators
    await directory.add("ann", "approver", PASSWORD)
    sessions = ConsoleSessions(stack.container.db, directory, minutes=5)
    token, info = await sessions.login("ann", PASSWORD)
    assert info.who.name == "ann" and len(info.csrf) >= 32
    async with stack.container.sessions() as s:
        stored = (await s.execute(select(ConsoleSession.token_hash))).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]  # never the id itself
    assert (await sessions.resolve(token)).who.role == "approver"

    with pytest.raises(AuthError):
        await sessions.login("ann", "wrong password 123")
    for bad in (None, "", "x" * 500, token + "x"):
        with pytest.raises(AuthError) as refused:
            await sessions.resolve(bad)
        assert refused.value.code is ErrorCode.CONSOLE_SESSION

    # expiry
    async with stack.container.sessions() as s:
        await s.execute(update(ConsoleSession).values(expires_at=utc_now()))
        await s.commit()
    with pytest.raises(AuthError):
        await sessions.resolve(token)

    # disabling the operator ends their live session at once
    token, _ = await sessions.login("ann", PASSWORD)
    await directory.set_enabled("ann", False)
    with pytest.raises(AuthError):
        await sessions.resolve(token)
    await directory.set_enabled("ann", True)
    with pytest.raises(AuthError):  # and it does not come back
        await sessions.resolve(token)

    token, info = await sessions.login("ann", PASSWORD)
    await sessions.logout(token, info.who)
    with pytest.raises(AuthError):
        await sessions.resolve(token)
