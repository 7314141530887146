"""A local simulator of WeChat Pay API v3 for direct merchants (R-CH-6).

Served by paygate at ``{base_url}/wechatpay``: point the ``wechatpayv3`` SDK at it with
``wx._core._gate_way = credentials()["base_url"]``. It verifies every request's
``WECHATPAY2-SHA256-RSA2048`` signature over the raw body, signs every answer with the
platform key (public-key or certificate mode), keeps orders and refunds in memory, lets a
"payer" pay/fail/cancel through pages or the control API, sends encrypted notifications
on WeChat's retry schedule, serves trade bills and injects faults. See
``docs/sandbox/wechatpay.md``.

Modules: :mod:`.keys` (persisted key material), :mod:`.state` (trades, refunds, state
machines, clock), :mod:`.wire` and :mod:`.auth` (signing both ways), :mod:`.api` (the
per-request pipeline: auth → faults → handler → signed answer), :mod:`.validation`,
:mod:`.transactions`, :mod:`.refunds`, :mod:`.bills`, :mod:`.certificates`,
:mod:`.notifications` and :mod:`.notifier`, :mod:`.faults`, :mod:`.pages`,
:mod:`.control`, :mod:`.context` (what one instance owns), :mod:`.app` (routes).
Nothing here imports ``paygate.channels``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from starlette.types import ASGIApp

from paygate.sandbox.base import SandboxConfig

from . import control
from .app import build_app
from .context import MOUNT, Context
from .control import ControlError
from .faults import Faults, FaultSpecError
from .keys import Merchant, build_merchant, load_or_create
from .notifier import RETRY_SCHEDULE_SECONDS, Delivery, Notifier
from .state import Clock

__all__ = [
    "RETRY_SCHEDULE_SECONDS",
    "ControlError",
    "Delivery",
    "FaultSpecError",
    "Faults",
    "WechatPaySandbox",
]


class WechatPaySandbox:
    """The WeChat Pay v3 sandbox; satisfies :class:`paygate.sandbox.base.ChannelSandbox`."""

    name = "wechatpay"

    def __init__(self, config: SandboxConfig, *, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        merchant, platform = load_or_create(config.data_dir)
        self._demo = merchant
        self.clock = Clock()
        self.faults = Faults()
        self._ctx = Context(
            config=config,
            platform=platform,
            merchants={merchant.mchid: merchant},
            faults=self.faults,
            notifier=Notifier(platform, self.faults, config.time_scale, self.clock.now, http),
            clock=self.clock,
        )
        self._app = build_app(self._ctx)

    # -- ChannelSandbox -------------------------------------------------------------------

    @property
    def app(self) -> ASGIApp:
        return self._app

    @property
    def base_url(self) -> str:
        """Where the WeChat Pay API lives: ``config.base_url + "/wechatpay"``."""
        return self.config.base_url.rstrip("/") + MOUNT

    async def start(self) -> None:
        await self._ctx.notifier.start()

    async def stop(self) -> None:
        self._ctx.faults.release_holds()
        await self._ctx.cancel_tasks()
        await self._ctx.notifier.stop()

    def credentials(self) -> dict[str, Any]:
        """The demo merchant's credentials, with what a client needs of the platform."""
        return self._credentials_for(self._demo)

    def _credentials_for(self, merchant: Merchant) -> dict[str, Any]:
        platform = self._ctx.platform
        return {
            "base_url": self.base_url,
            **merchant.credentials(),
            "platform_public_key": platform.public_key_pem,
            "platform_public_key_id": platform.public_key_id,
            "platform_certificate_serial": platform.certificate_serial,
            "platform_certificate": platform.certificate_pem,
        }

    # -- merchants ------------------------------------------------------------------------

    def register_merchant(
        self,
        *,
        mchid: str | None = None,
        appids: list[str] | tuple[str, ...] | None = None,
        serial_no: str | None = None,
        public_key: str | None = None,
        apiv3_key: str | None = None,
    ) -> dict[str, Any]:
        """Add a merchant (in memory only) and return its credentials. Without
        ``public_key`` a key pair is generated and its private key returned."""
        merchant = build_merchant(
            mchid=mchid,
            appids=appids,
            serial_no=serial_no,
            public_key=public_key,
            apiv3_key=apiv3_key,
        )
        if merchant.mchid in self._ctx.merchants:
            raise ValueError(f"merchant {merchant.mchid} already exists")
        self._ctx.merchants[merchant.mchid] = merchant
        return self._credentials_for(merchant)

    # -- the payer and the operator (same as the control API) ---------------------------------

    def pay(
        self,
        trade: str,
        outcome: str = "pay",
        *,
        mchid: str | None = None,
        openid: str | None = None,
        bank_type: str | None = None,
    ) -> dict[str, Any]:
        """What ``POST /_sandbox/pay`` does; raises :class:`ControlError`."""
        data = {"trade": trade, "outcome": outcome, "mchid": mchid}
        data.update(openid=openid, bank_type=bank_type)
        found = control.pay_trade(self._ctx, data)
        return control.trade_view(self._ctx, found)

    def trade(self, ref: str, *, mchid: str | None = None) -> dict[str, Any] | None:
        """The trade view (as ``GET /_sandbox/trades/…``), or None if unknown/ambiguous."""
        try:
            return control.trade_view(self._ctx, control.resolve_trade(self._ctx, ref, mchid))
        except ControlError:
            return None

    def refund(self, out_refund_no: str, *, mchid: str | None = None) -> dict[str, Any]:
        return control.refund_view(control.resolve_refund(self._ctx, out_refund_no, mchid))

    def settle_refund(
        self, out_refund_no: str, outcome: str = "SUCCESS", *, mchid: str | None = None
    ) -> dict[str, Any]:
        refund = control.settle_refund(self._ctx, out_refund_no, {"outcome": outcome, "mchid": mchid})
        return control.refund_view(refund)

    def advance_clock(self, seconds: float) -> None:
        """Move sandbox time on (order expiry, timestamps, bill dates)."""
        self.clock.advance(seconds)

    # -- faults and notifications -----------------------------------------------------------

    def set_faults(self, spec: Mapping[str, Any] | None = None, /, **kinds: Any) -> dict[str, Any]:
        """Merge faults given as :meth:`Faults.update` JSON; returns the faults in force.
        ``sandbox.faults`` has the same as methods (``error``, ``timeout``, …)."""
        self.faults.update({**(spec or {}), **kinds})
        return self.faults.to_json()

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def notifications(self) -> list[Delivery]:
        """Every notification and its delivery attempts so far."""
        return self._ctx.notifier.deliveries

    def notifications_idle(self) -> bool:
        """True when no delivery is in flight, scheduled or held."""
        return self._ctx.notifier.idle()
