"""Payment methods: Stripe's test tokens (``pm_card_visa`` …) and SEPA test IBANs.

Passing a test token where a PaymentMethod id is expected creates a fresh ``pm_…`` object,
as Stripe does; its behaviour (succeed, decline, 3-D Secure, slow refunds) follows the test
card it stands for.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from .ids import new_id, now
from .store import Record

__all__ = ["CARDS", "IBAN_OUTCOMES", "Card", "PaymentMethod", "iban_is_valid"]

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

#: SEPA Direct Debit test IBANs: processing, then succeeded or failed.
IBAN_OUTCOMES: dict[str, Literal["succeed", "fail"]] = {
    "DE89370400440532013000": "succeed",
    "DE62370400440532013001": "fail",
}


def iban_is_valid(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    if not (15 <= len(compact) <= 34) or not compact[:2].isalpha() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(c, 36)) for c in rearranged)
    return int(digits) % 97 == 1


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
    type: Literal["card", "sepa_debit"]
    card: Card | None = None
    token: str | None = None
    iban: str | None = None
    billing_details: dict[str, Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_token(cls, token: str) -> PaymentMethod:
        return cls(id=new_id("pm"), created=now(), type="card", card=CARDS[token], token=token)

    @classmethod
    def sepa(cls, iban: str, billing_details: dict[str, Any] | None) -> PaymentMethod:
        compact = iban.replace(" ", "").upper()
        return cls(
            id=new_id("pm"),
            created=now(),
            type="sepa_debit",
            iban=compact,
            billing_details=billing_details,
        )

    @property
    def sepa_outcome(self) -> Literal["succeed", "fail"]:
        return IBAN_OUTCOMES.get(self.iban or "", "succeed")

    def card_wire(self) -> dict[str, Any]:
        card = self.card
        assert card is not None
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

    def sepa_wire(self) -> dict[str, Any]:
        iban = self.iban or ""
        return {
            "bank_code": iban[4:12],
            "branch_code": "",
            "country": iban[:2],
            "fingerprint": _fingerprint(iban),
            "generated_from": {"charge": None, "setup_attempt": None},
            "last4": iban[-4:],
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
        if self.type == "card":
            wire["card"] = self.card_wire()
        else:
            wire["sepa_debit"] = self.sepa_wire()
        return dict(sorted(wire.items()))

    def details_wire(self, three_d_secure: dict[str, Any] | None = None) -> dict[str, Any]:
        """``payment_method_details`` of a charge made with this method."""
        if self.type == "sepa_debit":
            sepa = self.sepa_wire()
            sepa.pop("generated_from")
            sepa["mandate"] = None
            return {"sepa_debit": sepa, "type": "sepa_debit"}
        card = self.card_wire()
        for key in ("display_brand", "generated_from", "three_d_secure_usage"):
            card.pop(key)
        card["network"] = card["brand"]
        card["three_d_secure"] = three_d_secure
        return {"card": card, "type": "card"}
