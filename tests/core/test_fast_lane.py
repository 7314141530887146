"""The fast lane of the signed POST endpoints (issue 11, api/fast_lane.py): a plain request is
answered without FastAPI's routing, everything else takes the routed path — and a caller
cannot tell the two apart (R-API-7's stable codes, R-SEC-1's single-use nonce, the metrics'
labels)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from paygate.kit import metrics, signing
from tests.support.helpers import order_no
from tests.support.stack import Stack

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _headers(stack: Stack, path: str, body: bytes, nonce: str | None = None) -> dict[str, str]:
    ts, nonce = str(int(time.time())), nonce or f"lane{time.time_ns()}"
    return {
        "Content-Type": "application/json",
        signing.HEADER_APP_ID: "demo",
        signing.HEADER_TIMESTAMP: ts,
        signing.HEADER_NONCE: nonce,
        signing.HEADER_SIGNATURE: signing.sign_hmac(
            stack.credentials["secret"], signing.request_message("POST", path, ts, nonce, body)
        ),
    }


async def post(
    stack: Stack, path: str, body: bytes, *, chunked: bool = False, nonce: str | None = None
) -> Any:
    """POST with Content-Length (the fast lane) or as a chunked body (always the routed path)."""

    async def pieces() -> AsyncIterator[bytes]:
        yield body

    async with httpx.AsyncClient(base_url=stack.internal_url) as http:
        content: Any = pieces() if chunked else body
        return await http.post(path, content=content, headers=_headers(stack, path, body, nonce))


def lane(outcome: str) -> float:
    return float(metrics.API_FAST_LANE.labels(outcome)._value.get())


def answered(response: httpx.Response) -> tuple[int, int, str | None, Any]:
    payload = response.json()
    return response.status_code, payload["errno"], payload.get("error"), payload["data"]


PAY = {"pay_type": "alipay.qr", "amount": 100, "currency": "CNY", "subject": "lane"}
BAD_BODIES: list[tuple[str, bytes]] = [
    ("/gopay", b"not json"),
    ("/gopay", b'{"out_order_no":"\xff"}'),
    ("/gopay", b"[1, 2]"),
    ("/gopay", json.dumps({**PAY, "out_order_no": "L-1", "amount": "100"}).encode()),
    ("/gopay", json.dumps({**PAY, "out_order_no": "L-1", "unknown": 1}).encode()),
    (
        "/gopay",
        json.dumps({k: v for k, v in PAY.items() if k != "amount"} | {"out_order_no": "L-2"}).encode(),
    ),
    ("/gopay", json.dumps({**PAY, "out_order_no": "L-3", "currency": "XYZ"}).encode()),
    ("/query/trade", b"{}"),
    ("/query/trade", json.dumps({"out_order_no": "nope", "sync": "yes"}).encode()),
    ("/query/trade", json.dumps({"out_order_no": "never-made"}).encode()),
    ("/refund", json.dumps({"out_order_no": "never-made", "out_refund_no": "R", "amount": 1}).encode()),
    ("/query/bill", json.dumps({"channel": "alipay", "bill_date": "yesterday"}).encode()),
]


@pytest.mark.parametrize(("path", "body"), BAD_BODIES, ids=[f"{p}:{b[:30]!r}" for p, b in BAD_BODIES])
async def test_the_lane_and_the_routed_path_answer_alike(stack: Stack, path: str, body: bytes) -> None:
    """Each bad body gets the same status, errno, stable code and data on both paths."""
    routed = await post(stack, path, body, chunked=True)
    laned = await post(stack, path, body)
    assert answered(laned) == answered(routed)
    assert laned.json()["errno"] != 0
    assert signing.HEADER_SIGNATURE in laned.headers  # signed like every answer to an app


async def test_a_plain_request_is_served_by_the_lane_and_labelled_as_its_route(stack: Stack) -> None:
    body = json.dumps({**PAY, "out_order_no": order_no("LANE")}).encode()
    served, routed = lane("served"), lane("routed")
    created = await post(stack, "/gopay", body)
    assert created.status_code == 200 and created.json()["data"]["state"] == "pending"
    assert (lane("served"), lane("routed")) == (served + 1, routed)

    query = json.dumps({"trade_no": created.json()["data"]["trade_no"]}).encode()
    before = metrics.API_REQUESTS.labels("/query/trade", "0")._value.get()
    laned = await post(stack, "/query/trade", query)
    chunked = await post(stack, "/query/trade", query, chunked=True)
    assert laned.json()["data"] == chunked.json()["data"]
    assert laned.json()["data"]["trade_no"] == created.json()["data"]["trade_no"]
    assert lane("served") == served + 2 and lane("routed") == routed + 1
    assert metrics.API_REQUESTS.labels("/query/trade", "0")._value.get() == before + 2


async def test_a_body_refused_after_authentication_spends_its_nonce_once(stack: Stack) -> None:
    """R-SEC-1: handed to the routed path, the request is not authenticated a second time (that
    would answer NONCE_REUSED instead of the body's error); the nonce is spent all the same."""
    routed = lane("routed")
    bad = json.dumps({"out_order_no": "x", "sync": "not a bool"}).encode()
    first = await post(stack, "/query/trade", bad, nonce="lane-once-1")
    assert answered(first)[:3] == (400, first.json()["errno"], "INVALID_REQUEST")
    assert first.json()["data"]["fields"][0]["loc"] == ["body", "sync"]
    assert lane("routed") == routed + 1
    again = await post(stack, "/query/trade", bad, nonce="lane-once-1")
    assert again.json()["error"] == "NONCE_REUSED"


async def test_an_unauthenticated_request_learns_nothing_about_its_body(stack: Stack) -> None:
    served, routed = lane("served"), lane("routed")
    headers = _headers(stack, "/query/trade", b"{}") | {signing.HEADER_SIGNATURE: "bad"}
    async with httpx.AsyncClient(base_url=stack.internal_url) as http:
        response = await http.post("/query/trade", content=b"not json", headers=headers)
    assert answered(response)[2] == "BAD_SIGNATURE"
    assert (lane("served"), lane("routed")) == (served, routed)
