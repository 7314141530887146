"""The demo set-up ``make run`` seeds: a sandbox account per channel and one demo app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from paygate import catalog
from paygate.accounts.channel_accounts import AccountSettings
from paygate.bootstrap import Container
from paygate.config import Settings
from paygate.demo_receiver import DemoReceiver
from paygate.sandbox.app import SandboxHost
from paygate.sandbox.base import SandboxConfig

__all__ = [
    "DEMO_APP_ID",
    "connect_sandboxes",
    "demo_credentials",
    "demo_receiver",
    "sandbox_config",
    "sandbox_host",
    "seed_demo",
]

DEMO_APP_ID = "demo"


def sandbox_config(settings: Settings) -> SandboxConfig:
    return SandboxConfig(
        base_url=settings.sandbox_base_url,
        data_dir=settings.data_dir / "sandbox",
        time_scale=settings.sandbox_time_scale,
    )


def sandbox_host(settings: Settings) -> SandboxHost:
    """The sandboxes of the enabled channels."""
    return SandboxHost(sandbox_config(settings), catalog.sandbox_classes(settings.channels))


async def seed_demo(container: Container, host: SandboxHost) -> dict[str, Any]:
    """Idempotent: creates what is missing; the demo app gains pay types configured since."""
    accounts: dict[str, int] = {}
    for entry in catalog.enabled(container.settings.channels):
        sandbox = host.sandboxes.get(entry.name)
        if sandbox is None:
            continue
        spec = entry.demo_account(sandbox.credentials())
        existing = await container.accounts.find(entry.name, spec.merchant_id)
        accounts[entry.name] = existing or await container.accounts.add(
            entry.name,
            f"{entry.name}-sandbox",
            spec.merchant_id,
            spec.gateway_url,
            spec.secrets,
            AccountSettings(
                params=spec.params,
                fee_rate_bp=spec.fee_rate_bp,
                fee_fixed=spec.fee_fixed,
                fee_currency=spec.fee_currency,
            ),
        )
    container.router.forget()
    pay_types = container.registry.pay_type_names
    if await container.apps.exists(DEMO_APP_ID):
        # the demo app may use every configured pay type, also ones added since it was made
        await container.apps.allow_pay_types(DEMO_APP_ID, pay_types)
    else:
        await container.apps.create(
            DEMO_APP_ID, "Demo shop", pay_types, notify_url=container.settings.demo_receiver_url
        )
    # apps made before notifications were delivered: a webhook secret, and the demo receiver
    await container.apps.ensure_webhook_secret(DEMO_APP_ID)
    if await container.apps.notify_url(DEMO_APP_ID) is None:
        await container.apps.set_notify_url(DEMO_APP_ID, container.settings.demo_receiver_url)
    return {"accounts": accounts, "app_id": DEMO_APP_ID}


def demo_receiver(container: Container, say: Callable[[str], None] | None = None) -> DemoReceiver:
    """The demo app's webhook endpoint; it reads the demo app's webhook secret itself and
    says what it got in the log (or through ``say``)."""
    log = structlog.get_logger("paygate.demo")
    return DemoReceiver(
        lambda: container.apps.reveal_webhook_secret(DEMO_APP_ID),
        say=say or (lambda line: log.info(line)),
    )


async def connect_sandboxes(container: Container, host: SandboxHost) -> None:
    """Settings a channel keeps on its side rather than per request: Stripe's webhook
    endpoint is configured once per account (in Stripe's dashboard; here, in the sandbox)."""
    for entry in catalog.enabled(container.settings.channels):
        sandbox = host.sandboxes.get(entry.name)
        configure = getattr(sandbox, "configure_webhook", None)
        if sandbox is None or configure is None:
            continue
        account_id = await container.accounts.find(
            entry.name, entry.demo_account(sandbox.credentials()).merchant_id
        )
        if account_id is not None:
            configure(container.accounts.notify_url(entry.name, account_id))


async def demo_credentials(container: Container) -> dict[str, Any]:
    secret = await container.apps.reveal_secret(DEMO_APP_ID)
    if secret is None:
        raise RuntimeError("the demo app is not seeded: run `paygate demo seed` (or make run)")
    return {
        "app_id": DEMO_APP_ID,
        "secret": secret,
        "sign_type": "HMAC-SHA256",
        "api_base": container.settings.internal_base_url,
        "webhook_secret": await container.apps.reveal_webhook_secret(DEMO_APP_ID),
        "notify_url": await container.apps.notify_url(DEMO_APP_ID),
    }
