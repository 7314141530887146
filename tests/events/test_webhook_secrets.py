"""Webhook secrets (R-SEC-1): shown once at app creation, sealed at rest, rotated with a grace
period during which notifications carry both signatures; RSA apps also get ``v1rsa``."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from paygate.domain.events import EventType
from paygate.events import record
from paygate.jobs import JobRunner
from paygate.kit import webhooks
from paygate.kit.crypto import generate_rsa_key, public_key_pem
from paygate.models import App
from paygate.repositories import UnitOfWork
from tests.support.helpers import eventually
from tests.support.receiver import Receiver, running_receiver
from tests.support.stack import Stack


async def emit(stack: Stack, app_id: str, url: str, aggregate: str) -> str:
    async def unit(uow: UnitOfWork) -> str:
        return await record(
            uow, EventType.TRADE_CLOSED, aggregate=aggregate, app_id=app_id, data={"x": 1}, notify_url=url
        )

    return await stack.container.db.run(unit)


async def acked(app: Receiver, n: int = 1) -> bool:
    return len(app.acknowledged()) >= n


async def test_the_secret_is_shown_once_and_sealed_at_rest(events_stack: Stack) -> None:
    created = await events_stack.container.apps.create("shop1", "Shop", ["alipay.qr"])
    secret = created["webhook_secret"]
    assert secret.startswith("whsec_")
    async with events_stack.container.sessions() as s:
        row = (await s.execute(select(App).where(App.app_id == "shop1"))).scalar_one()
    assert row.webhook_secret_sealed and secret not in row.webhook_secret_sealed
    assert row.webhook_secret_sealed.startswith("v1:")


async def test_a_rotation_signs_with_both_secrets_for_the_grace_period(
    events_stack: Stack, dispatcher: JobRunner
) -> None:
    stack = events_stack
    apps = stack.container.apps
    old = stack.credentials["webhook_secret"]
    rotated = await apps.rotate_webhook_secret("demo", timedelta(hours=1))
    new = rotated["webhook_secret"]
    assert new != old and rotated["previous_valid_until"]
    async with running_receiver([old]) as only_old, running_receiver([new]) as only_new:
        await emit(stack, "demo", only_old.url, "T-ROT-1")
        await emit(stack, "demo", only_new.url, "T-ROT-2")
        await eventually(lambda: acked(only_old))
        await eventually(lambda: acked(only_new))
        header = only_new.got[0].headers["webhook-signature"]
        assert len(header.split(" ")) == 2
    # no grace: the old secret stops at once
    await apps.rotate_webhook_secret("demo", timedelta(0))
    newest = await apps.reveal_webhook_secret("demo")
    assert newest not in (old, new)
    async with running_receiver([new]) as stale, running_receiver([newest or ""]) as fresh:
        await emit(stack, "demo", fresh.url, "T-ROT-3")
        await eventually(lambda: acked(fresh))
        await emit(stack, "demo", stale.url, "T-ROT-4")
        await eventually(lambda: _refused(stale))
        assert all(not r.verified for r in stale.got)


async def _refused(app: Receiver) -> bool:
    return any(not r.verified for r in app.got)


async def test_an_rsa_app_also_gets_a_v1rsa_signature_by_the_platform_key(
    events_stack: Stack, dispatcher: JobRunner
) -> None:
    stack = events_stack
    created = await stack.container.apps.create(
        "erp1", "ERP", ["alipay.qr"], public_key=public_key_pem(generate_rsa_key())
    )
    async with httpx.AsyncClient() as http:
        platform = (await http.get(f"{stack.internal_url}/platform/public-key")).json()["data"]["public_key"]
    async with running_receiver([created["webhook_secret"]]) as app:
        await emit(stack, "erp1", app.url, "T-RSA-1")
        await eventually(lambda: acked(app))
        got = app.got[0]
        header = got.headers["webhook-signature"]
        assert [p.split(",")[0] for p in header.split(" ")] == ["v1", "v1rsa"]
        ts = int(got.headers["webhook-timestamp"])
        assert webhooks.verify(header, got.event_id, ts, got.body, public_key_pem=platform)
