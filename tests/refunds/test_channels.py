"""Refunds at every channel over real HTTP against its sandbox (R-REF-4, R-NTF-1): Alipay
answers synchronously; WeChat Pay answers PROCESSING and notifies REFUND.SUCCESS later
(AES-GCM sealed, verified, de-duplicated like payments); Stripe refunds card payments at once.
All end in the one refund state machine."""

from __future__ import annotations

from typing import Any

import pytest

from paygate.models import ChannelNotification, Refund, Trade
from tests.refunds.support import paid_trade
from tests.support.helpers import eventually, rows
from tests.support.stack import Stack


async def refund_state(stack: Stack, refund_no: str) -> str:
    return str((await stack.client.query_refund(refund_no=refund_no))["state"])


@pytest.mark.parametrize("channel", ["alipay", "wechatpay", "stripe"])
async def test_a_partial_refund_settles_at_every_channel(stack: Stack, channel: str) -> None:
    trade = await paid_trade(stack, channel, 1000)
    refund = await stack.client.refund(trade_no=trade["trade_no"], out_refund_no=f"CH-{channel}", amount=250)
    assert refund["state"] in ("processing", "succeeded")
    if channel == "alipay":
        assert refund["state"] == "succeeded"  # synchronous

    async def settled() -> dict[str, Any] | None:
        view = await stack.client.query_refund(refund_no=refund["refund_no"])
        return view if view["state"] == "succeeded" else None

    done = await eventually(settled, within=20)
    assert done["refunded_at"] and done["finished_at"]
    view = await stack.client.query_trade(trade_no=trade["trade_no"])
    assert view["refunded_amount"] == 250 and view["refund_status"] == "partially_refunded"
    [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])
    assert row.refund_reserved == 250
    if channel == "wechatpay":  # the REFUND.SUCCESS notification did it, once
        notes = await rows(stack, ChannelNotification, ChannelNotification.trade_id == row.id)
        refund_notes = [n for n in notes if n.kind == "refund"]
        assert refund_notes and all(n.outcome == "processed" for n in refund_notes)
        [refund_row] = await rows(stack, Refund, Refund.refund_no == refund["refund_no"])
        assert refund_row.channel_refund_no  # WeChat's refund_id
