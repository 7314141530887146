"""Telling every process that a cached entry is stale (R-PAY-8 across processes).

Each process keeps short in-process caches (trade query views). When one process changes a
trade it drops its own entry at once and publishes the key on a Redis channel; every other
process subscribed to it drops the entry too, within milliseconds instead of a cache TTL.
Without Redis (the embedded single-process set-up) the local drop is all there is to do.

A lost message (Redis unreachable) costs at most the cache's TTL of staleness, never
correctness: only queries with ``sync=false`` read the cache, and the TTL is seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from redis.exceptions import RedisError

from paygate.kit.redis_batch import RedisBatcher

__all__ = ["InvalidationBus", "RedisInvalidationBus"]

log = structlog.get_logger("paygate.cache")

Listener = Callable[[str], None]


class InvalidationBus:
    """In-process only: nothing to tell anyone."""

    def publish(self, key: str) -> None:
        return None

    def subscribe(self, listener: Listener) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisInvalidationBus(InvalidationBus):
    def __init__(self, redis: Any, channel: str = "paygate:invalidate") -> None:
        self._redis = redis
        self._batch = RedisBatcher(redis)  # invalidations committed together: one round trip
        self._channel = channel
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[Any]] = set()

    def publish(self, key: str) -> None:
        """Fire and forget: the caller never waits for Redis."""
        task = asyncio.get_running_loop().create_task(self._publish(key))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self, key: str) -> None:
        try:
            await self._batch.execute("PUBLISH", self._channel, key)
        except RedisError as exc:
            log.warning("cache.invalidation_not_published", error=type(exc).__name__)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        if self._task is None:
            ready = asyncio.Event()
            self._task = asyncio.create_task(self._listen(ready), name="cache-invalidation")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), 2.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 2.0)
            self._task = None
        for task in list(self._pending):
            task.cancel()

    async def _listen(self, ready: asyncio.Event) -> None:
        """Subscribe, and re-subscribe after Redis comes back."""
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        data = message["data"]
                        key = data.decode() if isinstance(data, bytes) else str(data)
                        for listener in self._listeners:
                            listener(key)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                ready.set()
                log.warning("cache.invalidation_listener_lost", error=type(exc).__name__)
                await asyncio.sleep(1.0)
