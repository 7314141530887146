"""Crash safety (issue 8 item 8, R-PAY-2, R-NTF-3, R-NTF-5): paygate runs as real processes,
which are SIGKILLed at chosen points (failpoints, kit/failpoints.py) and started again; the
sandboxes live in the test process, so they outlive paygate as a channel would:

- after the channel call and before its answer is committed (a pay): the trade is left
  ``created``; restarted, the reliability engine asks the channel, finds the order, and the
  payment goes on to succeed — one trade, one channel order, one ``trade.succeeded`` event,
  delivered to the app;
- in the middle of an expiry close (closed at the channel, not yet here): restarted, the
  check learns the channel closed it and closes it here — one ``trade.closed`` event.

(Kills mid-dispatch and after the commit before the event is sent are in
tests/events/test_workers.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from paygate.bootstrap import build_container
from paygate.config import Settings
from paygate.demo import demo_credentials, sandbox_host, seed_demo
from paygate.kit.clock import utc_now
from paygate.models import ChannelAttempt, OutboxMessage, Trade
from paygate.sdk import PaygateClient
from tests.conftest import MASTER_KEY
from tests.support.helpers import buyer, eventually, order_no, rows
from tests.support.receiver import running_receiver
from tests.support.servers import free_port, release_port, serve_asgi
from tests.support.stack import Stack

BIN = Path(sys.executable).parent


class Paygate:
    """``paygate run`` (or ``paygate worker``) as a subprocess of the test."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    def env(self, **extra: Any) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
        values: dict[str, Any] = {
            "database_url": self.settings.database_url,
            "data_dir": str(self.settings.data_dir),
            "master_key": MASTER_KEY,
            "internal_port": self.settings.internal_port,
            "public_port": self.settings.public_port,
            "public_base_url": self.settings.public_base_url,
            "sandbox_port": self.settings.sandbox_port,
            "sandbox_enabled": "false",  # the test hosts the sandboxes: they outlive paygate
            "query_cache_seconds": "0",
            "check_schedules": {"wechatpay": [0.2], "alipay": [0.2]},
            "check_lease_seconds": "2",  # a dead worker's claims come back quickly
            "event_poll_seconds": "0.05",
            "event_retry_schedule": [0, 0.05, 0.05],
            "event_retry_jitter": "0",
        }
        values.update(extra)
        for name, value in values.items():
            env[f"PAYGATE_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        return env

    async def start(self, *args: str, **extra: Any) -> None:
        handle = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            str(BIN / "paygate"),
            *args,
            env=self.env(**extra),
            stdout=handle,
            stderr=asyncio.subprocess.STDOUT,
        )
        handle.close()
        if args[0] == "run":

            async def up() -> bool:
                assert self.process and self.process.returncode is None, self.log.read_text()[-3000:]
                try:
                    async with httpx.AsyncClient() as http:
                        return (
                            await http.get(f"{self.settings.internal_base_url}/health")
                        ).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(up, within=60)

    async def killed(self, within: float = 30) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), within)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@contextlib.asynccontextmanager
async def channels_and_paygate(
    db_url: str, data_dir: Path, tmp_path: Path
) -> AsyncIterator[tuple[Stack, Paygate]]:
    """The sandboxes served by the test, paygate's data seeded, no paygate process yet."""
    internal, public = release_port(free_port()), release_port(free_port())
    sandbox = free_port()
    settings = Settings(
        database_url=db_url,
        data_dir=data_dir,
        master_key=MASTER_KEY,
        internal_port=internal,
        public_port=public,
        public_base_url=f"http://127.0.0.1:{public}",
        sandbox_port=sandbox,
        sandbox_time_scale=0.0005,
    )
    container = build_container(settings)
    host = sandbox_host(settings)
    await host.start()
    paygate = Paygate(settings, tmp_path / "paygate.log")
    try:
        async with serve_asgi(host.asgi(), sandbox):
            await seed_demo(container, host)
            creds = await demo_credentials(container)
            client = PaygateClient(creds["api_base"], creds["app_id"], secret=creds["secret"], timeout=20)
            try:
                yield Stack(settings, container, host, client, creds), paygate
            finally:
                await client.aclose()
                await paygate.stop()
    finally:
        await host.stop()
        await container.aclose()


