"""Refund approval (R-REF-5, R-SEC-5): configurable rules hold refunds in a queue; approvers
decide through the operator API or the CLI — never one they requested (four eyes); an app's
credentials reach nothing in the approval path; who decided, when and why is recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from paygate.models import OperatorAction, OutboxMessage, Refund, Trade
from tests.refunds.support import paid_trade
from tests.support.helpers import rows
from tests.support.stack import Stack, running_stack, stack_settings

PASSWORD = "correct horse battery"


@pytest.fixture
async def held(db_url: str, data_dir: Path) -> AsyncIterator[Stack]:
    """A stack where refunds above 500 and an app's refunds past 1,500 a day wait for approval."""
    rules = [{"app_id": "*", "above": 500}, {"app_id": "demo", "daily_total_above": 1500}]
    async with running_stack(stack_settings(db_url, data_dir, refund_approval_rules=rules)) as s:
        for name, role in (("alice", "approver"), ("bob", "approver"), ("vera", "viewer")):
            await s.container.operators.add(name, role, PASSWORD)
        yield s


async def operator(
    stack: Stack, name: str, method: str, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.internal_url, auth=(name, PASSWORD)) as http:
        return await http.request(method, path, json=body)


async def test_a_refund_above_the_limit_waits_and_an_approver_sends_it(held: Stack) -> None:
    trade = await paid_trade(held, "alipay", 2000)
    refund = await held.client.refund(
        trade_no=trade["trade_no"], out_refund_no="RF-H", amount=800, reason="broken"
    )
    assert refund["state"] == "pending_approval"
    queue = (await operator(held, "vera", "GET", "/operator/refunds?state=pending_approval")).json()["data"][
        "items"
    ]
    assert [r["refund_no"] for r in queue] == [refund["refund_no"]]
    # the amount is reserved while it waits: only 1,200 is left
    other = await held.client.refund(trade_no=trade["trade_no"], out_refund_no="RF-H2", amount=400)
    assert other["state"] == "succeeded"
    approved = await operator(
        held, "alice", "POST", f"/operator/refunds/{refund['refund_no']}/approve", {"reason": "ok"}
    )
    assert approved.status_code == 200, approved.text
    data = approved.json()["data"]
    assert (
        data["state"] == "succeeded"
        and data["decided_by"] == "operator:alice"
        and data["decision_reason"] == "ok"
    )
    view = await held.client.query_trade(trade_no=trade["trade_no"])
    assert view["refunded_amount"] == 1200
    topics = [m.topic for m in await rows(held, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"])]
    assert "refund.pending_approval" in topics and topics.count("refund.succeeded") == 2
    audit = await rows(held, OperatorAction, OperatorAction.target == refund["refund_no"])
    assert [(a.operator, a.action, a.outcome) for a in audit] == [("alice", "refund.approve", "done")]


async def test_four_eyes_an_operator_cannot_approve_what_they_requested(held: Stack) -> None:
    trade = await paid_trade(held, "alipay", 2000)
    asked = await operator(
        held,
        "alice",
        "POST",
        "/operator/refunds",
        {
            "app_id": "demo",
            "trade_no": trade["trade_no"],
            "out_refund_no": "OP-1",
            "amount": 900,
            "reason": "call",
        },
    )
    refund = asked.json()["data"]
    assert asked.status_code == 200 and refund["state"] == "pending_approval"
    assert refund["requested_by"] == "operator:alice"
    own = await operator(
        held, "alice", "POST", f"/operator/refunds/{refund['refund_no']}/approve", {"reason": "me"}
    )
    assert own.status_code == 403 and own.json()["error"] == "FOUR_EYES"
    [row] = await rows(held, Refund, Refund.refund_no == refund["refund_no"])
    assert row.state == "pending_approval" and row.decided_by is None
    ok = await operator(
        held, "bob", "POST", f"/operator/refunds/{refund['refund_no']}/approve", {"reason": "seen"}
    )
    assert ok.json()["data"]["state"] == "succeeded" and ok.json()["data"]["decided_by"] == "operator:bob"
    refused = await rows(
        held, OperatorAction, OperatorAction.outcome == "refused", OperatorAction.operator == "alice"
    )
    assert [a.action for a in refused] == ["refund.approve"]


async def test_a_viewer_cannot_decide_and_an_app_cannot_reach_the_approval_path(held: Stack) -> None:
    trade = await paid_trade(held, "alipay", 2000)
    refund = await held.client.refund(trade_no=trade["trade_no"], out_refund_no="RF-V", amount=800)
    path = f"/operator/refunds/{refund['refund_no']}/approve"
    viewer = await operator(held, "vera", "POST", path, {"reason": "x"})
    assert viewer.status_code == 403 and viewer.json()["error"] == "OPERATOR_FORBIDDEN"
    body = b'{"reason":"x"}'
    async with httpx.AsyncClient(base_url=held.internal_url) as http:
        app = await http.post(path, content=body, headers=held.client.signed_headers("POST", path, body))
    assert app.status_code == 401 and app.json()["error"] == "OPERATOR_AUTH"
    [row] = await rows(held, Refund, Refund.refund_no == refund["refund_no"])
    assert row.state == "pending_approval"


async def test_a_rejected_refund_ends_releases_its_amount_and_the_app_is_told(held: Stack) -> None:
    trade = await paid_trade(held, "alipay", 1000)
    refund = await held.client.refund(trade_no=trade["trade_no"], out_refund_no="RF-R", amount=1000)
    answer = await operator(
        held, "bob", "POST", f"/operator/refunds/{refund['refund_no']}/reject", {"reason": "fraud"}
    )
    assert answer.json()["data"]["state"] == "rejected"
    [row] = await rows(held, Trade, Trade.trade_no == trade["trade_no"])
    assert row.refund_reserved == 0 and row.refunded_amount == 0
    topics = [m.topic for m in await rows(held, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"])]
    assert "refund.rejected" in topics
    again = await operator(
        held, "alice", "POST", f"/operator/refunds/{refund['refund_no']}/approve", {"reason": "late"}
    )
    assert again.status_code == 409 and again.json()["error"] == "REFUND_ILLEGAL_STATE"
    missing = await operator(held, "alice", "POST", "/operator/refunds/RNOSUCH/approve", {"reason": "x"})
    assert missing.status_code == 404 and missing.json()["error"] == "REFUND_NOT_FOUND"
    empty = await operator(
        held, "alice", "POST", f"/operator/refunds/{refund['refund_no']}/reject", {"reason": ""}
    )
    assert empty.status_code == 400


async def test_the_daily_total_rule_holds_the_refund_that_passes_it(held: Stack) -> None:
    trade = await paid_trade(held, "alipay", 2000)
    first = await held.client.refund(trade_no=trade["trade_no"], out_refund_no="D-1", amount=500)
    second = await held.client.refund(trade_no=trade["trade_no"], out_refund_no="D-2", amount=500)
    third = await held.client.refund(trade_no=trade["trade_no"], out_refund_no="D-3", amount=500)
    fourth = await held.client.refund(trade_no=trade["trade_no"], out_refund_no="D-4", amount=1)
    assert [r["state"] for r in (first, second, third)] == ["succeeded"] * 3
    assert fourth["state"] == "pending_approval"
