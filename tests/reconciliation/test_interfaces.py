"""Interfaces of reconciliation (R-API-1, R-REC-2, R-REC-4, R-OPS-2): ``/query/bill`` and
``/query/settle`` (signed like every app query, paginated, only the app's own trades), the
operator API (discrepancies, resolve with a reason, audited; roles), the CSV export."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from paygate.models import OperatorAction
from paygate.sdk import PaygateAPIError
from tests.reconciliation.support import bill_day, paid, reconcile
from tests.support.helpers import rows
from tests.support.stack import Stack

PASSWORD = "correct horse battery staple"
#: the interfaces read what the runs wrote: SQLite and PostgreSQL
pytestmark = pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


async def test_query_bill_and_settle_show_the_apps_reconciled_day(stack: Stack) -> None:
    trades = [await paid(stack, amount=a) for a in (1000, 2000, 3000)]
    refund = await stack.client.refund(trade_no=trades[0]["trade_no"], out_refund_no="RB-1", amount=100)
    day = bill_day(trades[0])
    outcome = await reconcile(stack, "alipay", day)

    first = await stack.client.query_bill("alipay", str(day), limit=2)  # the SDK (R-API-8)
    assert first["channel"] == "alipay" and first["bill_date"] == str(day)
    [run] = first["runs"]
    assert run["run_id"] == outcome.run_id and run["state"] == "done" and run["lines"] == 4
    assert len(first["items"]) == 2 and first["next"]
    # the page cursor goes back as it came (a string, docs/api.md); the same number is accepted too
    assert isinstance(first["next"], str)
    second = await stack.client.request(
        "/query/bill", {"channel": "alipay", "bill_date": str(day), "after": first["next"], "limit": 2}
    )
    assert second == await stack.client.query_bill("alipay", str(day), after=int(first["next"]), limit=2)
    items = first["items"] + second["items"]
    assert second["next"] is None and len(second["items"]) == 2
    assert sorted(i["trade_no"] for i in items if i["kind"] == "payment") == sorted(
        t["trade_no"] for t in trades
    )
    [refund_line] = [i for i in items if i["kind"] == "refund"]
    assert refund_line["refund_no"] == refund["refund_no"] and refund_line["amount"] == 100
    assert all(i["status"] == "matched" and i["currency"] == "CNY" for i in items)
    assert {i["fee"] for i in items if i["kind"] == "payment"} == {6, 12, 18}

    settle = await stack.client.query_settle("alipay", str(day))
    [settlement] = settle["settlements"]
    assert settlement["state"] == "matched" and settlement["currency"] == "CNY"
    [mine] = settle["app"]
    assert (mine["payments"], mine["refunds"], mine["fees"]) == (6000, 100, 36 - 1)
    assert mine["net"] == 6000 - 100 - 35 and (mine["payment_count"], mine["refund_count"]) == (3, 1)


async def test_query_bill_refuses_bad_input_with_stable_codes(stack: Stack) -> None:
    cases = [
        ({"channel": "nope", "bill_date": "2026-01-01"}, "UNKNOWN_CHANNEL"),
        ({"channel": "alipay", "bill_date": "2026-13-45"}, "INVALID_BILL_DATE"),
        ({"channel": "alipay", "bill_date": "2999-01-01"}, "INVALID_BILL_DATE"),
        ({"channel": "alipay", "bill_date": "yesterday"}, "INVALID_REQUEST"),
        ({"channel": "alipay", "bill_date": "2026-01-01", "limit": 0}, "INVALID_REQUEST"),
        ({"channel": "alipay", "bill_date": "2026-01-01", "after": "12a"}, "INVALID_REQUEST"),
        ({"channel": "alipay", "bill_date": "2026-01-01", "after": "-1"}, "INVALID_REQUEST"),
        ({"channel": "alipay", "bill_date": "2026-01-01", "after": -1}, "INVALID_REQUEST"),
        ({"channel": "alipay", "bill_date": "2026-01-01", "after": 1.5}, "INVALID_REQUEST"),
    ]
    for body, code in cases:
        with pytest.raises(PaygateAPIError) as caught:
            await stack.client.request("/query/bill", body)
        assert caught.value.error == code, body
        assert caught.value.http_status in (400, 404)
    with pytest.raises(PaygateAPIError) as caught:
        await stack.client.request("/query/settle", {"channel": "alipay"})
    assert caught.value.error == "INVALID_REQUEST"
    # a day nobody reconciled: nothing, not an error
    empty = await stack.client.request("/query/bill", {"channel": "wechatpay", "bill_date": "2026-01-01"})
    assert empty["runs"] == [] and empty["items"] == [] and empty["next"] is None


async def test_operators_list_resolve_with_a_reason_and_export(stack: Stack) -> None:
    more = await paid(stack, amount=1000)
    stack.sandbox("alipay").set_faults(
        bills={"amount_delta": {await _paid_attempt(stack, more["trade_no"]): 5}}
    )
    outcome = await reconcile(stack, "alipay", bill_day(more))
    await stack.container.operators.add("vera", "viewer", PASSWORD)
    await stack.container.operators.add("abe", "approver", PASSWORD)
    async with httpx.AsyncClient(base_url=stack.internal_url) as http:
        listed = (
            await http.get("/operator/reconciliation/discrepancies?state=open", auth=("vera", PASSWORD))
        ).json()["data"]
        [d] = listed["items"]
        assert d["kind"] == "amount_mismatch" and d["trade_no"] == more["trade_no"]
        assert (d["channel_amount"], d["paygate_amount"], d["state"]) == (1005, 1000, "open")
        path = f"/operator/reconciliation/discrepancies/{d['id']}/resolve"
        denied = await http.post(path, json={"reason": "checked"}, auth=("vera", PASSWORD))
        assert denied.status_code == 403 and denied.json()["error"] == "OPERATOR_FORBIDDEN"
        empty = await http.post(path, json={"reason": ""}, auth=("abe", PASSWORD))
        assert empty.status_code == 400 and empty.json()["error"] == "INVALID_REQUEST"
        done = await http.post(path, json={"reason": "Alipay confirmed 10.00; their file was wrong"},
                               auth=("abe", PASSWORD))  # fmt: skip
        assert done.status_code == 200, done.text
        resolved = done.json()["data"]
        assert resolved["state"] == "resolved" and resolved["resolution"] == "operator"
        assert resolved["resolved_by"] == "operator:abe" and resolved["resolution_reason"].startswith(
            "Alipay"
        )
        again = await http.post(path, json={"reason": "twice"}, auth=("abe", PASSWORD))
        assert again.status_code == 409 and again.json()["error"] == "DISCREPANCY_RESOLVED"
        missing = await http.get("/operator/reconciliation/discrepancies/999999", auth=("vera", PASSWORD))
        assert missing.status_code == 404 and missing.json()["error"] == "DISCREPANCY_NOT_FOUND"
        run = (
            await http.get(f"/operator/reconciliation/runs/{outcome.run_id}", auth=("vera", PASSWORD))
        ).json()
        assert run["data"]["state"] == "done" and run["data"]["settlements"][0]["state"] == "mismatch"
        exported = await http.get(
            f"/operator/reconciliation/runs/{outcome.run_id}/lines.csv", auth=("vera", PASSWORD)
        )
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert row["trade_no"] == "" and row["status"] == "discrepancy" and row["amount"] == "1005"
    [audit] = await rows(stack, OperatorAction, OperatorAction.action == "resolve_discrepancy")
    assert audit.operator == "abe" and audit.target == f"discrepancy:{d['id']}"
    assert audit.detail and audit.detail["reason"].startswith("Alipay")


async def _paid_attempt(stack: Stack, trade_no: str) -> str:
    from tests.reconciliation.support import trade_row

    row = await trade_row(stack, trade_no)
    assert row.paid_attempt_no
    return row.paid_attempt_no


async def test_the_console_seam_lists_and_resolves_what_the_operator_api_does(stack: Stack) -> None:
    """The operator console's page (issue 10) plugs in through ConsoleView (R-OPS-2)."""
    from paygate.domain.operators import OperatorRole
    from paygate.kit.errors import PaygateError
    from paygate.operators.directory import OperatorIdentity
    from paygate.reconciliation.console import ConsoleView

    more = await paid(stack, amount=1000)
    stack.sandbox("alipay").set_faults(
        bills={"amount_delta": {await _paid_attempt(stack, more["trade_no"]): 5}}
    )
    outcome = await reconcile(stack, "alipay", bill_day(more))
    view = ConsoleView(stack.container.reconciliation)
    [run] = await view.runs(10)
    assert run["run_id"] == outcome.run_id
    [open_one] = await view.open_discrepancies(10)
    assert open_one["kind"] == "amount_mismatch"
    abe = OperatorIdentity("abe", OperatorRole.APPROVER)
    with pytest.raises(PaygateError) as refused:
        await view.resolve(abe, "not-a-number", "x")
    assert refused.value.code.name == "DISCREPANCY_NOT_FOUND"
    done = await view.resolve(abe, str(open_one["id"]), "checked with Alipay")
    assert done["state"] == "resolved" and await view.open_discrepancies(10) == []
