"""WeChat Pay v3 through the unified API (issue 3): native, JSAPI, H5 and app payments,
encrypted notifications, close (R-CH-1, R-API-3, R-NTF-1)."""

from __future__ import annotations

from typing import Any

import pytest

from paygate.models import Trade
from tests.support.helpers import buyer, eventually, order_no, rows
from tests.support.stack import Stack


async def state(stack: Stack, trade_no: str) -> str:
    return str((await stack.client.query_trade(trade_no=trade_no))["state"])


async def pay(stack: Stack, pay_type: str, **fields: Any) -> dict[str, Any]:
    return await stack.client.pay(
        out_order_no=order_no("W"), pay_type=pay_type, amount=888, subject="Milk tea", **fields
    )


@pytest.mark.parametrize(
    ("pay_type", "fields", "action"),
    [
        ("wechat.native", {}, "qr_code"),
        ("wechat.jsapi", {"extra": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}, "jsapi"),
        ("wechat.h5", {"client_ip": "203.0.113.7"}, "redirect"),
        ("wechat.app", {}, "app"),
    ],
)
async def test_each_pay_form_is_paid_through_the_notification(
    stack: Stack, pay_type: str, fields: dict[str, Any], action: str
) -> None:
    trade = await pay(stack, pay_type, **fields)
    assert trade["state"] == "pending" and trade["action"]["type"] == action
    [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])
    target = trade["action"].get("qr_code") or trade["action"].get("url") or row.attempt_no
    paid = await buyer(stack, "wechatpay", target)
    assert paid.status_code == 200, paid.text

    async def succeeded() -> bool:
        return await state(stack, trade["trade_no"]) == "succeeded"

    await eventually(succeeded)
    final = await stack.client.query_trade(trade_no=trade["trade_no"])
    assert final["paid_amount"] == 888 and final["channel_trade_no"]


async def test_close_and_sync_query(stack: Stack) -> None:
    trade = await pay(stack, "wechat.native")
    synced = await stack.client.query_trade(trade_no=trade["trade_no"], sync=True)
    assert synced["state"] == "pending"
    closed = await stack.client.close(trade_no=trade["trade_no"])
    assert closed["state"] == "closed"