async def test_killed_after_the_channel_call_before_the_commit(
    db_url: str, data_dir: Path, tmp_path: Path
) -> None:
    async with (
        channels_and_paygate(db_url, data_dir, tmp_path) as (stack, paygate),
        running_receiver([stack.credentials["webhook_secret"]]) as app,
    ):
        await paygate.start("run", failpoints=["pay.after_channel_call"], workers_enabled="false")
        order = order_no("CRASH")
        try:
            await stack.client.pay(
                out_order_no=order, pay_type="wechat.native", amount=500, subject="C", notify_url=app.url
            )
            raise AssertionError("paygate answered although it was to die")
        except httpx.HTTPError:
            pass  # the connection died with the process
        assert await paygate.killed() == -signal.SIGKILL
        [trade] = await rows(stack, Trade, Trade.out_order_no == order)
        [attempt] = await rows(stack, ChannelAttempt, ChannelAttempt.trade_id == trade.id)
        assert trade.state == "created" and attempt.status == "sent"  # the answer never recorded

        await paygate.start("run")  # restarted, with its workers: the check asks WeChat Pay

        async def pending() -> bool:
            return (await stack.client.query_trade(out_order_no=order))["state"] == "pending"

        await eventually(pending, within=30)
        async with httpx.AsyncClient() as http:  # the order WeChat Pay made before the crash
            seen = await http.get(f"{stack.sandbox_url}/wechatpay/_sandbox/trades/{attempt.attempt_no}")
        assert seen.status_code == 200, seen.text
        assert (await buyer(stack, "wechatpay", attempt.attempt_no)).status_code == 200

        async def paid() -> bool:
            return (await stack.client.query_trade(out_order_no=order))["state"] == "succeeded"

        await eventually(paid, within=30)
        assert len(await rows(stack, Trade, Trade.out_order_no == order)) == 1
        assert len(await rows(stack, ChannelAttempt, ChannelAttempt.trade_id == trade.id)) == 1
        events = await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade.trade_no)
        assert [e.topic for e in events] == ["trade.succeeded"]  # recorded once

        async def told() -> bool:
            return any(r.verified and r.event["type"] == "trade.succeeded" for r in app.got)

        await eventually(told, within=30)  # delivered at least once


async def test_killed_in_the_middle_of_an_expiry_close(db_url: str, data_dir: Path, tmp_path: Path) -> None:
    async with (
        channels_and_paygate(db_url, data_dir, tmp_path) as (stack, paygate),
        running_receiver([stack.credentials["webhook_secret"]]) as app,
    ):
        await paygate.start("run", workers_enabled="false")
        stack.sandbox("alipay").faults.drop_notifications(1000)  # only the check can learn the close
        trade = await stack.client.pay(
            out_order_no=order_no("EXPIRE"),
            pay_type="alipay.jsapi",
            amount=300,
            subject="E",
            notify_url=app.url,
            extra={"buyer_id": "2088102177846880"},
        )
        async with stack.container.sessions() as session, session.begin():
            await session.execute(
                update(Trade)
                .where(Trade.trade_no == trade["trade_no"])
                .values(
                    expire_at=utc_now() - timedelta(seconds=1), next_check_at=utc_now() - timedelta(seconds=1)
                )
            )
        worker = Paygate(paygate.settings, tmp_path / "worker.log")
        await worker.start("worker", "--jobs", "check-trades", failpoints=["close.after_channel_close"])
        assert await worker.killed() == -signal.SIGKILL, worker.log.read_text()[-3000:]
        [row] = await rows(stack, Trade, Trade.trade_no == trade["trade_no"])
        assert row.state == "pending"  # closed at Alipay, not yet here
        async with httpx.AsyncClient() as http:
            seen = (await http.get(f"{stack.sandbox_url}/alipay/_sandbox/trades/{row.attempt_no}")).json()
        assert seen["state"] == "TRADE_CLOSED"

        restarted = Paygate(paygate.settings, tmp_path / "worker2.log")
        await restarted.start("worker", "--jobs", "check-trades,deliveries")
        try:

            async def closed() -> bool:
                return (await stack.client.query_trade(trade_no=trade["trade_no"]))["state"] == "closed"

            await eventually(closed, within=30)
            events = await rows(stack, OutboxMessage, OutboxMessage.aggregate == trade["trade_no"])
            assert [e.topic for e in events] == ["trade.closed"]

            async def told() -> bool:
                return any(r.verified and r.event["type"] == "trade.closed" for r in app.got)

            await eventually(told, within=30)
        finally:
            await restarted.stop()
