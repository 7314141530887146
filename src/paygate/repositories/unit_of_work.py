"""The unit of work: one object owns the session, the transaction, and the retry of a writer
that lost a version race (cosmicpython's pattern; polar's "the entry point owns the
transaction").

Services never touch a session. They ask :class:`Database` for a unit of work and use its
repositories::

    async def unit(uow: UnitOfWork) -> View:
        trade = await uow.trades.by_id(trade_id)
        ...                                  # change it through the state machine
        return view

    view = await db.run(unit)                # commits; re-runs ``unit`` if a concurrent
                                             # writer won the version check

A repository that meets a unique-key collision answers in domain terms (``None``) and marks
the unit *rollback-only*, so nothing of it is committed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from paygate.repositories.apps import AppRepository
from paygate.repositories.cashier import CheckoutRepository, ConsoleSessionRepository
from paygate.repositories.channel_accounts import ChannelAccountRepository
from paygate.repositories.console import ConsoleRepository
from paygate.repositories.errors import ConcurrentUpdate
from paygate.repositories.jobs import JobRepository
from paygate.repositories.logs import CallLogRepository, InboxRepository
from paygate.repositories.nonces import NonceRepository
from paygate.repositories.operators import OperatorRepository
from paygate.repositories.outbox import OutboxRepository
from paygate.repositories.reconciliation import ReconciliationRepository
from paygate.repositories.refunds import RefundRepository
from paygate.repositories.trades import TradeRepository

__all__ = ["ConcurrentUpdate", "Database", "UnitOfWork"]

T = TypeVar("T")
log = structlog.get_logger("paygate.db")

#: How often :meth:`Database.run` re-runs a unit of work that lost a version race.
DEFAULT_ATTEMPTS = 5


R = TypeVar("R")


class _Lazy(Generic[R]):
    """A repository made the first time a unit of work asks for it, then kept on the unit
    (a non-data descriptor: the instance attribute it sets is found first from then on)."""

    def __init__(self, make: Callable[[UnitOfWork], R]) -> None:
        self._make = make
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, uow: UnitOfWork, owner: object = None) -> R:
        repository = self._make(uow)
        uow.__dict__[self._name] = repository
        return repository


class UnitOfWork:
    """One session and one transaction, with the repositories that work inside it."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.rollback_only = False

    # The repositories are made when first used: a unit of work on the pay path uses two or
    # three of the fourteen (building them all was 1.7 % of a pay's CPU).
    trades = _Lazy(lambda uow: TradeRepository(uow._session, uow))
    refunds = _Lazy(lambda uow: RefundRepository(uow._session, uow))
    inbox = _Lazy(lambda uow: InboxRepository(uow._session, uow))
    outbox = _Lazy(lambda uow: OutboxRepository(uow._session))
    apps = _Lazy(lambda uow: AppRepository(uow._session))
    accounts = _Lazy(lambda uow: ChannelAccountRepository(uow._session))
    nonces = _Lazy(lambda uow: NonceRepository(uow._session, uow))
    call_logs = _Lazy(lambda uow: CallLogRepository(uow._session))
    operators = _Lazy(lambda uow: OperatorRepository(uow._session))
    jobs = _Lazy(lambda uow: JobRepository(uow._session))
    checkouts = _Lazy(lambda uow: CheckoutRepository(uow._session))
    console_sessions = _Lazy(lambda uow: ConsoleSessionRepository(uow._session))
    console = _Lazy(lambda uow: ConsoleRepository(uow._session))
    reconciliation = _Lazy(lambda uow: ReconciliationRepository(uow._session))

    def mark_rollback_only(self) -> None:
        self.rollback_only = True

    async def insert_unique(self, row: object) -> bool:
        """Insert ``row`` now. False when it collides with a unique key (nothing of this unit
        of work will be committed: it is rollback-only from here on)."""
        self._session.add(row)
        try:
            await self._session.flush([row])
        except IntegrityError:
            self.mark_rollback_only()
            return False
        return True

    async def insert_if_absent(self, row: object) -> bool:
        """Insert ``row`` in a savepoint: False when it collides with a unique key, and the
        rest of this unit of work goes on (for facts that may be reported twice)."""
        try:
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError:
            return False
        return True

    async def flush(self) -> None:
        """Write pending changes now (the version check runs here)."""
        try:
            await self._session.flush()
        except StaleDataError as exc:
            raise ConcurrentUpdate(str(exc)) from exc


class Database:
    """Hands out units of work over one engine's sessions."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        engine = sessions.kw.get("bind")
        #: PostgreSQL: the same pool, its connections in autocommit for single statements
        self._autocommit: AsyncEngine | None = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql"
            else None
        )

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work that commits when the block ends normally (unless a repository
        marked it rollback-only) and rolls back when it raises."""
        async with self._sessions() as session:
            await session.begin()
            uow = UnitOfWork(session)
            try:
                yield uow
                if uow.rollback_only:
                    await session.rollback()
                else:
                    await session.commit()
            except StaleDataError as exc:
                await session.rollback()
                raise ConcurrentUpdate(str(exc)) from exc
            except BaseException:
                await session.rollback()
                raise

    @contextlib.asynccontextmanager
    async def single_statement(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work for *one* statement: a repository method that writes with one
        statement (see ``TradeRepository.insert``), or a single read. On PostgreSQL it runs
        without BEGIN and COMMIT — the statement is its own transaction, two round trips
        fewer; elsewhere it is :meth:`transaction`. Never for more than one statement that must
        agree with another."""
        if not self._autocommit:
            async with self.transaction() as uow:
                yield uow
            return
        async with self._sessions(bind=self._autocommit) as session:
            yield UnitOfWork(session)

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work for reads only: nothing it loads is written back."""
        async with self._sessions() as session:
            yield UnitOfWork(session)

    async def run(self, unit: Callable[[UnitOfWork], Awaitable[T]], *, attempts: int = DEFAULT_ATTEMPTS) -> T:
        """Run ``unit`` in a transaction and commit; when a concurrent writer won the version
        check, run it again from the start (it re-reads, and the state machine turns an
        event the winner already applied into a no-op)."""
        for attempt in range(1, attempts + 1):
            try:
                async with self.transaction() as uow:
                    return await unit(uow)
            except ConcurrentUpdate:
                if attempt == attempts:
                    raise
                log.info("retry.concurrent_update", attempt=attempt)
        raise AssertionError("unreachable")
