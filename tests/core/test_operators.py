"""Operators (R-SEC-5, R-OPS-2): identities of their own with a role and an Argon2id-hashed
credential; the operator API takes nothing but their credentials; lock-out after repeated
failures; every attempt audited."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from paygate.kit.errors import RequestError
from paygate.models import Operator
from paygate.operators.directory import LOCKOUT_AFTER
from tests.support.stack import Stack

PASSWORD = "correct horse battery"


async def get(stack: Stack, path: str, auth: tuple[str, str] | None = None, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.internal_url, auth=auth) as http:
        return await http.get(path, headers=headers)


async def test_an_operator_signs_in_with_name_and_password_and_the_hash_is_argon2(stack: Stack) -> None:
    await stack.container.operators.add("alice", "approver", PASSWORD)
    answer = await get(stack, "/operator/me", ("alice", PASSWORD))
    assert answer.status_code == 200 and answer.json()["data"] == {"name": "alice", "role": "approver"}
    async with stack.container.sessions() as session:
        row = (await session.execute(select(Operator).where(Operator.name == "alice"))).scalar_one()
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash


async def test_wrong_or_missing_credentials_and_app_credentials_reach_nothing(stack: Stack) -> None:
    await stack.container.operators.add("bob", "viewer", PASSWORD)
    for auth in (None, ("bob", "wrong password!"), ("nobody", PASSWORD)):
        answer = await get(stack, "/operator/me", auth)
        assert answer.status_code == 401 and answer.json()["error"] == "OPERATOR_AUTH"
    # an app's signed request is not an operator's
    signed = stack.client.signed_headers("GET", "/operator/me", b"")
    answer = await get(stack, "/operator/me", None, **signed)
    assert answer.status_code == 401 and answer.json()["error"] == "OPERATOR_AUTH"


async def test_repeated_failures_lock_the_operator_out(stack: Stack) -> None:
    await stack.container.operators.add("carol", "admin", PASSWORD)
    for _ in range(LOCKOUT_AFTER):
        assert (await get(stack, "/operator/me", ("carol", "not the password"))).status_code == 401
    # locked: even the right password is refused, with the same answer
    locked = await get(stack, "/operator/me", ("carol", PASSWORD))
    assert locked.status_code == 401 and locked.json()["error"] == "OPERATOR_AUTH"
    await stack.container.operators.set_enabled("carol", True)  # an admin clears the lock-out
    assert (await get(stack, "/operator/me", ("carol", PASSWORD))).status_code == 200
    actions = await stack.container.operators.actions()
    logins = [a for a in actions if a["operator"] == "carol" and a["action"] == "login"]
    assert [a["outcome"] for a in logins].count("refused") == LOCKOUT_AFTER + 1


async def test_a_disabled_operator_is_refused(stack: Stack) -> None:
    await stack.container.operators.add("dave", "viewer", PASSWORD)
    await stack.container.operators.set_enabled("dave", False)
    assert (await get(stack, "/operator/me", ("dave", PASSWORD))).status_code == 401


async def test_bad_operator_input_is_refused_clearly(stack: Stack) -> None:
    with pytest.raises(RequestError, match="at least 12"):
        await stack.container.operators.add("erin", "viewer", "short")
    with pytest.raises(RequestError, match="unknown role"):
        await stack.container.operators.add("erin", "superuser", PASSWORD)
    with pytest.raises(RequestError, match="operator name"):
        await stack.container.operators.add("Erin Smith", "viewer", PASSWORD)
