"""What follows a committed change of a trade's state (R-LOG-3): its cached view is dropped,
and the ``after_pay`` hooks run — once per committed change, never for a repeat, never
before the trade-log row is durable. A hook that fails is logged; it never fails the
payment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from paygate.payments.query_cache import TradeQueryCache
from paygate.payments.trade_view import TradeView

__all__ = ["AfterCommit", "AfterPayHook"]

log = structlog.get_logger("paygate.payments")

AfterPayHook = Callable[[TradeView], Awaitable[None]]


class AfterCommit:
    def __init__(self, cache: TradeQueryCache) -> None:
        self._cache = cache
        #: R-LOG-3: called with the trade's view after each committed state change.
        self.after_pay: list[AfterPayHook] = []

    async def trade_saved(self, view: TradeView, *, state_changed: bool) -> None:
        self._cache.invalidate(view)
        if not state_changed:
            return
        for hook in self.after_pay:
            try:
                await hook(view)
            except Exception:  # a hook never breaks the payment
                log.exception("after_pay hook failed", trade_no=view.get("trade_no"))
