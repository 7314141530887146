"""The state one sandbox instance shares between its gateway, pages and control API."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from paygate.sandbox.alipay.bills import BillStore
from paygate.sandbox.alipay.book import TradeBook
from paygate.sandbox.alipay.clock import SandboxClock
from paygate.sandbox.alipay.faults import Faults
from paygate.sandbox.alipay.ids import new_notify_id
from paygate.sandbox.alipay.keys import Buyer, MerchantApp, SandboxIdentity
from paygate.sandbox.alipay.notifications import notification_params
from paygate.sandbox.alipay.notifier import Delivery, Notifier
from paygate.sandbox.alipay.trades import TradeEvent

__all__ = ["AlipayCore"]


class AlipayCore:
    def __init__(
        self,
        *,
        public_url: str,
        identity: SandboxIdentity,
        clock: SandboxClock,
        book: TradeBook,
        faults: Faults,
        notifier: Notifier,
        bills: BillStore,
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.identity = identity
        self.clock = clock
        self.book = book
        self.faults = faults
        self.notifier = notifier
        self.bills = bills
        self._merchants_lock = threading.Lock()
        self._merchants: dict[str, MerchantApp] = {identity.demo_merchant.app_id: identity.demo_merchant}
        self._buyers: dict[str, Buyer] = {identity.demo_buyer.user_id: identity.demo_buyer}

    @property
    def gateway_url(self) -> str:
        return f"{self.public_url}/gateway.do"

    @property
    def merchants(self) -> dict[str, MerchantApp]:
        with self._merchants_lock:
            return dict(self._merchants)

    def add_merchant(self, app: MerchantApp) -> None:
        with self._merchants_lock:
            self._merchants[app.app_id] = app

    def merchant(self, app_id: str) -> MerchantApp:
        with self._merchants_lock:
            return self._merchants[app_id]

    def buyer(self, user_id: str | None = None) -> Buyer:
        """The demo buyer, or the buyer with this Alipay user id."""
        if not user_id:
            return self.identity.demo_buyer
        return self._buyers.get(user_id) or Buyer.for_user_id(user_id)

    def qr_url(self, token: str) -> str:
        return f"{self.public_url}/qr/{token}"

    def cashier_url(self, token: str) -> str:
        return f"{self.public_url}/cashier/{token}"

    def publish(self, events: Iterable[TradeEvent]) -> None:
        """Queue the notification of each event whose trade has a ``notify_url``."""
        for event in events:
            trade = event.trade
            if not trade.notify_url:
                continue
            notify_id = new_notify_id(self.clock.now())
            params = notification_params(event, self.merchant(trade.app_id), notify_id)
            self.notifier.enqueue(Delivery(notify_id, trade.notify_url, params, trade.sign_type, trade.codec))

    def sweep(self) -> None:
        """Close expired trades now and notify about them."""
        self.publish(self.book.expire())
