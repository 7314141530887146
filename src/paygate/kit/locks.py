"""Fast locks (R-PAY-7's first line): redis-py's :class:`redis.asyncio.lock.Lock` when Redis
is configured, else none. The database's unique indexes stay the last line of defence that
cannot be bypassed, so a lock that cannot be taken because Redis is down degrades to "no
lock" (counted, and reported by ``/health``) instead of failing the payment."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

import structlog
from redis.exceptions import LockError, RedisError

from paygate.kit import metrics

__all__ = ["LockProvider", "NullLocks", "RedisLocks"]

log = structlog.get_logger("paygate.locks")


class LockProvider(Protocol):
    def hold(self, key: str, ttl_ms: int = 30_000) -> contextlib.AbstractAsyncContextManager[bool]:
        """Yields True when this caller holds the lock (or no lock service is reachable),
        False when another caller holds it."""
        ...


class NullLocks:
    """No lock service: every caller proceeds; the unique indexes decide."""

    @contextlib.asynccontextmanager
    async def hold(self, key: str, ttl_ms: int = 30_000) -> AsyncIterator[bool]:
        yield True


class RedisLocks:
    """Non-blocking locks with a time-to-live, released only by their holder (redis-py's
    token check). ``degraded_since`` is set while Redis cannot be reached."""

    def __init__(self, redis: Any, prefix: str = "paygate:lock:") -> None:
        self._redis = redis
        self._prefix = prefix
        self.degraded_since: float | None = None

    @contextlib.asynccontextmanager
    async def hold(self, key: str, ttl_ms: int = 30_000) -> AsyncIterator[bool]:
        lock = self._redis.lock(self._prefix + key, timeout=ttl_ms / 1000, blocking=False)
        try:
            acquired = bool(await lock.acquire())
        except RedisError as exc:
            self._degraded(exc)
            yield True  # the unique index is the last line
            return
        self.degraded_since = None
        try:
            yield acquired
        finally:
            if acquired:
                with contextlib.suppress(LockError, RedisError):
                    await lock.release()

    def _degraded(self, exc: Exception) -> None:
        if self.degraded_since is None:
            self.degraded_since = time.monotonic()
            log.warning("alert.lock_service_unreachable", error=type(exc).__name__)
        metrics.ALERTS.labels("redis_unreachable", "").inc()
