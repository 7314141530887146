"""A faithful local simulator of Stripe's v1 API (R-CH-6), served at ``…/stripe``.

PaymentIntents confirmed with test cards (3-D Secure included), charges, refunds, events
and signed webhooks, balance transactions and payouts, with Stripe's form encoding,
authentication, idempotency, error shapes — so that the public ``stripe`` SDK and paygate's
Stripe adapter can be tested against it over real HTTP. It shares no code with
``paygate.channels``; faults, webhook delivery, the control API, the clock and pages come
from :mod:`paygate.sandbox.harness`. See ``docs/sandbox/stripe.md``.

Modules (the sandbox skeleton, ``docs/sandbox/README.md``): ``keys``, ``wire`` (forms,
ids, the webhook signature), ``errors``, ``api`` (auth, idempotency, the route table),
``state`` (records, the PaymentIntent state machine), ``store`` (the account), ``params``,
``idempotency`` and ``currencies`` (Stripe's rules), ``resources`` (one module per API
resource), ``payer`` (the control API's Stripe side), ``notifications`` (events, webhook
endpoints and their delivery), ``bills`` (balance transactions, payouts), ``pages`` +
``templates/``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx
from starlette.routing import BaseRoute

from paygate.sandbox.base import SandboxConfig
from paygate.sandbox.harness import Controls, Harness, HarnessedSandbox

from .api import BILL_DAMAGE, OPERATIONS, StripeApi
from .errors import parse_fault
from .idempotency import Idempotency
from .keys import AccountKeys, load_or_create
from .notifications import DELIVERY, WebhookAttempt, WebhookEndpoint, webhook_attempts
from .pages import routes as page_routes
from .payer import Payer, find_intent, stripe_control_routes
from .resources.balance import payout_wire
from .resources.events import add_webhook_endpoint
from .resources.payouts import sweep
from .resources.refunds import REFUND_OUTCOMES
from .store import Account

__all__ = ["StripeSandbox"]


class StripeSandbox(HarnessedSandbox):
    """The Stripe sandbox. ``app`` is mounted at ``/stripe``; ``start()`` runs webhook
    delivery and delayed state changes (slow refunds, funds becoming available, payouts)."""

    name = "stripe"

    def __init__(self, config: SandboxConfig, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(config)
        self._keys: AccountKeys | None = None
        self._extra_keys: set[str] = set()
        self.harness = Harness(
            config,
            name=self.name,
            delivery=DELIVERY,
            parse_error=parse_fault,
            operations=OPERATIONS,
            refund_outcomes=REFUND_OUTCOMES,
            bill_damage=BILL_DAMAGE,
            templates=Path(__file__).parent / "templates",
            http=http,
        )
        self._account = Account(self._load_keys, self.harness)
        self._payer = Payer(self._account)

    def _routes(self) -> list[BaseRoute]:
        api = StripeApi(self._account, Idempotency(), lambda: self._extra_keys)
        return [
            *api.routes(),
            *page_routes(self._account, self.harness.pages),
            *stripe_control_routes(self._account, self.configure_webhook),
        ]

    def _controls(self) -> Controls:
        return self._payer

    def credentials(self) -> dict[str, Any]:
        keys = self._load_keys()
        return {
            "api_base": self.config.base_url.rstrip("/") + "/stripe",
            "secret_key": keys.secret_key.reveal(),
            "publishable_key": keys.publishable_key,
            "webhook_secret": keys.webhook_secret.reveal(),
        }

    # -- Stripe's own control operations from Python (also under /_sandbox/) ------------------

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

    def payment_intent(self, ident: str) -> dict[str, Any]:
        """The intent as Stripe renders it; raises ControlError (404) if unknown."""
        return find_intent(self._account, ident)[0].to_wire()

    def create_payouts(
        self, currency: str | None = None, *, include_pending: bool = False
    ) -> list[dict[str, Any]]:
        """Pay out the available balance (one payout per currency); ``include_pending``
        makes pending funds available first."""
        return [payout_wire(self._account, p) for p in sweep(self._account, currency, include_pending)]

    @property
    def webhook_attempts(self) -> list[WebhookAttempt]:
        """Every webhook delivery attempt so far, oldest first (Stripe's words)."""
        return webhook_attempts(self.harness.notifier)

    def webhook_attempts_json(self) -> list[dict[str, Any]]:
        return [a.to_json() for a in self.webhook_attempts]

    def issue_secret_key(self) -> str:
        """Another valid secret key of the same account (idempotency keys are per API key)."""
        key = f"sk_test_51{secrets.token_hex(24)}"
        self._extra_keys.add(key)
        return key

    def _load_keys(self) -> AccountKeys:
        # Lazily: constructing the sandbox must not create its data directory.
        if self._keys is None:
            self._keys = load_or_create(self.config.data_dir)
        return self._keys
