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

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import payments
from .account import Account, Cause
from .errors import StripeError
from .intents import PaymentIntent
from .methods import PaymentMethod

__all__ = ["ControlError", "find_intent", "play"]

OUTCOMES = ("pay", "fail", "cancel")


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
        raise ControlError(404, f"no such payment intent: {trade!r}")
    return intent, attempt


def _require(ok: bool, intent: PaymentIntent, outcome: str) -> None:
    if not ok:
        raise ControlError(409, f"cannot {outcome} payment intent {intent.id} in status {intent.status}")


def play(account: Account, trade: str, outcome: str, cause: Cause | None = None) -> dict[str, Any]:
    """Apply ``outcome`` to the intent named by ``trade``; returns the intent as Stripe
    renders it. Raises :class:`ControlError` (404 unknown, 409 not applicable, 400 bad)."""
    if outcome not in OUTCOMES:
        raise ControlError(400, f"outcome must be one of {', '.join(OUTCOMES)}")
    intent, attempt = find_intent(account, trade)
    cause = cause or Cause()
    status = intent.status
    if attempt is not None and (intent.auth_attempt is None or intent.auth_attempt.id != attempt):
        raise ControlError(409, f"authentication {attempt} is no longer pending")
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
            raise ControlError(409, error.message) from None
