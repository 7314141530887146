"""The simulated Stripe account: objects, events, delays, and who caused each change."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .balance import (
    SETTLEMENT_DELAY_SECONDS,
    BalanceTransaction,
    BtType,
    new_balance_transaction,
)
from .delivery import Dispatcher
from .events import Event, WebhookEndpoint
from .ids import new_id, now
from .keys import AccountKeys
from .scheduler import Scheduler
from .store import Record, Store

__all__ = ["DEFAULT_API_VERSION", "Account", "Cause"]

#: The account's default API version: the one stripe-python 16.1.0 pins
#: (``stripe._api_version``). Events are rendered with it, whatever the request sent.
DEFAULT_API_VERSION = "2026-10-28.endive"


@dataclass(frozen=True)
class Cause:
    """The API request behind a change (``event.request``); empty for Stripe's own work."""

    request_id: str | None = None
    idempotency_key: str | None = None


ASYNC = Cause()


class Account:
    def __init__(
        self,
        keys: Callable[[], AccountKeys],
        base_url: str,
        time_scale: float,
        scheduler: Scheduler,
        dispatcher: Dispatcher,
    ) -> None:
        self._keys = keys
        self.base_url = base_url.rstrip("/")
        self.time_scale = time_scale
        self.store = Store()
        self.scheduler = scheduler
        self.dispatcher = dispatcher

    @property
    def keys(self) -> AccountKeys:
        return self._keys()

    def later(self, seconds: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` after ``seconds`` of simulated time (times ``time_scale``)."""
        self.scheduler.call_later(seconds * self.time_scale, callback)

    def emit(
        self,
        type: str,
        obj: Record | dict[str, Any],
        cause: Cause,
        previous: dict[str, Any] | None = None,
    ) -> Event:
        snapshot = obj.to_wire() if isinstance(obj, Record) else obj
        event = self.store.add(
            Event(
                id=new_id("evt"),
                created=now(),
                type=type,
                object=copy.deepcopy(snapshot),
                previous_attributes=previous,
                request_id=cause.request_id,
                idempotency_key=cause.idempotency_key,
                api_version=DEFAULT_API_VERSION,
            )
        )
        self.dispatcher.publish(event, self.store.all(WebhookEndpoint)[::-1])
        return event

    def book(
        self,
        *,
        amount: int,
        currency: str,
        fee: int,
        type: BtType,
        source: str,
        description: str | None,
        settle: bool = True,
    ) -> BalanceTransaction:
        """Record a balance transaction; ``settle``: available after the settlement delay."""
        delay = SETTLEMENT_DELAY_SECONDS * self.time_scale if settle else 0
        return self.store.add(
            new_balance_transaction(
                amount=amount,
                currency=currency,
                fee=fee,
                type=type,
                source=source,
                settle_after=delay,
                description=description,
            )
        )
