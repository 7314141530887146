"""Migration 0005 keeps what the old outbox held: each trade message becomes an event (not yet
published) and each old app notification a pending delivery of it (R-NTF-5, R-NTF-6)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from paygate.kit.db import create_engine
from paygate.migrations.runner import upgrade
from tests.conftest import PG_ADMIN, TEST_DB, require_service

OLD_ROWS = [
    ("trade.succeeded", "trade.succeeded:T1", {"event": "trade.succeeded", "trade_no": "T1", "amount": 100}),
    (
        "app.notify",
        "app.notify:trade.succeeded:T1",
        {"event": "trade.succeeded", "trade_no": "T1", "notify_url": "https://shop.example/hook"},
    ),
    ("trade.paid_after_closed", "trade.paid_after_closed:T2:abc", {"trade_no": "T2", "state": "closed"}),
]


async def _check(url: str) -> None:
    await upgrade(url, "0003")
    engine = create_engine(url)
    created: object = "2026-11-30 10:00:00"  # SQLite keeps text; PostgreSQL wants a datetime
    if url.startswith("postgresql"):
        created = datetime(2026, 11, 30, 10, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            for topic, key, payload in OLD_ROWS:
                await conn.execute(
                    text(
                        "INSERT INTO outbox (topic, key, aggregate, app_id, payload, attempts, available_at,"
                        " created_at) VALUES (:t, :k, :a, 'shop', :p, 0, :c, :c)"
                    ),
                    {
                        "t": topic,
                        "k": key,
                        "a": payload["trade_no"],
                        "p": json.dumps(payload),
                        "c": created,
                    },
                )
        await upgrade(url, "head")
        async with engine.connect() as conn:
            events = (
                await conn.execute(text("SELECT id, key, topic, aggregate, body FROM outbox ORDER BY id"))
            ).all()
            deliveries = (
                await conn.execute(text("SELECT event_id, url, state, sequence_key FROM event_deliveries"))
            ).all()
    finally:
        await engine.dispose()
    assert [(e.topic, e.aggregate) for e in events] == [
        ("trade.succeeded", "T1"),
        ("trade.paid_after_close", "T2"),
    ]
    for e in events:
        body = json.loads(e.body)
        assert body["id"] == e.key and e.key.startswith("evt_") and len(e.key) == 30
        assert body["type"] == e.topic and body["data"]["trade_no"] == e.aggregate
    assert [(d.event_id, d.url, d.state, d.sequence_key) for d in deliveries] == [
        (events[0].id, "https://shop.example/hook", "pending", "T1")
    ]


async def test_old_outbox_rows_become_events_and_deliveries_on_sqlite(tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path}/old.db")


@pytest.mark.postgres
async def test_old_outbox_rows_become_events_and_deliveries_on_postgresql() -> None:
    require_service(5432, "PostgreSQL")
    import asyncpg

    name = f"{TEST_DB}_m5"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
        await _check(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    finally:
        await asyncio.wait_for(admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"), 30)
        await admin.close()
