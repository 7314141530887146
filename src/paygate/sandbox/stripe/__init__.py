"""A faithful local simulator of Stripe's v1 API (R-CH-6), served at ``…/stripe``.

PaymentIntents, payment methods, charges, refunds, events and signed webhooks, balance
transactions and payouts, with Stripe's form encoding, authentication, idempotency, error
shapes and test payment methods — so that the public ``stripe`` SDK and paygate's Stripe
adapter can be tested against it over real HTTP. It shares no code with
``paygate.channels``. See ``docs/sandbox/stripe.md``.

Modules: :mod:`.api` (HTTP, auth, idempotency, faults) over :mod:`.payment_intents`,
:mod:`.refunds`, :mod:`.resources`; :mod:`.payments` (the state changes); :mod:`.delivery`
(webhooks); :mod:`.control` and :mod:`.pages` (the sandbox's own control API and 3-D
Secure page).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from paygate.sandbox.base import SandboxConfig

from .account import Account
from .api import StripeApi
from .control import ControlError, control_routes, play
from .delivery import Attempt, Dispatcher
from .events import WebhookEndpoint
from .faults import Faults
from .idempotency import Idempotency
from .intents import PaymentIntent
from .keys import AccountKeys, load_or_create
from .pages import routes as page_routes
from .payouts import sweep
from .resources import add_webhook_endpoint
from .scheduler import Scheduler

__all__ = ["StripeSandbox"]


class StripeSandbox:
    """The Stripe sandbox. ``app`` is mounted at ``/stripe``; ``start()`` runs webhook
    delivery and delayed state changes (processing payments, slow refunds, payouts)."""

    name = "stripe"

    def __init__(self, config: SandboxConfig, *, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._http = http
        self._own_http: httpx.AsyncClient | None = None
        self._keys: AccountKeys | None = None
        self._extra_keys: set[str] = set()
        self.faults = Faults()
        self._scheduler = Scheduler()
        self._dispatcher = Dispatcher(self._scheduler, self.faults, config.time_scale, self._client)
        self._account = Account(
            self._load_keys, config.base_url, config.time_scale, self._scheduler, self._dispatcher
        )
        self._api = StripeApi(self._account, self.faults, Idempotency(), lambda: self._extra_keys)
        self._app: Starlette | None = None

    # -- ChannelSandbox ----------------------------------------------------------------------

    @property
    def app(self) -> ASGIApp:
        if self._app is None:
            routes: list[BaseRoute] = [
                *self._api.routes(),
                *page_routes(self._account),
                *control_routes(self),
            ]
            self._app = Starlette(routes=routes)
        return self._app

    async def start(self) -> None:
        await self._scheduler.start()

    async def stop(self) -> None:
        await self._scheduler.stop()
        if self._own_http is not None:
            await self._own_http.aclose()
            self._own_http = None

    def credentials(self) -> dict[str, Any]:
        keys = self._load_keys()
        return {
            "api_base": self.config.base_url.rstrip("/") + "/stripe",
            "secret_key": keys.secret_key.reveal(),
            "publishable_key": keys.publishable_key,
            "webhook_secret": keys.webhook_secret.reveal(),
        }

    # -- Python control (the same as the HTTP control API) ------------------------------------

    def configure_webhook(self, url: str, enabled_events: list[str] | None = None) -> dict[str, Any]:
        """Send events to ``url``, signed with the credentials' ``webhook_secret``. Calling it
        again for the same URL updates that endpoint. Returns the endpoint (with secret)."""
        events = list(enabled_events or ["*"])
        for endpoint in self._account.store.all(WebhookEndpoint):
            if endpoint.url == url:
                endpoint.enabled_events, endpoint.status = events, "enabled"
                return endpoint.to_wire(with_secret=True)
        secret = self._load_keys().webhook_secret
        return add_webhook_endpoint(self._account, url, events, secret).to_wire(with_secret=True)

    def pay(self, trade: str, outcome: str = "pay") -> dict[str, Any]:
        """Play the customer or bank: see :mod:`.control`. Raises ``ControlError``."""
        return play(self._account, trade, outcome)

    def payment_intent(self, ident: str) -> dict[str, Any]:
        intent = self._account.store.typed(ident, PaymentIntent)
        if intent is None:
            raise ControlError(404, "unknown_payment_intent", f"no such payment intent: {ident!r}")
        return intent.to_wire()

    def set_faults(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Merge a fault spec (see :mod:`.faults`); raises ValueError when it is invalid."""
        self.faults.update(spec)
        return self.faults.to_json()

    def clear_faults(self) -> None:
        """Remove every fault and release held requests."""
        self.faults.clear()

    def faults_json(self) -> dict[str, Any]:
        return self.faults.to_json()

    def create_payouts(
        self, currency: str | None = None, *, include_pending: bool = False
    ) -> list[dict[str, Any]]:
        """Pay out the available balance (one payout per currency); ``include_pending``
        makes pending funds available first."""
        return [p.to_wire() for p in sweep(self._account, currency, include_pending)]

    @property
    def webhook_attempts(self) -> list[Attempt]:
        """Every webhook delivery attempt so far, oldest first."""
        return list(self._dispatcher.attempts)

    def webhook_attempts_json(self) -> list[dict[str, Any]]:
        return [a.to_json() for a in self._dispatcher.attempts]

    def issue_secret_key(self) -> str:
        """Another valid secret key of the same account (idempotency keys are per API key)."""
        key = f"sk_test_51{secrets.token_hex(24)}"
        self._extra_keys.add(key)
        return key

    # -- internals ---------------------------------------------------------------------------

    def _load_keys(self) -> AccountKeys:
        if self._keys is None:
            self._keys = load_or_create(self.config.data_dir)
        return self._keys

    def _client(self) -> httpx.AsyncClient:
        if self._http is not None:
            return self._http
        if self._own_http is None:
            self._own_http = httpx.AsyncClient()
        return self._own_http
