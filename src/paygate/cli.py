"""The ``paygate`` command (typer).

Commands that work on existing data (demo, sandbox credentials, app, account, operator,
refund) refuse with exit code 2 when the data directory is not initialised, rather than
quietly making new keys that the running server does not know. ``migrate``, ``demo seed`` and
``run`` may initialise it. ``paygate info`` says which directory is used.
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
operator_cli = typer.Typer(help="Operators: people with a role (viewer|approver|admin)", no_args_is_help=True)
refund_cli = typer.Typer(help="Refunds: the approval queue and operators' decisions", no_args_is_help=True)
events_cli = typer.Typer(
    help="Events told to apps and other services: list, show, re-send", no_args_is_help=True
)
cli.add_typer(demo_cli, name="demo")
cli.add_typer(sandbox_cli, name="sandbox")
cli.add_typer(app_cli, name="app")
cli.add_typer(account_cli, name="account")
cli.add_typer(operator_cli, name="operator")
cli.add_typer(refund_cli, name="refund")
cli.add_typer(events_cli, name="events")
reconcile_cli = typer.Typer(
    help="Reconciliation: run a channel account's day, see and resolve discrepancies, export",
    invoke_without_command=True,
)
cli.add_typer(reconcile_cli, name="reconcile")


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
    from paygate.migrations.runner import upgrade_sync

    settings = load_settings()
    upgrade_sync(settings.database_url)
    if settings.env != "production":
        settings.master_key_bytes()
        platform_private_key(settings.data_dir)
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
    configure_logging(settings.log_level, json_lines=settings.log_json)
    asyncio.run(serve(settings))


@demo_cli.command("seed")
def demo_seed() -> None:
    """Create the sandbox channel accounts and the demo app (idempotent)."""
    from paygate.demo import sandbox_host, seed_demo

    settings = load_settings()
    host = sandbox_host(settings)
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
    from paygate.sdk import PaygateClient

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
    from paygate.sdk import PaygateAPIError

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


@demo_cli.command("refund")
def demo_refund(
    trade_no: str,
    amount: int = typer.Option(..., help="minor units"),
    refund_no: str = typer.Option(
        "", "--out-refund-no", help="the app's refund number (default: a fresh one)"
    ),
    reason: str = typer.Option("", help="why"),
) -> None:
    """Refund (part of) a paid trade as the demo app."""
    from paygate.sdk import PaygateAPIError

    settings = _initialised_settings()

    async def go() -> Any:
        client = await _demo_client(settings)
        fields = {"reason": reason} if reason else {}
        try:
            return await client.refund(
                trade_no=trade_no,
                out_refund_no=refund_no or f"DEMO-RF-{int(time.time() * 1000)}",
                amount=amount,
                **fields,
            )
        except PaygateAPIError as exc:
            return {"errno": exc.errno, "error": exc.error, "msg": exc.msg, "data": exc.data}
        finally:
            await client.aclose()

    _print(asyncio.run(go()))


@demo_cli.command("query-refund")
def demo_query_refund(refund_no: str, sync: bool = typer.Option(False, help="ask the channel")) -> None:
    """Query a refund as the demo app."""

    settings = _initialised_settings()

    async def go() -> Any:
        client = await _demo_client(settings)
        try:
            return await client.query_refund(refund_no=refund_no, sync=sync)
        finally:
            await client.aclose()

    _print(asyncio.run(go()))


@sandbox_cli.command("credentials")
def sandbox_credentials(channel: str) -> None:
    """Print the sandbox's demo merchant credentials for CHANNEL as one JSON object."""
    from paygate import catalog
    from paygate.demo import sandbox_config
    from paygate.sandbox.app import load_sandbox

    settings = _initialised_settings(sandbox=True)
    classes = catalog.sandbox_classes(settings.channels)
    if channel not in classes:
        typer.echo(f"unknown sandbox {channel!r}; known: {', '.join(classes)}", err=True)
        raise typer.Exit(2)
    _print(load_sandbox(channel, sandbox_config(settings), classes).credentials())


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
    settings = _initialised_settings()
    public_key = open(public_key_file).read() if public_key_file else None

    async def go(container: Any) -> Any:
        types = [p for p in pay_types.split(",") if p] or container.registry.pay_type_names
        return await container.apps.create(
            app_id, name, types, public_key=public_key, notify_url=notify_url or None
        )

    _print(_run_or_refuse(settings, go))


