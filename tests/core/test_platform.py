"""Platform guarantees: Redis as the fast first line (R-PAY-7, R-SEC-1), the query cache
(R-PAY-8), logging that never fails a payment (R-LOG-3), secrets sealed at rest (R-SEC-4),
settings from environment and file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from paygate.config import Settings
from paygate.kit import metrics
from paygate.models import App, ChannelAccountRow, RequestNonce, Trade
from paygate.sdk import PaygateAPIError
from paygate.workers.call_log import CallLogWriter
from tests.conftest import REDIS_URL, require_service
from tests.support.helpers import count, eventually, order_no
from tests.support.stack import Stack, running_stack, stack_settings


@pytest.mark.redis
async def test_with_redis_nonces_and_locks_hold(db_url: str, data_dir: Path) -> None:
    require_service(6379, "Redis")
    import redis.asyncio as aioredis

    settings = stack_settings(db_url, data_dir, redis_url=REDIS_URL)
    async with running_stack(settings) as s:
        assert s.container.redis is not None
        order = order_no("R")
        # a lock held elsewhere (another paygate process) makes a duplicate wait its turn
        r = aioredis.from_url(REDIS_URL)
        await r.set(f"paygate:lock:pay:demo:{order}", "other", px=5000)
        with pytest.raises(PaygateAPIError) as err:
            await s.client.pay(out_order_no=order, pay_type="alipay.qr", amount=100, subject="R")
        assert err.value.error == "TRADE_IN_PROGRESS"
        await r.delete(f"paygate:lock:pay:demo:{order}")
        results = await asyncio.gather(
            *(
                s.client.pay(out_order_no=order, pay_type="alipay.qr", amount=100, subject="R")
                for _ in range(6)
            ),
            return_exceptions=True,
        )
        trade_nos = {x["trade_no"] for x in results if isinstance(x, dict)}
        assert len(trade_nos) == 1
        assert all(isinstance(x, dict) or x.error == "TRADE_IN_PROGRESS" for x in results)  # type: ignore[union-attr]
        assert await count(s, Trade, Trade.out_order_no == order) == 1
        # nonces live in Redis, not in the database
        keys = await r.keys("paygate:nonce:demo:*")
        assert keys
        await r.flushdb()
        await r.aclose()


async def test_status_polling_reads_paygate_not_the_channel(db_url: str, data_dir: Path) -> None:
    settings = stack_settings(db_url, data_dir, query_cache_seconds=30)
    async with running_stack(settings) as s:
        trade = await s.client.pay(out_order_no=order_no("Q"), pay_type="alipay.qr", amount=100, subject="Q")
        s.sandbox("alipay").faults.error("alipay.trade.query", code="20000")
        for _ in range(5):
            assert (await s.client.query_trade(trade_no=trade["trade_no"]))["state"] == "pending"
        with pytest.raises(PaygateAPIError):
            await s.client.query_trade(trade_no=trade["trade_no"], sync=True)  # only sync asks the channel
        s.sandbox("alipay").faults.clear()
        await s.client.close(trade_no=trade["trade_no"])  # a change made here invalidates the cache
        assert (await s.client.query_trade(trade_no=trade["trade_no"]))["state"] == "closed"


async def test_trade_queries_are_answered_from_the_cache_until_a_change_invalidates_it(
    db_url: str, data_dir: Path
) -> None:
    """R-PAY-8: a burst of polls costs one database read. Observed by changing the row behind
    paygate's back: the cached answer stands (by trade_no and by out_order_no) until paygate
    itself changes the trade, which drops the entry at once."""
    from sqlalchemy import update

    settings = stack_settings(db_url, data_dir, query_cache_seconds=30)
    async with running_stack(settings) as s:
        order = order_no("C")
        trade = await s.client.pay(out_order_no=order, pay_type="alipay.qr", amount=100, subject="C")
        assert (await s.client.query_trade(trade_no=trade["trade_no"]))["subject"] == "C"
        async with s.container.sessions() as session, session.begin():
            await session.execute(
                update(Trade).where(Trade.trade_no == trade["trade_no"]).values(subject="X")
            )
        assert (await s.client.query_trade(trade_no=trade["trade_no"]))["subject"] == "C"  # cached
        assert (await s.client.query_trade(out_order_no=order))["subject"] == "C"  # same entry, by order
        await s.client.close(trade_no=trade["trade_no"])  # paygate's own change: invalidated
        fresh = await s.client.query_trade(out_order_no=order)
        assert fresh["state"] == "closed" and fresh["subject"] == "X"


async def test_a_broken_call_log_never_fails_a_payment(db_url: str, data_dir: Path) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from paygate.bootstrap import build_container
    from paygate.repositories import Database

    broken = create_async_engine("sqlite+aiosqlite:////nonexistent/dir/x.db")
    settings = stack_settings(db_url, data_dir)
    container = build_container(settings)
    container.call_log = CallLogWriter(Database(async_sessionmaker(broken)))
    before = metrics.LOG_DROPPED._value.get()
    async with running_stack(settings, container) as stack:
        trade = await stack.client.pay(
            out_order_no=order_no("L"), pay_type="alipay.qr", amount=100, subject="L"
        )
        assert trade["state"] == "pending"
        await stack.container.call_log.flush()
        assert metrics.LOG_DROPPED._value.get() > before
    await broken.dispose()


async def test_channel_keys_and_app_secrets_are_sealed_at_rest(stack: Stack) -> None:
    alipay = stack.sandbox("alipay").credentials()
    async with stack.container.sessions() as session:
        accounts = (await session.execute(select(ChannelAccountRow))).scalars().all()
        apps = (await session.execute(select(App))).scalars().all()
        dump = json.dumps(
            [[a.secrets_sealed, a.params] for a in accounts] + [[a.secret_sealed] for a in apps]
        )
    body = alipay["app_private_key"].splitlines()[1]
    assert body not in dump and "PRIVATE KEY" not in dump
    assert stack.credentials["secret"] not in dump
    assert all(a.secrets_sealed.startswith("v1:") for a in accounts)


def test_settings_from_a_toml_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "paygate.toml"
    config.write_text(
        'database_url = "postgresql+asyncpg://u@db/paygate"\ninternal_port = 9000\n'
        'channels = ["alipay", "stripe"]\n'
    )
    monkeypatch.setenv("PAYGATE_CONFIG_FILE", str(config))
    monkeypatch.setenv("PAYGATE_INTERNAL_PORT", "9100")
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://u@db/paygate"
    assert settings.internal_port == 9100  # the environment wins over the file
    assert settings.channels == ["alipay", "stripe"]
    assert not settings.is_sqlite


def test_production_refuses_to_run_without_a_master_key(tmp_path: Path) -> None:
    settings = Settings(env="production", data_dir=tmp_path)
    with pytest.raises(RuntimeError, match="MASTER_KEY"):
        settings.master_key_bytes()


async def test_reseeding_gives_the_demo_app_pay_types_added_since(stack: Stack) -> None:
    """`make run` on an older var/: the demo app learns the pay types configured since."""
    from sqlalchemy import update

    from paygate.demo import seed_demo

    async with stack.container.sessions() as session, session.begin():
        await session.execute(update(App).where(App.app_id == "demo").values(allowed_pay_types=["alipay.qr"]))
    await seed_demo(stack.container, stack.sandboxes)
    async with stack.container.sessions() as session:
        app = (await session.execute(select(App).where(App.app_id == "demo"))).scalar_one()
    assert set(app.allowed_pay_types) == set(stack.container.registry.pay_type_names)
    trade = await stack.client.pay(
        out_order_no=order_no("RS"), pay_type="wechat.native", amount=100, subject="x"
    )
    assert trade["state"] == "pending"


async def test_with_redis_unreachable_payments_go_on_and_health_says_degraded(
    db_url: str, data_dir: Path
) -> None:
    """R-PAY-7: the unique index is the last line; the database keeps the nonces (a replay is
    still refused) and /health reports why it is degraded."""
    import httpx

    from tests.support.servers import free_port

    settings = stack_settings(db_url, data_dir, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with running_stack(settings) as s:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{s.internal_url}/health")).json()["data"]["status"] == "up"
            order = order_no("D")
            results = await asyncio.gather(
                *(
                    s.client.pay(out_order_no=order, pay_type="alipay.qr", amount=100, subject="D")
                    for _ in range(4)
                ),
                return_exceptions=True,
            )
            assert len({r["trade_no"] for r in results if isinstance(r, dict)}) == 1
            assert await count(s, Trade, Trade.out_order_no == order) == 1
            health = (await http.get(f"{s.internal_url}/health")).json()["data"]
        assert health["status"] == "degraded"
        assert any("redis" in reason for reason in health["reasons"])
        assert await count(s, RequestNonce, RequestNonce.app_id == "demo") >= 4  # the fallback kept them


@pytest.mark.redis
async def test_a_change_in_one_process_drops_the_cached_view_in_another(db_url: str, data_dir: Path) -> None:
    """R-PAY-8 across processes: two containers (two processes' worth of caches) share the
    database and Redis; a trade closed through one is seen closed through the other at once,
    although the other cached it for 30 s."""
    require_service(6379, "Redis")
    from paygate.bootstrap import build_container
    from paygate.payments.commands import TradeRef

    settings = stack_settings(db_url, data_dir, redis_url=REDIS_URL, query_cache_seconds=30)
    async with running_stack(settings) as s:
        other = build_container(settings)
        await other.start()
        try:
            trade = await s.client.pay(
                out_order_no=order_no("X"), pay_type="alipay.qr", amount=100, subject="X"
            )
            ref = TradeRef(trade_no=trade["trade_no"])
            assert (await other.queries.query("demo", ref))["state"] == "pending"  # cached there now
            await s.client.close(trade_no=trade["trade_no"])  # changed through the first process

            async def seen_closed() -> bool:
                return (await other.queries.query("demo", ref))["state"] == "closed"

            await eventually(seen_closed, within=2.0)
        finally:
            await other.aclose()
