"""Operators list, inspect and re-send events (R-NTF-5, R-OPS-2): through the operator API
with their role's permission, every re-send audited; bad input gets a stable code and
changes nothing."""

from __future__ import annotations

import httpx

from paygate.domain.events import DeliveryState
from paygate.jobs import JobRunner
from paygate.models import EventDelivery, OperatorAction
from tests.support.helpers import count, eventually, order_no, rows
from tests.support.receiver import Receiver, running_receiver
from tests.support.stack import Stack

PASSWORD = "correct horse battery"


async def call(stack: Stack, method: str, path: str, who: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.internal_url, auth=(who, PASSWORD)) as http:
        return await http.request(method, path, params=params)


async def dead_event(stack: Stack, app: Receiver) -> str:
    """A closed trade whose notification died (the app answered 500 every time)."""
    app.always = 500
    trade = await stack.client.pay(
        out_order_no=order_no(), pay_type="alipay.qr", amount=100, subject="x", notify_url=app.url
    )
    await stack.client.close(trade_no=trade["trade_no"])

    async def dead() -> str | None:
        listed = (await call(stack, "GET", "/operator/events", "vera", delivery="dead")).json()["data"]
        return next((e["event_id"] for e in listed["items"] if e["aggregate"] == trade["trade_no"]), None)

    event_id: str = await eventually(dead)
    app.always = None
    return event_id


async def test_list_show_and_resend_a_dead_event(events_stack: Stack, dispatcher: JobRunner) -> None:
    stack = events_stack
    await stack.container.operators.add("vera", "viewer", PASSWORD)
    await stack.container.operators.add("adam", "admin", PASSWORD)
    async with running_receiver([stack.credentials["webhook_secret"]]) as app:
        event_id = await dead_event(stack, app)
        shown = (await call(stack, "GET", f"/operator/events/{event_id}", "vera")).json()["data"]
        assert shown["type"] == "trade.closed" and shown["delivery"] == "dead"
        assert shown["body"]["id"] == event_id and shown["body"]["data"]["state"] == "closed"
        [delivery] = shown["deliveries"]
        assert [a["http_status"] for a in delivery["attempt_log"]] == [500, 500, 500, 500]
        assert all(a["response_excerpt"] == "nope" and a["duration_ms"] >= 0 for a in delivery["attempt_log"])

        # a viewer may not re-send; the refusal is audited
        refused = await call(stack, "POST", f"/operator/events/{event_id}/resend", "vera")
        assert refused.status_code == 403 and refused.json()["error"] == "OPERATOR_FORBIDDEN"

        resent = await call(stack, "POST", f"/operator/events/{event_id}/resend", "adam")
        assert resent.status_code == 200, resent.text
        assert resent.json()["data"]["resend"] == "queued"

        async def acknowledged() -> bool:
            return bool(app.acknowledged())

        await eventually(acknowledged)
        assert app.acknowledged()[0].event_id == event_id  # same id: the app de-duplicates

        async def succeeded() -> bool:
            data = (await call(stack, "GET", f"/operator/events/{event_id}", "adam")).json()["data"]
            return data["delivery"] == "succeeded"

        await eventually(succeeded)
        shown = (await call(stack, "GET", f"/operator/events/{event_id}", "adam")).json()["data"]
        assert [d["state"] for d in shown["deliveries"]] == ["dead", "succeeded"]
        assert shown["deliveries"][1]["requested_by"] == "operator:adam"
    audit = await rows(stack, OperatorAction, OperatorAction.target == event_id)
    assert [(a.operator, a.action, a.outcome) for a in audit] == [("adam", "resend_event", "done")]
    denied = await rows(stack, OperatorAction, OperatorAction.action == "denied:resend_events")
    assert [a.operator for a in denied] == ["vera"]