@app_cli.command("bind")
def app_bind(
    app_id: str,
    account_id: int,
    priority: int = typer.Option(0, help="higher is preferred among the app's bound accounts"),
) -> None:
    """Serve APP_ID's payments of a channel from channel account ACCOUNT_ID (R-CH-3): once an
    app has bindings for a channel, only its bound accounts serve it."""

    async def go(container: Any) -> Any:
        await container.apps.bind(app_id, account_id, priority)
        return {"app_id": app_id, "account_id": account_id, "priority": priority}

    _print(_run_or_refuse(_initialised_settings(), go))


def _run_or_refuse(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``fn`` with a container; a refusal (bad input, unknown name) is printed with its
    stable code and exits 2, never a traceback."""
    from paygate.kit.errors import PaygateError

    try:
        return asyncio.run(_with_container(settings, fn))
    except PaygateError as exc:
        typer.echo(f"refused ({exc.code.name}): {exc.message}", err=True)
        raise typer.Exit(2) from None


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
    fee_fixed: int = typer.Option(
        0, help="fixed fee per payment, in minor units of --fee-currency (Stripe USD: 30)"
    ),
    fee_currency: str = typer.Option(
        "", help="currency of the fee terms (the settlement currency); only its lines are checked"
    ),
    timeout: float = typer.Option(10.0, help="HTTP timeout towards the channel, seconds"),
    priority: int = typer.Option(0, help="higher is preferred when several accounts serve a channel"),
) -> None:
    """Add a channel account; secrets are sealed with the master key and never printed. Refused
    at once when a secret or param is missing or unknown to the channel's adapter."""
    from paygate.accounts.channel_accounts import AccountSettings

    secrets, params = _pairs(secret, "--secret"), _pairs(param, "--param")

    async def go(container: Any) -> Any:
        account_id = await container.accounts.add(
            channel,
            name,
            merchant_id,
            gateway_url,
            secrets,
            AccountSettings(
                fee_rate_bp=fee_rate_bp,
                fee_fixed=fee_fixed,
                fee_currency=fee_currency.upper() or None,
                timeout_seconds=timeout,
                priority=priority,
                params=params,
            ),
        )
        return {
            "id": account_id,
            "channel": channel,
            "name": name,
            "merchant_id": merchant_id,
            "secrets": sorted(secrets),
            "notify_url": container.accounts.notify_url(channel, account_id),
        }

    _print(_run_or_refuse(_initialised_settings(), go))


@account_cli.command("list")
def account_list() -> None:
    """List channel accounts (secret names only, never their values)."""
    _print(asyncio.run(_with_container(_initialised_settings(), lambda c: c.accounts.describe_all())))


def _password(password_file: str, *, confirm: bool) -> str:
    """From a file (first line), else ``PAYGATE_OPERATOR_PASSWORD``, else a hidden prompt."""
    import os

    if password_file:
        with open(password_file) as fh:
            return fh.readline().rstrip("\n")
    from_env = os.environ.get("PAYGATE_OPERATOR_PASSWORD")
    if from_env:
        return from_env
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=confirm))


@operator_cli.command("add")
def operator_add(
    name: str,
    role: str = typer.Option(..., help="viewer | approver | admin"),
    password_file: str = typer.Option("", help="read the password from this file (else prompt)"),
) -> None:
    """Add an operator; the password is stored only as an Argon2id hash."""
    password = _password(password_file, confirm=True)

    async def go(container: Any) -> Any:
        who = await container.operators.add(name, role, password)
        return {"name": who.name, "role": who.role.value}

    _print(_run_or_refuse(_initialised_settings(), go))


@operator_cli.command("list")
def operator_list() -> None:
    """List operators: name, role, enabled, locked, last login (never a credential)."""
    _print(asyncio.run(_with_container(_initialised_settings(), lambda c: c.operators.describe_all())))


@operator_cli.command("disable")
def operator_disable(name: str) -> None:
    """Disable an operator: every credential of theirs is refused from now on."""

    async def go(container: Any) -> Any:
        await container.operators.set_enabled(name, False)
        return {"name": name, "enabled": False}

    _print(_run_or_refuse(_initialised_settings(), go))


@operator_cli.command("enable")
def operator_enable(name: str) -> None:
    """Enable an operator again (also clears a lock-out)."""

    async def go(container: Any) -> Any:
        await container.operators.set_enabled(name, True)
        return {"name": name, "enabled": True}

    _print(_run_or_refuse(_initialised_settings(), go))


async def _as_operator(container: Any, name: str, password: str) -> Any:
    return await container.operators.authenticate(name, password)


_OPERATOR = typer.Option(..., "--operator", help="your operator name (the password is asked)")
_PASSWORD_FILE = typer.Option("", help="read the password from this file")


