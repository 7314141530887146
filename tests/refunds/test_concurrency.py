"""R-REF-1 under real concurrency: 50 refund requests for one trade at once never reserve
more than was paid — on SQLite, PostgreSQL and MariaDB (the conditional UPDATE and the row
lock decide, not the order of arrival); 50 repeats of one refund number make one refund."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from paygate.domain.refunds import RefundState
from paygate.models import Refund, Trade
from paygate.sdk import PaygateAPIError
from tests.refunds.support import paid_trade
from tests.support.helpers import rows
from tests.support.stack import Stack


async def test_fifty_concurrent_refunds_of_one_trade_never_exceed_the_payment(stack: Stack) -> None:
    trade = await paid_trade(stack, "alipay", 1000)
    results = await asyncio.gather(
        *(
            stack.client.refund(trade_no=trade["trade_no"], out_refund_no=f"C-{i}", amount=30)
            for i in range(50)
        ),
        return_exceptions=True,
    )
    accepted = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, PaygateAPIError)]
    assert len(accepted) + len(refused) == 50, [r for r in results if isinstance(r, BaseException)]
    assert len(accepted) == 33  # 33 × 30 = 990 ≤ 1000 < 34 × 30
    assert {e.error for e in refused} == {"REFUND_EXCEEDS_REMAINDER"}
    assert all(r["state"] == "succeeded" for r in accepted)
    [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])
    assert row.refund_reserved == 990 and row.refunded_amount == 990
    async with stack.container.sessions() as session:
        total = (
            await session.execute(
                select(func.sum(Refund.amount)).where(
                    Refund.trade_id == row.id, Refund.state.not_in([RefundState.FAILED, RefundState.REJECTED])
                )
            )
        ).scalar_one()
    assert total == 990


async def test_fifty_concurrent_repeats_of_one_refund_number_make_one_refund(stack: Stack) -> None:
    trade = await paid_trade(stack, "alipay", 1000)
    results = await asyncio.gather(
        *(
            stack.client.refund(trade_no=trade["trade_no"], out_refund_no="SAME", amount=100)
            for _ in range(50)
        ),
        return_exceptions=True,
    )
    numbers = {r["refund_no"] for r in results if isinstance(r, dict)}
    errors = {r.error for r in results if isinstance(r, PaygateAPIError)}
    assert len(numbers) == 1 and errors <= {"TRADE_IN_PROGRESS"}, (numbers, errors)
    [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])
    assert row.refund_reserved == 100 and row.refunded_amount == 100
    assert len(await rows(stack, Refund, Refund.trade_id == row.id)) == 1
