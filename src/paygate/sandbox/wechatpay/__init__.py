"""A local simulator of WeChat Pay API v3 for direct merchants (R-CH-6).

Served by paygate at ``{base_url}/wechatpay``: point the ``wechatpayv3`` SDK at it with
``wx._core._gate_way = credentials()["base_url"]``. It verifies every request's
``WECHATPAY2-SHA256-RSA2048`` signature over the raw body, signs every answer with the
platform key (public-key or certificate mode), keeps orders and refunds in memory, lets a
"payer" pay/fail/cancel through pages or the control API, sends encrypted notifications
on WeChat's retry schedule and serves trade bills. Faults, notification delivery, the
control API, the clock and pages come from :mod:`paygate.sandbox.harness`. See
``docs/sandbox/wechatpay.md``. Nothing here imports ``paygate.channels``.

Modules (the sandbox skeleton, ``docs/sandbox/README.md``): ``keys`` (persisted key
material), ``wire`` (signing both ways), ``errors``, ``api`` (the per-request pipeline),
``state`` (orders, refunds, state machines), ``store`` (what one instance holds),
``validation`` (WeChat's field rules and texts), ``resources`` (transactions, refunds,
certificates), ``payer`` (the control API's WeChat side), ``notifications``, ``bills``,
``pages`` + ``templates/``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import httpx
from starlette.routing import BaseRoute

from paygate.sandbox.base import SandboxConfig
from paygate.sandbox.harness import Controls, Harness, HarnessedSandbox

from . import bills
from .api import OPERATIONS, Call, Handler, Reply, api_routes
from .errors import parse_fault
from .keys import Merchant, build_merchant, load_or_create
from .notifications import DELIVERY, RETRY_SCHEDULE_SECONDS
from .pages import cashier_routes
from .payer import Payer, refund_view, resolve_refund
from .resources import certificates, refunds, transactions
from .state import CST
from .store import WechatStore

__all__ = ["RETRY_SCHEDULE_SECONDS", "WechatPaySandbox"]


def _pay_handler(kind: str) -> Handler:
    async def handler(store: WechatStore, call: Call) -> Reply:
        return await transactions.pay(store, call, kind)

    return handler


#: (HTTP method, path, operation) → handler.
HANDLERS: Final[dict[tuple[str, str, str], Callable[[WechatStore, Call], Awaitable[Reply]]]] = {
    **{
        ("POST", f"/v3/pay/transactions/{kind}", "pay"): _pay_handler(kind)
        for kind in transactions.TRADE_TYPES
    },
    ("GET", "/v3/pay/transactions/out-trade-no/{out_trade_no}", "query"): transactions.query_by_out_trade_no,
    ("GET", "/v3/pay/transactions/id/{transaction_id}", "query"): transactions.query_by_transaction_id,
    ("POST", "/v3/pay/transactions/out-trade-no/{out_trade_no}/close", "close"): transactions.close,
    ("POST", "/v3/refund/domestic/refunds", "refund"): refunds.create_refund,
    ("GET", "/v3/refund/domestic/refunds/{out_refund_no}", "refund_query"): refunds.query_refund,
    ("GET", "/v3/bill/tradebill", "bill"): bills.tradebill,
    ("GET", "/v3/billdownload/file", "bill_download"): bills.download,
    ("GET", "/v3/certificates", "certificates"): certificates.certificates,
}


class WechatPaySandbox(HarnessedSandbox):
    """The WeChat Pay v3 sandbox; satisfies :class:`paygate.sandbox.base.ChannelSandbox`."""

    name = "wechatpay"

    def __init__(self, config: SandboxConfig, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config)
        merchant, platform = load_or_create(config.data_dir)
        self._demo = merchant
        self.harness = Harness(
            config,
            name=self.name,
            delivery=DELIVERY,
            parse_error=parse_fault,
            operations=OPERATIONS,
            refund_outcomes=refunds.REFUND_OUTCOMES,
            templates=Path(__file__).parent / "templates",
            tz=CST,
            http=http,
        )
        self._store = WechatStore(self.harness, platform, {merchant.mchid: merchant})
        self._payer = Payer(self._store)

    def _routes(self) -> list[BaseRoute]:
        return [*api_routes(self._store, HANDLERS), *cashier_routes(self._store, self.harness.pages)]

    def _controls(self) -> Controls:
        return self._payer

    @property
    def base_url(self) -> str:
        """Where the WeChat Pay API lives: ``config.base_url + "/wechatpay"``."""
        return self._store.base_url

    def credentials(self) -> dict[str, Any]:
        """The demo merchant's credentials, with what a client needs of the platform."""
        return self._credentials_for(self._demo)

    def _credentials_for(self, merchant: Merchant) -> dict[str, Any]:
        platform = self._store.platform
        return {
            "base_url": self.base_url,
            **merchant.credentials(),
            "platform_public_key": platform.public_key_pem,
            "platform_public_key_id": platform.public_key_id,
            "platform_certificate_serial": platform.certificate_serial,
            "platform_certificate": platform.certificate_pem,
        }

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
            mchid=mchid, appids=appids, serial_no=serial_no, public_key=public_key, apiv3_key=apiv3_key
        )
        if merchant.mchid in self._store.merchants:
            raise ValueError(f"merchant {merchant.mchid} already exists")
        self._store.merchants[merchant.mchid] = merchant
        return self._credentials_for(merchant)

    # -- the control API's refunds, from Python ---------------------------------------------

    def refund(self, out_refund_no: str, *, mchid: str | None = None) -> dict[str, Any]:
        return refund_view(resolve_refund(self._store, out_refund_no, mchid))

    def settle_refund(
        self, out_refund_no: str, outcome: str = "SUCCESS", *, mchid: str | None = None
    ) -> dict[str, Any]:
        scope = {"mchid": mchid} if mchid else {}
        return self._payer.settle_refund(out_refund_no, outcome, scope)
