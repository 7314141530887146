"""Asking for a refund (R-REF-1, R-REF-2, R-REF-5, R-API-1 ``/refund``).

paygate loads the original payment itself, checks the money rules, decides whether the
refund waits for approval, and gives the refund its own ``refund_no``. Idempotent on
``(app, out_refund_no)``: a repeat returns the same refund; the same number with another
trade or amount is refused (REFUND_MISMATCH).

The amount is reserved against the payment by one conditional UPDATE of the trade row
(``refund_reserved + amount <= paid_amount``) in the same transaction as the refund row, so the
sum of succeeded and in-flight refunds never exceeds what was paid — also when many requests
for one trade arrive at once, on every backend.
"""

from __future__ import annotations

from paygate.domain.apps import AppContext
from paygate.domain.checks import next_check
from paygate.domain.refunds import RefundKind, RefundRoute, RefundState
from paygate.domain.trades import TradeState
from paygate.kit.clock import utc_now
from paygate.kit.errors import ConflictError, ErrorCode, RequestError
from paygate.kit.ids import new_refund_no
from paygate.kit.money import MAX_AMOUNT_MINOR
from paygate.models import Refund, Trade
from paygate.payments.after_commit import AfterCommit
from paygate.payments.querying import load_trade
from paygate.payments.state_changes import Source
from paygate.refunds.approval import ApprovalPolicy
from paygate.refunds.commands import RefundCommand
from paygate.refunds.sending import RefundSender
from paygate.refunds.state_changes import announce, refund_log
from paygate.refunds.views import RefundView, refund_view
from paygate.repositories import Database, UnitOfWork

__all__ = ["RefundCreator"]


class RefundCreator:
    def __init__(
        self, db: Database, policy: ApprovalPolicy, sender: RefundSender, after_commit: AfterCommit
    ) -> None:
        self._db = db
        self._policy = policy
        self._sender = sender
        self._after_commit = after_commit

    async def request(self, app: AppContext, cmd: RefundCommand, *, requested_by: str) -> RefundView:
        """Create the refund and, unless it waits for approval, send it. A channel failure
        raises the :class:`UpstreamError` the app sees (with the refund's number and state);
        a repeat of the request returns the refund as it now is."""
        if cmd.amount <= 0 or cmd.amount > MAX_AMOUNT_MINOR:
            raise RequestError(
                f"amount must be between 1 and {MAX_AMOUNT_MINOR} minor units", code=ErrorCode.INVALID_AMOUNT
            )
        created = await self._db.run(lambda uow: self._create(uow, app, cmd, requested_by))
        if created is None:  # the number was taken meanwhile: a concurrent repeat
            view = await self._existing(app, cmd)
            return view
        view, fresh = created
        if not fresh:
            return view
        await self._after_commit.refund_saved(view, state_changed=True)
        if view["state"] != RefundState.PROCESSING:
            return view
        sent, error = await self._sender.send(view["refund_no"])
        if error is not None:
            raise error
        return sent

    async def _create(
        self, uow: UnitOfWork, app: AppContext, cmd: RefundCommand, requested_by: str
    ) -> tuple[RefundView, bool] | None:
        trade = await load_trade(uow, app.app_id, cmd.trade)
        existing = await uow.refunds.by_out_no(app.app_id, cmd.out_refund_no)
        if existing is not None:
            return self._repeat(existing, trade, cmd), False
        self._check(trade, cmd)
        now = utc_now()
        hold = await self._policy.reason_to_hold(uow, app.app_id, cmd.amount, trade.currency, now)
        if not await uow.trades.reserve_refund(trade, cmd.amount):
            paid = trade.paid_amount if trade.paid_amount is not None else trade.amount
            if trade.state is not TradeState.SUCCEEDED:
                raise self._not_refundable(trade)
            raise ConflictError(
                f"{cmd.amount} exceeds the refundable remainder {paid - trade.refund_reserved}",
                code=ErrorCode.REFUND_EXCEEDS_REMAINDER,
                details={"trade_no": trade.trade_no, "refundable": paid - trade.refund_reserved},
            )
        state = RefundState.PENDING_APPROVAL if hold else RefundState.PROCESSING
        refund = Refund(
            refund_no=new_refund_no(),
            trade_id=trade.id,
            app_id=app.app_id,
            out_refund_no=cmd.out_refund_no,
            amount=cmd.amount,
            currency=trade.currency,
            reason=cmd.reason,
            kind=RefundKind.BUSINESS,
            route=RefundRoute.ORIGINAL,
            state=state,
            channel=trade.channel,
            channel_account_id=trade.channel_account_id,
            attempt_no=trade.attempt_no,
            payment_channel_trade_no=trade.channel_trade_no,
            fingerprint=cmd.fingerprint(trade.trade_no),
            notify_url=cmd.notify_url,
            requested_by=requested_by,
            created_at=now,
            next_check_at=next_check(now, 0) if state is RefundState.PROCESSING else None,
        )
        request = {"amount": cmd.amount, "reason": cmd.reason, "requested_by": requested_by}
        if hold:
            request["held"] = hold
        logs = [refund_log(None, "requested", Source.API, {"request": request}, now, initial=state)]
        if not await uow.refunds.insert(refund, logs):
            return None
        if hold:
            await announce(uow, refund, trade)
        return refund_view(refund, trade), True

    async def _existing(self, app: AppContext, cmd: RefundCommand) -> RefundView:
        async with self._db.reading() as uow:
            trade = await load_trade(uow, app.app_id, cmd.trade)
            existing = await uow.refunds.by_out_no(app.app_id, cmd.out_refund_no)
        if existing is None:
            raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS)
        return self._repeat(existing, trade, cmd)

    @staticmethod
    def _repeat(existing: Refund, trade: Trade, cmd: RefundCommand) -> RefundView:
        if existing.trade_id != trade.id or existing.fingerprint != cmd.fingerprint(trade.trade_no):
            raise ConflictError(
                "out_refund_no was already used for another trade or amount",
                code=ErrorCode.REFUND_MISMATCH,
                details={"refund_no": existing.refund_no},
            )
        return refund_view(existing, trade)

    def _check(self, trade: Trade, cmd: RefundCommand) -> None:
        if trade.state is not TradeState.SUCCEEDED:
            raise self._not_refundable(trade)
        if cmd.currency is not None and cmd.currency != trade.currency:
            raise RequestError(
                f"the trade is in {trade.currency}, not {cmd.currency}",
                code=ErrorCode.CURRENCY_MISMATCH,
                details={"currency": trade.currency},
            )

    @staticmethod
    def _not_refundable(trade: Trade) -> ConflictError:
        return ConflictError(
            f"a {trade.state} trade cannot be refunded",
            code=ErrorCode.TRADE_NOT_REFUNDABLE,
            details={"trade_no": trade.trade_no, "state": trade.state.value},
        )
