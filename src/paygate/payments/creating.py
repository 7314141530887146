"""Creating a trade and getting its pay data (R-PAY-2, R-PAY-4, R-PAY-7, R-API-6).

Two paths, one outcome:

- **Network pay forms** (QR precreate, JSAPI, barcode, WeChat, Stripe): the trade is
  committed *before* the channel is called; the answer is applied in a second transaction
  through the state machine. A timeout leaves the trade ``unknown``, never ``failed``.
- **Local pay forms** (the adapter's ``offline_methods``: Alipay page/wap/app, where
  "creating" means signing what the payer takes to the channel): nothing is sent anywhere,
  so the pay data is made first and the trade is written once, already ``pending`` — moved
  there by the same state-machine function, with both steps in its log.

Idempotency: the unique index on ``(app_id, out_order_no)`` decides. A Redis lock on
``(app, out_order_no)`` when configured is held around a network create (one channel order per
trade while the channel answers) and around any repeat that may send a new attempt; a local
pay form needs none before its insert, which is the only thing it does. An existing trade is
read only when the insert collides (a repeat or a concurrent duplicate) and returned as it
is, with its pay data.
"""

from __future__ import annotations

from datetime import timedelta

from paygate.channels.contract import ChannelAccount, ChannelError, CreatePayment, CreateResult, PaymentStatus
from paygate.channels.gateway import ChannelGateway
from paygate.channels.registry import PayType
from paygate.domain.apps import AppContext
from paygate.domain.checks import next_check
from paygate.domain.trades import AttemptStatus, TradeEvent, TradeState
from paygate.kit.clock import utc_now
from paygate.kit.errors import ConflictError, ErrorCode, RequestError, UpstreamError
from paygate.kit.failpoints import Failpoints
from paygate.kit.ids import new_attempt_no, new_trade_no
from paygate.kit.locks import LockProvider
from paygate.kit.masking import mask
from paygate.kit.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR, Money
from paygate.models import ChannelAttempt, Trade, TradeLog
from paygate.payments.after_commit import AfterCommit
from paygate.payments.commands import PayCommand
from paygate.payments.outcomes import create_outcome, upstream_error
from paygate.payments.routing import Router
from paygate.payments.state_changes import Facts, Source, apply_event, exchange_json, log_row, record_event
from paygate.payments.trade_view import TradeView, trade_view
from paygate.repositories import Database, UnitOfWork

__all__ = ["PaymentCreator"]


