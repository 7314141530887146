"""Choosing the channel account that serves a payment (R-CH-3, R-CH-5).

The app's own bindings first (by their priority), else every enabled account of the channel
(by the account's priority); accounts whose circuit is open are skipped while another one is
healthy (failover). Routing data is read at most every :data:`ROUTE_CACHE_SECONDS`.
"""

from __future__ import annotations

from typing import Final

from cachetools import TTLCache

from paygate.accounts.channel_accounts import ChannelAccounts
from paygate.channels.contract import ChannelAccount
from paygate.channels.gateway import ChannelGateway
from paygate.channels.registry import PayType
from paygate.domain.apps import AppContext
from paygate.kit.errors import ErrorCode, UpstreamError
from paygate.repositories import Database

__all__ = ["ROUTE_CACHE_SECONDS", "Router"]

ROUTE_CACHE_SECONDS: Final = 5.0


class Router:
    def __init__(
        self,
        db: Database,
        accounts: ChannelAccounts,
        gateway: ChannelGateway,
        ttl: float = ROUTE_CACHE_SECONDS,
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._gateway = gateway
        self._routes: TTLCache[tuple[str, str], list[ChannelAccount]] = TTLCache(maxsize=10_000, ttl=ttl)

    def forget(self) -> None:
        """Forget cached routing data now (after accounts or bindings changed)."""
        self._routes.clear()

    async def candidates(self, app: AppContext, channel: str) -> list[ChannelAccount]:
        key = (app.app_id, channel)
        accounts = self._routes.get(key)
        if accounts is None:
            accounts = await self._accounts.enabled_for(channel)
            async with self._db.reading() as uow:
                bound = dict(await uow.apps.bound_accounts(app.app_id))
            if bound:
                accounts = sorted((a for a in accounts if a.id in bound), key=lambda a: -bound[a.id])
            self._routes[key] = accounts
        return accounts

    async def route(self, app: AppContext, pay_type: PayType) -> ChannelAccount:
        accounts = await self.candidates(app, pay_type.channel)
        healthy = [a for a in accounts if not self._gateway.is_open(a.id)] or accounts
        if not healthy:
            raise UpstreamError(
                f"no enabled {pay_type.channel} account", code=ErrorCode.NO_CHANNEL_ACCOUNT, retryable=True
            )
        return healthy[0]
