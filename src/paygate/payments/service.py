"""The payment service: pay, query, close (R-PAY-1..4, R-PAY-7..9).

Creating trades lives in :mod:`paygate.payments.pay_flow`; this module holds the checks,
queries (cached, or synchronous with the channel), closing, and the error mapping shared
by both. A channel timeout or unreadable answer leaves a trade UNKNOWN, never FAILED.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paygate.channels.contract import (
    ChannelBusinessError,
    ChannelError,
    ChannelUnavailable,
    PaymentStatus,
    PaymentStatusResult,
    UnsupportedOperation,
)
from paygate.channels.registry import AccountCodec, ChannelRegistry, PayType
from paygate.channels.resilience import ChannelGuard, CircuitOpen
from paygate.kit.errors import (
    ConflictError,
    ErrorCode,
    NotFoundError,
    RequestError,
    UpstreamError,
)
from paygate.kit.locks import LockProvider
from paygate.kit.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR
from paygate.models import Trade
from paygate.payments.commands import AppContext, PayCommand, TradeRef
from paygate.payments.pay_flow import PayFlow
from paygate.payments.states import TERMINAL, IllegalTransition, TradeEvent, TradeState
from paygate.payments.transitions import apply_event, exchange_json, log_anomaly, retry_stale
from paygate.payments.views import TradeCache, trade_view
from paygate.repositories import ChannelAccountRepository, TradeRepository

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
        self._flow = PayFlow(self)

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
        """Create a trade and get its pay data (see :mod:`paygate.payments.pay_flow`).
        Idempotent on ``(app, out_order_no)``: a repeat returns the same trade and pay data."""
        return await self._flow.pay(app, cmd, self._check(app, cmd))

    def refresh_routing(self) -> None:
        """Forget cached routing data now (after channel accounts or bindings changed);
        otherwise changes are seen within ``pay_flow.ROUTE_CACHE_SECONDS``."""
        self._flow.forget_routes()

    @staticmethod
    def status_event(status: PaymentStatus) -> TradeEvent | None:
        return STATUS_EVENTS[status]

    @staticmethod
    def upstream_error(error: ChannelError, view: dict[str, Any]) -> UpstreamError:
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

    async def apply(
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

    async def run_hooks(self, view: dict[str, Any]) -> None:
        """R-LOG-3: after a committed state change (and its trade-log row), never failing it."""
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
            raise self.upstream_error(exc, trade_view(trade)) from None
        return await self.apply_status(trade.id, status, source=source)

    async def apply_status(
        self, trade_id: int, status: PaymentStatusResult, *, source: str
    ) -> dict[str, Any]:
        async def unit() -> tuple[dict[str, Any], bool]:
            changed = False
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
                    changed = await self.apply(
                        session,
                        trade,
                        event,
                        source,
                        exchange,
                        status.channel_trade_no,
                        status.amount.minor if status.amount else None,
                        status.paid_at,
                    )
                return trade_view(trade), changed

        view, changed = await retry_stale(unit)
        self.cache.invalidate(view)
        if changed:
            await self.run_hooks(view)
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
            raise self.upstream_error(exc, trade_view(trade)) from None

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
        await self.run_hooks(view)
        return view
