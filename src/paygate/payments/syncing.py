"""Asking the channel what became of a trade, and recording a definite answer (R-PAY-9,
R-NTF-3): a final status goes through the same state machine as a notification would.

A trade may have several attempts (the payer switched pay type, or an attempt was sent again):
every attempt that reached a channel is asked, newest first, so a payment made through an
older one is found too — and, when the trade kept another payment, becomes a repeat payment.
"""

from __future__ import annotations

import structlog

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.channels.contract import ChannelError, PaymentStatusResult
from paygate.channels.gateway import ChannelGateway
from paygate.domain.trades import TradeEvent
from paygate.kit.errors import ErrorCode, UpstreamError
from paygate.models import ChannelAttempt, Trade
from paygate.payments.after_commit import AfterCommit
from paygate.payments.outcomes import STATUS_EVENTS, upstream_error
from paygate.payments.state_changes import Facts, Source, exchange_json, record_event
from paygate.payments.trade_view import TradeView, trade_view
from paygate.repositories import Database, UnitOfWork

__all__ = ["ChannelSync"]

log = structlog.get_logger("paygate.payments")


class ChannelSync:
    def __init__(
        self, db: Database, accounts: ChannelAccounts, gateway: ChannelGateway, after_commit: AfterCommit
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._gateway = gateway
        self._after_commit = after_commit

    async def sync(self, trade: Trade, *, source: Source) -> TradeView:
        """Query the channel about every live attempt of ``trade`` and apply definite answers.
        When no attempt could be asked, raises the :class:`UpstreamError` the app would see
        (nothing changes)."""
        async with self._db.reading() as uow:
            attempts = await uow.trades.live_attempts(trade.id)
        view = trade_view(trade)
        failure: UpstreamError | None = None
        asked = 0
        for attempt in attempts:
            try:
                status = await self.ask(attempt)
            except ChannelError as exc:
                failure = failure or upstream_error(exc, view)
                continue
            except UpstreamError as exc:
                failure = failure or exc
                continue
            asked += 1
            view = await self.apply_status(trade.id, attempt, status, source=source)
        if asked == 0 and failure is not None:
            raise failure
        return view

    async def ask(self, attempt: ChannelAttempt) -> PaymentStatusResult:
        """The channel's word on one attempt (raises ChannelError, or UpstreamError when the
        attempt's account is gone)."""
        account = await self._accounts.get(attempt.channel_account_id)
        if account is None:
            raise UpstreamError("the attempt's channel account is gone", code=ErrorCode.NO_CHANNEL_ACCOUNT)
        return await self._gateway.query(account, attempt.attempt_no, attempt.channel_trade_no)

    async def apply_status(
        self, trade_id: int, attempt: ChannelAttempt, status: PaymentStatusResult, *, source: Source
    ) -> TradeView:
        event = STATUS_EVENTS[status.status]

        async def unit(uow: UnitOfWork) -> tuple[TradeView, bool]:
            trade = await uow.trades.by_id(trade_id)
            assert trade is not None
            if event is None:
                return trade_view(trade), False
            if event is TradeEvent.PAID and status.amount is not None:
                self._check_amount(trade, status)
            changed = await record_event(
                uow,
                trade,
                event,
                source=source,
                exchange=exchange_json(status.exchange, channel_status=status.channel_status),
                facts=Facts(
                    status.channel_trade_no,
                    status.amount.minor if status.amount else None,
                    status.paid_at,
                    attempt_no=attempt.attempt_no,
                ),
            )
            return trade_view(trade), changed

        view, changed = await self._db.run(unit)
        await self._after_commit.trade_saved(view, state_changed=changed)
        return view

    @staticmethod
    def _check_amount(trade: Trade, status: PaymentStatusResult) -> None:
        assert status.amount is not None
        if status.amount.minor != trade.amount or status.amount.currency != trade.currency:
            log.error("alert.amount_mismatch", trade_no=trade.trade_no, channel_amount=str(status.amount))
            raise UpstreamError("the channel reports a different amount", code=ErrorCode.CHANNEL_ERROR)
