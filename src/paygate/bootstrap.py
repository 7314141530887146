"""Wiring: builds every long-lived object from :class:`~paygate.config.Settings`, once, and
gives each what it needs — nothing reaches back into a container for its parts.

Nothing here runs at import time; :func:`build_container` is called by the CLI, the ASGI
factories, ``paygate run`` and the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from paygate import catalog
from paygate.accounts.apps import AppDirectory
from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.api.console import ConsoleServices
from paygate.api.internal import ApiLimits, InternalServices
from paygate.api.public import PublicServices
from paygate.auth.apps import AppAuthenticator
from paygate.auth.nonces import DatabaseNonces, NonceStore, RedisNonces
from paygate.callbacks.notifications import ChannelNotifications
from paygate.callbacks.returns import PayerReturns
from paygate.cashier import Cashier
from paygate.channels.gateway import ChannelGateway
from paygate.channels.registry import ChannelRegistry
from paygate.channels.resilience import ChannelGuard
from paygate.config import Settings
from paygate.console.dashboard import Dashboard
from paygate.console.reads import ConsoleReads
from paygate.console.sessions import ConsoleSessions
from paygate.domain.events import DEFAULT_RETRY_SCHEDULE
from paygate.events.console import EventConsole
from paygate.events.dispatch import Dispatcher, DispatchSettings
from paygate.events.relay import BrokerRelay
from paygate.events.sender import AiohttpSender
from paygate.jobs import JobRegistry, JobRunner
from paygate.jobs.housekeeping import PurgeExpiredNonces
from paygate.jobs.runner import worker_id
from paygate.kit.crypto import SecretBox
from paygate.kit.db import create_engine, create_sessionmaker
from paygate.kit.failpoints import Failpoints
from paygate.kit.invalidation import InvalidationBus, RedisInvalidationBus
from paygate.kit.keys import platform_private_key, platform_public_key
from paygate.kit.locks import LockProvider, NullLocks, RedisLocks
from paygate.kit.redis_batch import RedisBatcher
from paygate.kit.shutdown import DEFAULT_STEP_SECONDS, stop_within
from paygate.operators.directory import OperatorDirectory
from paygate.payments.after_commit import AfterCommit
from paygate.payments.closing import TradeCloser
from paygate.payments.compensation import TradeChecks
from paygate.payments.creating import PaymentCreator
from paygate.payments.query_cache import TradeQueryCache
from paygate.payments.querying import TradeQueries
from paygate.payments.routing import Router
from paygate.payments.syncing import ChannelSync
from paygate.reconciliation.console import ConsoleView, ReconciliationConsole
from paygate.reconciliation.daily import DailyReconciliation
from paygate.reconciliation.resolving import AutoResolver
from paygate.reconciliation.running import Reconciler
from paygate.refunds.approval import ApprovalPolicy, ApprovalRule
from paygate.refunds.compensation import OpenItemsSweep, RefundChecks
from paygate.refunds.creating import RefundCreator
from paygate.refunds.deciding import RefundDecisions
from paygate.refunds.querying import RefundQueries
from paygate.refunds.sending import RefundSender
from paygate.refunds.syncing import RefundSync
from paygate.refunds.system import SystemRefunds
from paygate.repositories import Database
from paygate.workers.call_log import CallLogWriter

__all__ = ["Container", "build_container"]


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]  # for tests and tools that inspect the database
    db: Database
    box: SecretBox
    http: httpx.AsyncClient
    registry: ChannelRegistry
    guard: ChannelGuard
    gateway: ChannelGateway
    accounts: ChannelAccounts
    apps: AppDirectory
    authenticator: AppAuthenticator
    locks: LockProvider
    nonces: NonceStore
    cache: TradeQueryCache
    after_commit: AfterCommit
    router: Router
    sync: ChannelSync
    creator: PaymentCreator
    queries: TradeQueries
    closer: TradeCloser
    notifications: ChannelNotifications
    returns: PayerReturns
    call_log: CallLogWriter
    operators: OperatorDirectory
    refund_sender: RefundSender
    refund_sync: RefundSync
    refund_creator: RefundCreator
    refund_queries: RefundQueries
    refund_decisions: RefundDecisions
    system_refunds: SystemRefunds
    trade_checks: TradeChecks
    refund_checks: RefundChecks
    open_items_sweep: OpenItemsSweep
    reconciler: Reconciler
    reconciliation: ReconciliationConsole
    platform_key: str
    bus: InvalidationBus
    webhook_sender: AiohttpSender  # notifications to apps: a pool apart from the channels'
    events: EventConsole
    cashier: Cashier
    jobs: JobRegistry
    owner: str  # names this process where it holds leases (host:pid:random)
    replica_engine: AsyncEngine | None = None  # bulk reads (R-REC-5) when a replica is configured
    publisher: Any = None  # paygate.broker.amqp.AmqpPublisher when PAYGATE_BROKER_URL is set
    redis: Any = None

    async def start(self) -> None:
        await self.call_log.start()
        await self.bus.start()

    def job_runner(self, names: set[str] | None = None) -> JobRunner:
        """The background jobs of this process (all registered ones, or those named)."""
        return JobRunner(self.db, self.jobs.select(names), owner=self.owner)

    async def aclose(self) -> None:
        """Each step bounded (kit.shutdown): a stuck pool or client is abandoned, not awaited for ever."""
        await stop_within(self.bus.stop(), DEFAULT_STEP_SECONDS, "cache invalidation bus")
        await self.call_log.stop()
        await stop_within(self.registry.aclose(), DEFAULT_STEP_SECONDS, "channel adapters")
        await stop_within(self.http.aclose(), DEFAULT_STEP_SECONDS, "channel HTTP client")
        await stop_within(self.webhook_sender.aclose(), DEFAULT_STEP_SECONDS, "webhook sender")
        if self.publisher is not None:
            await stop_within(self.publisher.close(), DEFAULT_STEP_SECONDS, "broker publisher")
        if self.redis is not None:
            await stop_within(self.redis.aclose(), DEFAULT_STEP_SECONDS, "redis")
        await stop_within(self.engine.dispose(), DEFAULT_STEP_SECONDS, "database pool")
        if self.replica_engine is not None:
            await stop_within(self.replica_engine.dispose(), DEFAULT_STEP_SECONDS, "replica pool")

    def health(self) -> dict[str, Any]:
        """``up``, or ``degraded`` with the reasons (paygate still serves, with less)."""
        reasons = [
            f"{name} unreachable: the database is the fallback"
            for name, part in (("redis locks", self.locks), ("redis nonces", self.nonces))
            if getattr(part, "degraded_since", None) is not None
        ]
        return {
            "status": "degraded" if reasons else "up",
            "reasons": reasons,
            "breakers": self.guard.states(),
        }

    def internal_services(self) -> InternalServices:
        s = self.settings
        return InternalServices(
            limits=ApiLimits(s.max_body_bytes, list(s.internal_allow), list(s.trusted_proxies)),
            authenticator=self.authenticator,
            call_log=self.call_log,
            creator=self.creator,
            queries=self.queries,
            closer=self.closer,
            platform_public_key=platform_public_key(self.platform_key),
            health=self.health,
            operators=self.operators,
            refund_creator=self.refund_creator,
            refund_queries=self.refund_queries,
            refund_decisions=self.refund_decisions,
            events=self.events,
            cashier=self.cashier,
            console=self.console_services(),
            reconciliation=self.reconciliation,
            channels=frozenset(self.registry.channels),
        )

    def console_services(self) -> ConsoleServices:
        s = self.settings
        return ConsoleServices(
            sessions=ConsoleSessions(self.db, self.operators, minutes=s.console_session_minutes),
            reads=ConsoleReads(self.db, self.events),
            dashboard=Dashboard(self.db),
            directory=self.operators,
            refund_queries=self.refund_queries,
            refund_decisions=self.refund_decisions,
            events=self.events,
            accounts=self.accounts,
            cookie_secure=s.console_cookie_secure,
            reconciliation=ConsoleView(self.reconciliation),
        )

    def public_services(self) -> PublicServices:
        return PublicServices(
            channels=frozenset(self.registry.channels),
            max_body_bytes=self.settings.max_body_bytes,
            notifications=self.notifications,
            returns=self.returns,
            cashier=self.cashier,
        )


def build_container(settings: Settings) -> Container:
    engine = create_engine(
        settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_overflow
    )
    sessions = create_sessionmaker(engine)
    db = Database(sessions)
    box = SecretBox(settings.master_key_bytes())
    http = httpx.AsyncClient(
        timeout=settings.channel_timeout_seconds,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )
    registry = ChannelRegistry(catalog.adapter_entries(settings.channels), http=http)
    guard = ChannelGuard(
        settings.breaker_failure_threshold,
        settings.breaker_reset_seconds,
        max_in_flight=settings.channel_max_in_flight,
        queue_seconds=settings.channel_queue_seconds,
    )
    gateway = ChannelGateway(registry, guard)
    accounts = ChannelAccounts(db, box, registry, settings.public_base_url)
    redis = None
    locks: LockProvider = NullLocks()
    nonces: NonceStore = DatabaseNonces(db, settings.sign_window_seconds)
    if settings.redis_url:
        import redis.asyncio as aioredis

        redis = aioredis.from_url(settings.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
        locks = RedisLocks(redis)
        nonces = RedisNonces(RedisBatcher(redis), settings.sign_window_seconds, fallback=nonces)
    platform_key = platform_private_key(settings.data_dir, production=settings.env == "production")
    authenticator = AppAuthenticator(db, box, nonces, platform_key, settings.sign_window_seconds)
    app_listeners: list[Callable[[str], None]] = [authenticator.forget]

    def app_changed(app_id: str) -> None:
        for listener in app_listeners:
            listener(app_id)

    apps = AppDirectory(db, box, registry, on_change=app_changed)
    bus: InvalidationBus = InvalidationBus() if redis is None else RedisInvalidationBus(redis)
    cache = TradeQueryCache(settings.query_cache_seconds, bus=bus)
    after_commit = AfterCommit(cache)
    router = Router(db, accounts, gateway)
    sync = ChannelSync(db, accounts, gateway, after_commit)
    failpoints = Failpoints(settings.failpoints)
    creator = PaymentCreator(
        db,
        router,
        gateway,
        locks,
        after_commit,
        default_expire_minutes=settings.default_expire_minutes,
        max_expire_minutes=settings.max_expire_minutes,
        failpoints=failpoints,
    )
    operators = OperatorDirectory(db)
    closer = TradeCloser(db, accounts, gateway, sync, after_commit, failpoints)
    refund_sender = RefundSender(db, accounts, gateway, after_commit)
    refund_sync = RefundSync(db, accounts, gateway, refund_sender)
    policy = ApprovalPolicy([ApprovalRule(**rule.model_dump()) for rule in settings.refund_approval_rules])
    system_refunds = SystemRefunds(db, refund_sender, after_commit)
    trade_checks = TradeChecks(
        db, sync, closer, schedules=settings.check_schedules, lease_seconds=settings.check_lease_seconds
    )
    refund_checks = RefundChecks(
        db, refund_sync, schedules=settings.check_schedules, lease_seconds=settings.check_lease_seconds
    )
    open_items_sweep = OpenItemsSweep(db)
    queries = TradeQueries(db, cache, sync)
    cashier = Cashier(
        db,
        creator,
        queries,
        authenticator,
        gateway,
        public_base_url=settings.public_base_url,
        default_expire_minutes=settings.default_expire_minutes,
        max_expire_minutes=settings.max_expire_minutes,
    )
    owner = worker_id()
    reconciler = Reconciler(
        db,
        accounts,
        gateway,
        AutoResolver(db, sync, refund_sync),
        data_dir=settings.data_dir,
        owner=owner,
        cutoff=timedelta(minutes=settings.recon_cutoff_minutes),
        lease=timedelta(seconds=settings.recon_lease_seconds),
        retry=timedelta(seconds=settings.recon_retry_seconds),
    )
    webhook_sender = AiohttpSender(
        concurrency=settings.event_concurrency, timeout_seconds=settings.event_timeout_seconds
    )
    jobs = JobRegistry()
    dispatcher = Dispatcher(
        db,
        webhook_sender,
        apps.webhook_keys,
        platform_key,
        DispatchSettings(
            timeout_seconds=settings.event_timeout_seconds,
            batch_size=settings.event_batch_size,
            concurrency=settings.event_concurrency,
            schedule=tuple(settings.event_retry_schedule or DEFAULT_RETRY_SCHEDULE),
            jitter=settings.event_retry_jitter,
            poll_seconds=settings.event_poll_seconds,
            lease_margin_seconds=settings.event_lease_margin_seconds,
        ),
        owner=owner,
        failpoints=failpoints,
    )
    app_listeners.append(dispatcher.forget)
    jobs.claiming(dispatcher)
    publisher = None
    if settings.broker_url:
        from paygate.broker.amqp import AmqpPublisher

        publisher = AmqpPublisher(settings.broker_url, settings.broker_exchange)
        jobs.claiming(
            BrokerRelay(
                db,
                publisher,
                batch_size=settings.event_batch_size,
                poll_seconds=settings.event_poll_seconds,
                failpoints=failpoints,
            )
        )
    jobs.periodic(PurgeExpiredNonces(db))
    # the reliability engine (R-NTF-3, R-NTF-4, R-PAY-5, R-PAY-6): its rows are claimed with
    # SKIP LOCKED, so every worker runs these; the sweep runs once a day in one worker
    jobs.claiming(trade_checks)
    jobs.claiming(refund_checks)
    jobs.claiming(system_refunds)
    jobs.periodic(open_items_sweep)
    # reconciliation (R-REC-1): one run per account and day, whichever worker gets there first
    replica_engine = create_engine(settings.database_replica_url) if settings.database_replica_url else None
    reads = Database(create_sessionmaker(replica_engine)) if replica_engine is not None else db
    jobs.periodic(
        DailyReconciliation(accounts, reconciler, interval=settings.recon_interval_seconds),
        timeout=settings.recon_lease_seconds,
    )
    return Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        db=db,
        box=box,
        http=http,
        registry=registry,
        guard=guard,
        gateway=gateway,
        accounts=accounts,
        apps=apps,
        authenticator=authenticator,
        locks=locks,
        nonces=nonces,
        cache=cache,
        after_commit=after_commit,
        router=router,
        sync=sync,
        creator=creator,
        queries=queries,
        closer=closer,
        notifications=ChannelNotifications(db, accounts, gateway, after_commit),
        returns=PayerReturns(db, accounts, gateway, sync),
        call_log=CallLogWriter(db),
        operators=operators,
        refund_sender=refund_sender,
        refund_sync=refund_sync,
        refund_creator=RefundCreator(db, policy, refund_sender, after_commit),
        refund_queries=RefundQueries(db, refund_sync),
        refund_decisions=RefundDecisions(db, refund_sender, operators, after_commit),
        system_refunds=system_refunds,
        trade_checks=trade_checks,
        refund_checks=refund_checks,
        open_items_sweep=open_items_sweep,
        reconciler=reconciler,
        reconciliation=ReconciliationConsole(db, reads),
        platform_key=platform_key,
        bus=bus,
        webhook_sender=webhook_sender,
        events=EventConsole(db),
        cashier=cashier,
        jobs=jobs,
        owner=owner,
        replica_engine=replica_engine,
        publisher=publisher,
        redis=redis,
    )
