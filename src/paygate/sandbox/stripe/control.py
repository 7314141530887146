"""The sandbox's own control API (not Stripe's), JSON under ``/_sandbox/``.

``POST /_sandbox/pay {"trade": X, "outcome": "pay"|"fail"|"cancel"}`` plays the customer
(or the bank) for a PaymentIntent; ``X`` is its id or its ``next_action`` URL. What each
outcome does depends on the intent's status:

=========================  ===============================  ====================  ==========
status                     pay                              fail                  cancel
=========================  ===============================  ====================  ==========
requires_payment_method,   customer pays with pm_card_visa  card declined         canceled
requires_confirmation      (client-side confirmation)       (generic_decline)     (abandoned)
requires_action            3-D Secure completed             3-D Secure failed     canceled
processing                 the debit clears                 the debit fails       409
requires_capture           captured in full                 409                   canceled
succeeded, canceled        409                              409                   409
=========================  ===============================  ====================  ==========
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import payments
from .account import Account, Cause
from .errors import StripeError
from .intents import PaymentIntent
from .methods import PaymentMethod

__all__ = ["ControlError", "Controllable", "control_routes", "find_intent", "play"]

OUTCOMES = ("pay", "fail", "cancel")


class ControlError(Exception):
    """A control request that cannot be served: ``{"error": code, "message": …}``."""

    def __init__(self, status: int, error: str, message: str, intent: PaymentIntent | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.intent = status, error, message, intent

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.intent is not None:
            body["payment_intent"] = self.intent.to_wire()
        return body


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


def _require(ok: bool, intent: PaymentIntent, outcome: str) -> None:
    if not ok:
        raise ControlError(
            409,
            "not_applicable",
            f"cannot {outcome} payment intent {intent.id} in status {intent.status}",
            intent,
        )


def play(account: Account, trade: str, outcome: str, cause: Cause | None = None) -> dict[str, Any]:
    """Apply ``outcome`` to the intent named by ``trade``; returns the intent as Stripe
    renders it. Raises :class:`ControlError` (404 unknown, 409 not applicable, 400 bad)."""
    if outcome not in OUTCOMES:
        raise ControlError(400, "bad_outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
    intent, attempt = find_intent(account, trade)
    cause = cause or Cause()
    status = intent.status
    if attempt is not None and (intent.auth_attempt is None or intent.auth_attempt.id != attempt):
        raise ControlError(
            409, "stale_authentication", f"authentication {attempt} is no longer pending", intent
        )
    actions: dict[str, dict[str, Callable[[], None]]] = {
        "requires_action": {
            "pay": lambda: payments.authenticate(account, intent, True),
            "fail": lambda: payments.authenticate(account, intent, False),
        },
        "processing": {
            "pay": lambda: payments.settle(account, intent, True),
            "fail": lambda: payments.settle(account, intent, False),
        },
        "requires_capture": {"pay": lambda: payments.capture(account, intent, None, cause)},
    }
    for open_status in ("requires_payment_method", "requires_confirmation"):
        actions[open_status] = {
            "pay": lambda: _customer_pays(account, intent, "pm_card_visa", cause),
            "fail": lambda: _customer_pays(account, intent, "pm_card_chargeDeclined", cause),
        }
    if outcome == "cancel":
        _require(status not in ("processing", "succeeded", "canceled"), intent, outcome)
        payments.cancel(account, intent, "abandoned", cause)
        return intent.to_wire()
    action = actions.get(status, {}).get(outcome)
    _require(action is not None, intent, outcome)
    assert action is not None
    action()
    return intent.to_wire()


def _customer_pays(account: Account, intent: PaymentIntent, token: str, cause: Cause) -> None:
    method = account.store.add(PaymentMethod.from_token(token))
    try:
        payments.confirm(account, intent, method, cause, client_side=True)
    except StripeError as error:
        if error.status != 402:  # a decline is the expected outcome of "fail"
            raise ControlError(409, "not_applicable", error.message, intent) from None


# -- HTTP ---------------------------------------------------------------------------------


class Controllable(Protocol):
    """What the control API drives (:class:`paygate.sandbox.stripe.StripeSandbox`)."""

    def pay(self, trade: str, outcome: str = "pay") -> dict[str, Any]: ...
    def payment_intent(self, ident: str) -> dict[str, Any]: ...
    def set_faults(self, spec: Mapping[str, Any]) -> dict[str, Any]: ...
    def clear_faults(self) -> None: ...
    def faults_json(self) -> dict[str, Any]: ...
    def create_payouts(
        self, currency: str | None = None, *, include_pending: bool = False
    ) -> list[dict[str, Any]]: ...
    def configure_webhook(self, url: str, enabled_events: list[str] | None = None) -> dict[str, Any]: ...
    def webhook_attempts_json(self) -> list[dict[str, Any]]: ...


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ControlError(400, "bad_json", "the body must be JSON") from None
    if not isinstance(value, dict):
        raise ControlError(400, "bad_json", "the body must be a JSON object")
    return value


Endpoint = Callable[[Request], Awaitable[Response]]


def control_routes(sandbox: Controllable) -> list[BaseRoute]:
    """``/_sandbox/pay``, ``/_sandbox/payment_intents/{id}``, ``/_sandbox/faults``,
    ``/_sandbox/payouts``, ``/_sandbox/webhooks``."""

    def guarded(handler: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except ControlError as exc:
                return JSONResponse(exc.to_json(), exc.status)

        return endpoint

    async def pay(request: Request) -> Response:
        body = await _json_body(request)
        trade = body.get("trade")
        if not isinstance(trade, str) or not trade:
            raise ControlError(400, "bad_trade", "'trade' must be a non-empty string")
        return JSONResponse(sandbox.pay(trade, str(body.get("outcome", "pay"))))

    async def intent(request: Request) -> Response:
        return JSONResponse(sandbox.payment_intent(request.path_params["ident"]))

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            sandbox.clear_faults()
        elif request.method == "POST":
            try:
                sandbox.set_faults(await _json_body(request))
            except ValueError as exc:
                raise ControlError(400, "bad_faults", str(exc)) from None
        return JSONResponse(sandbox.faults_json())

    async def payouts(request: Request) -> Response:
        body = await _json_body(request)
        currency = body.get("currency")
        if currency is not None and not isinstance(currency, str):
            raise ControlError(400, "bad_currency", "'currency' must be a string")
        created = sandbox.create_payouts(
            currency.lower() if currency else None,
            include_pending=bool(body.get("include_pending", False)),
        )
        return JSONResponse({"object": "list", "data": created, "has_more": False})

    async def webhooks(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"attempts": sandbox.webhook_attempts_json()})
        body = await _json_body(request)
        url, events = body.get("url"), body.get("enabled_events")
        if not isinstance(url, str) or not url:
            raise ControlError(400, "bad_url", "'url' must be a non-empty string")
        if events is not None and (
            not isinstance(events, list) or not all(isinstance(e, str) for e in events)
        ):
            raise ControlError(400, "bad_events", "'enabled_events' must be a list of strings")
        return JSONResponse(sandbox.configure_webhook(url, events))

    return [
        Route("/_sandbox/pay", guarded(pay), methods=["POST"]),
        Route("/_sandbox/payment_intents/{ident}", guarded(intent), methods=["GET"]),
        Route("/_sandbox/faults", guarded(faults), methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/payouts", guarded(payouts), methods=["POST"]),
        Route("/_sandbox/webhooks", guarded(webhooks), methods=["GET", "POST"]),
    ]
