"""The payer's browser coming back from the channel (R-API-1 ``/return``). Never proof of
payment: it only names the trade, and the page shows paygate's own state. A return the
channel signed prompts a query at the channel, so the page is as fresh as it can be."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.channels.gateway import ChannelGateway
from paygate.domain.trades import TERMINAL
from paygate.kit.errors import PaygateError
from paygate.payments.state_changes import Source
from paygate.payments.syncing import ChannelSync
from paygate.repositories import Database

__all__ = ["PayerReturn", "PayerReturns"]


@dataclass(frozen=True)
class PayerReturn:
    """Where the payer's browser goes next."""

    trade_no: str
    out_order_no: str
    state: str
    return_url: str | None  # the app's page, when the pay request named one
    verified: bool  # the channel signed what the browser brought back


class PayerReturns:
    def __init__(
        self, db: Database, accounts: ChannelAccounts, gateway: ChannelGateway, sync: ChannelSync
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._gateway = gateway
        self._sync = sync

    async def handle(self, channel: str, account_id: int, query: Mapping[str, str]) -> PayerReturn | None:
        """The trade the browser came back for, with its state; None when unknown."""
        account = await self._accounts.get(account_id)
        if account is None or account.channel != channel:
            return None
        info = self._gateway.parse_return(account, query)
        if not info.attempt_no:
            return None
        async with self._db.reading() as uow:
            found = await uow.trades.by_attempt(info.attempt_no)
        if found is None or found[0].channel_account_id != account_id:
            return None
        trade = found[0]
        state = trade.state.value
        if info.verified and trade.state not in TERMINAL:
            try:
                state = (await self._sync.sync(trade, source=Source.RETURN))["state"]
            except PaygateError:
                pass  # the notification or compensation will settle it
        return PayerReturn(trade.trade_no, trade.out_order_no, state, trade.return_url, info.verified)
