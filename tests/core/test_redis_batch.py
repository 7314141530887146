"""Automatic pipelining of Redis commands (issue 11): the nonces of requests arriving together
reach Redis in one round trip, and each caller still gets its own command's answer — single
use of a nonce (R-SEC-1) holds however the commands are batched. Real Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from paygate.auth.nonces import NonceStore, RedisNonces
from paygate.kit.redis_batch import RedisBatcher
from tests.conftest import REDIS_URL, require_service
from tests.support.servers import free_port

pytestmark = pytest.mark.redis


class CountingRedis:
    """The real client, counting how its commands leave: one by one or as pipelines."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.single = 0
        self.pipelines: list[int] = []

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.single += 1
        return await self.client.execute_command(*args, **options)

    def pipeline(self, transaction: bool = True) -> Any:
        pipe = self.client.pipeline(transaction=transaction)
        run = pipe.execute

        async def execute(raise_on_error: bool = True) -> Any:
            self.pipelines.append(len(pipe.command_stack))
            return await run(raise_on_error=raise_on_error)

        pipe.execute = execute
        return pipe


@pytest.fixture
async def client() -> AsyncIterator[Any]:
    require_service(6379, "Redis")
    redis = aioredis.from_url(REDIS_URL)
    try:
        yield redis
    finally:
        await redis.aclose()


async def test_commands_issued_together_share_one_round_trip(client: Any) -> None:
    counting = CountingRedis(client)
    batch = RedisBatcher(counting)
    prefix = f"t:batch:{secrets.token_hex(4)}"
    replies = await asyncio.gather(*(batch.execute("SET", f"{prefix}:{i}", str(i)) for i in range(50)))
    assert replies == [True] * 50
    assert counting.pipelines == [50] and counting.single == 0
    assert await client.get(f"{prefix}:49") == b"49"
    # a command alone is sent alone, without waiting for company
    assert await batch.execute("GET", f"{prefix}:7") == b"7"
    assert counting.single == 1


async def test_a_nonce_spent_by_concurrent_requests_is_fresh_for_exactly_one(client: Any) -> None:
    """R-SEC-1: the same nonce presented by 20 requests at once, in one batch: one wins."""
    counting = CountingRedis(client)
    nonces = RedisNonces(RedisBatcher(counting), 300, fallback=_Refuse())
    app_id = f"app_{secrets.token_hex(4)}"
    shared = secrets.token_hex(8)
    own = [secrets.token_hex(8) for _ in range(10)]
    results = await asyncio.gather(
        *(nonces.remember(app_id, shared) for _ in range(20)), *(nonces.remember(app_id, n) for n in own)
    )
    assert sum(results[:20]) == 1
    assert all(results[20:])
    assert counting.pipelines == [30]
    assert not any(await asyncio.gather(*(nonces.remember(app_id, n) for n in [shared, *own])))
    ttl = await client.ttl(f"paygate:nonce:{app_id}:{shared}")
    assert 590 <= ttl <= 600  # twice the signing window


async def test_each_caller_gets_its_own_error(client: Any) -> None:
    batch = RedisBatcher(client)
    key = f"t:batch:{secrets.token_hex(4)}"
    await client.set(key, "not a number")
    outcomes: tuple[Any, ...] = await asyncio.gather(
        batch.execute("SET", f"{key}:x", "1"),
        batch.execute("INCR", key),
        batch.execute("INCR", f"{key}:n"),
        return_exceptions=True,
    )
    ok, wrong, other = outcomes
    assert ok is True
    assert isinstance(wrong, ResponseError)
    assert other == 1


async def test_an_unreachable_redis_fails_every_command_and_nonces_fall_back() -> None:
    dead = aioredis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        batch = RedisBatcher(dead)
        sets = [batch.execute("SET", f"k{i}", "1") for i in range(5)]
        outcomes = await asyncio.gather(*sets, return_exceptions=True)
        assert all(isinstance(o, RedisConnectionError) for o in outcomes)
        fallback = _Remembering()
        nonces = RedisNonces(RedisBatcher(dead), 300, fallback=fallback)
        assert await nonces.remember("app", "n1") is True
        assert await nonces.remember("app", "n1") is False  # the database-backed store decides
        assert nonces.degraded_since is not None
    finally:
        await dead.aclose()


class _Refuse(NonceStore):
    async def remember(self, app_id: str, nonce: str) -> bool:
        raise AssertionError("Redis is up: the fallback must not be used")


class _Remembering(NonceStore):
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    async def remember(self, app_id: str, nonce: str) -> bool:
        fresh = (app_id, nonce) not in self.seen
        self.seen.add((app_id, nonce))
        return fresh


def test_a_flush_left_behind_by_a_closed_loop_does_not_hold_the_next_loops_commands() -> None:
    """A process whose event loop ended with a command queued (a flush scheduled, never run)
    and which then runs another loop — a CLI command after another, a test after another —
    must not wait for that flush for ever."""
    require_service(6379, "Redis")
    batch = RedisBatcher(None)
    gone = asyncio.new_event_loop()
    orphan = gone.create_future()
    batch._queue.append((("PING",), {}, orphan))
    batch._scheduled_on = gone  # as execute() left it before the loop closed
    gone.close()

    async def next_loop() -> Any:
        client = aioredis.from_url(REDIS_URL)
        batch._redis = client
        try:
            return await asyncio.wait_for(batch.execute("PING"), 5)
        finally:
            await client.aclose()

    assert asyncio.run(next_loop()) is True
    assert not orphan.done()  # nobody is left to answer it: it is dropped, not sent
