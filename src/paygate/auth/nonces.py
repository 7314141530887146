"""Replay protection: a nonce may be used once per app within the signing window.
Redis when configured (``SET NX EX``), else the database's unique index."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paygate.kit.db import utcnow
from paygate.repositories import NonceRepository

__all__ = ["DatabaseNonces", "NonceStore", "RedisNonces"]


class NonceStore(Protocol):
    async def remember(self, app_id: str, nonce: str) -> bool:
        """True for a fresh nonce, False for a replay."""
        ...


class RedisNonces:
    def __init__(self, redis: object, window_seconds: int) -> None:
        self._redis = redis
        self._ttl = window_seconds * 2

    async def remember(self, app_id: str, nonce: str) -> bool:
        key = f"paygate:nonce:{app_id}:{nonce}"
        return bool(await self._redis.set(key, "1", nx=True, ex=self._ttl))  # type: ignore[attr-defined]


class DatabaseNonces:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], window_seconds: int) -> None:
        self._sessions = sessions
        self._ttl = timedelta(seconds=window_seconds * 2)

    async def remember(self, app_id: str, nonce: str) -> bool:
        async with self._sessions() as session, session.begin():
            return await NonceRepository(session).remember(app_id, nonce, utcnow() + self._ttl)
