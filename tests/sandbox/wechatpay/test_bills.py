"""Trade bills: the backtick CSV of §2.5, its SHA1, GZIP, bill types and errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from paygate.sandbox.wechatpay.bills import (
    ALL_HEADER,
    REFUND_HEADER,
    SUCCESS_HEADER,
    SUMMARY_HEADER,
    render_trade_bill,
)
from paygate.sandbox.wechatpay.state import CST, Refund, Trade

from .conftest import Env
from .wxclient import WxClient

ALL = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
    "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
SUMMARY = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"


def _today() -> str:
    return dt.datetime.now(CST).date().isoformat()


def _parse(content: bytes) -> tuple[list[str], list[list[str]], list[str], list[str]]:
    text = content.decode("utf-8")
    assert text.endswith("\r\n")
    lines = text.split("\r\n")[:-1]
    header, *rows, summary_header, summary = lines
    for line in [*rows, summary]:
        assert all(v.startswith("`") for v in line.split(","))
    return (
        header.split(","),
        [[v[1:] for v in row.split(",")] for row in rows],
        summary_header.split(","),
        [v[1:] for v in summary.split(",")],
    )


async def _bill(client: WxClient, query: str) -> tuple[dict[str, str], bytes]:
    """Fetch a bill for a day whose bill is ready (the caller advanced the clock)."""
    answer = await client.request("GET", f"/v3/bill/tradebill?{query}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    path = body["download_url"].removeprefix(client.base_url)
    file = await client.request("GET", path)
    assert file.status_code == 200
    return body, file.content


async def test_all_bill_format(env: Env) -> None:
    client = env.client()
    await client.pay(out_trade_no="BILL-A-001", amount={"total": 1000}, attach="note")
    await client.pay(out_trade_no="BILL-A-002", amount={"total": 1})
    env.sandbox.pay("BILL-A-001")
    env.sandbox.pay("BILL-A-002")
    await client.request("POST", "/v3/refund/domestic/refunds", {
        "out_trade_no": "BILL-A-001", "out_refund_no": "BILL-R-1",
        "amount": {"refund": 250, "total": 1000, "currency": "CNY"},
    })  # fmt: skip
    env.sandbox.advance_clock(34 * 3600)  # bills are ready at 10:00 the next day
    body, content = await _bill(client, f"bill_date={_today()}&bill_type=ALL")
    assert hashlib.sha1(content).hexdigest() == body["hash_value"]
    header, rows, summary_header, summary = _parse(content)
    assert ",".join(header) == ALL and ",".join(summary_header) == SUMMARY
    assert all(len(row) == 27 for row in rows)
    by_state = {(r[6], r[9]): dict(zip(header, r, strict=True)) for r in rows}
    paid = by_state[("BILL-A-001", "SUCCESS")]
    assert paid["应结订单金额"] == "10.00" and paid["商户数据包"] == "note" and paid["费率"] == "0.60%"
    assert paid["手续费"] == "0.06000" and paid["微信订单号"].startswith("4200")
    assert dt.datetime.strptime(paid["交易时间"], "%Y-%m-%d %H:%M:%S")
    refund = by_state[("BILL-A-001", "REFUND")]
    assert refund["退款金额"] == "2.50" and refund["商户退款单号"] == "BILL-R-1"
    assert refund["应结订单金额"] == "0.00" and refund["申请退款金额"] == "2.50"
    assert refund["手续费"] == "-0.01500" and refund["退款类型"] == "ORIGINAL"
    assert dict(zip(summary_header, summary, strict=True)) == {
        "总交易单数": "3",
        "应结订单总金额": "10.01",
        "退款总金额": "2.50",
        "充值券退款总金额": "0.00",
        "手续费总金额": "0.04506",
        "订单总金额": "10.01",
        "申请退款总金额": "2.50",
    }


async def test_success_and_refund_bills_and_plain_download(env: Env) -> None:
    client = env.client()
    await client.pay(out_trade_no="BILL-T-001", amount={"total": 500})
    env.sandbox.pay("BILL-T-001")
    await client.request("POST", "/v3/refund/domestic/refunds", {
        "out_trade_no": "BILL-T-001", "out_refund_no": "BILL-T-R1",
        "amount": {"refund": 500, "total": 500, "currency": "CNY"},
    })  # fmt: skip
    env.sandbox.advance_clock(34 * 3600)
    body, content = await _bill(client, f"bill_date={_today()}&bill_type=SUCCESS")
    header, rows, _, _ = _parse(content)
    assert header == SUCCESS_HEADER and [r[9] for r in rows] == ["SUCCESS"]
    assert hashlib.sha1(content).hexdigest() == body["hash_value"]
    body, gz = await _bill(client, f"bill_date={_today()}&bill_type=REFUND&tar_type=GZIP")
    header, rows, _, _ = _parse(gzip.decompress(gz))
    assert header == REFUND_HEADER and [r[9] for r in rows] == ["REFUND"]
    assert hashlib.sha1(gzip.decompress(gz)).hexdigest() == body["hash_value"]


async def test_bill_errors(env: Env) -> None:
    client = env.client()
    yesterday = (dt.datetime.now(CST).date() - dt.timedelta(days=1)).isoformat()
    tomorrow = (dt.datetime.now(CST).date() + dt.timedelta(days=1)).isoformat()
    await client.pay(out_trade_no="BILL-E-001")
    env.sandbox.pay("BILL-E-001")
    for query, code in [
        (f"bill_date={_today()}", "STATEMENT_CREATING"),
        ("bill_type=ALL", "PARAM_ERROR"),
        ("bill_date=2024/01/01", "PARAM_ERROR"),
        (f"bill_date={tomorrow}", "PARAM_ERROR"),
        ("bill_date=2001-01-01", "PARAM_ERROR"),
        (f"bill_date={_today()}&bill_type=WEIRD", "PARAM_ERROR"),
        (f"bill_date={yesterday}", "NO_STATEMENT_EXIST"),
    ]:
        response = await client.request("GET", f"/v3/bill/tradebill?{query}")
        assert response.status_code == 400 and response.json()["code"] == code, query
        assert client.verified(response)


async def test_download_url_is_short_lived_and_private(env: Env) -> None:
    client = env.client()
    await client.pay(out_trade_no="BILL-P-001")
    env.sandbox.pay("BILL-P-001")
    env.sandbox.advance_clock(34 * 3600)
    answer = (await client.request("GET", f"/v3/bill/tradebill?bill_date={_today()}")).json()
    path = answer["download_url"].removeprefix(env.base_url)
    stranger = env.client({**env.creds, **env.sandbox.register_merchant()})
    assert (await stranger.request("GET", path)).status_code == 404
    unsigned = await env.http.get(answer["download_url"])
    assert unsigned.status_code == 401  # the download request is signed like any other
    bills = env.sandbox._store.bills
    token = path.rsplit("=", 1)[1]
    bills[token] = dataclasses.replace(bills[token], expires_at=0.0)
    expired = await client.request("GET", path)
    assert expired.status_code == 400 and expired.json()["code"] == "INVALID_REQUEST"


def _trade(i: int, total: int) -> Trade:
    moment = dt.datetime(2024, 5, 1, 12, 0, i % 60, tzinfo=CST)
    return Trade(
        mchid="1900000109", appid="wx1", out_trade_no=f"O{i:05d}", trade_type="NATIVE",
        description="商品", notify_url="https://x", total=total, currency="CNY",
        created_at=moment, prepay_id=f"wx{i}", token=f"t{i}", fingerprint=(),
        public_key_mode=True, state="SUCCESS", transaction_id=f"42{i:026d}",
        success_time=moment, bank_type="OTHERS", payer_openid="o1",
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    payments=st.lists(st.integers(min_value=1, max_value=10**8), min_size=0, max_size=8),
    refund_share=st.lists(st.integers(min_value=0, max_value=100), max_size=8),
)
def test_summary_adds_up(payments: list[int], refund_share: list[int]) -> None:
    trades = [_trade(i, total) for i, total in enumerate(payments)]
    refunds = []
    for trade, share in zip(trades, refund_share, strict=False):
        amount = trade.total * share // 100
        if amount:
            refund = Refund(
                trade=trade, refund_id=f"50{trade.out_trade_no}", out_refund_no="R" + trade.out_trade_no,
                refund=amount, created_at=trade.created_at, notify_url=None, reason=None,
                funds_account=None, public_key_mode=True, status="SUCCESS",
            )  # fmt: skip
            refunds.append(refund)
    header, rows, summary_header, summary = _parse(render_trade_bill(trades, refunds, "ALL"))
    assert header == ALL_HEADER and summary_header == SUMMARY_HEADER
    totals = dict(zip(summary_header, summary, strict=True))
    assert int(totals["总交易单数"]) == len(rows) == len(trades) + len(refunds)
    assert Decimal(totals["应结订单总金额"]) * 100 == sum(payments)
    assert Decimal(totals["退款总金额"]) * 100 == sum(r.refund for r in refunds)
    assert Decimal(totals["手续费总金额"]) == sum(Decimal(r[22]) for r in rows)
