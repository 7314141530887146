"""Creating a trade and getting its pay data (R-PAY-2, R-PAY-4, R-PAY-7).

Two paths, one outcome:

- **Network pay forms** (QR precreate, JSAPI, barcode, WeChat, Stripe): the trade is
  committed *before* the channel is called; the answer is applied in a second transaction
  through the state machine. A timeout leaves the trade ``unknown``, never ``failed``.
- **Local pay forms** (``adapter.offline_methods``: Alipay page/wap/app, where "creating"
  means signing a URL the payer's browser takes to the channel): nothing is sent anywhere,
  so the pay data is made first and the trade is written once, already ``pending``, with
  both steps of the state machine in its log.

Idempotency: the unique index on ``(app_id, out_order_no)`` decides; an existing trade is
read only when the insert collides (a repeat or a concurrent duplicate).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from paygate.channels.contract import (
    ChannelAccount,
    ChannelBusinessError,
    ChannelError,
    ChannelUnavailable,
    CreatePayment,
    CreateResult,
    PaymentStatus,
)
from paygate.channels.registry import PayType
from paygate.kit.db import utcnow
from paygate.kit.errors import ConflictError, ErrorCode, RequestError, UpstreamError
from paygate.kit.ids import new_attempt_no, new_trade_no
from paygate.kit.masking import mask
from paygate.kit.money import Money
from paygate.models import ChannelAttempt, Trade, TradeLog
from paygate.payments.commands import AppContext, PayCommand
from paygate.payments.states import TradeEvent, TradeState, transition
from paygate.payments.transitions import exchange_json
from paygate.payments.views import trade_view
from paygate.repositories import AppRepository, ChannelAccountRepository, TradeRepository

if TYPE_CHECKING:
    from paygate.payments.service import PaymentService

__all__ = ["PayFlow"]

#: Routing data (enabled accounts per channel, an app's bindings) is read at most this often.
ROUTE_CACHE_SECONDS = 5.0


class PayFlow:
    def __init__(self, service: PaymentService) -> None:
        self.s = service
        self._routes: dict[tuple[str, str], tuple[float, list[ChannelAccount]]] = {}

    def forget_routes(self) -> None:
        self._routes.clear()

    async def pay(self, app: AppContext, cmd: PayCommand, pay_type: PayType) -> dict[str, Any]:
        async with self.s.locks.hold(f"pay:{app.app_id}:{cmd.out_order_no}") as held:
            if not held:  # another process is creating this order right now
                return await self._after_collision(app, cmd, pay_type, may_redrive=False)
            account = await self._route(app, pay_type)
            request = self._request(cmd, pay_type, account)
            adapter = self.s.registry.adapter(pay_type.channel)
            try:
                adapter.validate(request)
            except ValueError as exc:
                raise RequestError(str(exc), code=ErrorCode.CHANNEL_VALIDATION) from None
            if pay_type.method in adapter.offline_methods:
                view = await self._pay_locally(app, cmd, pay_type, account, request)
            else:
                inserted = await self._insert(app, cmd, pay_type, account, request)
                view = None if inserted is None else await self._call_create(*inserted, account, request)
            if view is None:
                return await self._after_collision(app, cmd, pay_type, may_redrive=True)
            return view

    # ------------------------------------------------------------------ building blocks

    def _request(self, cmd: PayCommand, pay_type: PayType, account: ChannelAccount) -> CreatePayment:
        expire = cmd.expire_minutes if cmd.expire_minutes is not None else self.s.default_expire
        trade_no = new_trade_no()
        return CreatePayment(
            attempt_no=new_attempt_no(trade_no, 1),
            trade_no=trade_no,
            method=pay_type.method,
            amount=Money(cmd.amount, cmd.currency),
            subject=cmd.subject,
            expire_at=utcnow() + timedelta(minutes=expire),
            description=cmd.description or "",
            client_ip=cmd.client_ip or "",
            # the payer's browser always comes back through paygate's /return, which then
            # sends it on to the app's return_url with the trade's state
            return_url=account.return_url,
            extra=cmd.extra,
        )

    @staticmethod
    def _trade(
        app: AppContext, cmd: PayCommand, pay_type: PayType, account: ChannelAccount, request: CreatePayment
    ) -> Trade:
        return Trade(
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

    @staticmethod
    def _created_log(trade: Trade, cmd: PayCommand) -> TradeLog:
        request = {
            "pay_type": cmd.pay_type,
            "amount": cmd.amount,
            "currency": cmd.currency,
            "extra": cmd.extra,
        }
        return TradeLog(
            trade_id=trade.id,
            event="created",
            from_state=None,
            to_state=TradeState.CREATED.value,
            source="api",
            exchange={"request": mask(request)},
        )

    async def _route(self, app: AppContext, pay_type: PayType) -> ChannelAccount:
        """Pick the account: the app's own bindings first, else any enabled account of the
        channel, by priority, skipping accounts whose circuit is open (failover, R-CH-5)."""
        key = (app.app_id, pay_type.channel)
        hit = self._routes.get(key)
        now = time.monotonic()
        if hit is None or hit[0] < now:
            async with self.s.sessions() as session:
                rows = await ChannelAccountRepository(session).enabled_for(pay_type.channel)
                bound = dict(await AppRepository(session).bound_accounts(app.app_id))
            if bound:
                rows = sorted((r for r in rows if r.id in bound), key=lambda r: -bound[r.id])
            hit = (now + ROUTE_CACHE_SECONDS, [self.s.codec.to_account(r) for r in rows])
            self._routes[key] = hit
        accounts = hit[1]
        healthy = [a for a in accounts if not self.s.guard.is_open(a.id)] or accounts
        if not healthy:
            raise UpstreamError(
                f"no enabled {pay_type.channel} account", code=ErrorCode.NO_CHANNEL_ACCOUNT, retryable=True
            )
        return healthy[0]

    # ------------------------------------------------------------------ local pay forms

    async def _pay_locally(
        self,
        app: AppContext,
        cmd: PayCommand,
        pay_type: PayType,
        account: ChannelAccount,
        request: CreatePayment,
    ) -> dict[str, Any] | None:
        adapter = self.s.registry.adapter(pay_type.channel)
        try:
            result = await self.s.guard.call(
                account, "create", lambda: adapter.create_payment(account, request)
            )
        except ChannelError as exc:
            # nothing was written and nothing left the process (e.g. an unusable key)
            code = ErrorCode.CHANNEL_UNAVAILABLE if exc.retryable else ErrorCode.CHANNEL_ERROR
            raise UpstreamError(exc.message, code=code, retryable=exc.retryable) from None
        if result.status is not PaymentStatus.PENDING:
            raise AssertionError(f"a local pay form answered {result.status}")  # adapter contract
        step = transition(TradeState.CREATED, TradeEvent.ACCEPTED)
        trade = self._trade(app, cmd, pay_type, account, request)
        trade.state = step.after
        action = result.action.to_dict()
        try:
            async with self.s.sessions() as session, session.begin():
                session.add(trade)
                await session.flush([trade])
                session.add_all(
                    [
                        ChannelAttempt(
                            attempt_no=request.attempt_no,
                            trade_id=trade.id,
                            channel=pay_type.channel,
                            channel_account_id=account.id,
                            status="accepted",
                            action=action,
                            channel_trade_no=result.channel_trade_no,
                        ),
                        self._created_log(trade, cmd),
                        TradeLog(
                            trade_id=trade.id,
                            event=TradeEvent.ACCEPTED.value,
                            from_state=step.before,
                            to_state=step.after,
                            source="api",
                            exchange=exchange_json(result.exchange),
                        ),
                    ]
                )
        except IntegrityError:
            return None
        view = trade_view(trade, action)
        await self.s.run_hooks(view)
        return view

    # ------------------------------------------------------------------ network pay forms

    async def _insert(
        self,
        app: AppContext,
        cmd: PayCommand,
        pay_type: PayType,
        account: ChannelAccount,
        request: CreatePayment,
    ) -> tuple[Trade, ChannelAttempt] | None:
        trade = self._trade(app, cmd, pay_type, account, request)
        try:
            async with self.s.sessions() as session, session.begin():
                session.add(trade)
                await session.flush([trade])
                attempt = ChannelAttempt(
                    attempt_no=request.attempt_no,
                    trade_id=trade.id,
                    channel=pay_type.channel,
                    channel_account_id=account.id,
                    status="sent",
                )
                session.add_all([attempt, self._created_log(trade, cmd)])
        except IntegrityError:
            return None
        return trade, attempt

    async def _call_create(
        self, trade: Trade, attempt: ChannelAttempt, account: ChannelAccount, request: CreatePayment
    ) -> dict[str, Any]:
        adapter = self.s.registry.adapter(trade.channel)
        result: CreateResult | None = None
        error: ChannelError | None = None
        try:
            result = await self.s.guard.call(
                account, "create", lambda: adapter.create_payment(account, request)
            )
        except ChannelError as exc:
            error = exc
        # the objects of the first transaction are reused; if a notification changed the
        # trade meanwhile, the version check refuses and the retry reads it afresh
        current: list[Trade | ChannelAttempt] = [trade, attempt]
        view: dict[str, Any] | None = None
        for round_ in range(5):
            try:
                view = await self._record(current[0], current[1], result, error)  # type: ignore[arg-type]
                break
            except StaleDataError:
                if round_ == 4:
                    raise
                async with self.s.sessions() as session:
                    repo = TradeRepository(session)
                    fresh, fresh_attempt = await repo.by_id(trade.id), await repo.attempt(request.attempt_no)
                assert fresh is not None and fresh_attempt is not None
                current = [fresh, fresh_attempt]
        assert view is not None
        self.s.cache.invalidate(trade)
        await self.s.run_hooks(view)
        if error is not None:
            raise self.s.upstream_error(error, view)
        return view

    async def _record(
        self, trade: Trade, attempt: ChannelAttempt, result: CreateResult | None, error: ChannelError | None
    ) -> dict[str, Any]:
        async with self.s.sessions() as session, session.begin():
            session.add_all([trade, attempt])
            if result is not None:
                attempt.status = "accepted"
                attempt.action = result.action.to_dict()
                attempt.channel_trade_no = result.channel_trade_no
                event = self.s.status_event(result.status) or TradeEvent.ACCEPTED
                paid = result.paid_amount.minor if result.paid_amount else None
                await self.s.apply(
                    session,
                    trade,
                    event,
                    "api",
                    exchange_json(result.exchange),
                    result.channel_trade_no,
                    paid,
                    result.paid_at,
                )
            elif isinstance(error, ChannelUnavailable):
                # surely never processed (connection refused, circuit open): the trade stays
                # created, and a repeat of the pay request sends a new attempt
                attempt.status = "not_sent"
            else:
                assert error is not None
                final = isinstance(error, ChannelBusinessError)
                attempt.status = "rejected" if final else "unknown"
                event = TradeEvent.REJECTED if final else TradeEvent.UNCERTAIN
                await self.s.apply(
                    session,
                    trade,
                    event,
                    "api",
                    exchange_json(error.exchange, error=f"{type(error).__name__}: {error.message}"),
                )
            await session.flush()
            return trade_view(trade, attempt.action)

    # ------------------------------------------------------------------ repeats

    async def _after_collision(
        self, app: AppContext, cmd: PayCommand, pay_type: PayType, *, may_redrive: bool
    ) -> dict[str, Any]:
        existing = await self._existing(app, cmd)
        if isinstance(existing, Trade):
            if not may_redrive:
                raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS)
            return await self._redrive(existing, app, pay_type, cmd)
        if existing is None:
            raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS)
        return existing

    async def _existing(self, app: AppContext, cmd: PayCommand) -> dict[str, Any] | Trade | None:
        """The view of the order's trade; the trade itself when its last attempt never
        reached the channel (so the caller may send a new attempt); None if no trade."""
        async with self.s.sessions() as session:
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
        async with self.s.sessions() as session, session.begin():
            repo = TradeRepository(session)
            fresh = await repo.by_id(trade.id)
            assert fresh is not None
            seq = len(await repo.attempts(fresh.id)) + 1
            fresh.attempt_no = new_attempt_no(fresh.trade_no, seq)
            fresh.channel_account_id = account.id
            attempt = ChannelAttempt(
                attempt_no=fresh.attempt_no,
                trade_id=fresh.id,
                channel=fresh.channel,
                channel_account_id=account.id,
                status="sent",
            )
            session.add(attempt)
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
        return await self._call_create(fresh, attempt, account, request)
