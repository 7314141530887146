"""Migration 0010 gives channel accounts a fixed fee and the currency of their fee terms
(issue 9, R-REC-2) on SQLite, PostgreSQL and MariaDB: an account made before it keeps its
flat rate (fixed fee 0, no currency: every line checked as before), and it goes back down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from paygate.kit.db import create_engine
from paygate.migrations.runner import alembic_config, upgrade
from tests.conftest import PG_ADMIN, TEST_DB, require_service

NAME = f"{TEST_DB}_m10"


def _downgrade_on(connection: Connection, url: str, revision: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


async def _columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("channel_accounts")}
            )
    finally:
        await engine.dispose()


async def _check(url: str) -> None:
    await upgrade(url, "0009")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO channel_accounts (channel, name, merchant_id, gateway_url, secrets_sealed,"
                    " params, fee_rate_bp, timeout_seconds, priority, enabled, created_at, updated_at)"
                    " VALUES ('alipay', 'old', '2021', 'https://x.test', 's', '{}', 60, 10, 0, :t, :c, :c)"
                ),
                {"t": True, "c": datetime(2026, 11, 30, 10, tzinfo=UTC)},
            )
        await upgrade(url, "head")
        async with engine.connect() as conn:
            old = (
                await conn.execute(text("SELECT fee_rate_bp, fee_fixed, fee_currency FROM channel_accounts"))
            ).all()
        assert [tuple(r) for r in old] == [(60, 0, None)]
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_on, url, "0009")
    finally:
        await engine.dispose()
    assert not {"fee_fixed", "fee_currency"} & await _columns(url)
    await upgrade(url, "head")
    assert {"fee_fixed", "fee_currency"} <= await _columns(url)


async def test_fee_terms_migration_on_sqlite(tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path}/old.db")


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    require_service(5432, "PostgreSQL")
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {NAME}")
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{NAME}"
    finally:
        await asyncio.wait_for(admin.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)"), 30)
        await admin.close()


@pytest.fixture
async def mysql_url() -> AsyncIterator[str]:
    require_service(3306, "MariaDB/MySQL")
    import asyncmy

    conn = await asyncmy.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS {NAME}")
            await cur.execute(f"CREATE DATABASE {NAME} CHARACTER SET utf8mb4")
        yield f"mysql+asyncmy://root@127.0.0.1:3306/{NAME}"
    finally:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS {NAME}")
        conn.close()


@pytest.mark.postgres
async def test_fee_terms_migration_on_postgresql(pg_url: str) -> None:
    await _check(pg_url)


@pytest.mark.mysql
async def test_fee_terms_migration_on_mariadb(mysql_url: str) -> None:
    await _check(mysql_url)
