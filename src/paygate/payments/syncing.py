"""Asking the channel what became of a trade, and recording a definite answer (R-PAY-9):
a final status goes through the same state machine as a notification would."""

from __future__ import annotations

import structlog

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.channels.contract import ChannelError, PaymentStatusResult
from paygate.channels.gateway import ChannelGateway
from paygate.domain.trades import TradeEvent
from paygate.kit.errors import ErrorCode, UpstreamError
from paygate.models import Trade
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
        """Query the channel for ``trade`` and apply a definite answer. A failed query
        raises the :class:`UpstreamError` the app would see (nothing changes)."""
        account = await self._accounts.get(trade.channel_account_id)
        if account is None:
            raise UpstreamError("the trade's channel account is gone", code=ErrorCode.NO_CHANNEL_ACCOUNT)
        try:
            status = await self._gateway.query(account, trade.attempt_no, trade.channel_trade_no)
        except ChannelError as exc:
            raise upstream_error(exc, trade_view(trade)) from None
        return await self._apply_status(trade.id, status, source=source)

    async def _apply_status(self, trade_id: int, status: PaymentStatusResult, *, source: Source) -> TradeView:
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