@refund_cli.command("list")
def refund_list(
    state: str = typer.Option("", help="e.g. pending_approval (the approval queue), unknown, failed"),
    app_id: str = typer.Option("", help="one app's refunds only"),
    limit: int = typer.Option(50, min=1, max=500),
) -> None:
    """Refunds, newest first."""
    from paygate.domain.refunds import RefundState

    try:
        wanted = RefundState(state) if state else None
    except ValueError:
        typer.echo(f"unknown state {state!r}; states: {', '.join(RefundState)}", err=True)
        raise typer.Exit(2) from None
    _print(
        _run_or_refuse(
            _initialised_settings(),
            lambda c: c.refund_queries.listing(state=wanted, app_id=app_id or None, limit=limit),
        )
    )


@refund_cli.command("show")
def refund_show(refund_no: str) -> None:
    """One refund, as an operator sees it."""
    from paygate.refunds.commands import RefundRef

    _print(
        _run_or_refuse(_initialised_settings(), lambda c: c.refund_queries.query(None, RefundRef(refund_no)))
    )


def _decide(action: str, refund_no: str, operator: str, password_file: str, text: str) -> None:
    password = _password(password_file, confirm=False)

    async def go(container: Any) -> Any:
        who = await _as_operator(container, operator, password)
        decide = {
            "approve": container.refund_decisions.approve,
            "reject": container.refund_decisions.reject,
            "manual-payout": container.refund_decisions.manual_payout,
            "payout": container.refund_decisions.record_payout,
        }[action]
        return await decide(who, refund_no, text)

    _print(_run_or_refuse(_initialised_settings(), go))


@refund_cli.command("approve")
def refund_approve(
    refund_no: str,
    reason: str = typer.Option(..., help="why (kept with the refund)"),
    operator: str = _OPERATOR,
    password_file: str = _PASSWORD_FILE,
) -> None:
    """Approve a held refund (not one you requested): it goes to the channel."""
    _decide("approve", refund_no, operator, password_file, reason)


@refund_cli.command("reject")
def refund_reject(
    refund_no: str,
    reason: str = typer.Option(..., help="why (kept with the refund, the app is told)"),
    operator: str = _OPERATOR,
    password_file: str = _PASSWORD_FILE,
) -> None:
    """Reject a held refund (not one you requested): it ends and its amount is released."""
    _decide("reject", refund_no, operator, password_file, reason)


@refund_cli.command("manual-payout")
def refund_manual_payout(
    refund_no: str,
    reason: str = typer.Option(..., help="why the money goes back by hand"),
    operator: str = _OPERATOR,
    password_file: str = _PASSWORD_FILE,
) -> None:
    """Replace a refund the channel could not take (failed) by one paid out by hand."""
    _decide("manual-payout", refund_no, operator, password_file, reason)


@refund_cli.command("payout")
def refund_payout(
    refund_no: str,
    reference: str = typer.Option(..., help="the payout's reference (bank transfer id ...)"),
    operator: str = _OPERATOR,
    password_file: str = _PASSWORD_FILE,
) -> None:
    """Record that a manual payout was made: the refund succeeds."""
    _decide("payout", refund_no, operator, password_file, reference)


# ---------------------------------------------------------------- events and workers (R-NTF-5/6, R-OPS-3)


@cli.command()
def worker(
    jobs: str = typer.Option("", help="comma-separated job names (default: all registered ones)"),
    metrics_port: int = typer.Option(0, help="serve Prometheus /metrics of this worker on this port"),
) -> None:
    """Run the background jobs (event dispatch, broker relay, periodic jobs) without the API.
    Start as many as needed against one PostgreSQL or MariaDB; none does a job twice."""
    from paygate.kit.logging import configure_logging
    from paygate.server import run_worker

    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    names = {n.strip() for n in jobs.split(",") if n.strip()} or None
    if names is not None:
        known = set(asyncio.run(_with_container(settings, _job_names)))
        if names - known:
            typer.echo(
                f"refused (UNKNOWN_JOB): unknown job(s) {', '.join(sorted(names - known))}; "
                f"known: {', '.join(sorted(known))}",
                err=True,
            )
            raise typer.Exit(2)
    import uvloop  # uvicorn[standard] brings it; the same event loop as the API's

    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=settings.internal_host)

    uvloop.run(run_worker(settings, names))


async def _job_names(container: Any) -> list[str]:
    return list(container.jobs.names)


