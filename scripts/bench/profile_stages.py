"""Where a /gopay's CPU goes, stage by stage (make bench with BENCH_PROFILE=1 runs it).

Sends N signed ``POST /gopay`` (alipay.page) one after the other to the internal app in this
process (httpx's ASGI transport, no uvicorn, no concurrency) and charges the thread's CPU time
(``time.thread_time``: user + system) to the innermost stage running: the stages are
paygate's own functions, wrapped at run time (nothing in src/ is changed). Sequential on
purpose: with one request in flight, the CPU between two stage boundaries belongs to that
stage. The call log's batched INSERT is timed apart (its background task is not started).

Needs the PAYGATE_* environment of a migrated, seeded database (bench.sh sets it).
Usage: profile_stages.py [N]   (prints a table on stdout)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx

import paygate.api.responses as responses
import paygate.channels.alipay.protocol as alipay_protocol
from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.api.internal import create_internal_app
from paygate.auth.apps import AppAuthenticator
from paygate.bootstrap import build_container
from paygate.channels.alipay.adapter import AlipayAdapter
from paygate.config import load_settings
from paygate.demo import demo_credentials
from paygate.kit.locks import RedisLocks
from paygate.payments.after_commit import AfterCommit
from paygate.payments.creating import PaymentCreator
from paygate.payments.routing import Router

HTTP = "HTTP layer: FastAPI routing + pydantic + the httpx test client"
acc: dict[str, float] = defaultdict(float)
stack = [HTTP]
last = [time.thread_time()]


def charge() -> None:
    now = time.thread_time()
    acc[stack[-1]] += now - last[0]
    last[0] = now


def enter(name: str) -> None:
    charge()
    stack.append(name)


def leave() -> None:
    charge()
    stack.pop()


def wrap(owner: Any, attr: str, name: str) -> None:
    f = getattr(owner, attr)
    if asyncio.iscoroutinefunction(f):

        @functools.wraps(f)
        async def aw(*a: Any, **k: Any) -> Any:
            enter(name)
            try:
                return await f(*a, **k)
            finally:
                leave()

        setattr(owner, attr, aw)
    else:

        @functools.wraps(f)
        def sw(*a: Any, **k: Any) -> Any:
            enter(name)
            try:
                return f(*a, **k)
            finally:
                leave()

        setattr(owner, attr, sw)


def instrument() -> None:
    wrap(AppAuthenticator, "authenticate", "auth: app lookup, HMAC verify, Redis SET NX nonce")
    wrap(AppAuthenticator, "sign_response", "response: HMAC signature")
    wrap(PaymentCreator, "_check", "pay: checks")
    wrap(Router, "route", "pay: route (2 SELECTs, cached 5 s)")
    wrap(ChannelAccounts, "_decode", "pay: decode account (decrypt secrets, cached)")
    wrap(PaymentCreator, "_pay_locally", "pay: local form (sign, then one txn: trade, attempt, 2 logs)")
    wrap(AlipayAdapter, "create_payment", "pay: Alipay page URL (build, urlencode)")
    wrap(alipay_protocol, "rsa_sign", "pay: RSA-SHA256 sign of the page URL")
    wrap(AfterCommit, "trade_saved", "pay: after-commit (cache, after_pay hooks)")
    wrap(responses, "_dumps", "response: JSON encode")
    wrap(responses, "mask", "response: call-log row (mask request+response)")
    wrap(responses, "_finish", "response: envelope, metrics, headers")

    hold = RedisLocks.hold

    @contextlib.asynccontextmanager
    async def timed_hold(self: RedisLocks, key: str, ttl_ms: int = 30_000) -> AsyncIterator[bool]:
        cm = hold(self, key, ttl_ms)
        enter("lock: Redis lock acquire")
        try:
            held = await cm.__aenter__()
        finally:
            leave()
        try:
            yield held
        finally:
            enter("lock: Redis lock release")
            try:
                await cm.__aexit__(None, None, None)
            finally:
                leave()

    RedisLocks.hold = timed_hold  # type: ignore[method-assign]


async def main(n: int) -> None:
    instrument()
    container = build_container(load_settings())
    app = create_internal_app(container.internal_services())
    creds = await demo_credentials(container)
    secret = creds["secret"].encode()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://paygate") as client:

        async def pay(order: str) -> None:
            body = json.dumps(
                {
                    "out_order_no": order,
                    "pay_type": "alipay.page",
                    "amount": 1999,
                    "currency": "CNY",
                    "subject": "Order",
                },
                separators=(",", ":"),
            ).encode()
            ts, nonce = str(int(time.time())), uuid.uuid4().hex
            message = f"POST\n/gopay\n{ts}\n{nonce}\n".encode() + body + b"\n"
            headers = {
                "Content-Type": "application/json",
                "X-Paygate-App-Id": creds["app_id"],
                "X-Paygate-Timestamp": ts,
                "X-Paygate-Nonce": nonce,
                "X-Paygate-Signature": hmac.new(secret, message, hashlib.sha256).hexdigest(),
            }
            r = await client.post("/gopay", content=body, headers=headers)
            if r.status_code != 200:
                raise SystemExit(f"profile_stages: {r.status_code} {r.text}")

        tag = uuid.uuid4().hex[:10]
        for i in range(min(100, n)):  # warm: pools, statement caches, key caches
            await pay(f"P{tag}w-{i}")
        container.call_log._drain()
        charge()
        acc.clear()
        wall0, cpu0 = time.perf_counter(), time.thread_time()
        last[0] = cpu0
        for i in range(n):
            await pay(f"P{tag}-{i}")
        charge()
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
        rows = container.call_log._drain()
        c0 = time.thread_time()
        await container.call_log._write(rows)
        acc["call log writer: batched INSERT (off the request path)"] += time.thread_time() - c0
    await container.aclose()

    http = acc.pop(HTTP, 0.0)
    server = sum(acc.values())
    print(
        f"{n} sequential /gopay: {1000 * wall / n:.2f} ms wall, {1000 * cpu / n:.2f} ms CPU per request "
        f"({1000 * http / n:.2f} ms of it in the HTTP layer + test client, not counted below)"
    )
    print(f"paygate CPU per request, excluding the HTTP layer: {1000 * server / n:.3f} ms")
    for name, v in sorted(acc.items(), key=lambda kv: -kv[1]):
        print(f"  {1000 * v / n:6.3f} ms  {100 * v / server:5.1f}%  {name}")
    db = sum(v for k, v in acc.items() if "session" in k or "txn" in k)
    print(f"  -> the four database sessions together: {1000 * db / n:.3f} ms, {100 * db / server:.1f}%")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 400))
