"""Payment methods: Stripe's test cards (``pm_card_visa`` …), ``GET /v1/payment_methods/{id}``
and the ``payment_method`` parameter.

Passing a test token where a PaymentMethod id is expected creates a fresh ``pm_…`` object,
as Stripe does; its behaviour (succeed, decline, 3-D Secure, slow refunds) follows the test
card it stands for. Raw card data (``payment_method_data[card]``) and other method types are
not simulated: paygate confirms PaymentIntents with card tokens only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import resource_missing
from ..params import Params, not_simulated
from ..state import Record
from ..store import Account
from ..wire import new_id

__all__ = ["CARDS", "Card", "PaymentMethod", "create", "resolve_method", "retrieve"]

ThreeDS = Literal["required", "optional", "not_supported"]
RefundBehaviour = Literal["succeed", "pending", "fail"]


@dataclass(frozen=True)
class Card:
    """What a test card does. ``decline`` is ``(code, decline_code, message, param)``."""

    brand: str
    last4: str
    funding: str = "credit"
    country: str = "US"
    three_d_secure: ThreeDS = "optional"
    decline: tuple[str, str, str, str | None] | None = None
    # Declined only after a successful 3-D Secure authentication.
    decline_after_auth: tuple[str, str, str, str | None] | None = None
    refund: RefundBehaviour = "succeed"


_DECLINED = "Your card was declined."


def _decline(decline_code: str, message: str = _DECLINED) -> tuple[str, str, str, None]:
    return ("card_declined", decline_code, message, None)


CARDS: dict[str, Card] = {
    "pm_card_visa": Card("visa", "4242"),
    "pm_card_visa_debit": Card("visa", "5556", funding="debit"),
    "pm_card_mastercard": Card("mastercard", "4444"),
    "pm_card_mastercard_debit": Card("mastercard", "8210", funding="debit"),
    "pm_card_mastercard_prepaid": Card("mastercard", "5100", funding="prepaid"),
    "pm_card_amex": Card("amex", "8431", three_d_secure="not_supported"),
    "pm_card_discover": Card("discover", "1117"),
    "pm_card_diners": Card("diners", "0004"),
    "pm_card_jcb": Card("jcb", "0505", country="JP"),
    "pm_card_unionpay": Card("unionpay", "0005", country="CN"),
    "pm_card_threeDSecureOptional": Card("visa", "3055"),
    "pm_card_chargeDeclined": Card("visa", "0002", decline=_decline("generic_decline")),
    "pm_card_visa_chargeDeclined": Card("visa", "0002", decline=_decline("generic_decline")),
    "pm_card_chargeDeclinedInsufficientFunds": Card(
        "visa", "9995", decline=_decline("insufficient_funds", "Your card has insufficient funds.")
    ),
    "pm_card_chargeDeclinedLostCard": Card("visa", "9987", decline=_decline("lost_card")),
    "pm_card_chargeDeclinedStolenCard": Card("visa", "9979", decline=_decline("stolen_card")),
    "pm_card_chargeDeclinedFraudulent": Card("visa", "0019", decline=_decline("fraudulent")),
    "pm_card_chargeDeclinedVelocityLimitExceeded": Card(
        "visa", "6975", decline=_decline("card_velocity_exceeded")
    ),
    "pm_card_chargeDeclinedExpiredCard": Card(
        "visa",
        "0069",
        decline=("expired_card", "expired_card", "Your card has expired.", "exp_month"),
    ),
    "pm_card_chargeDeclinedIncorrectCvc": Card(
        "visa",
        "0127",
        decline=("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.", "cvc"),
    ),
    "pm_card_chargeDeclinedProcessingError": Card(
        "visa",
        "0119",
        decline=(
            "processing_error",
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
            None,
        ),
    ),
    "pm_card_authenticationRequired": Card("visa", "3184", three_d_secure="required"),
    "pm_card_threeDSecure2Required": Card("visa", "3220", three_d_secure="required"),
    "pm_card_authenticationRequiredOnSetup": Card("visa", "3155", three_d_secure="required"),
    "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds": Card(
        "visa",
        "3178",
        three_d_secure="required",
        decline_after_auth=_decline("insufficient_funds", "Your card has insufficient funds."),
    ),
    "pm_card_pendingRefund": Card("visa", "7726", refund="pending"),
    "pm_card_refundFail": Card("visa", "5126", refund="fail"),
}


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _billing(details: dict[str, Any] | None) -> dict[str, Any]:
    details = details or {}
    raw = details.get("address")
    address: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return {
        "address": {k: address.get(k) for k in ("city", "country", "line1", "line2", "postal_code", "state")},
        "email": details.get("email"),
        "name": details.get("name"),
        "phone": details.get("phone"),
        "tax_id": None,
    }


@dataclass(kw_only=True)
class PaymentMethod(Record):
    type: Literal["card"]
    card: Card
    token: str | None = None
    billing_details: dict[str, Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_token(cls, token: str, created: int) -> PaymentMethod:
        return cls(id=new_id("pm"), created=created, type="card", card=CARDS[token], token=token)

    def card_wire(self) -> dict[str, Any]:
        card = self.card
        return {
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass",
            },
            "country": card.country,
            "display_brand": card.brand,
            "exp_month": 12,
            "exp_year": 2034,
            "fingerprint": _fingerprint(self.token or card.last4),
            "funding": card.funding,
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": card.three_d_secure != "not_supported"},
            "wallet": None,
        }

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id,
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": _billing(self.billing_details),
            "created": self.created,
            "customer": None,
            "livemode": False,
            "metadata": dict(self.metadata),
            "type": self.type,
        }
        wire["card"] = self.card_wire()
        return dict(sorted(wire.items()))

    def details_wire(self, three_d_secure: dict[str, Any] | None = None) -> dict[str, Any]:
        """``payment_method_details`` of a charge made with this method."""
        card = self.card_wire()
        for key in ("display_brand", "generated_from", "three_d_secure_usage"):
            card.pop(key)
        card["network"] = card["brand"]
        card["three_d_secure"] = three_d_secure
        return {"card": card, "type": "card"}


def resolve_method(account: Account, params: Params) -> PaymentMethod | None:
    """``payment_method``: an id or a test token (a fresh ``pm_…`` each time)."""
    ident = params.string("payment_method")
    if ident is None:
        return None
    if ident in CARDS:
        return account.store.add(PaymentMethod.from_token(ident, account.now()))
    method = account.store.typed(ident, PaymentMethod)
    if method is None:
        raise resource_missing("PaymentMethod", ident, "payment_method", status=400)
    return method


def create(account: Account, params: Params) -> dict[str, Any]:
    """``POST /v1/payment_methods``: only Stripe.js makes card methods from card data, and
    the sandbox simulates no other type; use a test token as ``payment_method`` instead."""
    params.check(
        (), stripe_only={"type", "card", "billing_details", "metadata", "customer", "allow_redisplay"}
    )
    raise not_simulated("type")


def retrieve(account: Account, params: Params, ident: str) -> dict[str, Any]:
    """``GET /v1/payment_methods/{id}`` (a test token makes a fresh method, as on Stripe)."""
    params.check(())
    if ident in CARDS:
        return account.store.add(PaymentMethod.from_token(ident, account.now())).to_wire()
    method = account.store.typed(ident, PaymentMethod)
    if method is None:
        raise resource_missing("PaymentMethod", ident, "id")
    return method.to_wire()
