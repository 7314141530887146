"""Publishing to a RabbitMQ topic exchange with publisher confirms (aio-pika).

Every message is persistent, JSON, with ``message_id`` = the event id, ``type`` and routing
key = the event type (``trade.succeeded``), and the app id in the headers. ``publish``
returns once the broker confirmed each message (or refused it, or the time ran out): only
confirmed ids are reported, so the outbox keeps the rest. A broken connection is dropped and
made again at the next call; every wait is bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from paygate.broker.contract import BrokerMessage, PublishError

__all__ = ["AmqpPublisher"]

log = structlog.get_logger("paygate.broker")


class AmqpPublisher:
    def __init__(self, url: str, exchange: str = "paygate.events", *, timeout: float = 5.0) -> None:
        self._url = url
        self._exchange_name = exchange
        self._timeout = timeout
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()

    async def _ready(self) -> AbstractExchange:
        if self._exchange is not None and self._connection is not None and not self._connection.is_closed:
            return self._exchange
        await self._drop()
        try:
            self._connection = await aio_pika.connect(self._url, timeout=self._timeout)
            self._channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await self._channel.declare_exchange(
                self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True, timeout=self._timeout
            )
        except (OSError, TimeoutError, aio_pika.exceptions.AMQPError) as exc:
            await self._drop()
            raise PublishError(f"broker unreachable: {type(exc).__name__}: {exc}"[:200]) from exc
        log.info("broker.connected", exchange=self._exchange_name)
        return self._exchange

    async def publish(self, messages: Sequence[BrokerMessage]) -> set[str]:
        async with self._lock:
            exchange = await self._ready()

            async def one(m: BrokerMessage) -> str:
                await exchange.publish(
                    aio_pika.Message(
                        m.body,
                        message_id=m.message_id,
                        type=m.routing_key,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        headers={"app_id": m.app_id or ""},
                    ),
                    routing_key=m.routing_key,
                    timeout=self._timeout,
                )
                return m.message_id

            answers = await asyncio.gather(*(one(m) for m in messages), return_exceptions=True)
            confirmed = {a for a in answers if isinstance(a, str)}
            errors = [a for a in answers if isinstance(a, BaseException)]
            if errors:
                log.warning("broker.not_confirmed", count=len(errors), error=repr(errors[0])[:200])
                if isinstance(errors[0], (OSError, ConnectionError, aio_pika.exceptions.AMQPConnectionError)):
                    await self._drop()
                if not confirmed:
                    raise PublishError(f"{type(errors[0]).__name__}: {errors[0]}"[:200])
            return confirmed

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def _drop(self) -> None:
        connection, self._connection, self._channel, self._exchange = self._connection, None, None, None
        if connection is not None and not connection.is_closed:
            try:
                await asyncio.wait_for(connection.close(), self._timeout)
            except Exception:  # closing a broken connection may fail every way: it is gone anyway
                log.debug("broker.close_failed", exc_info=True)
