"""The payment service: pay, query, close (R-PAY-1..4, R-PAY-7..9).

Transactions are explicit: the trade is committed *before* the channel is called, the
channel's answer is applied in a second transaction through the state machine. A channel
timeout or unreadable answer leaves the trade UNKNOWN, never FAILED.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paygate.channels.contract import (
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    ChannelUnavailable,
    CreatePayment,
    CreateResult,
    PaymentStatus,
    PaymentStatusResult,
    UnsupportedOperation,
)
from paygate.channels.registry import AccountCodec, ChannelRegistry, PayType
from paygate.channels.resilience import ChannelGuard, CircuitOpen
from paygate.kit.db import utcnow
from paygate.kit.errors import (
    ConflictError,
    ErrorCode,
    NotFoundError,
    RequestError,
    UpstreamError,
)
from paygate.kit.ids import new_attempt_no, new_trade_no
from paygate.kit.locks import LockProvider
from paygate.kit.masking import mask
from paygate.kit.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR, Money
from paygate.models import ChannelAttempt, Trade, TradeLog
from paygate.payments.commands import AppContext, PayCommand, TradeRef
from paygate.payments.states import TERMINAL, IllegalTransition, TradeEvent, TradeState
from paygate.payments.transitions import apply_event, exchange_json, log_anomaly, retry_stale
from paygate.payments.views import TradeCache, trade_view
from paygate.repositories import AppRepository, ChannelAccountRepository, TradeRepository

__all__ = ["STATUS_EVENTS", "PaymentService"]

log = structlog.get_logger("paygate.payments")

#: Neutral channel status → state-machine event. NOT_FOUND has none: "not created yet".
STATUS_EVENTS: dict[PaymentStatus, TradeEvent | None] = {
    PaymentStatus.NOT_FOUND: None,
    PaymentStatus.PENDING: TradeEvent.ACCEPTED,
    PaymentStatus.PAYING: TradeEvent.ACCEPTED,
    PaymentStatus.SUCCEEDED: TradeEvent.PAID,
    PaymentStatus.REFUNDED: TradeEvent.PAID,
    PaymentStatus.FAILED: TradeEvent.FAILED,
    PaymentStatus.CLOSED: TradeEvent.CLOSED,
}

AfterPayHook = Callable[[dict[str, Any]], Awaitable[None]]


class PaymentService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: ChannelRegistry,
        codec: AccountCodec,
        guard: ChannelGuard,
        locks: LockProvider,
        cache: TradeCache,
        *,
        default_expire_minutes: int = 30,
        max_expire_minutes: int = 60 * 24 * 15,
    ) -> None:
        self.sessions = sessions
        self.registry = registry
        self.codec = codec
        self.guard = guard
        self.locks = locks
        self.cache = cache
        self.default_expire = default_expire_minutes
        self.max_expire = max_expire_minutes
        #: R-LOG-3: run after a state change and its trade log are committed.
        self.after_pay: list[AfterPayHook] = []

    # ------------------------------------------------------------------ pay

    def _check(self, app: AppContext, cmd: PayCommand) -> PayType:
        if cmd.currency not in CURRENCY_EXPONENTS:
            raise RequestError(f"currency {cmd.currency!r} is not supported", code=ErrorCode.UNKNOWN_CURRENCY)
        if cmd.amount <= 0 or cmd.amount > MAX_AMOUNT_MINOR:
            raise RequestError(
                f"amount must be between 1 and {MAX_AMOUNT_MINOR} minor units",
                code=ErrorCode.INVALID_AMOUNT,
            )
        pay_type = self.registry.pay_type(cmd.pay_type)
        if cmd.pay_type not in app.allowed_pay_types:
            raise RequestError(f"this app may not use {cmd.pay_type}", code=ErrorCode.PAY_TYPE_NOT_ALLOWED)
        expire = cmd.expire_minutes if cmd.expire_minutes is not None else self.default_expire
        if not 1 <= expire <= self.max_expire:
            raise RequestError(f"expire_minutes must be between 1 and {self.max_expire}")
        return pay_type

    async def pay(self, app: AppContext, cmd: PayCommand) -> dict[str, Any]:
        """Create a trade and ask its channel for the pay data. Idempotent on
        ``(app, out_order_no)``: a repeat returns the same trade and pay data."""
        pay_type = self._check(app, cmd)
        async with self.locks.hold(f"pay:{app.app_id}:{cmd.out_order_no}") as held:
            existing = await self._existing(app, cmd)
            if isinstance(existing, Trade):
                if not held:
                    raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS)
                return await self._redrive(existing, app, pay_type, cmd)
            if existing is not None:
                return existing
            if not held:
                raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS)
            account = await self._route(app, pay_type)
            now = utcnow()
            expire = cmd.expire_minutes if cmd.expire_minutes is not None else self.default_expire
            trade_no = new_trade_no()
            request = CreatePayment(
                attempt_no=new_attempt_no(trade_no, 1),
                trade_no=trade_no,
                method=pay_type.method,
                amount=Money(cmd.amount, cmd.currency),
                subject=cmd.subject,
                expire_at=now + timedelta(minutes=expire),
                description=cmd.description or "",
                client_ip=cmd.client_ip or "",
                # the payer's browser always comes back through paygate's /return, which
                # then sends it on to the app's return_url with the trade's state
                return_url=account.return_url,
                extra=cmd.extra,
            )
            adapter = self.registry.adapter(pay_type.channel)
            try:
                adapter.validate(request)
            except ValueError as exc:
                raise RequestError(str(exc), code=ErrorCode.CHANNEL_VALIDATION) from None
            trade = await self._insert(app, cmd, pay_type, account, request)
            if trade is None:  # a concurrent identical request won the unique index
                again = await self._existing(app, cmd)
                if again is None or isinstance(again, Trade):
                    raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS)
                return again
            return await self._call_create(trade, account, request)

    async def _existing(self, app: AppContext, cmd: PayCommand) -> dict[str, Any] | Trade | None:
        """The view of the order's trade; the trade itself when its last attempt never
        reached the channel (so the caller may send a new attempt); None if no trade."""
        async with self.sessions() as session:
            repo = TradeRepository(session)
            trade = await repo.by_order(app.app_id, cmd.out_order_no)
            if trade is None:
                return None
            if trade.fingerprint != cmd.fingerprint():
                raise ConflictError(
                    "out_order_no was already used with a different amount, currency or pay type",
                    code=ErrorCode.ORDER_MISMATCH,
                    details={"trade_no": trade.trade_no},
                )
            attempt = await repo.attempt(trade.attempt_no)
            if trade.state == TradeState.CREATED and attempt is not None and attempt.status == "not_sent":
                return trade
            if trade.state == TradeState.CREATED and (attempt is None or attempt.action is None):
                raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS, details={"trade_no": trade.trade_no})
            return trade_view(trade, attempt.action if attempt else None)

    async def _redrive(
        self, trade: Trade, app: AppContext, pay_type: PayType, cmd: PayCommand
    ) -> dict[str, Any]:
        """Send a new attempt for a trade whose previous one never reached the channel."""
        if trade.expire_at <= utcnow():
            raise ConflictError(code=ErrorCode.TRADE_EXPIRED, details={"trade_no": trade.trade_no})
        account = await self._route(app, pay_type)
        async with self.sessions() as session, session.begin():
            repo = TradeRepository(session)
            fresh = await repo.by_id(trade.id)
            assert fresh is not None
            seq = len(await repo.attempts(fresh.id)) + 1
            fresh.attempt_no = new_attempt_no(fresh.trade_no, seq)
            fresh.channel_account_id = account.id
            session.add(
                ChannelAttempt(
                    attempt_no=fresh.attempt_no,
                    trade_id=fresh.id,
                    channel=fresh.channel,
                    channel_account_id=account.id,
                    status="sent",
                )
            )
        request = CreatePayment(
            attempt_no=fresh.attempt_no,
            trade_no=fresh.trade_no,
            method=pay_type.method,
            amount=Money(fresh.amount, fresh.currency),
            subject=fresh.subject,
            expire_at=fresh.expire_at,
            description=fresh.description or "",
            client_ip=fresh.client_ip or "",
            return_url=account.return_url,
            extra=cmd.extra,
        )
        return await self._call_create(fresh, account, request)

    async def _route(self, app: AppContext, pay_type: PayType) -> ChannelAccount:
        """Pick the account: the app's own bindings first, else any enabled account of the
        channel, by priority, skipping accounts whose circuit is open (failover)."""
        async with self.sessions() as session:
            accounts = ChannelAccountRepository(session)
            rows = await accounts.enabled_for(pay_type.channel)
            bound = dict(await AppRepository(session).bound_accounts(app.app_id))
        if bound:
            rows = sorted((r for r in rows if r.id in bound), key=lambda r: -bound[r.id])
        healthy = [r for r in rows if not self.guard.is_open(r.id)] or rows
        if not healthy:
            raise UpstreamError(
                f"no enabled {pay_type.channel} account", code=ErrorCode.NO_CHANNEL_ACCOUNT, retryable=True
            )
        return self.codec.to_account(healthy[0])

    async def _insert(
        self,
        app: AppContext,
        cmd: PayCommand,
        pay_type: PayType,
        account: ChannelAccount,
        request: CreatePayment,
    ) -> Trade | None:
        trade = Trade(
            trade_no=request.trade_no,
            app_id=app.app_id,
            out_order_no=cmd.out_order_no,
            pay_type=cmd.pay_type,
            channel=pay_type.channel,
            channel_account_id=account.id,
            amount=cmd.amount,
            currency=cmd.currency,
            subject=cmd.subject,
            description=cmd.description,
            state=TradeState.CREATED.value,
            expire_at=request.expire_at,
            attempt_no=request.attempt_no,
            notify_url=cmd.notify_url or app.notify_url,
            return_url=cmd.return_url,
            client_ip=cmd.client_ip,
            extra=mask(cmd.extra),
            metadata_=cmd.metadata,
            fingerprint=cmd.fingerprint(),
            refunded_amount=0,
        )
        try:
            async with self.sessions() as session, session.begin():
                session.add(trade)
                await session.flush()
                session.add_all(
                    [
                        ChannelAttempt(
                            attempt_no=request.attempt_no,
                            trade_id=trade.id,
                            channel=pay_type.channel,
                            channel_account_id=account.id,
                            status="sent",
                        ),
                        TradeLog(
                            trade_id=trade.id,
                            event="created",
                            from_state=None,
                            to_state=TradeState.CREATED.value,
                            source="api",
                            exchange={
                                "request": mask(
                                    {
                                        "pay_type": cmd.pay_type,
                                        "amount": cmd.amount,
                                        "currency": cmd.currency,
                                        "extra": cmd.extra,
                                    }
                                )
                            },
                        ),
                    ]
                )
        except IntegrityError:
            return None
        return trade

    async def _call_create(
        self, trade: Trade, account: ChannelAccount, request: CreatePayment
    ) -> dict[str, Any]:
        adapter = self.registry.adapter(trade.channel)
        result: CreateResult | None = None
        error: ChannelError | None = None
        try:
            result = await self.guard.call(
                account, "create", lambda: adapter.create_payment(account, request)
            )
        except ChannelError as exc:
            error = exc

        async def record() -> dict[str, Any]:
            async with self.sessions() as session, session.begin():
                repo = TradeRepository(session)
                fresh = await repo.by_id(trade.id)
                attempt = await repo.attempt(request.attempt_no)
                assert fresh is not None and attempt is not None
                if result is not None:
                    attempt.status = "accepted"
                    attempt.action = result.action.to_dict()
                    attempt.channel_trade_no = result.channel_trade_no
                    event = STATUS_EVENTS[result.status] or TradeEvent.ACCEPTED
                    paid = result.paid_amount.minor if result.paid_amount else None
                    await self._apply(
                        session,
                        fresh,
                        event,
                        "api",
                        exchange_json(result.exchange),
                        result.channel_trade_no,
                        paid,
                        result.paid_at,
                    )
                elif isinstance(error, ChannelUnavailable):
                    # surely never processed (connection refused, circuit open): the trade
                    # stays created, and a repeat of the pay request sends a new attempt
                    attempt.status = "not_sent"
                else:
                    assert error is not None
                    final = isinstance(error, ChannelBusinessError)
                    attempt.status = "rejected" if final else "unknown"
                    event = TradeEvent.REJECTED if final else TradeEvent.UNCERTAIN
                    await self._apply(
                        session,
                        fresh,
                        event,
                        "api",
                        exchange_json(error.exchange, error=f"{type(error).__name__}: {error.message}"),
                    )
                return trade_view(fresh, attempt.action)

        view = await retry_stale(record)
        self.cache.invalidate(trade)
        await self._run_hooks(view)
        if error is not None:
            raise self._upstream(error, view)
        return view

    @staticmethod
    def _upstream(error: ChannelError, view: dict[str, Any]) -> UpstreamError:
        details = {"trade_no": view["trade_no"], "state": view["state"]}
        if error.code or error.sub_code:
            details["channel_code"] = error.sub_code or error.code
        if isinstance(error, ChannelBusinessError):
            return UpstreamError(error.message, code=ErrorCode.CHANNEL_ERROR, details=details)
        if isinstance(error, UnsupportedOperation):
            return UpstreamError(error.message, code=ErrorCode.UNSUPPORTED_OPERATION, details=details)
        if isinstance(error, CircuitOpen):
            return UpstreamError(code=ErrorCode.CIRCUIT_OPEN, retryable=True, details=details)
        if isinstance(error, ChannelUnavailable):
            return UpstreamError(
                f"{error.message}; nothing was sent: retry the same request",
                code=ErrorCode.CHANNEL_UNAVAILABLE,
                retryable=True,
                details=details,
            )
        return UpstreamError(
            f"{error.message}; the trade is {view['state']}: query it",
            code=ErrorCode.CHANNEL_TIMEOUT,
            retryable=True,
            details=details,
        )

    async def _apply(
        self,
        session: AsyncSession,
        trade: Trade,
        event: TradeEvent,
        source: str,
        exchange: dict[str, Any] | None,
        channel_trade_no: str | None = None,
        paid_amount: int | None = None,
        paid_at: Any = None,
    ) -> bool:
        try:
            return await apply_event(
                session,
                trade,
                event,
                source=source,
                exchange=exchange,
                channel_trade_no=channel_trade_no,
                paid_amount=paid_amount,
                paid_at=paid_at,
            )
        except IllegalTransition as exc:
            await log_anomaly(session, trade, exc, source=source, exchange=exchange)
            return False

    async def _run_hooks(self, view: dict[str, Any]) -> None:
        for hook in self.after_pay:
            try:
                await hook(view)
            except Exception:  # a hook never breaks the payment
                log.exception("after_pay hook failed", trade_no=view.get("trade_no"))

    # ------------------------------------------------------------------ query & close

    async def _load(self, session: AsyncSession, app_id: str, ref: TradeRef) -> Trade:
        repo = TradeRepository(session)
        if ref.trade_no:
            trade = await repo.by_no(ref.trade_no)
        elif ref.out_order_no:
            trade = await repo.by_order(app_id, ref.out_order_no)
        else:
            raise RequestError("give trade_no or out_order_no")
        if trade is None or trade.app_id != app_id:
            raise NotFoundError(code=ErrorCode.TRADE_NOT_FOUND)
        return trade

    async def query(self, app_id: str, ref: TradeRef, *, sync: bool = False) -> dict[str, Any]:
        """paygate's own state (cached briefly, R-PAY-8); ``sync`` asks the channel and
        records a final answer (R-PAY-9)."""
        if not sync:
            key = ref.trade_no or f"{app_id}\x00{ref.out_order_no}"
            cached = self.cache.get(key)
            if cached is not None and cached["app_id"] == app_id:
                return cached
            async with self.sessions() as session:
                trade = await self._load(session, app_id, ref)
            view = trade_view(trade)
            self.cache.put(view, app_id)
            return view
        async with self.sessions() as session:
            trade = await self._load(session, app_id, ref)
        return await self.sync_with_channel(trade, source="query")

    async def sync_with_channel(self, trade: Trade, *, source: str) -> dict[str, Any]:
        """Ask the channel for the trade's status and apply a definite answer."""
        async with self.sessions() as session:
            row = await ChannelAccountRepository(session).get(trade.channel_account_id)
        assert row is not None
        account = self.codec.to_account(row)
        adapter = self.registry.adapter(trade.channel)
        try:
            status: PaymentStatusResult = await self.guard.call(
                account,
                "query",
                lambda: adapter.query_payment(account, trade.attempt_no, trade.channel_trade_no),
            )
        except ChannelError as exc:
            raise self._upstream(exc, trade_view(trade)) from None
        return await self.apply_status(trade.id, status, source=source)

    async def apply_status(
        self, trade_id: int, status: PaymentStatusResult, *, source: str
    ) -> dict[str, Any]:
        async def unit() -> dict[str, Any]:
            async with self.sessions() as session, session.begin():
                trade = await TradeRepository(session).by_id(trade_id)
                assert trade is not None
                event = STATUS_EVENTS[status.status]
                exchange = exchange_json(status.exchange, channel_status=status.channel_status)
                if event is not None:
                    if (
                        event is TradeEvent.PAID
                        and status.amount is not None
                        and (status.amount.minor != trade.amount or status.amount.currency != trade.currency)
                    ):
                        log.error(
                            "alert.amount_mismatch",
                            trade_no=trade.trade_no,
                            channel_amount=str(status.amount),
                        )
                        raise UpstreamError(
                            "the channel reports a different amount", code=ErrorCode.CHANNEL_ERROR
                        )
                    await self._apply(
                        session,
                        trade,
                        event,
                        source,
                        exchange,
                        status.channel_trade_no,
                        status.amount.minor if status.amount else None,
                        status.paid_at,
                    )
                return trade_view(trade)

        view = await retry_stale(unit)
        self.cache.invalidate(view)
        await self._run_hooks(view)
        return view

    async def close(self, app_id: str, ref: TradeRef) -> dict[str, Any]:
        """Close an unpaid trade, at the channel first, then here."""
        async with self.sessions() as session:
            trade = await self._load(session, app_id, ref)
            row = await ChannelAccountRepository(session).get(trade.channel_account_id)
        if trade.state == TradeState.CLOSED:
            return trade_view(trade)
        if trade.state in TERMINAL:
            raise ConflictError(
                f"a {trade.state} trade cannot be closed",
                code=ErrorCode.ILLEGAL_STATE,
                details={"state": trade.state},
            )
        assert row is not None
        account = self.codec.to_account(row)
        adapter = self.registry.adapter(trade.channel)
        try:
            result = await self.guard.call(
                account,
                "close",
                lambda: adapter.close_payment(account, trade.attempt_no, trade.channel_trade_no),
            )
        except ChannelBusinessError:
            # e.g. already paid: find out what the channel knows and record it
            view = await self.sync_with_channel(trade, source="close")
            if view["state"] != TradeState.CLOSED:
                raise ConflictError(
                    f"the trade is {view['state']} at the channel",
                    code=ErrorCode.ILLEGAL_STATE,
                    details={"state": view["state"]},
                ) from None
            return view
        except ChannelError as exc:
            raise self._upstream(exc, trade_view(trade)) from None

        async def unit() -> dict[str, Any]:
            async with self.sessions() as session, session.begin():
                fresh = await TradeRepository(session).by_id(trade.id)
                assert fresh is not None
                try:
                    await apply_event(
                        session,
                        fresh,
                        TradeEvent.CLOSED,
                        source="api",
                        exchange=exchange_json(result.exchange, closed_at_channel=result.closed),
                    )
                except IllegalTransition:
                    raise ConflictError(
                        f"the trade became {fresh.state}",
                        code=ErrorCode.ILLEGAL_STATE,
                        details={"state": fresh.state},
                    ) from None
                return trade_view(fresh)

        view = await retry_stale(unit)
        self.cache.invalidate(trade)
        await self._run_hooks(view)
        return view