@app_cli.command("rotate-webhook-secret")
def app_rotate_webhook_secret(
    app_id: str,
    grace_hours: float = typer.Option(
        -1.0, help="how long the old secret still signs (default: PAYGATE_WEBHOOK_ROTATION_GRACE_HOURS)"
    ),
) -> None:
    """A new webhook secret for APP_ID, printed once. Until the grace period ends every
    notification carries two signatures (old and new secret), so the app can switch over."""
    from datetime import timedelta

    settings = load_settings()
    hours = settings.webhook_rotation_grace_hours if grace_hours < 0 else grace_hours

    async def go(container: Any) -> Any:
        return await container.apps.rotate_webhook_secret(app_id, timedelta(hours=hours))

    _print(_run_or_refuse(settings, go))


@events_cli.command("list")
def events_list(
    app: str = typer.Option("", "--app", help="only this app's events"),
    type_: str = typer.Option("", "--type", help="e.g. trade.succeeded"),
    trade: str = typer.Option("", "--trade", help="only events of this trade_no (or refund_no)"),
    delivery: str = typer.Option("", help="pending | succeeded | dead"),
    before: str = typer.Option("", help="page on: the 'next' of the previous page"),
    limit: int = typer.Option(50, help="1-500"),
) -> None:
    """Events, newest first, with how their delivery to the app stands."""

    async def go(container: Any) -> Any:
        return await container.events.list(
            app_id=app or None,
            type_=type_ or None,
            aggregate=trade or None,
            delivery=delivery or None,
            before=before or None,
            limit=limit,
        )

    _print(_run_or_refuse(load_settings(), go))


@events_cli.command("show")
def events_show(event_id: str) -> None:
    """One event as sent, its deliveries and every attempt (time, status, latency, answer)."""
    _print(_run_or_refuse(load_settings(), lambda c: c.events.show(event_id)))


@events_cli.command("resend")
def events_resend(
    event_id: str,
    actor: str = typer.Option("", "--as", help="who asks (the audit record); default cli:<user>"),
) -> None:
    """Deliver EVENT_ID to its app again, now (recorded in the audit record)."""
    import getpass

    who = actor or f"cli:{getpass.getuser()}"

    async def go(container: Any) -> Any:
        async def audit(name: str, action: str, target: str, refused: bool, detail: dict[str, Any]) -> None:
            await container.operators.audit(name, action, target, refused=refused, **detail)

        return await container.events.resend(event_id, who, audit)

    _print(_run_or_refuse(load_settings(), go))


@demo_cli.command("receiver")
def demo_receiver_cmd(
    port: int = typer.Option(0, help="default: PAYGATE_DEMO_RECEIVER_PORT (8002)"),
) -> None:
    """Run the demo app's notification receiver alone: it verifies each notification with the
    `standardwebhooks` package and prints it (`paygate run` starts it with the sandboxes)."""
    import uvicorn

    from paygate.bootstrap import build_container
    from paygate.demo import demo_receiver

    settings = load_settings()

    async def go() -> None:
        container = build_container(settings)
        try:
            receiver = demo_receiver(container, say=typer.echo)
            config = uvicorn.Config(
                receiver.asgi(),
                host=settings.demo_receiver_host,
                port=port or settings.demo_receiver_port,
                log_level="warning",
            )
            typer.echo(f"receiver: listening on http://{config.host}:{config.port}/webhooks")
            await uvicorn.Server(config).serve()
        finally:
            await container.aclose()

    asyncio.run(go())


# --------------------------------------------------------------------------- reconciliation


@reconcile_cli.callback()
def reconcile(
    ctx: typer.Context,
    channel: str = typer.Option("", help="alipay | wechatpay | stripe"),
    account: str = typer.Option("", help="the channel account's id or name (default: its only one)"),
    date: str = typer.Option("", "--date", help="the bill's day, YYYY-MM-DD (default: yesterday)"),
    again: bool = typer.Option(False, help="do a finished run again, from a fresh bill"),
    as_json: bool = typer.Option(False, "--json", help="print the run as JSON instead of a table"),
) -> None:
    """Reconcile a channel account's bill of one day (R-REC-1..4): a progress bar, then a
    summary table. Exit code 1 when discrepancies stay open, 2 when refused."""
    if ctx.invoked_subcommand is not None:
        return
    if not channel:
        typer.echo("give --channel (and --date; see paygate reconcile --help)", err=True)
        raise typer.Exit(2)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from paygate.reconciliation.console import parse_bill_date
    from paygate.reconciliation.windows import yesterday

    console = Console(stderr=True)

    async def go(container: Any) -> Any:
        chosen = await container.reconciler.pick_account(channel, account or None)
        from paygate.kit.clock import utc_now

        day = parse_bill_date(date) if date else yesterday(channel, utc_now())
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=as_json,
        ) as bar:
            tasks: dict[str, Any] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"{channel} {day} {stage}", total=max(total, 1))
                bar.update(tasks[stage], completed=done, total=max(total, 1))

            outcome = await container.reconciler.run(chosen.id, day, again=again, progress=progress)
        return await container.reconciliation.run(outcome.run_id)

    run = _run_or_refuse(load_settings(), go)
    if as_json:
        _print(run)
    else:
        _reconcile_table(run)
    if run["state"] != "done":
        typer.echo(f"run {run['run_id']}: {run['state']} {run.get('error') or ''}".rstrip(), err=True)
        raise typer.Exit(2)
    if (run.get("summary") or {}).get("open"):
        raise typer.Exit(1)


