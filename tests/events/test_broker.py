"""Domain events to other services (R-NTF-6): the outbox relay publishes to a RabbitMQ topic
exchange with publisher confirms; with the broker unreachable the outbox keeps every event
and drains when it is back; the example consumer de-duplicates and re-checks the trade."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import aio_pika
import pytest

from paygate.broker.amqp import AmqpPublisher
from paygate.config import Settings
from paygate.events.relay import BrokerRelay
from paygate.jobs import JobRunner
from paygate.models import OutboxMessage
from tests.conftest import require_service
from tests.support.helpers import buyer, eventually, order_no, rows
from tests.support.servers import free_port
from tests.support.stack import Stack

BROKER = "amqp://guest:guest@127.0.0.1:5672/"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def exchange() -> AsyncIterator[tuple[str, aio_pika.abc.AbstractQueue]]:
    """A private exchange and a queue bound to every trade event (deleted afterwards)."""
    require_service(5672, "RabbitMQ")
    name = f"paygate.test.{secrets.token_hex(4)}"
    connection = await aio_pika.connect(BROKER, timeout=10)
    channel = await connection.channel()
    ex = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(f"{name}.all", auto_delete=False, durable=False)
    await queue.bind(ex, routing_key="trade.#")
    try:
        yield name, queue
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await ex.delete()
        await connection.close()


async def closed_trades(stack: Stack, n: int) -> list[str]:
    made = []
    for _ in range(n):
        trade = await stack.client.pay(out_order_no=order_no(), pay_type="alipay.qr", amount=100, subject="x")
        await stack.client.close(trade_no=trade["trade_no"])
        made.append(trade["trade_no"])
    return made


async def drain(queue: aio_pika.abc.AbstractQueue, n: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    got: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def more() -> bool:
        message = await queue.get(fail=False, timeout=5)
        if message is not None:
            await message.ack()
            got.append(message)
        return len(got) >= n

    await eventually(more)
    return got


async def test_with_the_broker_down_events_wait_in_the_outbox_and_drain_when_it_is_back(
    events_stack: Stack, exchange: tuple[str, aio_pika.abc.AbstractQueue]
) -> None:
    stack = events_stack
    name, queue = exchange
    trades = await closed_trades(stack, 3)
    down = AmqpPublisher(f"amqp://guest:guest@127.0.0.1:{free_port()}/", name, timeout=2)
    relay = BrokerRelay(stack.container.db, down, poll_seconds=0.05)
    assert await relay.run_once() == 0
    events = await rows(stack, OutboxMessage)
    assert len(events) == 3 and all(e.published_at is None for e in events)
    assert all(e.publish_attempts == 1 and "unreachable" in (e.publish_error or "") for e in events)
    await down.close()

    # the broker is back: a relay (here in a job runner, as in `paygate worker`) drains them
    publisher = AmqpPublisher(BROKER, name)
    relay = BrokerRelay(stack.container.db, publisher, poll_seconds=0.05)
    async with stack.container.sessions() as session, session.begin():
        for e in await session.run_sync(lambda s: s.query(OutboxMessage).all()):
            e.publish_after = e.created_at  # skip the back-off: the test does not wait 1 s
    runner = JobRunner(stack.container.db, [_claiming(relay)])
    await runner.start()
    try:
        messages = await drain(queue, 3)
    finally:
        await runner.stop(5)
        await publisher.close()
    by_id = {m.message_id: m for m in messages}
    for event in await rows(stack, OutboxMessage):
        assert event.published_at is not None
        message = by_id[event.key]
        assert message.routing_key == "trade.closed" and message.type == "trade.closed"
        assert message.body.decode() == event.body and message.content_type == "application/json"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.headers["app_id"] == "demo"
    assert sorted(json.loads(m.body)["data"]["trade_no"] for m in messages) == sorted(trades)


def _claiming(job: BrokerRelay) -> object:
    from paygate.jobs.registry import JobKind, RegisteredJob

    return RegisteredJob(job, JobKind.CLAIMING, 0.0)


def test_bootstrap_runs_the_relay_only_when_a_broker_is_configured(tmp_path: Path) -> None:
    from paygate.bootstrap import build_container
    from tests.conftest import MASTER_KEY

    base = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/x.db",
        "data_dir": tmp_path,
        "master_key": MASTER_KEY,
    }
    without = build_container(Settings(**base))
    with_broker = build_container(Settings(**base, broker_url=BROKER))
    assert "broker" not in without.jobs.names and "deliveries" in without.jobs.names
    assert "broker" in with_broker.jobs.names
    for c in (without, with_broker):
        asyncio.run(c.aclose())


def _example_consumer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_consumer", ROOT / "examples" / "consumer.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["example_consumer"] = module
    spec.loader.exec_module(module)
    return module


async def test_the_example_consumer_deduplicates_and_rechecks_the_trade(
    events_stack: Stack, exchange: tuple[str, aio_pika.abc.AbstractQueue], tmp_path: Path
) -> None:
    stack = events_stack
    name, _ = exchange
    example = _example_consumer()
    queue_name = f"{name}.points"
    paid = await stack.client.pay(out_order_no=order_no(), pay_type="alipay.qr", amount=2500, subject="x")
    await buyer(stack, "alipay", paid["action"]["qr_code"])

    async def succeeded() -> bool:
        return (await stack.client.query_trade(trade_no=paid["trade_no"]))["state"] == "succeeded"

    await eventually(succeeded)
    pending = await stack.client.pay(out_order_no=order_no(), pay_type="alipay.qr", amount=900, subject="y")

    ledger = example.PointsLedger(str(tmp_path / "points.db"))
    lines: list[str] = []
    stop = asyncio.Event()
    consumer = example.PointsConsumer(stack.client, ledger, say=lines.append)
    task = asyncio.create_task(example.consume(BROKER, name, queue_name, consumer, stop=stop))
    publisher = AmqpPublisher(BROKER, name)
    try:
        # the queue exists once the consumer has bound it
        await eventually(lambda: _queue_exists(queue_name))
        relay = BrokerRelay(stack.container.db, publisher)
        assert await relay.run_once() == 1  # the trade.succeeded event
        [event] = await rows(stack, OutboxMessage, OutboxMessage.aggregate == paid["trade_no"])
        # at least once: the same event again (e.g. a relay died after the confirm)
        from paygate.broker.contract import BrokerMessage

        again = BrokerMessage(event.key, event.topic, event.body.encode(), "demo")
        assert await publisher.publish([again]) == {event.key}
        # a forged "succeeded" for a trade that is still pending: the re-check stops it
        forged = json.dumps(
            {"id": "evt_forged", "type": "trade.succeeded", "data": {"trade_no": pending["trade_no"]}}
        )
        await publisher.publish([BrokerMessage("evt_forged", "trade.succeeded", forged.encode(), "demo")])

        async def handled() -> bool:
            return len(lines) >= 3

        await eventually(handled)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await publisher.close()
    assert ledger.points() == {paid["trade_no"]: 25}
    assert any("already handled" in line for line in lines)
    assert any(pending["trade_no"] in line and "nothing to award" in line for line in lines)
    ledger.close()
    connection = await aio_pika.connect(BROKER)
    channel = await connection.channel()
    await channel.queue_delete(queue_name)
    await connection.close()


async def _queue_exists(name: str) -> bool:
    connection = await aio_pika.connect(BROKER)
    try:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
            return True
        except aio_pika.exceptions.ChannelClosed:
            return False
    finally:
        await connection.close()
