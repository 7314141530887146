"""Replay protection: a nonce may be used once per app within the signing window.
Redis when configured (``SET NX EX``), else the database's unique index."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Protocol

import structlog
from redis.exceptions import RedisError

from paygate.kit.clock import utc_now
from paygate.kit.redis_batch import RedisBatcher
from paygate.repositories import Database

__all__ = ["DatabaseNonces", "NonceStore", "RedisNonces"]

log = structlog.get_logger("paygate.auth")


class NonceStore(Protocol):
    async def remember(self, app_id: str, nonce: str) -> bool:
        """True for a fresh nonce, False for a replay."""
        ...


class RedisNonces:
    """``SET NX EX`` in Redis; while Redis cannot be reached, the database keeps the nonces
    (replay protection never lapses) and ``degraded_since`` says so. The commands go through
    a :class:`~paygate.kit.redis_batch.RedisBatcher`: the nonces of requests arriving
    together reach Redis in one round trip, each still answered on its own."""

    def __init__(self, redis: RedisBatcher, window_seconds: int, fallback: NonceStore) -> None:
        self._redis = redis
        self._ttl = window_seconds * 2
        self._fallback = fallback
        self.degraded_since: float | None = None

    async def remember(self, app_id: str, nonce: str) -> bool:
        key = f"paygate:nonce:{app_id}:{nonce}"
        try:
            fresh = bool(await self._redis.execute("SET", key, "1", "EX", self._ttl, "NX"))
        except RedisError as exc:
            if self.degraded_since is None:
                self.degraded_since = time.monotonic()
                log.warning("alert.nonce_store_unreachable", error=type(exc).__name__)
            return await self._fallback.remember(app_id, nonce)
        self.degraded_since = None
        return fresh


class DatabaseNonces:
    def __init__(self, db: Database, window_seconds: int) -> None:
        self._db = db
        self._ttl = timedelta(seconds=window_seconds * 2)

    async def remember(self, app_id: str, nonce: str) -> bool:
        async with self._db.transaction() as uow:
            return await uow.nonces.remember(app_id, nonce, utc_now() + self._ttl)
