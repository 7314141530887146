"""Orders: WeChat's validation and errors, resubmission, query/close, what the payer
does (control API and cashier pages)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paygate.sandbox.wechatpay.errors import WechatError
from paygate.sandbox.wechatpay.validation import OUT_TRADE_NO_PATTERN, validate_pay

from .conftest import Env
from .wxclient import order

CST = dt.timezone(dt.timedelta(hours=8))


def _without(body: dict[str, Any], path: str) -> dict[str, Any]:
    node = body
    *parents, leaf = path.split("/")
    for p in parents:
        node = node[p]
    del node[leaf]
    return body


INVALID: list[tuple[str, str, dict[str, Any] | None, str | None]] = [
    # (kind, description of the case, overrides, path to delete)
    ("native", "no description", None, "description"),
    ("native", "no notify_url", None, "notify_url"),
    ("native", "no amount", None, "amount"),
    ("native", "no total", None, "amount/total"),
    ("native", "out_trade_no too short", {"out_trade_no": "12345"}, None),
    ("native", "out_trade_no too long", {"out_trade_no": "X" * 33}, None),
    ("native", "out_trade_no bad chars", {"out_trade_no": "ORDER#0001"}, None),
    ("native", "zero total", {"amount": {"total": 0}}, None),
    ("native", "negative total", {"amount": {"total": -5}}, None),
    ("native", "string total", {"amount": {"total": "100"}}, None),
    ("native", "fractional total", {"amount": {"total": 1.5}}, None),
    ("native", "boolean total", {"amount": {"total": True}}, None),
    ("native", "foreign currency", {"amount": {"total": 1, "currency": "USD"}}, None),
    ("native", "ftp notify_url", {"notify_url": "ftp://merchant.example/n"}, None),
    ("native", "description too long", {"description": "长" * 128}, None),
    ("native", "bad time_expire", {"time_expire": "2030-01-01 10:00:00"}, None),
    ("jsapi", "jsapi without payer", None, "payer"),
    ("jsapi", "jsapi without openid", {"payer": {}}, None),
    ("h5", "h5 without scene_info", None, "scene_info"),
    ("h5", "h5 without client ip", {"scene_info": {"h5_info": {"type": "Wap"}}}, None),
    ("h5", "h5 without h5_info", {"scene_info": {"payer_client_ip": "1.2.3.4"}}, None),
    ("h5", "h5 bad type", {"scene_info": {"payer_client_ip": "1.2.3.4", "h5_info": {"type": "PC"}}}, None),
]


async def test_invalid_orders_are_refused_with_param_error(env: Env) -> None:
    # One sandbox for all cases: starting a server per case would dominate the run time.
    client = env.client()
    for kind, case, overrides, delete in INVALID:
        body = order(env.creds, kind, **(overrides or {}))
        if delete:
            _without(body, delete)
        response = await client.request("POST", f"/v3/pay/transactions/{kind}", body)
        assert response.status_code == 400, (case, response.text)
        error = response.json()
        assert error["code"] == "PARAM_ERROR" and error["message"], case
        assert error["detail"]["location"] == "body", case
        assert client.verified(response), case


async def test_param_error_message_names_the_field(env: Env) -> None:
    body = _without(order(env.creds), "amount/total")
    response = await env.client().request("POST", "/v3/pay/transactions/native", body)
    assert response.json()["message"] == (
        "输入源“/body/amount/total”映射到值字段“总金额”必填性规则校验失败，此字段为必填项"
    )


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_out_trade_no_rule(out_trade_no: str) -> None:
    body = order({"appid": "wx1", "mchid": "1"}, out_trade_no=out_trade_no)
    valid = re.fullmatch(r"[0-9A-Za-z_\-|*]{6,32}", out_trade_no) is not None
    assert (OUT_TRADE_NO_PATTERN.fullmatch(out_trade_no) is not None) == valid
    if valid:
        assert validate_pay(body, "native").out_trade_no == out_trade_no
    else:
        with pytest.raises(WechatError) as caught:
            validate_pay(body, "native")
        assert caught.value.code == "PARAM_ERROR"


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=5), st.booleans()))
def test_amount_must_be_positive_integer_fen(total: Any) -> None:
    body = order({"appid": "wx1", "mchid": "1"}, amount={"total": total})
    valid = type(total) is int and total > 0
    if valid:
        assert validate_pay(body, "native").total == total
    else:
        with pytest.raises(WechatError):
            validate_pay(body, "native")


async def test_resubmitting_an_unpaid_order(env: Env) -> None:
    client = env.client()
    body = order(env.creds, out_trade_no="AGAIN-0001")
    first = await client.request("POST", "/v3/pay/transactions/native", body)
    again = await client.request("POST", "/v3/pay/transactions/native", body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    changed = await client.request("POST", "/v3/pay/transactions/native", {**body, "description": "changed"})
    assert changed.status_code == 403 and changed.json()["code"] == "OUT_TRADE_NO_USED"
    as_jsapi = await client.request("POST", "/v3/pay/transactions/jsapi", {**body, "payer": {"openid": "o1"}})
    assert as_jsapi.status_code == 403

    env.sandbox.pay("AGAIN-0001")
    paid = await client.request("POST", "/v3/pay/transactions/native", body)
    assert paid.status_code == 400 and paid.json()["code"] == "ORDERPAID"

    closed_body = order(env.creds, out_trade_no="AGAIN-0002")
    await client.request("POST", "/v3/pay/transactions/native", closed_body)
    close = await client.request(
        "POST", "/v3/pay/transactions/out-trade-no/AGAIN-0002/close", {"mchid": env.creds["mchid"]}
    )
    assert close.status_code == 204 and close.content == b"" and client.verified(close)
    reopened = await client.request("POST", "/v3/pay/transactions/native", closed_body)
    assert reopened.status_code == 400 and reopened.json()["code"] == "ORDER_CLOSED"


async def test_query_and_close_errors(env: Env) -> None:
    client = env.client()
    mchid = env.creds["mchid"]
    missing = await client.request("GET", f"/v3/pay/transactions/out-trade-no/NOPE-00001?mchid={mchid}")
    assert missing.status_code == 404 and missing.json() == {
        "code": "ORDER_NOT_EXIST",
        "message": "订单不存在",
    }
    no_mchid = await client.request("GET", "/v3/pay/transactions/out-trade-no/NOPE-00001")
    assert no_mchid.status_code == 400 and no_mchid.json()["detail"]["location"] == "query"
    by_id = await client.request("GET", f"/v3/pay/transactions/id/4200000000000000000000000000?mchid={mchid}")
    assert by_id.status_code == 404
    close = await client.request(
        "POST", "/v3/pay/transactions/out-trade-no/NOPE-00001/close", {"mchid": mchid}
    )
    assert close.status_code == 404
    await client.pay(out_trade_no="TWICE-0001")
    for _ in range(2):
        again = await client.request(
            "POST", "/v3/pay/transactions/out-trade-no/TWICE-0001/close", {"mchid": mchid}
        )
        assert again.status_code == 204
    unknown = await client.request("GET", "/v3/pay/transactions/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("outcome", "state"),
    [("fail", "PAYERROR"), ("cancel", "CLOSED"), ("revoke", "REVOKED"), ("userpaying", "USERPAYING")],
)
async def test_payer_outcomes(env: Env, outcome: str, state: str) -> None:
    client = env.client()
    code_url = (await client.pay(out_trade_no=f"OUT-{outcome}")).json()["code_url"]
    response = await env.http.post(
        env.base_url + "/_sandbox/pay", json={"trade": code_url, "outcome": outcome}
    )
    assert response.status_code == 200 and response.json()["trade_state"] == state
    queried = await client.request(
        "GET", f"/v3/pay/transactions/out-trade-no/OUT-{outcome}?mchid={env.creds['mchid']}"
    )
    assert queried.json()["trade_state"] == state and queried.json()["trade_state_desc"]
    if state == "USERPAYING":
        assert env.sandbox.pay(f"OUT-{outcome}")["trade_state"] == "SUCCESS"
    else:
        retry = await env.http.post(env.base_url + "/_sandbox/pay", json={"trade": f"OUT-{outcome}"})
        assert retry.status_code == 409 and retry.json()["error"] == "ORDER_CLOSED"
        assert retry.json()["trade"]["trade_state"] == state


async def test_control_finds_trades_by_every_handle(env: Env) -> None:
    client = env.client()
    h5_url = (await client.pay("h5", out_trade_no="HANDLE-H5")).json()["h5_url"]
    prepay_id = (await client.pay("jsapi", out_trade_no="HANDLE-JS")).json()["prepay_id"]
    control = env.base_url + "/_sandbox"
    assert (await env.http.post(control + "/pay", json={"trade": h5_url})).json()["trade_type"] == "MWEB"
    paid = (await env.http.post(control + "/pay", json={"trade": prepay_id, "outcome": "pay"})).json()
    assert paid["out_trade_no"] == "HANDLE-JS" and paid["trade_state"] == "SUCCESS"
    view = (await env.http.get(control + "/trades/HANDLE-JS")).json()
    assert view["trade_state"] == "SUCCESS" and view["trade_type"] == "JSAPI"
    missing = await env.http.get(control + "/trades/NOT-THERE")
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_trade"
    assert env.sandbox.trade("NOT-THERE") is None
    bad = await env.http.post(control + "/pay", json={"trade": "HANDLE-H5", "outcome": "explode"})
    assert bad.status_code == 400
    listing = (await env.http.get(control + "/trades")).json()
    assert {t["out_trade_no"] for t in listing} >= {"HANDLE-H5", "HANDLE-JS"}


async def test_an_expired_order_cannot_be_paid(env: Env) -> None:
    client = env.client()
    soon = (dt.datetime.now(CST) + dt.timedelta(seconds=5)).replace(microsecond=0).isoformat()
    response = await client.pay(out_trade_no="EXPIRE-001", time_expire=soon)
    assert response.status_code == 200
    view = env.sandbox.trade("EXPIRE-001")
    # WeChat moves a time_expire closer than a minute to one minute after the order.
    assert dt.datetime.fromisoformat(view["time_expire"]) >= dt.datetime.now(CST) + dt.timedelta(seconds=50)
    clock = await env.http.post(env.base_url + "/_sandbox/clock", json={"advance_seconds": 61})
    assert clock.status_code == 200
    late = await env.http.post(env.base_url + "/_sandbox/pay", json={"trade": "EXPIRE-001"})
    assert late.status_code == 409 and late.json()["error"] == "ORDER_EXPIRED"
    # WeChat does not close it by itself: it stays NOTPAY until the merchant closes it.
    assert late.json()["trade"]["trade_state"] == "NOTPAY"


async def test_cashier_page_pays_with_a_button(env: Env) -> None:
    client = env.client()
    code_url = (await client.pay(out_trade_no="PAGE-00001", description="<b>猫粮</b>")).json()["code_url"]
    page = await env.http.get(code_url)
    assert page.status_code == 200
    assert "&lt;b&gt;猫粮&lt;/b&gt;" in page.text  # escaped
    assert all(f"value='{v}'" in page.text for v in ("pay", "fail", "cancel"))
    after = await env.http.post(code_url, data={"outcome": "pay"})
    assert after.status_code == 200 and "SUCCESS" in after.text and "value='pay'" not in after.text
    assert env.sandbox.trade("PAGE-00001")["trade_state"] == "SUCCESS"
    again = await env.http.post(code_url, data={"outcome": "fail"})
    assert again.status_code == 409

    h5_url = (await client.pay("h5", out_trade_no="PAGE-00002")).json()["h5_url"]
    back = "https://merchant.example/return?o=PAGE-00002"
    done = await env.http.post(
        h5_url + "&redirect_url=" + back.replace("&", "%26").replace("?", "%3F"), data={"outcome": "pay"}
    )
    assert done.status_code == 200 and "href='https://merchant.example/return?o=PAGE-00002'" in done.text
    assert (await env.http.get(env.base_url + "/bizpayurl?pr=unknown")).status_code == 404