def _reconcile_table(run: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    summary = run.get("summary") or {}
    table = Table(title=f"reconciliation {run['run_id']}: {run['channel']} account {run['account_id']} "
                  f"{run['bill_date']} — {run['state']}")  # fmt: skip
    table.add_column("")
    table.add_column("", justify="right")
    rows = [
        ("bill lines", run["lines"]),
        ("matched", run["matched"]),
        ("discrepancies", run["discrepancies"]),
        ("  resolved automatically", run["auto_resolved"]),
        ("  waiting for the next bill", run["deferred"]),
        ("  open", summary.get("open", 0)),
    ]
    rows += [(f"  {kind}", n) for kind, n in sorted((summary.get("by_kind") or {}).items())]
    for s in run.get("settlements", []):
        rows.append((f"settlement {s['currency']}", f"{s['state']} (net {s['bill']['net']})"))
    raw = run["raw"]
    kept = f"{raw['name']} {raw['size']} B sha256 {str(raw['sha256'])[:12]}…"
    rows.append(("raw file", kept if raw.get("sha256") else "none (no bill kept)"))
    for stage, seconds in (summary.get("stages") or {}).items():
        rows.append((f"time: {stage}", f"{seconds:.3f} s"))
    for name, value in rows:
        table.add_row(name, str(value))
    Console().print(table)


@reconcile_cli.command("runs")
def reconcile_runs(
    account: int = typer.Option(0, help="one account's runs"),
    date: str = typer.Option("", "--date", help="YYYY-MM-DD"),
    limit: int = typer.Option(50, min=1, max=500),
) -> None:
    """Reconciliation runs, newest first (JSON)."""
    from paygate.reconciliation.console import parse_bill_date

    async def go(container: Any) -> Any:
        day = parse_bill_date(date) if date else None
        return await container.reconciliation.runs(account_id=account or None, bill_date=day, limit=limit)

    _print(_run_or_refuse(load_settings(), go))


@reconcile_cli.command("discrepancies")
def reconcile_discrepancies(
    state: str = typer.Option("open", help="open | deferred | resolved | all"),
    kind: str = typer.Option("", help="e.g. missing_at_paygate, amount_mismatch"),
    run: int = typer.Option(0, help="one run's"),
    after: int = typer.Option(0, help="page on: the 'next' of the previous page"),
    limit: int = typer.Option(50, min=1, max=500),
) -> None:
    """Discrepancies, oldest first (JSON): open ones by default."""

    async def go(container: Any) -> Any:
        return await container.reconciliation.discrepancies(
            state=None if state == "all" else state,
            kind=kind or None,
            run_id=run or None,
            after=after or None,
            limit=limit,
        )

    _print(_run_or_refuse(load_settings(), go))


@reconcile_cli.command("resolve")
def reconcile_resolve(
    discrepancy_id: int,
    reason: str = typer.Option(..., help="why (kept with the discrepancy, and audited)"),
    operator: str = _OPERATOR,
    password_file: str = _PASSWORD_FILE,
) -> None:
    """Resolve a discrepancy with a reason (approvers and admins)."""
    password = _password(password_file, confirm=False)

    async def go(container: Any) -> Any:
        who = await _as_operator(container, operator, password)
        return await container.reconciliation.resolve(who, discrepancy_id, reason)

    _print(_run_or_refuse(_initialised_settings(), go))


@reconcile_cli.command("export")
def reconcile_export(
    run_id: int, out: str = typer.Option("-", help="a file, or - for standard output")
) -> None:
    """A run's bill lines and what each matched, as CSV."""
    handle = sys.stdout if out == "-" else open(out, "w", newline="", encoding="utf-8")

    async def go(container: Any) -> int:
        lines = 0
        async for chunk in container.reconciliation.csv_pages(run_id):
            handle.write(chunk)
            lines += chunk.count("\n")
        return lines - 1

    try:
        written = _run_or_refuse(load_settings(), go)
    finally:
        if handle is not sys.stdout:
            handle.close()
    if out != "-":
        typer.echo(f"{written} lines written to {out}", err=True)


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
