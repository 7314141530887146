"""The console's dashboard figures on every database (R-OPS-1): per pay type over time —
volume, amount paid per currency in minor units, success rate, the channel's answer latency —
and the notification backlog."""

from __future__ import annotations

import pytest

from paygate.console.dashboard import BUCKETS, Dashboard
from paygate.kit.errors import RequestError
from tests.support.helpers import buyer, eventually, order_no
from tests.support.stack import Stack


async def test_figures_follow_the_trades(stack: Stack) -> None:
    dashboard = Dashboard(stack.container.db)
    empty = await dashboard.figures(15)
    assert empty["totals"] == [] and len(empty["t"]) == BUCKETS
    paid = await stack.client.pay(
        out_order_no=order_no("D"), pay_type="wechat.native", amount=1234, subject="A"
    )
    await buyer(stack, "wechatpay", paid["action"]["qr_code"])
    await stack.client.pay(out_order_no=order_no("D"), pay_type="wechat.native", amount=99, subject="B")

    async def settled() -> bool:
        return (await stack.client.query_trade(trade_no=paid["trade_no"]))["state"] == "succeeded"

    await eventually(settled)
    f = await dashboard.figures(60)
    assert sum(f["volume"]["wechat.native"]) == 2
    assert sum(f["amount"]["wechat.native CNY"]) == 1234  # integer minor units, paid only
    assert [r for r in f["success_rate"]["wechat.native"] if r is not None][-1] == 50.0
    assert any(ms is not None and ms >= 0 for ms in f["latency_ms"]["wechat.native"])
    (total,) = f["totals"]
    assert (total["channel"], total["trades"], total["succeeded"], total["open"]) == ("wechatpay", 2, 1, 1)
    assert total["amounts"] == {"CNY": 1234}
    assert f["backlog"]["pending"] >= 1 and f["backlog"]["dead"] == 0  # no receiver runs here
    with pytest.raises(RequestError):
        await dashboard.figures(7)
