"""Closing an unpaid trade (R-API-1 ``/close``, R-PAY-5 expiry): at the channel first, then
here. Every attempt that reached a channel is closed there, so none can still be paid; a
channel that refuses (already paid) is asked what it knows and its answer is recorded — then
the close is refused. The local close goes through the state machine under the version
check, so a close and a concurrent success are serialised: exactly one wins, and a success
that comes later still is a payment after close (refunded, never lost)."""

from __future__ import annotations

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.channels.contract import ChannelBusinessError, ChannelError
from paygate.channels.gateway import ChannelGateway
from paygate.domain.trades import TERMINAL, TRADES, TradeEvent, TradeState
from paygate.kit.errors import ConflictError, ErrorCode, UpstreamError
from paygate.kit.failpoints import Failpoints
from paygate.models import Trade
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
        failpoints: Failpoints | None = None,
    ) -> None:
        self._failpoints = failpoints or Failpoints()
        self._db = db
        self._accounts = accounts
        self._gateway = gateway
        self._sync = sync
        self._after_commit = after_commit

    async def close(self, app_id: str, ref: TradeRef) -> TradeView:
        """The app closes its unpaid trade."""
        async with self._db.reading() as uow:
            trade = await load_trade(uow, app_id, ref)
        return await self.close_trade(trade, source=Source.API)

    async def close_trade(self, trade: Trade, *, source: Source) -> TradeView:
        if trade.state is TradeState.CLOSED:
            return trade_view(trade)
        if trade.state in TERMINAL:
            raise ConflictError(
                f"a {trade.state} trade cannot be closed",
                code=ErrorCode.ILLEGAL_STATE,
                details={"state": trade.state.value},
            )
        async with self._db.reading() as uow:
            attempts = await uow.trades.live_attempts(trade.id)
        closed_at_channel: dict[str, bool] = {}
        exchanges = []
        for attempt in attempts:
            account = await self._accounts.get(attempt.channel_account_id)
            if account is None:
                raise UpstreamError(
                    "the attempt's channel account is gone", code=ErrorCode.NO_CHANNEL_ACCOUNT
                )
            try:
                result = await self._gateway.close(account, attempt.attempt_no, attempt.channel_trade_no)
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
            closed_at_channel[attempt.attempt_no] = result.closed
            exchanges.append(exchange_json(result.exchange))
        self._failpoints.hit("close.after_channel_close")  # crash tests: closed there, not here

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
                source=source,
                exchange={"closed_at_channel": closed_at_channel, "exchanges": exchanges},
            )
            return trade_view(fresh), changed

        view, changed = await self._db.run(unit)
        await self._after_commit.trade_saved(view, state_changed=changed)
        return view
