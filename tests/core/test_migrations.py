"""Storage: the Alembic migrations build the whole schema on SQLite, PostgreSQL and
MariaDB, and the models match them exactly (nothing left to autogenerate)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from paygate.kit.db import Base, create_engine

EXPECTED = {
    "apps",
    "app_channel_accounts",
    "channel_accounts",
    "trades",
    "channel_attempts",
    "refunds",
    "trade_logs",
    "call_logs",
    "channel_notifications",
    "outbox",
    "request_nonces",
    "operators",
    "operator_actions",
    "checkouts",
    "console_sessions",
}


async def test_migrations_create_every_table_and_match_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert EXPECTED <= tables
    assert diff == [], f"models and migrations differ: {diff}"
