"""The demo set-up ``make run`` seeds: a sandbox account per channel and one demo app."""

from __future__ import annotations

from typing import Any

from paygate.bootstrap import Container
from paygate.config import Settings
from paygate.provisioning import add_channel_account, create_app, find_channel_account, reveal_app_secret
from paygate.repositories import AppRepository
from paygate.sandbox.app import SandboxHost
from paygate.sandbox.base import SandboxConfig

__all__ = ["DEMO_APP_ID", "connect_sandboxes", "demo_credentials", "sandbox_config", "seed_demo"]

DEMO_APP_ID = "demo"


def sandbox_config(settings: Settings) -> SandboxConfig:
    return SandboxConfig(
        base_url=settings.sandbox_base_url,
        data_dir=settings.data_dir / "sandbox",
        time_scale=settings.sandbox_time_scale,
    )


def _alipay_account(creds: dict[str, Any]) -> dict[str, Any]:
    return {
        "merchant_id": creds["app_id"],
        "gateway_url": creds["gateway_url"],
        "secrets": {
            "app_private_key": creds["app_private_key"],
            "alipay_public_key": creds["alipay_public_key"],
        },
        "params": {"seller_id": creds["seller_id"], "sign_type": "RSA2"},
    }


def _wechatpay_account(creds: dict[str, Any]) -> dict[str, Any]:
    return {
        "merchant_id": creds["mchid"],
        "gateway_url": creds["base_url"],
        "secrets": {
            "merchant_private_key": creds["merchant_private_key"],
            "apiv3_key": creds["apiv3_key"],
            "platform_public_key": creds["platform_public_key"],
        },
        "params": {
            "appid": creds["appid"],
            "merchant_serial_no": creds["merchant_serial_no"],
            "platform_public_key_id": creds["platform_public_key_id"],
        },
    }


def _stripe_account(creds: dict[str, Any]) -> dict[str, Any]:
    return {
        "merchant_id": "acct_sandbox",
        "gateway_url": creds["api_base"],
        "secrets": {"secret_key": creds["secret_key"], "webhook_secret": creds["webhook_secret"]},
        "params": {},
    }


#: channel → how its sandbox credentials become a paygate channel account.
ACCOUNT_BUILDERS = {
    "alipay": _alipay_account,
    "wechatpay": _wechatpay_account,
    "stripe": _stripe_account,
}


async def seed_demo(container: Container, host: SandboxHost) -> dict[str, Any]:
    """Idempotent: creates what is missing; the demo app gains pay types configured since."""
    accounts: dict[str, int] = {}
    for channel, sandbox in host.sandboxes.items():
        builder = ACCOUNT_BUILDERS.get(channel)
        if builder is None or channel not in container.registry.channels:
            continue
        spec = builder(sandbox.credentials())
        existing = await find_channel_account(container, channel, spec["merchant_id"])
        accounts[channel] = existing or await add_channel_account(
            container,
            channel,
            f"{channel}-sandbox",
            spec["merchant_id"],
            spec["gateway_url"],
            spec["secrets"],
            spec["params"],
        )
    pay_types = container.registry.pay_type_names
    async with container.sessions() as session, session.begin():
        app = await AppRepository(session).get(DEMO_APP_ID)
        if app is not None and set(app.allowed_pay_types or []) != set(pay_types):
            # the demo app may use every configured pay type, also ones added since it was made
            app.allowed_pay_types = sorted(set(app.allowed_pay_types or []) | set(pay_types))
    if app is None:
        await create_app(container, DEMO_APP_ID, "Demo shop", pay_types)
    container.authenticator.forget(DEMO_APP_ID)
    return {"accounts": accounts, "app_id": DEMO_APP_ID}


async def connect_sandboxes(container: Container, host: SandboxHost) -> None:
    """Settings a channel keeps on its side rather than per request: Stripe's webhook
    endpoint is configured once per account (in Stripe's dashboard; here, in the sandbox)."""
    for channel, sandbox in host.sandboxes.items():
        configure = getattr(sandbox, "configure_webhook", None)
        builder = ACCOUNT_BUILDERS.get(channel)
        if configure is None or builder is None or channel not in container.registry.channels:
            continue
        account_id = await find_channel_account(
            container, channel, builder(sandbox.credentials())["merchant_id"]
        )
        if account_id is not None:
            configure(container.codec.notify_url(channel, account_id))


async def demo_credentials(container: Container) -> dict[str, Any]:
    secret = await reveal_app_secret(container, DEMO_APP_ID)
    if secret is None:
        raise RuntimeError("the demo app is not seeded: run `paygate demo seed` (or make run)")
    return {
        "app_id": DEMO_APP_ID,
        "secret": secret,
        "sign_type": "HMAC-SHA256",
        "api_base": container.settings.internal_base_url,
    }
