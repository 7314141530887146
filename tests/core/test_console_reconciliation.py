"""The console's reconciliation page (R-OPS-2, R-REC-2): paygate wires its reconciliation in;
without it the page says so; with a service, open discrepancies are listed and an approver resolves one with
a reason (audited), a viewer cannot, and a resolve without a reason changes nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from paygate.api.internal import create_internal_app
from paygate.operators.directory import OperatorIdentity
from tests.support.servers import serve_asgi
from tests.support.stack import Stack

PASSWORD = "correct horse battery"


class FakeReconciliation:
    def __init__(self) -> None:
        self.open = [{"id": "7", "kind": "missing_at_paygate", "channel_trade_no": "2026X1", "amount": 1999}]
        self.resolved: list[tuple[str, str, str]] = []

    async def runs(self, limit: int) -> list[dict[str, Any]]:
        return [{"run": "alipay:1:2026-11-30", "lines": 3, "discrepancies": len(self.open)}]

    async def open_discrepancies(self, limit: int) -> list[dict[str, Any]]:
        return list(self.open)

    async def resolve(self, who: OperatorIdentity, discrepancy_id: str, reason: str) -> dict[str, Any]:
        self.resolved.append((who.name, discrepancy_id, reason))
        self.open = [d for d in self.open if d["id"] != discrepancy_id]
        return {"id": discrepancy_id}


async def logged_in(base: str, name: str) -> tuple[httpx.AsyncClient, str]:
    http = httpx.AsyncClient(base_url=base)
    token = (await http.get("/login")).text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert (
        await http.post("/login", data={"name": name, "password": PASSWORD, "csrf": token})
    ).status_code == 303
    page = (await http.get("/reconciliation")).text
    return http, page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_discrepancies_are_resolved_with_a_reason(stack: Stack) -> None:
    for name, role in (("bob", "approver"), ("vic", "viewer")):
        await stack.container.operators.add(name, role, PASSWORD)
    http, _ = await logged_in(f"{stack.internal_url}/console", "bob")
    try:  # paygate's own wiring: the reconciliation service is there (nothing run yet)
        page = (await http.get("/reconciliation")).text
        assert 'id="not-installed"' not in page and "No runs yet." in page
    finally:
        await http.aclose()
    services = stack.container.internal_services()
    assert services.console is not None
    bare = dataclasses.replace(services, console=dataclasses.replace(services.console, reconciliation=None))
    async with serve_asgi(create_internal_app(bare)) as url:
        http, _ = await logged_in(f"{url}/console", "bob")
        try:  # a deployment without it: the page says so
            assert 'id="not-installed"' in (await http.get("/reconciliation")).text
        finally:
            await http.aclose()

    fake = FakeReconciliation()
    services = dataclasses.replace(
        services, console=dataclasses.replace(services.console, reconciliation=fake)
    )
    async with serve_asgi(create_internal_app(services)) as url:
        base = f"{url}/console"
        viewer, csrf = await logged_in(base, "vic")
        try:
            page = (await viewer.get("/reconciliation")).text
            assert "missing_at_paygate" in page and "alipay:1:2026-11-30" in page
            answer = await viewer.post("/reconciliation/7/resolve", data={"csrf": csrf, "reason": "x"})
            assert answer.status_code == 403
        finally:
            await viewer.aclose()
        approver, csrf = await logged_in(base, "bob")
        try:
            answer = await approver.post("/reconciliation/7/resolve", data={"csrf": csrf, "reason": " "})
            assert answer.status_code == 400 and not fake.resolved
            answer = await approver.post("/reconciliation/7/resolve", data={"csrf": "forged", "reason": "ok"})
            assert answer.status_code == 403 and not fake.resolved
            answer = await approver.post(
                "/reconciliation/7/resolve", data={"csrf": csrf, "reason": "booked on the next day"}
            )
            assert answer.status_code == 303
            assert fake.resolved == [("bob", "7", "booked on the next day")]
            assert "missing_at_paygate" not in (await approver.get("/reconciliation")).text
        finally:
            await approver.aclose()
    actions = await stack.container.operators.actions(target="7")
    assert [(a["operator"], a["action"], a["outcome"]) for a in actions] == [
        ("bob", "discrepancy.resolve", "done")
    ]
