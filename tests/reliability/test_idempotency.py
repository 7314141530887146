"""Idempotency under pressure (R-PAY-7, R-PAY-8): 100 concurrent identical pay requests make
one trade and one channel order — with Redis as the fast first line, and without it (the
unique index is the last line, on every backend). With Redis stopped mid-run, correctness
holds, /health says degraded, and when Redis returns paygate recovers without a restart."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paygate.models import ChannelAttempt, Trade
from paygate.sdk import PaygateAPIError
from tests.conftest import IN_CI
from tests.support.helpers import eventually, order_no, rows
from tests.support.servers import free_port, release_port
from tests.support.stack import Stack, running_stack, stack_settings


async def hundred_identical_pays(stack: Stack, order: str) -> set[str]:
    results = await asyncio.gather(
        *(
            stack.client.pay(out_order_no=order, pay_type="alipay.qr", amount=700, subject="Race")
            for _ in range(100)
        ),
        return_exceptions=True,
    )
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, PaygateAPIError)]
    assert not unexpected, unexpected[:3]
    assert {r.error for r in results if isinstance(r, PaygateAPIError)} <= {"TRADE_IN_PROGRESS"}
    return {r["trade_no"] for r in results if isinstance(r, dict)}


async def one_trade_one_order(stack: Stack, order: str) -> None:
    """One trade, and one attempt: each attempt is one create call at the channel."""
    [trade] = await rows(stack, Trade, Trade.out_order_no == order)
    [attempt] = await rows(stack, ChannelAttempt, ChannelAttempt.trade_id == trade.id)
    assert attempt.status == "accepted" and trade.state == "pending"


async def test_a_hundred_concurrent_identical_pays_make_one_trade(stack: Stack) -> None:
    order = order_no("H")
    assert len(await hundred_identical_pays(stack, order)) == 1
    await one_trade_one_order(stack, order)


class PrivateRedis:
    """A Redis of this test's own (the shared one is never stopped), restartable on its port."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = release_port(free_port())  # redis-server binds it
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        self.procs.append(
            subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def kill(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        if IN_CI:
            pytest.fail("redis-server is not installed (CI=true: this test must run)")
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(binary)
    redis.start()
    yield redis
    redis.kill()


@pytest.mark.redis
async def test_redis_stopped_mid_run_then_back(
    db_url: str, data_dir: Path, private_redis: PrivateRedis
) -> None:
    port = private_redis.port
    settings = stack_settings(db_url, data_dir, redis_url=f"redis://127.0.0.1:{port}/0")

    async def health(s: Stack) -> dict[str, object]:
        async with httpx.AsyncClient() as http:
            data: dict[str, object] = (await http.get(f"{s.internal_url}/health")).json()["data"]
            return data

    async def redis_up() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    await eventually(redis_up)
    async with running_stack(settings) as s:
        first = order_no("R1")
        assert len(await hundred_identical_pays(s, first)) == 1
        await one_trade_one_order(s, first)
        assert (await health(s))["status"] == "up"
        private_redis.kill()  # Redis dies mid-run
        second = order_no("R2")
        assert len(await hundred_identical_pays(s, second)) == 1  # the unique index decides
        await one_trade_one_order(s, second)
        degraded = await health(s)
        assert degraded["status"] == "degraded" and degraded["reasons"]
        private_redis.start()  # and comes back on its port
        await eventually(redis_up)
        third = order_no("R3")

        async def recovered() -> bool:
            await s.client.pay(out_order_no=third, pay_type="alipay.qr", amount=700, subject="Race")
            return (await health(s))["status"] == "up"

        await eventually(recovered, within=15)
        assert len(await hundred_identical_pays(s, third)) == 1
