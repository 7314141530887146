"""The ``paygate`` command (typer).

Commands that work on existing data (demo credentials/pay/query, sandbox credentials, app
create, account add/list) refuse with exit code 2 when the data directory is not initialised,
rather than quietly making new keys that the running server does not know. ``migrate``,
``demo seed`` and ``run`` may initialise it. ``paygate info`` says which directory is used.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from paygate.config import Settings, load_settings

T = TypeVar("T")

cli = typer.Typer(help="paygate: a payment middle platform", no_args_is_help=True)
demo_cli = typer.Typer(help="The demo app and a walk through a payment", no_args_is_help=True)
sandbox_cli = typer.Typer(help="The channel sandboxes", no_args_is_help=True)
app_cli = typer.Typer(help="Apps (business systems calling paygate)", no_args_is_help=True)
account_cli = typer.Typer(help="Channel accounts (merchant credentials at a channel)", no_args_is_help=True)
cli.add_typer(demo_cli, name="demo")
cli.add_typer(sandbox_cli, name="sandbox")
cli.add_typer(app_cli, name="app")
cli.add_typer(account_cli, name="account")


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=None))


def _initialised_settings(*, sandbox: bool = False) -> Settings:
    """The settings, once sure their data directory holds the data this command needs."""
    settings = load_settings()
    missing = settings.missing_data(sandbox=sandbox)
    if missing:
        typer.echo(
            f"paygate: no initialised data in {settings.data_dir} (missing: {', '.join(missing)}).\n"
            "Point PAYGATE_DATA_DIR at the data directory of the paygate you mean (the one "
            "`paygate run` uses; `paygate info` shows the current one), or initialise this one "
            "with `paygate migrate` and `paygate demo seed` (`make run` does both).",
            err=True,
        )
        raise typer.Exit(2)
    return settings


async def _with_container(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    from paygate.bootstrap import build_container

    container = build_container(settings)
    try:
        return await fn(container)
    finally:
        await container.aclose()


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic); in dev, also make the data
    directory's master key and platform key if they are missing."""
    from paygate.kit.keys import platform_private_key
    from paygate.kit.migrate import upgrade_sync

    settings = load_settings()
    upgrade_sync(settings.database_url)
    if settings.env != "production":
        settings.master_key_bytes()
        platform_private_key(settings)
    typer.echo(f"migrated {settings.database_url.split('@')[-1]} (data: {settings.data_dir})")


@cli.command()
def info() -> None:
    """Print the data directory and database in use, and whether they are initialised."""
    settings = load_settings()
    missing = settings.missing_data(sandbox=settings.sandbox_enabled)
    _print(
        {
            "data_dir": str(settings.data_dir),
            "data_dir_from": "PAYGATE_DATA_DIR" if os.environ.get("PAYGATE_DATA_DIR") else "default",
            "database": settings.database_url.split("@")[-1],
            "initialised": not missing,
            "missing": missing,
        }
    )


@cli.command()
def run() -> None:
    """Start the internal API, the public callback listener, the sandboxes and workers."""
    from paygate.kit.logging import configure_logging
    from paygate.server import serve

    settings = load_settings()
    configure_logging(settings)
    asyncio.run(serve(settings))


@demo_cli.command("seed")
def demo_seed() -> None:
    """Create the sandbox channel accounts and the demo app (idempotent)."""
    from paygate.demo import sandbox_config, seed_demo
    from paygate.sandbox.app import SandboxHost

    settings = load_settings()
    host = SandboxHost(sandbox_config(settings))
    _print(asyncio.run(_with_container(settings, lambda c: seed_demo(c, host))))


@demo_cli.command("credentials")
def demo_credentials() -> None:
    """Print the demo app's id, secret and API base URL as one JSON object."""
    _print(asyncio.run(_demo_credentials(_initialised_settings())))


async def _demo_credentials(settings: Settings) -> dict[str, Any]:
    from paygate.demo import demo_credentials as creds

    try:
        return await _with_container(settings, creds)
    except RuntimeError as exc:  # not seeded
        typer.echo(f"paygate: {exc} (data: {settings.data_dir})", err=True)
        raise typer.Exit(2) from None


async def _demo_client(settings: Settings) -> Any:
    from paygate.client import PaygateClient

    c = await _demo_credentials(settings)
    return PaygateClient(c["api_base"], c["app_id"], secret=c["secret"])


@demo_cli.command("pay")
def demo_pay(
    pay_type: str = typer.Option("alipay.qr", help="e.g. alipay.qr, alipay.page"),
    amount: int = typer.Option(1999, help="minor units"),
    currency: str = typer.Option("CNY"),
    subject: str = typer.Option("Demo order"),
    order: str = typer.Option("", help="out_order_no (default: a fresh one)"),
    auth_code: str = typer.Option("", help="barcode: the buyer's auth code"),
    buyer_id: str = typer.Option("", help="alipay.jsapi: the buyer's id"),
    openid: str = typer.Option("", help="wechat.jsapi: the payer's openid"),
    payment_method: str = typer.Option(
        "", help="stripe.card: e.g. pm_card_visa, pm_card_authenticationRequired"
    ),
    client_ip: str = typer.Option("", help="wechat.h5: the payer's IP address"),
) -> None:
    """Pay through the internal API as the demo app; prints the trade and its pay data."""
    from paygate.client import PaygateAPIError

    settings = _initialised_settings()

    async def go() -> Any:
        client = await _demo_client(settings)
        given = {
            "auth_code": auth_code,
            "buyer_id": buyer_id,
            "openid": openid,
            "payment_method": payment_method,
        }
        extra = {k: v for k, v in given.items() if v}
        fields: dict[str, Any] = {"client_ip": client_ip} if client_ip else {}
        try:
            return await client.pay(
                out_order_no=order or f"DEMO-{int(time.time() * 1000)}",
                pay_type=pay_type,
                amount=amount,
                currency=currency,
                subject=subject,
                extra=extra,
                **fields,
            )
        except PaygateAPIError as exc:
            return {"errno": exc.errno, "error": exc.error, "msg": exc.msg, "data": exc.data}
        finally:
            await client.aclose()

    _print(asyncio.run(go()))


