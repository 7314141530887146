"""Creating apps and channel accounts (CLI, demo seed, tests). Secrets are sealed with the
master key before they reach the database (R-SEC-4) and returned to the caller only once."""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Iterable, Mapping
from typing import Any

from paygate.auth.apps import app_secret_aad
from paygate.auth.signing import HMAC_SHA256, RSA_SHA256
from paygate.bootstrap import Container
from paygate.kit.crypto import load_public_key
from paygate.models import App, ChannelAccountRow
from paygate.repositories import AppRepository, ChannelAccountRepository

__all__ = [
    "add_channel_account",
    "create_app",
    "find_channel_account",
    "list_channel_accounts",
    "reveal_app_secret",
]


async def create_app(
    container: Container,
    app_id: str,
    name: str,
    pay_types: Iterable[str],
    *,
    public_key: str | None = None,
    secret: str | None = None,
    notify_url: str | None = None,
) -> dict[str, Any]:
    """Register an app. Without ``public_key`` it signs with HMAC-SHA256 and a fresh
    secret (returned here, once); with one it signs with RSA-SHA256."""
    pay_types = sorted(set(pay_types))
    for pt in pay_types:
        container.registry.pay_type(pt)  # refuses unknown pay types
    if public_key:
        load_public_key(public_key)
        sign_type, sealed, secret = RSA_SHA256, None, None
    else:
        secret = secret or _secrets.token_urlsafe(32)
        sign_type, sealed = HMAC_SHA256, container.box.seal(secret, app_secret_aad(app_id))
    async with container.sessions() as session, session.begin():
        await AppRepository(session).add(
            App(
                app_id=app_id,
                name=name,
                sign_type=sign_type,
                secret_sealed=sealed,
                public_key=public_key,
                allowed_pay_types=pay_types,
                notify_url=notify_url,
                enabled=True,
                settings={},
            )
        )
    container.authenticator.forget(app_id)
    out: dict[str, Any] = {"app_id": app_id, "sign_type": sign_type, "pay_types": pay_types}
    if secret:
        out["secret"] = secret
    return out


async def reveal_app_secret(container: Container, app_id: str) -> str | None:
    async with container.sessions() as session:
        app = await AppRepository(session).get(app_id)
    if app is None or not app.secret_sealed:
        return None
    return container.box.open(app.secret_sealed, app_secret_aad(app_id)).reveal()


async def add_channel_account(
    container: Container,
    channel: str,
    name: str,
    merchant_id: str,
    gateway_url: str,
    secrets: Mapping[str, str],
    params: Mapping[str, Any] | None = None,
    *,
    fee_rate_bp: int = 0,
    timeout_seconds: float = 10.0,
    priority: int = 0,
) -> int:
    container.registry.adapter(channel)  # refuses unknown channels
    sealed = container.codec.seal_secrets(channel, merchant_id, secrets)
    async with container.sessions() as session, session.begin():
        row = await ChannelAccountRepository(session).add(
            ChannelAccountRow(
                channel=channel,
                name=name,
                merchant_id=merchant_id,
                gateway_url=gateway_url,
                secrets_sealed=sealed,
                params=dict(params or {}),
                fee_rate_bp=fee_rate_bp,
                timeout_seconds=timeout_seconds,
                priority=priority,
                enabled=True,
            )
        )
        account_id = row.id
    container.payments.refresh_routing()
    return account_id


async def find_channel_account(container: Container, channel: str, merchant_id: str) -> int | None:
    async with container.sessions() as session:
        row = await ChannelAccountRepository(session).by_merchant(channel, merchant_id)
        return row.id if row else None


async def list_channel_accounts(container: Container) -> list[dict[str, Any]]:
    """Every channel account as an operator may see it: no secret values."""
    out = []
    async with container.sessions() as session:
        rows = await ChannelAccountRepository(session).all()
    for row in rows:
        account = container.codec.to_account(row)
        out.append(
            {
                "id": row.id,
                "channel": row.channel,
                "name": row.name,
                "merchant_id": row.merchant_id,
                "gateway_url": row.gateway_url,
                "enabled": row.enabled,
                "priority": row.priority,
                "fee_rate_bp": row.fee_rate_bp,
                "params": dict(row.params or {}),
                "secrets": sorted(account.secrets),
                "notify_url": account.notify_url,
            }
        )
    return out
