"""A faithful local simulator of Alipay's OpenAPI gateway (R-CH-6).

Mounted at ``/alipay`` on the sandbox server: the gateway is
``{base_url}/alipay/gateway.do``. It implements Alipay's signing rules on its own (it
never imports ``paygate.channels``), so python-alipay-sdk, the official
alipay-sdk-python and paygate's adapter can each be checked against it over real HTTP.
The generic machinery (faults, notification delivery, control API, clock, pages) is the
harness's (:mod:`paygate.sandbox.harness`). See ``docs/sandbox/alipay.md``.

Modules (the sandbox skeleton, ``docs/sandbox/README.md``): ``keys`` (identity,
persisted), ``wire`` (canonical strings, signatures, envelopes, amounts, times),
``errors``, ``api`` (the gateway and request authentication), ``state`` (trades, refunds,
their transition tables), ``store`` (the trade book), ``resources`` (the OpenAPI methods),
``payer`` (the control API's Alipay side), ``notifications``, ``bills``, ``pages`` +
``templates/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import httpx
from starlette.routing import BaseRoute, Route

from paygate.sandbox.alipay.api import METHODS, gateway_endpoint
from paygate.sandbox.alipay.bills import bill_download_url
from paygate.sandbox.alipay.errors import parse_fault
from paygate.sandbox.alipay.keys import MerchantApp, load_or_create
from paygate.sandbox.alipay.notifications import DELIVERY
from paygate.sandbox.alipay.pages import CashierPages, browser_routes
from paygate.sandbox.alipay.payer import Payer
from paygate.sandbox.alipay.resources import refunds, trades
from paygate.sandbox.alipay.resources.trades import (
    AUTH_CODE_EXPIRED,
    AUTH_CODE_NO_BALANCE,
    AUTH_CODE_SUCCESS,
    AUTH_CODE_WAIT_BUYER,
)
from paygate.sandbox.alipay.store import AlipayStore
from paygate.sandbox.alipay.wire import BEIJING
from paygate.sandbox.base import SandboxConfig
from paygate.sandbox.harness import Controls, Harness, HarnessedSandbox

__all__ = [
    "AUTH_CODE_EXPIRED",
    "AUTH_CODE_NO_BALANCE",
    "AUTH_CODE_SUCCESS",
    "AUTH_CODE_WAIT_BUYER",
    "AlipaySandbox",
]

#: How often (real seconds) unpaid trades past their deadline are closed and notified.
SWEEP_INTERVAL: Final = 1.0

HANDLERS: Final = {
    "alipay.trade.precreate": trades.precreate,
    "alipay.trade.create": trades.create,
    "alipay.trade.pay": trades.barcode_pay,
    "alipay.trade.query": trades.query,
    "alipay.trade.close": trades.close,
    "alipay.trade.cancel": trades.cancel,
    "alipay.trade.refund": refunds.refund,
    "alipay.trade.fastpay.refund.query": refunds.refund_query,
    "alipay.data.dataservice.bill.downloadurl.query": bill_download_url,
}


class AlipaySandbox(HarnessedSandbox):
    """The Alipay channel sandbox (satisfies :class:`paygate.sandbox.base.ChannelSandbox`)."""

    name = "alipay"

    def __init__(self, config: SandboxConfig, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config)
        templates = Path(__file__).parent / "templates"
        self.harness = Harness(
            config,
            name=self.name,
            delivery=DELIVERY,
            parse_error=parse_fault,
            operations=METHODS,
            refund_outcomes=refunds.REFUND_OUTCOMES,
            templates=templates,
            tz=BEIJING,
            http=http,
        )
        self._store = AlipayStore(self.harness, load_or_create(config.data_dir))
        self._payer = Payer(self._store)
        self._pages = CashierPages(self._store, self.harness.pages)
        self._sweeping = False

    def _routes(self) -> list[BaseRoute]:
        gateway = gateway_endpoint(self._store, HANDLERS, self._pages.opened, self._pages.gateway_error)
        return [
            Route("/gateway.do", gateway, methods=["GET", "POST"]),
            *browser_routes(self._store, self._pages),
        ]

    def _controls(self) -> Controls:
        return self._payer

    async def start(self) -> None:
        await super().start()
        if not self._sweeping:  # one sweep chain, kept across stop and start
            self._sweeping = True
            self.harness.scheduler.later(0, self._sweep, scaled=False)

    def _sweep(self) -> None:
        """Close what expired, then again in SWEEP_INTERVAL (real) seconds."""
        self._store.sweep()
        self.harness.scheduler.later(SWEEP_INTERVAL, self._sweep, scaled=False)

    @property
    def gateway_url(self) -> str:
        return self._store.gateway_url

    def credentials(self) -> dict[str, Any]:
        identity = self._store.identity
        demo = identity.demo_merchant
        return {
            "gateway_url": self.gateway_url,
            "app_id": demo.app_id,
            "app_private_key": demo.app_private_key,
            "alipay_public_key": identity.alipay_public_key,
            "app_public_key": demo.app_public_key,
            "seller_id": demo.seller_id,
        }

    def register_merchant(
        self,
        app_id: str,
        app_public_key_pem: str,
        seller_id: str,
        *,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Add a merchant app (in memory). ``methods`` limits the OpenAPI methods it may
        call (others answer ``40006``); ``None`` allows all."""
        allowed = frozenset(methods) if methods is not None else None
        self._store.add_merchant(MerchantApp(app_id, seller_id, app_public_key_pem, methods=allowed))
