"""Charges: one per payment attempt of a PaymentIntent (``latest_charge``);
``GET /v1/charges[/{id}]``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import resource_missing
from ..params import Params
from ..state import Record
from ..store import PAGING, Account, list_response
from ..wire import new_id
from .payment_methods import PaymentMethod

__all__ = ["Charge", "list_charges", "new_charge", "retrieve"]

ChargeStatus = Literal["succeeded", "failed"]

_SELLER_MESSAGES = {
    "generic_decline": "The bank did not return any further details with this decline.",
    "insufficient_funds": "The bank returned the decline code `insufficient_funds`.",
    "lost_card": "The bank returned the decline code `lost_card`.",
    "stolen_card": "The bank returned the decline code `stolen_card`.",
    "expired_card": "The bank returned the decline code `expired_card`.",
    "incorrect_cvc": "The bank returned the decline code `incorrect_cvc`.",
    "processing_error": "The bank returned the decline code `processing_error`.",
    "fraudulent": "Stripe blocked this payment as too risky.",
}


@dataclass(kw_only=True)
class Charge(Record):
    amount: int
    currency: str
    payment_intent: str
    payment_method: PaymentMethod
    description: str | None
    metadata: dict[str, str]
    status: ChargeStatus
    captured: bool = False
    amount_captured: int = 0
    amount_refunded: int = 0
    balance_transaction: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    decline_code: str | None = None
    three_d_secure: dict[str, Any] | None = None
    receipt_email: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def paid(self) -> bool:
        return self.status == "succeeded"

    @property
    def refunded(self) -> bool:
        return self.amount_refunded >= self.amount > 0

    @property
    def refundable(self) -> int:
        return self.amount - self.amount_refunded if self.captured else 0

    def outcome(self) -> dict[str, Any]:
        if self.status == "failed":
            reason = self.decline_code or "generic_decline"
            blocked = reason == "fraudulent"
            return {
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
                "network_status": "not_sent_to_network" if blocked else "declined_by_network",
                "reason": "highest_risk_level" if blocked else reason,
                "risk_level": "highest" if blocked else "normal",
                "risk_score": 95 if blocked else 30,
                "seller_message": _SELLER_MESSAGES.get(reason, _SELLER_MESSAGES["generic_decline"]),
                "type": "blocked" if blocked else "issuer_declined",
            }
        return {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 30,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": self.amount_captured,
            "amount_refunded": self.amount_refunded,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": self.balance_transaction,
            "billing_details": self.payment_method.to_wire()["billing_details"],
            "calculated_statement_descriptor": "PAYGATE SANDBOX",
            "captured": self.captured,
            "created": self.created,
            "currency": self.currency,
            "customer": None,
            "description": self.description,
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": self.failure_code,
            "failure_message": self.failure_message,
            "fraud_details": {},
            "livemode": False,
            "metadata": dict(self.metadata),
            "on_behalf_of": None,
            "outcome": self.outcome(),
            "paid": self.paid,
            "payment_intent": self.payment_intent,
            "payment_method": self.payment_method.id,
            "payment_method_details": self.payment_method.details_wire(self.three_d_secure),
            "radar_options": {},
            "receipt_email": self.receipt_email,
            "receipt_number": None,
            "receipt_url": None,
            "refunded": self.refunded,
            "review": None,
            "shipping": None,
            "source": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": self.status,
            "transfer_data": None,
            "transfer_group": None,
        }


def new_charge(
    *,
    created: int,
    amount: int,
    currency: str,
    payment_intent: str,
    payment_method: PaymentMethod,
    description: str | None,
    metadata: dict[str, str],
    status: ChargeStatus,
    receipt_email: str | None,
) -> Charge:
    return Charge(
        id=new_id("ch"),
        created=created,
        amount=amount,
        currency=currency,
        payment_intent=payment_intent,
        payment_method=payment_method,
        description=description,
        metadata=dict(metadata),
        status=status,
        receipt_email=receipt_email,
    )


def retrieve(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check(())
    charge = account.store.typed(ident, Charge)
    if charge is None:
        raise resource_missing("charge", ident, "id")
    return charge.to_wire()


def list_charges(account: Account, params: Params) -> dict[str, Any]:
    params.check(PAGING | {"payment_intent"}, stripe_only={"customer", "transfer_group"})
    intent = params.string("payment_intent")
    items = [c for c in account.store.all(Charge) if intent is None or c.payment_intent == intent]
    return list_response(account.store, params, "/v1/charges", items, "charge")
