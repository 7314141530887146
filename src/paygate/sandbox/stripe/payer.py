"""The customer (or the bank), and what the control API shows of Stripe's objects (the
harness serves the routes; this is the Stripe side of
:class:`paygate.sandbox.harness.Controls`, plus Stripe's own control routes).

``POST /_sandbox/pay {"trade": X, "outcome": "pay"|"fail"|"cancel"}`` plays the customer
for a PaymentIntent; ``X`` is its id or its ``next_action`` URL:

=========================  ===============================  ====================  ==========
status                     pay                              fail                  cancel
=========================  ===============================  ====================  ==========
requires_payment_method,   customer pays with pm_card_visa  card declined         canceled
requires_confirmation      (client-side confirmation)       (generic_decline)     (abandoned)
requires_action            3-D Secure completed             3-D Secure failed     canceled
succeeded, canceled        409                              409                   409
=========================  ===============================  ====================  ==========

Trades are PaymentIntents (``GET /_sandbox/trades/{pi_…}``); refunds are named by id and a
pending one is settled with ``succeeded`` or ``failed``. Stripe's own routes:
``GET /_sandbox/payment_intents/{id}``, ``POST /_sandbox/payouts`` (sweep the balance) and
``GET|POST /_sandbox/webhooks`` (the attempts; an endpoint signed with the account's
``webhook_secret``, like ``stripe listen``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from paygate.sandbox.harness import ControlError, json_body
from paygate.sandbox.harness.control import guarded

from .errors import StripeError
from .notifications import webhook_attempts
from .resources import payments
from .resources.balance import payout_wire
from .resources.payment_methods import PaymentMethod
from .resources.payouts import sweep
from .resources.refunds import REFUND_OUTCOMES, Refund, finish
from .state import PaymentIntent
from .store import Account, Cause

__all__ = ["OUTCOMES", "Payer", "find_intent", "play"]

OUTCOMES: Final = ("pay", "fail", "cancel")


def find_intent(account: Account, trade: str) -> tuple[PaymentIntent, str | None]:
    """The intent named by an id or a ``next_action`` URL, and the URL's attempt id."""
    attempt: str | None = None
    ident = trade
    if "://" in trade or trade.startswith("/"):
        query = parse_qs(urlsplit(trade).query)
        ident = (query.get("payment_intent") or [""])[0]
        sources = query.get("source")
        attempt = sources[0] if sources else None
    intent = account.store.typed(ident, PaymentIntent)
    if intent is None:
        raise ControlError(404, "unknown_payment_intent", f"no such payment intent: {trade!r}")
    return intent, attempt


def _not_applicable(intent: PaymentIntent, message: str) -> ControlError:
    return ControlError(409, "not_applicable", message, {"payment_intent": intent.to_wire()})


