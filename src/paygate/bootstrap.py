"""Wiring: builds every long-lived object from :class:`~paygate.config.Settings`, once.

Nothing here runs at import time; :func:`build_container` is called by the CLI, the ASGI
factories and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from paygate.auth.apps import AppAuthenticator
from paygate.auth.nonces import DatabaseNonces, NonceStore, RedisNonces
from paygate.channels.registry import AccountCodec, ChannelRegistry
from paygate.channels.resilience import ChannelGuard
from paygate.config import Settings
from paygate.kit.crypto import SecretBox
from paygate.kit.db import create_engine, create_sessionmaker
from paygate.kit.keys import platform_private_key
from paygate.kit.locks import LockProvider, NullLocks, RedisLocks
from paygate.kit.shutdown import DEFAULT_STEP_SECONDS, stop_within
from paygate.payments.notify import NotificationService
from paygate.payments.service import PaymentService
from paygate.payments.views import TradeCache
from paygate.workers.call_log import CallLogWriter

__all__ = ["Container", "build_container"]


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    box: SecretBox
    http: httpx.AsyncClient
    registry: ChannelRegistry
    codec: AccountCodec
    guard: ChannelGuard
    payments: PaymentService
    notifications: NotificationService
    authenticator: AppAuthenticator
    call_log: CallLogWriter
    redis: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    async def start(self) -> None:
        await self.call_log.start()

    async def aclose(self) -> None:
        """Each step bounded (kit.shutdown): a stuck pool or client is abandoned, not awaited for ever."""
        await self.call_log.stop()
        await stop_within(self.registry.aclose(), DEFAULT_STEP_SECONDS, "channel adapters")
        await stop_within(self.http.aclose(), DEFAULT_STEP_SECONDS, "channel HTTP client")
        if self.redis is not None:
            await stop_within(self.redis.aclose(), DEFAULT_STEP_SECONDS, "redis")
        await stop_within(self.engine.dispose(), DEFAULT_STEP_SECONDS, "database pool")


def build_container(settings: Settings) -> Container:
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    box = SecretBox(settings.master_key_bytes())
    http = httpx.AsyncClient(
        timeout=settings.channel_timeout_seconds,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )
    registry = ChannelRegistry(settings.adapters, settings.pay_types, http=http)
    codec = AccountCodec(box, settings.public_base_url)
    guard = ChannelGuard(settings.breaker_failure_threshold, settings.breaker_reset_seconds)
    redis = None
    locks: LockProvider = NullLocks()
    nonces: NonceStore = DatabaseNonces(sessions, settings.sign_window_seconds)
    if settings.redis_url:
        import redis.asyncio as aioredis

        redis = aioredis.from_url(settings.redis_url)
        locks = RedisLocks(redis)
        nonces = RedisNonces(redis, settings.sign_window_seconds)
    cache = TradeCache(settings.query_cache_seconds)
    payments = PaymentService(
        sessions,
        registry,
        codec,
        guard,
        locks,
        cache,
        default_expire_minutes=settings.default_expire_minutes,
        max_expire_minutes=settings.max_expire_minutes,
    )
    notifications = NotificationService(sessions, registry, codec, payments)
    authenticator = AppAuthenticator(
        sessions, box, nonces, platform_private_key(settings), settings.sign_window_seconds
    )
    return Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        box=box,
        http=http,
        registry=registry,
        codec=codec,
        guard=guard,
        payments=payments,
        notifications=notifications,
        authenticator=authenticator,
        call_log=CallLogWriter(sessions),
        redis=redis,
    )