async def test_bad_input_gets_a_stable_code_and_changes_nothing(events_stack: Stack) -> None:
    stack = events_stack
    await stack.container.operators.add("adam", "admin", PASSWORD)
    before = await count(stack, EventDelivery)
    cases = [
        ("GET", "/operator/events/nope", {}, 400, "INVALID_EVENT_ID"),
        ("GET", "/operator/events/evt_00000000000000000000000000", {}, 404, "EVENT_NOT_FOUND"),
        ("POST", "/operator/events/evt_00000000000000000000000000/resend", {}, 404, "EVENT_NOT_FOUND"),
        ("POST", "/operator/events/x' or 1=1/resend", {}, 400, "INVALID_EVENT_ID"),
        ("GET", "/operator/events", {"delivery": "lost"}, 400, "INVALID_REQUEST"),
        ("GET", "/operator/events", {"type": "trade.paid"}, 400, "INVALID_REQUEST"),
        ("GET", "/operator/events", {"limit": "0"}, 400, "INVALID_REQUEST"),
        ("GET", "/operator/events", {"before": "evt_1"}, 400, "INVALID_EVENT_ID"),
    ]
    for method, path, params, status, error in cases:
        answer = await call(stack, method, path, "adam", **params)
        assert (answer.status_code, answer.json()["error"]) == (status, error), (path, params, answer.text)
    assert await count(stack, EventDelivery) == before
    # an event nobody can be told about (no notify URL, nor has its app)
    await stack.container.apps.set_notify_url("demo", None)
    trade = await stack.client.pay(out_order_no=order_no(), pay_type="alipay.qr", amount=100, subject="x")
    await stack.client.close(trade_no=trade["trade_no"])
    listed = await call(stack, "GET", "/operator/events", "adam", aggregate=trade["trade_no"])
    [item] = listed.json()["data"]["items"]
    assert item["delivery"] == "none"
    answer = await call(stack, "POST", f"/operator/events/{item['event_id']}/resend", "adam")
    assert (answer.status_code, answer.json()["error"]) == (409, "EVENT_NOT_DELIVERABLE")
    assert await count(stack, EventDelivery) == before
    refused = await rows(stack, OperatorAction, OperatorAction.target == item["event_id"])
    assert [a.outcome for a in refused] == ["refused"]


async def test_a_pending_delivery_is_made_due_now_rather_than_duplicated(events_stack: Stack) -> None:
    stack = events_stack
    await stack.container.operators.add("adam", "admin", PASSWORD)
    trade = await stack.client.pay(
        out_order_no=order_no(),
        pay_type="alipay.qr",
        amount=100,
        subject="x",
        notify_url="http://127.0.0.1:9/x",
    )
    await stack.client.close(trade_no=trade["trade_no"])
    listed = await call(stack, "GET", "/operator/events", "adam", aggregate=trade["trade_no"])
    [item] = listed.json()["data"]["items"]
    answer = (await call(stack, "POST", f"/operator/events/{item['event_id']}/resend", "adam")).json()["data"]
    assert answer["resend"] == "rescheduled"
    deliveries = await rows(stack, EventDelivery)
    assert [d.state for d in deliveries if d.url.endswith(":9/x")] == [DeliveryState.PENDING]


async def test_paging_newest_first(events_stack: Stack) -> None:
    stack = events_stack
    await stack.container.operators.add("vera", "viewer", PASSWORD)
    made = []
    for _ in range(3):
        trade = await stack.client.pay(out_order_no=order_no(), pay_type="alipay.qr", amount=100, subject="x")
        await stack.client.close(trade_no=trade["trade_no"])
        made.append(trade["trade_no"])
    first = (await call(stack, "GET", "/operator/events", "vera", limit="2")).json()["data"]
    assert len(first["items"]) == 2 and first["next"] == first["items"][-1]["event_id"]
    page = await call(stack, "GET", "/operator/events", "vera", limit="2", before=first["next"])
    second = page.json()["data"]
    assert len(second["items"]) == 1 and second["next"] is None
    assert [e["aggregate"] for e in first["items"] + second["items"]] == made[::-1]
