"""Closing an unpaid trade (R-API-1): at the channel first, then here. A trade the channel
reports paid (or anything else final) is recorded as such and the close is refused."""

from __future__ import annotations

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.channels.contract import ChannelBusinessError, ChannelError
from paygate.channels.gateway import ChannelGateway
from paygate.domain.trades import TERMINAL, TRADES, TradeEvent, TradeState
from paygate.kit.errors import ConflictError, ErrorCode, UpstreamError
from paygate.payments.after_commit import AfterCommit
from paygate.payments.commands import TradeRef
from paygate.payments.outcomes import upstream_error
from paygate.payments.querying import load_trade
from paygate.payments.state_changes import Source, exchange_json, record_event
from paygate.payments.syncing import ChannelSync
from paygate.payments.trade_view import TradeView, trade_view
from paygate.repositories import Database, UnitOfWork

__all__ = ["TradeCloser"]


class TradeCloser:
    def __init__(
        self,
        db: Database,
        accounts: ChannelAccounts,
        gateway: ChannelGateway,
        sync: ChannelSync,
        after_commit: AfterCommit,
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._gateway = gateway
        self._sync = sync
        self._after_commit = after_commit

    async def close(self, app_id: str, ref: TradeRef) -> TradeView:
        async with self._db.reading() as uow:
            trade = await load_trade(uow, app_id, ref)
        if trade.state is TradeState.CLOSED:
            return trade_view(trade)
        if trade.state in TERMINAL:
            raise ConflictError(
                f"a {trade.state} trade cannot be closed",
                code=ErrorCode.ILLEGAL_STATE,
                details={"state": trade.state.value},
            )
        account = await self._accounts.get(trade.channel_account_id)
        if account is None:
            raise UpstreamError("the trade's channel account is gone", code=ErrorCode.NO_CHANNEL_ACCOUNT)
        try:
            result = await self._gateway.close(account, trade.attempt_no, trade.channel_trade_no)
        except ChannelBusinessError:
            # e.g. already paid: find out what the channel knows and record it
            view = await self._sync.sync(trade, source=Source.CLOSE)
            if view["state"] != TradeState.CLOSED:
                raise ConflictError(
                    f"the trade is {view['state']} at the channel",
                    code=ErrorCode.ILLEGAL_STATE,
                    details={"state": view["state"]},
                ) from None
            return view
        except ChannelError as exc:
            raise upstream_error(exc, trade_view(trade)) from None

        async def unit(uow: UnitOfWork) -> tuple[TradeView, bool]:
            fresh = await uow.trades.by_id(trade.id)
            assert fresh is not None
            if not TRADES.allows(fresh.state, TradeEvent.CLOSED):
                raise ConflictError(
                    f"the trade became {fresh.state}",
                    code=ErrorCode.ILLEGAL_STATE,
                    details={"state": fresh.state.value},
                )
            changed = await record_event(
                uow,
                fresh,
                TradeEvent.CLOSED,
                source=Source.API,
                exchange=exchange_json(result.exchange, closed_at_channel=result.closed),
            )
            return trade_view(fresh), changed

        view, changed = await self._db.run(unit)
        await self._after_commit.trade_saved(view, state_changed=changed)
        return view
