"""R-REF-1, R-REF-4 as a property (hypothesis, stateful): random interleavings of refund
requests (new and repeated numbers), channel failures (errors, refunds that end abnormal or
closed, refunds left to settle by hand), lost and duplicated notifications, and the
reliability engine's checks never reserve or refund more than was paid — after every step —
and always converge: once the faults stop, every refund ends, and what paygate counts as
refunded is what the channel (WeChat Pay's sandbox) actually refunded.

The machine runs in a worker thread; each step schedules its coroutine on the test's event
loop, where paygate and the sandboxes serve over real HTTP."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select, update

from paygate.domain.refunds import IN_FLIGHT, RefundState
from paygate.kit.clock import utc_now
from paygate.models import Refund, Trade
from paygate.sdk import PaygateAPIError
from tests.refunds.support import paid_trade
from tests.support.stack import Stack

T = TypeVar("T")
PAID = 1000
ALLOWED_ERRORS = {
    "REFUND_EXCEEDS_REMAINDER",
    "REFUND_MISMATCH",
    "CHANNEL_ERROR",
    "CHANNEL_TIMEOUT",
    "CHANNEL_UNAVAILABLE",
}


def machine_for(stack: Stack, loop: asyncio.AbstractEventLoop) -> type[RuleBasedStateMachine]:
    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    wechat = stack.sandbox("wechatpay")

    async def sandbox_refund(refund_no: str) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{stack.sandbox_url}/wechatpay/_sandbox/refunds/{refund_no}")
            return answer.json() if answer.status_code == 200 else {}

    async def settle_at_sandbox(refund_no: str, outcome: str) -> None:
        async with httpx.AsyncClient() as http:
            await http.post(
                f"{stack.sandbox_url}/wechatpay/_sandbox/refunds/{refund_no}", json={"outcome": outcome}
            )

    class Refunds(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            run(self._reset())
            self.trade = run(paid_trade(stack, "wechatpay", PAID))
            self.numbers: dict[str, int] = {}  # out_refund_no → amount asked

        @staticmethod
        async def _reset() -> None:
            wechat.faults.clear()

        async def _row(self) -> Trade:
            async with stack.container.sessions() as session:
                return (
                    await session.execute(select(Trade).where(Trade.trade_no == self.trade["trade_no"]))
                ).scalar_one()

        async def _refunds(self) -> list[Refund]:
            row = await self._row()
            async with stack.container.sessions() as session:
                return list(
                    (await session.execute(select(Refund).where(Refund.trade_id == row.id))).scalars()
                )

        @rule(amount=st.integers(min_value=1, max_value=450), repeat=st.booleans())
        def ask(self, amount: int, repeat: bool) -> None:
            if repeat and self.numbers:
                number = sorted(self.numbers)[amount % len(self.numbers)]
            else:
                number = f"P-{len(self.numbers)}"
            self.numbers.setdefault(number, amount)
            try:
                run(stack.client.refund(trade_no=self.trade["trade_no"], out_refund_no=number, amount=amount))
            except PaygateAPIError as exc:
                assert exc.error in ALLOWED_ERRORS, exc

        @rule(outcome=st.sampled_from(["SUCCESS", "ABNORMAL", "CLOSED", "MANUAL"]))
        def next_refund_ends(self, outcome: str) -> None:
            wechat.faults.refund_outcome(outcome, delay=0, times=1)

        @rule()
        def next_refund_call_fails(self) -> None:
            wechat.faults.error("refund", code="SYSTEM_ERROR", times=1)

        @rule(n=st.integers(min_value=1, max_value=3))
        def notifications_lost(self, n: int) -> None:
            wechat.faults.drop_notifications(n)

        @rule()
        def notifications_doubled(self) -> None:
            wechat.faults.duplicate_notifications(2)

        @rule(outcome=st.sampled_from(["SUCCESS", "ABNORMAL"]))
        def payer_bank_settles_a_waiting_refund(self, outcome: str) -> None:
            for refund in run(self._refunds()):
                if (
                    refund.state in IN_FLIGHT
                    and run(sandbox_refund(refund.refund_no)).get("status") == "PROCESSING"
                ):
                    run(settle_at_sandbox(refund.refund_no, outcome))
                    return

        @rule()
        def reliability_engine_checks(self) -> None:
            run(self._checks())

        async def _checks(self) -> None:
            row = await self._row()
            async with stack.container.sessions() as session, session.begin():
                await session.execute(
                    update(Refund)
                    .where(Refund.trade_id == row.id, Refund.next_check_at.is_not(None))
                    .values(next_check_at=utc_now() - timedelta(seconds=1))
                )
            await stack.container.refund_checks.run_once()

        async def _snapshot(self) -> tuple[Trade, list[Refund]]:
            """The trade and its refunds as of one moment: one statement (a notification
            settling a refund between two separate reads would make them disagree; SQLite runs
            reads outside any transaction)."""
            async with stack.container.sessions() as session:
                pairs = (
                    await session.execute(
                        select(Trade, Refund)
                        .outerjoin(Refund, Refund.trade_id == Trade.id)
                        .where(Trade.trade_no == self.trade["trade_no"])
                    )
                ).all()
            return pairs[0][0], [refund for _, refund in pairs if refund is not None]

        @invariant()
        def never_more_than_paid(self) -> None:
            row, refunds = run(self._snapshot())
            reserved = sum(
                r.amount for r in refunds if r.state in IN_FLIGHT or r.state is RefundState.SUCCEEDED
            )
            refunded = sum(r.amount for r in refunds if r.state is RefundState.SUCCEEDED)
            assert row.refund_reserved == reserved <= PAID
            assert row.refunded_amount == refunded <= row.refund_reserved

        def teardown(self) -> None:
            """The faults stop; the channel settles what it holds; the checks run: everything ends
            and paygate's account of it is the channel's."""
            wechat.faults.clear()
            for _ in range(100):  # at most ≈ 10 s: the checks settle what the channel settled
                refunds = run(self._refunds())
                for refund in refunds:
                    if (
                        refund.state in IN_FLIGHT
                        and run(sandbox_refund(refund.refund_no)).get("status") == "PROCESSING"
                    ):
                        run(settle_at_sandbox(refund.refund_no, "SUCCESS"))
                run(self._checks())
                if all(r.state not in IN_FLIGHT for r in run(self._refunds())):
                    break
                run(asyncio.sleep(0.1))
            refunds = run(self._refunds())
            assert all(r.state not in IN_FLIGHT for r in refunds), [(r.refund_no, r.state) for r in refunds]
            at_channel = 0
            for refund in refunds:
                seen = run(sandbox_refund(refund.refund_no))
                if seen.get("status") == "SUCCESS":
                    at_channel += refund.amount
            row = run(self._row())
            assert row.refunded_amount == at_channel <= PAID

    return Refunds


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_random_interleavings_never_refund_more_than_was_paid_and_converge(
    stack: Stack, backend: str
) -> None:
    machine = machine_for(stack, asyncio.get_running_loop())
    examples = int(os.environ.get("PAYGATE_PROPERTY_EXAMPLES", 15 if backend == "sqlite" else 5))
    await asyncio.to_thread(
        run_state_machine_as_test,
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=20,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
