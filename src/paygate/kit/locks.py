"""Fast locks: Redis ``SET NX PX`` when configured, else none (the database's unique
indexes stay the last line of defence that cannot be bypassed, R-PAY-7)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Protocol

__all__ = ["LockProvider", "NullLocks", "RedisLocks"]

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


class LockProvider(Protocol):
    def hold(self, key: str, ttl_ms: int = 30_000) -> contextlib.AbstractAsyncContextManager[bool]:
        """Yields True when this caller holds the lock, False when another one does."""
        ...


class NullLocks:
    @contextlib.asynccontextmanager
    async def hold(self, key: str, ttl_ms: int = 30_000) -> AsyncIterator[bool]:
        yield True


class RedisLocks:
    def __init__(self, redis: object, prefix: str = "paygate:lock:") -> None:
        self._redis = redis
        self._prefix = prefix

    @contextlib.asynccontextmanager
    async def hold(self, key: str, ttl_ms: int = 30_000) -> AsyncIterator[bool]:
        token = secrets.token_hex(8)
        name = self._prefix + key
        acquired = bool(await self._redis.set(name, token, nx=True, px=ttl_ms))  # type: ignore[attr-defined]
        try:
            yield acquired
        finally:
            if acquired:
                await self._redis.eval(_RELEASE, 1, name, token)  # type: ignore[attr-defined]