def play(account: Account, trade: str, outcome: str, cause: Cause | None = None) -> dict[str, Any]:
    """Apply ``outcome`` to the intent named by ``trade``; the intent as Stripe renders it."""
    if outcome not in OUTCOMES:
        raise ControlError(400, "bad_outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
    intent, attempt = find_intent(account, trade)
    cause = cause or Cause()
    if attempt is not None and (intent.auth_attempt is None or intent.auth_attempt.id != attempt):
        raise ControlError(
            409,
            "stale_authentication",
            f"authentication {attempt} is no longer pending",
            {"payment_intent": intent.to_wire()},
        )
    open_action: dict[str, Callable[[], None]] = {
        "pay": lambda: _customer_pays(account, intent, "pm_card_visa", cause),
        "fail": lambda: _customer_pays(account, intent, "pm_card_chargeDeclined", cause),
    }
    actions: dict[str, dict[str, Callable[[], None]]] = {
        "requires_payment_method": open_action,
        "requires_confirmation": open_action,
        "requires_action": {
            "pay": lambda: payments.authenticate(account, intent, True),
            "fail": lambda: payments.authenticate(account, intent, False),
        },
    }
    if outcome == "cancel" and intent.status in actions:
        payments.cancel(account, intent, "abandoned", cause)
        return intent.to_wire()
    action = actions.get(intent.status, {}).get(outcome)
    if action is None:
        raise _not_applicable(
            intent, f"cannot {outcome} payment intent {intent.id} in status {intent.status}"
        )
    action()
    return intent.to_wire()


def _customer_pays(account: Account, intent: PaymentIntent, token: str, cause: Cause) -> None:
    method = account.store.add(PaymentMethod.from_token(token, account.now()))
    try:
        payments.confirm(account, intent, method, cause, client_side=True)
    except StripeError as error:
        if error.status != 402:  # a decline is the expected outcome of "fail"
            raise _not_applicable(intent, error.message) from None


class Payer:
    """The Stripe side of the control API."""

    outcomes: tuple[str, ...] = OUTCOMES

    def __init__(self, account: Account) -> None:
        self._account = account

    def pay(self, trade: str, outcome: str, options: Mapping[str, Any]) -> dict[str, Any]:
        return play(self._account, trade, outcome)

    def trades(self) -> list[dict[str, Any]]:
        return [i.to_wire() for i in self._account.store.all(PaymentIntent)]

    def trade(self, ref: str, scope: Mapping[str, str]) -> dict[str, Any]:
        return find_intent(self._account, ref)[0].to_wire()

    def refund(self, ref: str, scope: Mapping[str, str]) -> dict[str, Any]:
        return self._refund(ref).to_wire()

    def settle_refund(self, ref: str, outcome: str, scope: Mapping[str, Any]) -> dict[str, Any]:
        if outcome not in REFUND_OUTCOMES:
            raise ControlError(400, "bad_outcome", f"outcome must be one of {', '.join(REFUND_OUTCOMES)}")
        refund = self._refund(ref)
        if refund.status != "pending":
            raise ControlError(409, "REFUND_FINAL", f"refund {ref} is {refund.status}, not pending")
        finish(self._account, refund, outcome)
        return refund.to_wire()

    def clock_moved(self) -> None:
        """Nothing to do: balances read the clock when they are looked at."""

    def _refund(self, ref: str) -> Refund:
        refund = self._account.store.typed(ref, Refund)
        if refund is None:
            raise ControlError(404, "unknown_refund", f"no such refund: {ref!r}")
        return refund


def stripe_control_routes(
    account: Account, configure_webhook: Callable[[str, list[str] | None], dict[str, Any]]
) -> list[BaseRoute]:
    """``/_sandbox/payment_intents/{id}``, ``/_sandbox/payouts``, ``/_sandbox/webhooks``."""

    async def intent(request: Request) -> Response:
        return JSONResponse(find_intent(account, request.path_params["ident"])[0].to_wire())

    async def payouts(request: Request) -> Response:
        body = await json_body(request)
        currency = body.get("currency")
        if currency is not None and not isinstance(currency, str):
            raise ControlError(400, "bad_currency", "'currency' must be a string")
        created = sweep(account, currency.lower() if currency else None, bool(body.get("include_pending")))
        return JSONResponse(
            {"object": "list", "data": [payout_wire(account, p) for p in created], "has_more": False}
        )

    async def webhooks(request: Request) -> Response:
        if request.method == "GET":
            attempts = webhook_attempts(account.harness.notifier)
            return JSONResponse({"attempts": [a.to_json() for a in attempts]})
        body = await json_body(request)
        url, events = body.get("url"), body.get("enabled_events")
        if not isinstance(url, str) or not url:
            raise ControlError(400, "bad_url", "'url' must be a non-empty string")
        if events is not None and (
            not isinstance(events, list) or not all(isinstance(e, str) for e in events)
        ):
            raise ControlError(400, "bad_events", "'enabled_events' must be a list of strings")
        return JSONResponse(configure_webhook(url, events))

    return [
        Route("/_sandbox/payment_intents/{ident}", guarded(intent), methods=["GET"]),
        Route("/_sandbox/payouts", guarded(payouts), methods=["POST"]),
        Route("/_sandbox/webhooks", guarded(webhooks), methods=["GET", "POST"]),
    ]