class PaymentCreator:
    def __init__(
        self,
        db: Database,
        router: Router,
        gateway: ChannelGateway,
        locks: LockProvider,
        after_commit: AfterCommit,
        *,
        default_expire_minutes: int = 30,
        max_expire_minutes: int = 60 * 24 * 15,
        failpoints: Failpoints | None = None,
    ) -> None:
        self._db = db
        self._router = router
        self._gateway = gateway
        self._locks = locks
        self._after_commit = after_commit
        self._default_expire = default_expire_minutes
        self._max_expire = max_expire_minutes
        self._failpoints = failpoints or Failpoints()

    async def pay(self, app: AppContext, cmd: PayCommand) -> TradeView:
        """Create a trade and get its pay data. Idempotent on ``(app, out_order_no)``: a
        repeat returns the same trade and pay data; another amount, currency or pay type
        under the same order number is refused (ORDER_MISMATCH)."""
        pay_type = self._check(app, cmd)
        lock = f"pay:{app.app_id}:{cmd.out_order_no}"
        if self._gateway.is_local(pay_type):
            # nothing leaves the process before the one transaction that writes the trade
            # with its pay data, so the unique index alone decides; the lock is taken only
            # when the order exists (a repeat may send it a new attempt)
            prepared = await self._prepare_unless_repeat(app, cmd, pay_type)
            view = None if prepared is None else await self._pay_locally(app, cmd, pay_type, *prepared)
            if view is not None:
                return view
            async with self._locks.hold(lock) as held:
                return await self._after_collision(app, cmd, pay_type, may_send=held)
        async with self._locks.hold(lock) as held:
            if not held:  # another process is creating this order right now
                return await self._after_collision(app, cmd, pay_type, may_send=False)
            prepared = await self._prepare_unless_repeat(app, cmd, pay_type)
            view = None
            if prepared is not None:
                inserted = await self._insert(app, cmd, pay_type, *prepared)
                view = None if inserted is None else await self._call_create(*inserted, *prepared)
            if view is None:
                return await self._after_collision(app, cmd, pay_type, may_send=True)
            return view

    # ------------------------------------------------------------------ building blocks

    def _check(self, app: AppContext, cmd: PayCommand) -> PayType:
        if cmd.currency not in CURRENCY_EXPONENTS:
            raise RequestError(f"currency {cmd.currency!r} is not supported", code=ErrorCode.UNKNOWN_CURRENCY)
        if cmd.amount <= 0 or cmd.amount > MAX_AMOUNT_MINOR:
            raise RequestError(
                f"amount must be between 1 and {MAX_AMOUNT_MINOR} minor units", code=ErrorCode.INVALID_AMOUNT
            )
        pay_type = self._gateway.pay_type(cmd.pay_type)
        if cmd.pay_type not in app.allowed_pay_types:
            raise RequestError(f"this app may not use {cmd.pay_type}", code=ErrorCode.PAY_TYPE_NOT_ALLOWED)
        expire = cmd.expire_minutes if cmd.expire_minutes is not None else self._default_expire
        if not 1 <= expire <= self._max_expire:
            raise RequestError(f"expire_minutes must be between 1 and {self._max_expire}")
        return pay_type

    async def _prepare_unless_repeat(
        self, app: AppContext, cmd: PayCommand, pay_type: PayType
    ) -> tuple[ChannelAccount, CreatePayment] | None:
        """:meth:`_prepare` — unless it refuses the request (no channel account, the channel's
        own validation) for an order that already has its trade: then None, and the order's
        repeat is answered as one (docs/api.md: idempotency comes before those checks). A
        repeat ignores the fields it differs in; another amount or currency is
        ORDER_MISMATCH; another pay type is a new attempt, which is checked again."""
        try:
            return await self._prepare(app, cmd, pay_type)
        except (RequestError, UpstreamError) as exc:
            if exc.code not in (ErrorCode.CHANNEL_VALIDATION, ErrorCode.NO_CHANNEL_ACCOUNT):
                raise
            async with self._db.reading() as uow:
                if await uow.trades.by_order(app.app_id, cmd.out_order_no) is None:
                    raise
            return None

    async def _prepare(
        self, app: AppContext, cmd: PayCommand, pay_type: PayType
    ) -> tuple[ChannelAccount, CreatePayment]:
        account = await self._router.route(app, pay_type)
        request = self._request(cmd, pay_type, account)
        try:
            self._gateway.validate(pay_type, request)
        except ValueError as exc:
            raise RequestError(str(exc), code=ErrorCode.CHANNEL_VALIDATION) from None
        return account, request

    def _request(self, cmd: PayCommand, pay_type: PayType, account: ChannelAccount) -> CreatePayment:
        expire = cmd.expire_minutes if cmd.expire_minutes is not None else self._default_expire
        trade_no = new_trade_no()
        return CreatePayment(
            attempt_no=new_attempt_no(trade_no, 1),
            trade_no=trade_no,
            method=pay_type.method,
            amount=Money(cmd.amount, cmd.currency),
            subject=cmd.subject,
            expire_at=utc_now() + timedelta(minutes=expire),
            description=cmd.description or "",
            client_ip=cmd.client_ip or "",
            # the payer's browser always comes back through paygate's /return, which then
            # sends it on to the app's return_url with the trade's state
            return_url=account.return_url,
            extra=cmd.extra,
        )

    @staticmethod
    def _new_trade(
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
            state=TradeState.CREATED,
            expire_at=request.expire_at,
            attempt_no=request.attempt_no,
            notify_url=cmd.notify_url or app.notify_url,
            return_url=cmd.return_url,
            client_ip=cmd.client_ip,
            extra=mask(cmd.extra),
            metadata_=cmd.metadata,
            fingerprint=cmd.fingerprint(),
            refunded_amount=0,
            next_check_at=next_check(utc_now(), 0),  # the reliability engine asks if nothing comes
        )

    @staticmethod
    def _created_log(cmd: PayCommand) -> TradeLog:
        request = {
            "pay_type": cmd.pay_type,
            "amount": cmd.amount,
            "currency": cmd.currency,
            "extra": cmd.extra,
        }
        return log_row(None, "created", Source.API, {"request": mask(request)}, utc_now())

    # ------------------------------------------------------------------ local pay forms

    async def _pay_locally(
        self,
        app: AppContext,
        cmd: PayCommand,
        pay_type: PayType,
        account: ChannelAccount,
        request: CreatePayment,
    ) -> TradeView | None:
        try:
            result = await self._gateway.create(account, request)
        except ChannelError as exc:
            # nothing was written and nothing left the process (e.g. an unusable key)
            code = ErrorCode.CHANNEL_UNAVAILABLE if exc.retryable else ErrorCode.CHANNEL_ERROR
            raise UpstreamError(exc.message, code=code, retryable=exc.retryable) from None
        if result.status is not PaymentStatus.PENDING:
            raise AssertionError(f"a local pay form answered {result.status}")  # adapter contract
        trade = self._new_trade(app, cmd, pay_type, account, request)
        now = utc_now()
        step = apply_event(
            trade, TradeEvent.ACCEPTED, Facts(result.channel_trade_no, attempt_no=request.attempt_no), now
        )
        action = result.action.to_dict()
        attempt = ChannelAttempt(
            attempt_no=request.attempt_no,
            channel=pay_type.channel,
            channel_account_id=account.id,
            status=AttemptStatus.ACCEPTED,
            action=action,
            channel_trade_no=result.channel_trade_no,
        )
        logs = [
            self._created_log(cmd),
            log_row(step, TradeEvent.ACCEPTED.value, Source.API, exchange_json(result.exchange), now),
        ]
        async with self._db.single_statement() as uow:
            stored = await uow.trades.insert(trade, attempt, logs)
        if stored is None:
            return None
        view = trade_view(trade, action)
        await self._after_commit.trade_created(view)
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
        trade = self._new_trade(app, cmd, pay_type, account, request)
        attempt = ChannelAttempt(
            attempt_no=request.attempt_no,
            channel=pay_type.channel,
            channel_account_id=account.id,
            status=AttemptStatus.SENT,
        )
        async with self._db.single_statement() as uow:
            stored = await uow.trades.insert(trade, attempt, [self._created_log(cmd)])
        return None if stored is None else (trade, attempt)

    async def _call_create(
        self, trade: Trade, attempt: ChannelAttempt, account: ChannelAccount, request: CreatePayment
    ) -> TradeView:
        result: CreateResult | None = None
        error: ChannelError | None = None
        try:
            result = await self._gateway.create(account, request)
        except ChannelError as exc:
            error = exc
        self._failpoints.hit("pay.after_channel_call")  # crash tests: the answer is not recorded
        return await self._record_answer(trade, attempt, request, result, error)

    async def _record_answer(
        self,
        trade: Trade,
        attempt: ChannelAttempt,
        request: CreatePayment,
        result: CreateResult | None,
        error: ChannelError | None,
    ) -> TradeView:
        """Apply the channel's answer to a create (or its failure) in a second transaction."""
        outcome = create_outcome(result, error, request.attempt_no)
        rounds = 0

        async def unit(uow: UnitOfWork) -> tuple[TradeView, bool]:
            nonlocal rounds
            rounds += 1
            if rounds == 1:  # the first transaction's objects, still current unless a
                current, current_attempt = trade, attempt  # notification won the race
                uow.trades.attach(current, current_attempt)
            else:
                found = await uow.trades.by_attempt(request.attempt_no)
                assert found is not None
                current, current_attempt = found
            current_attempt.status = outcome.attempt_status
            if outcome.action is not None:
                current_attempt.action = outcome.action
                current_attempt.channel_trade_no = outcome.channel_trade_no
            changed = False
            if outcome.event is not None:
                changed = await record_event(
                    uow,
                    current,
                    outcome.event,
                    source=Source.API,
                    exchange=outcome.exchange,
                    facts=outcome.facts,
                )
            await uow.flush()
            return trade_view(current, current_attempt.action), changed

        view, changed = await self._db.run(unit)
        await self._after_commit.trade_saved(view, state_changed=changed)
        if error is not None:
            raise upstream_error(error, view)
        return view

    # ------------------------------------------------------------------ repeats

    async def _after_collision(
        self, app: AppContext, cmd: PayCommand, pay_type: PayType, *, may_send: bool
    ) -> TradeView:
        """The order's trade exists: return it, or send it a new attempt when the payer
        switched pay type or the last attempt never reached the channel."""
        async with self._db.reading() as uow:
            trade = await uow.trades.by_order(app.app_id, cmd.out_order_no)
            attempt = await uow.trades.attempt(trade.attempt_no) if trade else None
        if trade is None:
            raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS)
        if trade.amount != cmd.amount or trade.currency != cmd.currency:
            raise ConflictError(
                "out_order_no was already used with a different amount or currency",
                code=ErrorCode.ORDER_MISMATCH,
                details={"trade_no": trade.trade_no},
            )
        open_ = trade.state in (TradeState.CREATED, TradeState.PENDING, TradeState.UNKNOWN)
        switched = cmd.pay_type != trade.pay_type
        never_sent = (
            trade.state is TradeState.CREATED
            and attempt is not None
            and attempt.status is AttemptStatus.NOT_SENT
        )
        if open_ and (switched or never_sent):
            if not may_send:  # another process holds the order's lock
                raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS, details={"trade_no": trade.trade_no})
            return await self._new_attempt(trade, app, pay_type, cmd)
        if trade.state is TradeState.CREATED and (attempt is None or attempt.action is None):
            raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS, details={"trade_no": trade.trade_no})
        same_form = not switched and attempt is not None
        return trade_view(trade, attempt.action if same_form and attempt else None)

    async def _new_attempt(
        self, trade: Trade, app: AppContext, pay_type: PayType, cmd: PayCommand
    ) -> TradeView:
        """Send the trade a new attempt with ``pay_type``: its previous attempts stay open at
        their channels until the trade ends, and a second payment through one of them is a
        repeat payment (refunded, R-PAY-6)."""
        if trade.expire_at <= utc_now():
            raise ConflictError(code=ErrorCode.TRADE_EXPIRED, details={"trade_no": trade.trade_no})
        account = await self._router.route(app, pay_type)
        async with self._db.reading() as uow:
            seq = await uow.trades.count_attempts(trade.id) + 1
        request = CreatePayment(
            attempt_no=new_attempt_no(trade.trade_no, seq),
            trade_no=trade.trade_no,
            method=pay_type.method,
            amount=Money(trade.amount, trade.currency),
            subject=trade.subject,
            expire_at=trade.expire_at,
            description=trade.description or "",
            client_ip=cmd.client_ip or trade.client_ip or "",
            return_url=account.return_url,
            extra=cmd.extra,
        )
        try:
            self._gateway.validate(pay_type, request)
        except ValueError as exc:
            raise RequestError(str(exc), code=ErrorCode.CHANNEL_VALIDATION) from None
        local: CreateResult | None = None
        if self._gateway.is_local(pay_type):
            try:  # sign first: nothing is written when the pay data cannot be made
                local = await self._gateway.create(account, request)
            except ChannelError as exc:
                code = ErrorCode.CHANNEL_UNAVAILABLE if exc.retryable else ErrorCode.CHANNEL_ERROR
                raise UpstreamError(exc.message, code=code, retryable=exc.retryable) from None

        async def unit(uow: UnitOfWork) -> tuple[Trade, ChannelAttempt] | None:
            fresh = await uow.trades.by_id(trade.id)
            assert fresh is not None
            if fresh.state not in (TradeState.CREATED, TradeState.PENDING, TradeState.UNKNOWN):
                return None  # it ended meanwhile
            fresh.attempt_no, fresh.pay_type = request.attempt_no, cmd.pay_type
            fresh.channel, fresh.channel_account_id = pay_type.channel, account.id
            attempt = ChannelAttempt(
                attempt_no=request.attempt_no,
                trade_id=fresh.id,
                channel=pay_type.channel,
                channel_account_id=account.id,
                status=AttemptStatus.SENT,
            )
            if not await uow.insert_unique(attempt):
                return None  # the same attempt is being made concurrently
            await uow.flush()
            return fresh, attempt

        made = await self._db.run(unit)
        if made is None:
            raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS, details={"trade_no": trade.trade_no})
        fresh, attempt = made
        if local is not None:
            return await self._record_answer(fresh, attempt, request, local, None)
        return await self._call_create(fresh, attempt, account, request)
