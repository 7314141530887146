"""Sending a refund back along its payment's route, and recording the channel's answer.

The refund is committed (its amount reserved) before the channel is called; the answer is
applied in a second transaction through the refund state machine. The channel de-duplicates
by paygate's refund number (Alipay ``out_request_no``, WeChat Pay ``out_refund_no``, Stripe's
idempotency key ``refund:<refund_no>``), so sending the same refund again is safe: that is how
a refund the channel never received is repaired.
"""

from __future__ import annotations

import structlog

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.channels.contract import ChannelError, RefundRequest, RefundResult
from paygate.channels.gateway import ChannelGateway
from paygate.domain.refunds import RefundEvent, RefundState
from paygate.kit import metrics
from paygate.kit.errors import ErrorCode, NotFoundError, UpstreamError
from paygate.kit.money import Money
from paygate.models import Refund
from paygate.payments.after_commit import AfterCommit
from paygate.payments.state_changes import Source, exchange_json
from paygate.refunds.outcomes import RefundOutcome, refund_outcome, refund_upstream_error
from paygate.refunds.state_changes import SENDABLE, record_refund_event
from paygate.refunds.views import RefundView, refund_view
from paygate.repositories import Database, UnitOfWork

__all__ = ["SENDABLE", "RefundSender", "check_refund_amount"]

_SETTLED = frozenset({RefundState.SUCCEEDED.value, RefundState.FAILED.value})

log = structlog.get_logger("paygate.refunds")


def check_refund_amount(refund: Refund, amount: Money | None) -> bool:
    """False (with an alert) when the channel reports another amount than the refund's."""
    if amount is None or (amount.minor == refund.amount and amount.currency == refund.currency):
        return True
    metrics.ALERTS.labels("refund_amount_mismatch", refund.channel).inc()
    log.error("alert.refund_amount_mismatch", refund_no=refund.refund_no, channel_amount=str(amount))
    return False


class RefundSender:
    def __init__(
        self, db: Database, accounts: ChannelAccounts, gateway: ChannelGateway, after_commit: AfterCommit
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._gateway = gateway
        self._after_commit = after_commit

    async def send(self, refund_no: str) -> tuple[RefundView, UpstreamError | None]:
        """Send the refund (if it is still to be sent) and record the answer: its view, and the
        error an app would see when the channel did not say yes."""
        async with self._db.reading() as uow:
            refund = await uow.refunds.by_no(refund_no)
            trade = await uow.trades.by_id(refund.trade_id) if refund else None
        if refund is None or trade is None:
            raise NotFoundError(code=ErrorCode.REFUND_NOT_FOUND)
        if refund.state not in SENDABLE:
            return refund_view(refund, trade), None
        account = await self._accounts.get(refund.channel_account_id or trade.channel_account_id)
        if account is None:
            raise UpstreamError("the payment's channel account is gone", code=ErrorCode.NO_CHANNEL_ACCOUNT)
        request = RefundRequest(
            refund_no=refund.refund_no,
            attempt_no=refund.attempt_no,
            channel_trade_no=refund.payment_channel_trade_no,
            amount=Money(refund.amount, refund.currency),
            total=Money(trade.paid_amount if trade.paid_amount is not None else trade.amount, trade.currency),
            reason=refund.reason or "",
        )
        result: RefundResult | None = None
        error: ChannelError | None = None
        try:
            result = await self._gateway.refund(account, request)
        except ChannelError as exc:
            error = exc
        if result is not None and not check_refund_amount(refund, result.amount):
            # an answer that contradicts the request cannot be trusted: the outcome is unknown
            exchange = exchange_json(result.exchange, error=f"refund amount {result.amount} is not ours")
            outcome = RefundOutcome(RefundEvent.UNCERTAIN, exchange=exchange)
        else:
            outcome = refund_outcome(result, error)
        view = await self.record(refund.id, outcome, source=Source.API)
        if error is not None and not (error.retryable and view["state"] in _SETTLED):
            return view, refund_upstream_error(error, view)
        # the answer was lost, but the refund's end is known (its notification came first)
        return view, None

    async def record(self, refund_id: int, outcome: RefundOutcome, *, source: Source) -> RefundView:
        """Apply an outcome to the stored refund (re-run on a lost version race)."""

        async def unit(uow: UnitOfWork) -> tuple[RefundView, bool]:
            refund = await uow.refunds.by_id(refund_id)
            assert refund is not None
            changed = False
            if outcome.event is not None:
                changed = await record_refund_event(
                    uow, refund, outcome.event, source=source, exchange=outcome.exchange, facts=outcome.facts
                )
            trade = await uow.trades.by_id(refund.trade_id)
            assert trade is not None
            return refund_view(refund, trade), changed

        view, changed = await self._db.run(unit)
        await self._after_commit.refund_saved(view, state_changed=changed)
        return view
