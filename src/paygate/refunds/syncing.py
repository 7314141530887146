"""Asking the channel what became of a refund (R-REF-4, R-NTF-3): a definite answer goes
through the refund state machine; a refund the channel never received (NOT_FOUND while it
is being processed or unknown) is sent again under the same refund number — never failed
by guess."""

from __future__ import annotations

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.channels.contract import ChannelError, RefundStatus
from paygate.channels.gateway import ChannelGateway
from paygate.domain.refunds import RefundEvent
from paygate.kit.errors import ErrorCode, NotFoundError, UpstreamError
from paygate.payments.state_changes import Source, exchange_json
from paygate.refunds.outcomes import RefundOutcome, refund_outcome, refund_upstream_error
from paygate.refunds.sending import SENDABLE, RefundSender, check_refund_amount
from paygate.refunds.views import RefundView, refund_view
from paygate.repositories import Database

__all__ = ["RefundSync"]


class RefundSync:
    def __init__(
        self, db: Database, accounts: ChannelAccounts, gateway: ChannelGateway, sender: RefundSender
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._gateway = gateway
        self._sender = sender

    async def sync(self, refund_no: str, *, source: Source = Source.QUERY) -> RefundView:
        async with self._db.reading() as uow:
            refund = await uow.refunds.by_no(refund_no)
            trade = await uow.trades.by_id(refund.trade_id) if refund else None
        if refund is None or trade is None:
            raise NotFoundError(code=ErrorCode.REFUND_NOT_FOUND)
        if refund.state not in SENDABLE:  # final, or waiting for a person: nothing to ask
            return refund_view(refund, trade)
        account = await self._accounts.get(refund.channel_account_id or trade.channel_account_id)
        if account is None:
            raise UpstreamError("the payment's channel account is gone", code=ErrorCode.NO_CHANNEL_ACCOUNT)
        try:
            result = await self._gateway.query_refund(
                account,
                refund.refund_no,
                refund.attempt_no,
                channel_trade_no=refund.payment_channel_trade_no,
                channel_refund_no=refund.channel_refund_no,
            )
        except ChannelError as exc:
            raise refund_upstream_error(exc, refund_view(refund, trade)) from None
        if result.status is RefundStatus.NOT_FOUND:
            view, error = await self._sender.send(refund.refund_no)  # the channel never got it
            if error is not None:
                raise error
            return view
        if not check_refund_amount(refund, result.amount):
            outcome = RefundOutcome(
                RefundEvent.UNCERTAIN, exchange=exchange_json(result.exchange, error="another refund amount")
            )
        else:
            outcome = refund_outcome(result, None)
        return await self._sender.record(refund.id, outcome, source=source)