@demo_cli.command("query")
def demo_query(trade_no: str, sync: bool = typer.Option(False, help="ask the channel")) -> None:
    """Query a trade as the demo app."""
    settings = _initialised_settings()

    async def go() -> Any:
        client = await _demo_client(settings)
        try:
            return await client.query_trade(trade_no=trade_no, sync=sync)
        finally:
            await client.aclose()

    _print(asyncio.run(go()))


@sandbox_cli.command("credentials")
def sandbox_credentials(channel: str) -> None:
    """Print the sandbox's demo merchant credentials for CHANNEL as one JSON object."""
    from paygate.demo import sandbox_config
    from paygate.sandbox.app import DEFAULT_SANDBOXES, load_sandbox

    if channel not in DEFAULT_SANDBOXES:
        typer.echo(f"unknown sandbox {channel!r}; known: {', '.join(DEFAULT_SANDBOXES)}", err=True)
        raise typer.Exit(2)
    _print(load_sandbox(channel, sandbox_config(_initialised_settings(sandbox=True))).credentials())


@sandbox_cli.command("pay")
def sandbox_pay(
    channel: str,
    trade: str = typer.Argument(..., help="out_trade_no, or the QR code / pay URL the sandbox issued"),
    fail: bool = typer.Option(False, "--fail", help="the payment fails"),
    cancel: bool = typer.Option(False, "--cancel", help="the buyer cancels"),
) -> None:
    """Complete TRADE as the buyer would (or fail / cancel it) in the running sandbox."""
    import httpx

    settings = load_settings()
    outcome = "fail" if fail else "cancel" if cancel else "pay"
    url = f"{settings.sandbox_base_url}/{channel}/_sandbox/pay"
    try:
        response = httpx.post(url, json={"trade": trade, "outcome": outcome}, timeout=15)
    except httpx.HTTPError as exc:
        typer.echo(
            f"the sandbox at {settings.sandbox_base_url} is not reachable ({exc}); is `make run` up?",
            err=True,
        )
        raise typer.Exit(1) from None
    typer.echo(response.text)
    if response.status_code >= 400:
        raise typer.Exit(1)


@app_cli.command("create")
def app_create(
    app_id: str,
    name: str = typer.Option(..., help="display name"),
    pay_types: str = typer.Option("", help="comma-separated; default: all configured"),
    public_key_file: str = typer.Option("", help="PEM public key: the app signs with RSA-SHA256"),
    notify_url: str = typer.Option(""),
) -> None:
    """Register an app; prints its credentials (the HMAC secret is shown only here)."""
    from paygate.provisioning import create_app

    settings = _initialised_settings()
    public_key = open(public_key_file).read() if public_key_file else None

    async def go(container: Any) -> Any:
        types = [p for p in pay_types.split(",") if p] or container.registry.pay_type_names
        return await create_app(
            container, app_id, name, types, public_key=public_key, notify_url=notify_url or None
        )

    _print(asyncio.run(_with_container(settings, go)))


def _pairs(items: list[str], what: str) -> dict[str, str]:
    """``name=value`` or ``name=@file`` (the file's content, for keys)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            typer.echo(f"{what} must look like name=value or name=@file: {item!r}", err=True)
            raise typer.Exit(2)
        if value.startswith("@"):
            with open(value[1:]) as fh:
                value = fh.read()
        out[name] = value
    return out


@account_cli.command("add")
def account_add(
    channel: str,
    name: str = typer.Option(..., help="display name"),
    merchant_id: str = typer.Option(..., help="Alipay app_id, WeChat mchid, Stripe account id"),
    gateway_url: str = typer.Option(..., help="the channel's API base or gateway URL"),
    secret: list[str] = typer.Option([], help="secret as name=value or name=@file (repeat)"),
    param: list[str] = typer.Option([], help="non-secret setting as name=value (repeat)"),
    fee_rate_bp: int = typer.Option(0, help="fee rate in basis points (0.6% = 60)"),
    timeout: float = typer.Option(10.0, help="HTTP timeout towards the channel, seconds"),
    priority: int = typer.Option(0, help="higher is preferred when several accounts serve a channel"),
) -> None:
    """Add a channel account; secrets are sealed with the master key and never printed."""
    from paygate.provisioning import add_channel_account

    settings = _initialised_settings()
    secrets, params = _pairs(secret, "--secret"), _pairs(param, "--param")

    async def go(container: Any) -> Any:
        account_id = await add_channel_account(
            container,
            channel,
            name,
            merchant_id,
            gateway_url,
            secrets,
            params,
            fee_rate_bp=fee_rate_bp,
            timeout_seconds=timeout,
            priority=priority,
        )
        return {
            "id": account_id,
            "channel": channel,
            "name": name,
            "merchant_id": merchant_id,
            "secrets": sorted(secrets),
            "notify_url": container.codec.notify_url(channel, account_id),
        }

    _print(asyncio.run(_with_container(settings, go)))


@account_cli.command("list")
def account_list() -> None:
    """List channel accounts (secret names only, never their values)."""
    from paygate.provisioning import list_channel_accounts

    _print(asyncio.run(_with_container(_initialised_settings(), list_channel_accounts)))


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
