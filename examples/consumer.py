"""An example consumer of paygate's domain events (R-NTF-6): a points service that awards
points for paid trades. It follows the consumer contract of docs/api.md §8:

1. **At least once.** paygate (and RabbitMQ) may deliver an event more than once; the
   consumer acknowledges a message only after its work is committed.
2. **De-duplicate on the event id** (the AMQP ``message_id``, also ``id`` in the body): the
   work and the id are written in one local transaction, so a repeat changes nothing.
3. **Re-check before acting.** The event says what happened; paygate's ``/query/trade`` says
   what is true now. The consumer acts only when the trade really is ``succeeded`` (a stale,
   replayed or forged message does nothing).

Run it against a running paygate (``make run`` with ``PAYGATE_BROKER_URL`` set)::

    PAYGATE_BROKER_URL=amqp://guest:guest@127.0.0.1:5672/ .venv/bin/python examples/consumer.py \\
        --app-id demo --secret "$(.venv/bin/paygate demo credentials | jq -r .secret)"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
from collections.abc import Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from paygate.sdk import PaygateAPIError, PaygateClient

POINTS_PER_UNIT = 1  # one point per minor unit / 100


class PointsLedger:
    """The consumer's own database: points awarded, and the events already handled."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path)
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS handled_events (event_id TEXT PRIMARY KEY);"
            "CREATE TABLE IF NOT EXISTS points (trade_no TEXT PRIMARY KEY, points INTEGER NOT NULL);"
        )

    def seen(self, event_id: str) -> bool:
        return (
            self._db.execute("SELECT 1 FROM handled_events WHERE event_id = ?", (event_id,)).fetchone()
            is not None
        )

    def award(self, event_id: str, trade_no: str, points: int | None) -> bool:
        """Record the event as handled and, when ``points`` is given, award them — in one
        transaction. False when the event was handled meanwhile (two copies of a message in
        flight at once): the primary key decides, and nothing is awarded twice."""
        try:
            with self._db:  # one transaction
                self._db.execute("INSERT INTO handled_events (event_id) VALUES (?)", (event_id,))
                if points is not None:
                    self._db.execute(
                        "INSERT INTO points (trade_no, points) VALUES (?, ?)", (trade_no, points)
                    )
        except sqlite3.IntegrityError:
            return False
        return True

    def points(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT trade_no, points FROM points").fetchall())

    def close(self) -> None:
        self._db.close()


class PointsConsumer:
    def __init__(
        self, paygate: PaygateClient, ledger: PointsLedger, say: Callable[[str], None] = print
    ) -> None:
        self._paygate = paygate
        self._ledger = ledger
        self._say = say

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """One message: acknowledged once handled (or known), requeued when paygate could
        not be asked (try again later)."""
        event: dict[str, Any] = json.loads(message.body)
        event_id = message.message_id or event["id"]
        if self._ledger.seen(event_id):
            self._say(f"consumer: {event_id} already handled")
            await message.ack()
            return
        trade_no = event["data"]["trade_no"]
        try:
            trade = await self._paygate.query_trade(trade_no=trade_no)  # the truth, now
        except PaygateAPIError as exc:
            if exc.error == "TRADE_NOT_FOUND":  # not a trade of this app: nothing to do
                self._ledger.award(event_id, trade_no, None)
                await message.ack()
                return
            await message.nack(requeue=True)
            return
        except Exception:  # paygate unreachable: leave the message for later
            await message.nack(requeue=True)
            return
        if event["type"] == "trade.succeeded" and trade["state"] == "succeeded":
            points = (trade["paid_amount"] or 0) // 100 * POINTS_PER_UNIT
            if self._ledger.award(event_id, trade_no, points):
                self._say(
                    f"consumer: {trade_no} paid {trade['paid_amount']} {trade['currency']}: {points} points"
                )
            else:
                self._say(f"consumer: {event_id} already handled")
        else:
            self._ledger.award(event_id, trade_no, None)
            self._say(f"consumer: {event['type']} {trade_no} (trade is {trade['state']}): nothing to award")
        await message.ack()


async def consume(
    broker_url: str,
    exchange: str,
    queue: str,
    consumer: PointsConsumer,
    *,
    stop: asyncio.Event,
    binding: str = "trade.*",
) -> None:
    """Bind ``queue`` to paygate's topic exchange and handle messages until ``stop`` is set."""
    connection = await aio_pika.connect_robust(broker_url, timeout=10)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=20)
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await channel.declare_queue(queue, durable=True)
        await q.bind(ex, routing_key=binding)
        tag = await q.consume(consumer.handle)
        await stop.wait()
        await q.cancel(tag)
    finally:
        await asyncio.wait_for(connection.close(), 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--broker-url", default=os.environ.get("PAYGATE_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
    )
    parser.add_argument("--exchange", default=os.environ.get("PAYGATE_BROKER_EXCHANGE", "paygate.events"))
    parser.add_argument("--queue", default="points-service")
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--ledger", default="points.db")
    args = parser.parse_args()

    async def run() -> None:
        stop = asyncio.Event()
        ledger = PointsLedger(args.ledger)
        async with PaygateClient(args.api, args.app_id, secret=args.secret) as paygate:
            try:
                await consume(
                    args.broker_url, args.exchange, args.queue, PointsConsumer(paygate, ledger), stop=stop
                )
            finally:
                ledger.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
