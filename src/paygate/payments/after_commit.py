"""What follows a committed change of a trade's or a refund's state (R-LOG-3): the trade's
cached view is dropped, and the ``after_pay`` / ``after_refund`` hooks run — once per
committed change, never for a repeat, never before the trade-log row is durable. A hook that
fails is logged; it never fails the payment or the refund."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from paygate.payments.query_cache import TradeQueryCache
from paygate.payments.trade_view import TradeView

__all__ = ["AfterCommit", "AfterPayHook", "AfterRefundHook"]

log = structlog.get_logger("paygate.payments")

AfterPayHook = Callable[[TradeView], Awaitable[None]]
#: Called with the refund's view (``refund_no``, ``trade_no``, ``state`` …).
AfterRefundHook = Callable[[dict[str, Any]], Awaitable[None]]


class AfterCommit:
    def __init__(self, cache: TradeQueryCache) -> None:
        self._cache = cache
        #: R-LOG-3: called with the trade's view after each committed state change.
        self.after_pay: list[AfterPayHook] = []
        #: R-LOG-3: called with the refund's view after each committed state change.
        self.after_refund: list[AfterRefundHook] = []

    async def trade_saved(self, view: TradeView, *, state_changed: bool) -> None:
        self._cache.invalidate(view)
        if state_changed:
            await self._run(self.after_pay, view, "after_pay")

    async def trade_created(self, view: TradeView) -> None:
        """A trade written in one transaction with its first state: no process can have it
        cached (queries cache only views they found), so there is nothing to invalidate."""
        await self._run(self.after_pay, view, "after_pay")

    async def refund_saved(self, view: dict[str, Any], *, state_changed: bool) -> None:
        """A refund's change also changes its trade's view (refunded amount, refunds)."""
        self._cache.invalidate_trade(view["trade_no"], view["app_id"], view["out_order_no"])
        if state_changed:
            await self._run(self.after_refund, view, "after_refund")

    @staticmethod
    async def _run(
        hooks: list[Callable[[dict[str, Any]], Awaitable[None]]], view: dict[str, Any], name: str
    ) -> None:
        for hook in hooks:
            try:
                await hook(view)
            except Exception:  # a hook never breaks the payment or the refund
                log.exception(
                    f"{name} hook failed", trade_no=view.get("trade_no"), refund_no=view.get("refund_no")
                )
