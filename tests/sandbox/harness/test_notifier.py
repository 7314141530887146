"""The harness's notification delivery against a real HTTP receiver: the channel's
schedule (scaled), acknowledgement, attempt records, faults, stop/start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paygate.sandbox.harness import Clock, DeliveryPolicy, Faults, Notifier, Scheduler, Undeliverable
from tests.support.servers import serve_asgi

SCALE = 0.001  # a 10 s retry takes 10 ms


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    hang: bool = False
    let_go: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> Response:
        self.bodies.append(await request.body())
        if self.hang:
            await self.let_go.wait()
        return Response(b"ok", self.statuses.pop(0) if self.statuses else 200)


@dataclass
class Rig:
    notifier: Notifier
    scheduler: Scheduler
    faults: Faults
    receiver: Receiver
    url: str

    def publish(self, text: str, **tags: str) -> Any:
        return self.notifier.publish(self.url, lambda: (text.encode(), {}), tags={"what": text, **tags})

    async def settle(self) -> None:
        for _ in range(300):
            if self.notifier.idle():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("deliveries still running")


def rig_for(url: str, receiver: Receiver, *, in_order: bool = False, timeout: float = 5) -> Rig:
    scheduler = Scheduler(SCALE)
    faults = Faults(parse_error=lambda spec: {})
    policy = DeliveryPolicy((10, 20, 30), timeout, lambda status, body: status == 200, in_order)
    notifier = Notifier(policy, scheduler=scheduler, faults=faults, clock=Clock())
    return Rig(notifier, scheduler, faults, receiver, url)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    async with serve_asgi(app) as base:
        r = rig_for(base + "/hook", receiver)
        await r.notifier.start()
        await r.scheduler.start()
        try:
            yield r
        finally:
            await r.scheduler.stop()
            await r.notifier.stop()


async def test_retries_on_the_schedule_until_acknowledged(rig: Rig) -> None:
    rig.receiver.statuses = [500, 503]
    delivery = rig.publish("a", out_trade_no="T1")
    await rig.settle()
    assert [a.outcome for a in delivery.attempts] == ["failed", "failed", "success"]
    assert [a.scheduled_delay for a in delivery.attempts] == [0, 10, 20]
    assert delivery.succeeded and not delivery.gave_up
    assert rig.notifier.matching(out_trade_no="T1") == [delivery]
    assert rig.notifier.matching(out_trade_no="T2") == []


async def test_gives_up_after_the_schedule(rig: Rig) -> None:
    rig.receiver.statuses = [500] * 10
    delivery = rig.publish("a")
    await rig.settle()
    assert len(delivery.attempts) == 4 and delivery.gave_up and not delivery.succeeded


async def test_drop_duplicate_reorder(rig: Rig) -> None:
    rig.faults.drop_notifications(1)
    dropped = rig.publish("dropped")
    await rig.settle()
    assert [a.outcome for a in dropped.attempts] == ["dropped", "success"]
    rig.faults.duplicate_notifications(True)
    twice = rig.publish("twice")
    await rig.settle()
    assert [a.duplicate for a in twice.attempts] == [False, True]
    rig.faults.clear()
    rig.receiver.bodies.clear()
    rig.faults.reorder_notifications(2)
    rig.publish("first")
    await asyncio.sleep(0.05)
    assert rig.receiver.bodies == []
    rig.publish("second")
    await rig.settle()
    assert rig.receiver.bodies == [b"second", b"first"]


async def test_undeliverable_is_not_retried(rig: Rig) -> None:
    def gone() -> tuple[bytes, dict[str, str]]:
        raise Undeliverable("endpoint deleted")

    delivery = rig.notifier.publish(rig.url, gone, tags={})
    await rig.settle()
    assert [(a.outcome, a.error) for a in delivery.attempts] == [("error", "endpoint deleted")]
    assert delivery.gave_up


async def test_nothing_is_sent_before_start_and_stop_is_bounded() -> None:
    receiver = Receiver(hang=True)
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    async with serve_asgi(app) as base, httpx.AsyncClient() as http:
        r = rig_for(base + "/hook", receiver, timeout=60)
        r.notifier = Notifier(
            r.notifier.policy, scheduler=r.scheduler, faults=r.faults, clock=Clock(), http=http
        )
        delivery = r.publish("late")
        await asyncio.sleep(0.05)
        assert receiver.bodies == []
        await r.scheduler.start()
        for _ in range(100):
            if receiver.bodies:
                break
            await asyncio.sleep(0.01)
        assert receiver.bodies == [b"late"]  # in flight: the receiver hangs
        started = time.monotonic()
        await r.scheduler.stop()
        assert time.monotonic() - started < 2
        assert delivery.attempts == []  # the cut-short attempt never happened ...
        receiver.hang = False
        await r.scheduler.start()  # ... and is made again after a restart
        try:
            await asyncio.wait_for(_until(lambda: delivery.succeeded), 5)
        finally:
            await r.scheduler.stop()
            receiver.let_go.set()  # the first request still hangs in the receiver
        assert [a.outcome for a in delivery.attempts] == ["success"]


async def test_in_order_lanes_deliver_one_at_a_time() -> None:
    order: list[bytes] = []

    async def slow(request: Request) -> Response:
        body = await request.body()
        await asyncio.sleep(0.03 if body == b"1" else 0)
        order.append(body)
        return Response(b"", 200)

    app = Starlette(routes=[Route("/hook", slow, methods=["POST"])])
    async with serve_asgi(app) as base:
        r = rig_for(base + "/hook", Receiver(), in_order=True)
        await r.notifier.start()
        await r.scheduler.start()
        try:
            for text in ("1", "2", "3"):
                r.publish(text)
            await r.settle()
        finally:
            await r.scheduler.stop()
            await r.notifier.stop()
    assert order == [b"1", b"2", b"3"]


async def _until(predicate: Any) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
