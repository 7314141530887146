"""A faithful local simulator of Alipay's OpenAPI gateway (R-CH-6).

Mounted at ``/alipay`` on the sandbox server: the gateway is
``{base_url}/alipay/gateway.do``. It implements Alipay's signing rules on its own (it
never imports ``paygate.channels``), so python-alipay-sdk, the official
alipay-sdk-python and paygate's adapter can each be checked against it over real HTTP.
See ``docs/sandbox/alipay.md``.

Modules: ``keys`` (identity, persisted), ``wire`` (canonical strings, signatures,
envelopes), ``calls`` (authentication), ``trades``/``book`` (the trade model and its
state), ``ordering``/``managing`` (the OpenAPI methods), ``gateway``, ``cashier`` and
``pages`` (browser side), ``notifications``/``notifier``, ``bills``, ``faults``,
``control`` (the ``/_sandbox`` JSON API).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, Final

import httpx
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp

from paygate.sandbox.alipay.asgi import AbsoluteFormMiddleware
from paygate.sandbox.alipay.bills import BillStore
from paygate.sandbox.alipay.book import TradeBook
from paygate.sandbox.alipay.cashier import browser_routes
from paygate.sandbox.alipay.clock import SandboxClock
from paygate.sandbox.alipay.control import ControlError, buyer_acts, control_routes, trade_json
from paygate.sandbox.alipay.core import AlipayCore
from paygate.sandbox.alipay.faults import Faults
from paygate.sandbox.alipay.gateway import gateway_endpoint
from paygate.sandbox.alipay.keys import MerchantApp, load_or_create
from paygate.sandbox.alipay.notifier import Delivery, Notifier
from paygate.sandbox.alipay.ordering import (
    AUTH_CODE_EXPIRED,
    AUTH_CODE_NO_BALANCE,
    AUTH_CODE_SUCCESS,
    AUTH_CODE_WAIT_BUYER,
)
from paygate.sandbox.alipay.wire import sign_notification
from paygate.sandbox.base import SandboxConfig

__all__ = [
    "AUTH_CODE_EXPIRED",
    "AUTH_CODE_NO_BALANCE",
    "AUTH_CODE_SUCCESS",
    "AUTH_CODE_WAIT_BUYER",
    "AbsoluteFormMiddleware",
    "AlipaySandbox",
    "ControlError",
    "Faults",
]

#: How often (real seconds) unpaid trades past their deadline are closed and notified.
SWEEP_INTERVAL: Final = 1.0


class AlipaySandbox:
    """The Alipay channel sandbox (satisfies :class:`paygate.sandbox.base.ChannelSandbox`)."""

    name = "alipay"

    def __init__(self, config: SandboxConfig, *, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        identity = load_or_create(config.data_dir)
        self.clock = SandboxClock()
        self.faults = Faults()

        def sign(params: dict[str, str], sign_type: str, codec: str) -> dict[str, str]:
            return sign_notification(params, identity.alipay_private_key, sign_type, codec)

        notifier = Notifier(
            sign=sign, clock=self.clock, faults=self.faults, time_scale=config.time_scale, http=http
        )
        self._core = AlipayCore(
            public_url=f"{config.base_url.rstrip('/')}/{self.name}",
            identity=identity,
            clock=self.clock,
            book=TradeBook(self.clock),
            faults=self.faults,
            notifier=notifier,
            bills=BillStore(),
        )
        routes = [
            Route("/gateway.do", gateway_endpoint(self._core), methods=["GET", "POST"]),
            *browser_routes(self._core),
            *control_routes(self._core),
        ]
        self._app: ASGIApp = AbsoluteFormMiddleware(Starlette(routes=routes))
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def app(self) -> ASGIApp:
        return self._app

    @property
    def gateway_url(self) -> str:
        return self._core.gateway_url

    async def start(self) -> None:
        await self._core.notifier.start()
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="alipay-sandbox-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self._core.notifier.stop()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            self._core.sweep()

    def credentials(self) -> dict[str, Any]:
        identity = self._core.identity
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
        self._core.add_merchant(MerchantApp(app_id, seller_id, app_public_key_pem, methods=allowed))

    # -- test helpers (the control API's operations, from Python) -----------------------

    def pay(
        self, trade: str, outcome: str = "pay", *, buyer_id: str | None = None, app_id: str | None = None
    ) -> dict[str, Any]:
        """Act as the buyer (see :mod:`paygate.sandbox.alipay.control`); the trade as JSON."""
        return trade_json(
            self._core, buyer_acts(self._core, trade, outcome, buyer_id=buyer_id, app_id=app_id)
        )

    def trade(self, out_trade_no: str, app_id: str | None = None) -> dict[str, Any] | None:
        found = self._core.book.find(out_trade_no, app_id)
        return trade_json(self._core, found[0]) if len(found) == 1 else None

    def advance_clock(self, seconds: float) -> None:
        """Move sandbox time on and close the trades whose deadline passed."""
        self.clock.advance(seconds)
        self._core.sweep()

    @property
    def notifications(self) -> list[Delivery]:
        return self._core.notifier.deliveries
