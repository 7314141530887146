"""CPU per inbound Alipay notification, sequential and in-process (issue 11).

    profile_notify.py BODIES ACCOUNT_ID [N]

Posts the first N signed notification bodies of BODIES (written by notify.py: each one a
first delivery that moves a seeded pending trade to ``succeeded``) one after the other to the
public app in this process (httpx's ASGI transport: no uvicorn, no concurrency), after a
warm-up of 100, and prints the thread's CPU and wall time per notification and the SQL
round trips each made (statements, BEGIN and COMMIT counted as the driver sends them).

Needs the PAYGATE_* environment of a migrated, seeded database (bench.sh sets it; so does
``make bench`` with ``BENCH_KEEP=1``).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import event

from paygate.api.public import create_public_app
from paygate.bootstrap import build_container
from paygate.config import load_settings


async def main(bodies: list[str], bodies_file: str, account_id: int, n: int) -> None:
    if len(bodies) < n + 100:
        raise SystemExit(f"profile_notify: {bodies_file} has {len(bodies)} bodies, {n + 100} needed")
    container = build_container(load_settings())
    app = create_public_app(container.public_services())
    trips: Counter[str] = Counter()
    engine = container.engine.sync_engine

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        trips[statement.split(None, 1)[0].upper()] += 1

    def in_transaction(conn) -> bool:  # type: ignore[no-untyped-def]
        # an AUTOCOMMIT connection's begin and commit are SQLAlchemy's, never sent
        return conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT"

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        if in_transaction(conn):
            trips["BEGIN"] += 1

    @event.listens_for(engine, "commit")
    def _commit(conn):  # type: ignore[no-untyped-def]
        if in_transaction(conn):
            trips["COMMIT"] += 1

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    path = f"/notify/alipay/{account_id}"
    async with httpx.AsyncClient(transport=transport, base_url="http://paygate") as client:

        async def post(body: str) -> None:
            r = await client.post(path, content=body.encode(), headers=headers)
            if r.text != "success":
                raise SystemExit(f"profile_notify: {r.status_code} {r.text}")

        for body in bodies[:100]:
            await post(body)
        trips.clear()
        wall0, cpu0 = time.perf_counter(), time.thread_time()
        for body in bodies[100 : 100 + n]:
            await post(body)
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    await container.aclose()
    print(
        f"{n} sequential first notifications: {1000 * wall / n:.2f} ms wall, {1000 * cpu / n:.2f} ms CPU each"
    )
    total = sum(trips.values())
    print(f"round trips to the database per notification: {total / n:.2f} ({dict(trips)})")


if __name__ == "__main__":
    lines = Path(sys.argv[1]).read_text().splitlines()
    asyncio.run(main(lines, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1000))
