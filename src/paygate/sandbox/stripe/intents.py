"""The PaymentIntent object and its state machine.

::

    requires_payment_method ─┬─> requires_confirmation ──┐
              ^              └───────────────────────────┴─> (confirm)
              │                                                 │
              ├──────── declined / authentication failed ───────┤
              │                                                 v
              │           requires_action ──(3-D Secure)──> succeeded | requires_capture
              │                                                 ^            │
              └──────────────── processing ─────────────────────┘            v
                                                                    succeeded | canceled
    canceled: from requires_payment_method, requires_confirmation, requires_action and
    requires_capture. ``succeeded`` and ``canceled`` are final.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .ids import client_secret, new_id, now
from .store import Record

__all__ = [
    "CANCELABLE",
    "CONFIRMABLE",
    "TRANSITIONS",
    "UPDATABLE",
    "IntentStatus",
    "PaymentIntent",
    "new_intent",
]

IntentStatus = Literal[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "canceled",
    "succeeded",
]

_OPEN: Final[frozenset[IntentStatus]] = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action"}
)
TRANSITIONS: Final[dict[IntentStatus, frozenset[IntentStatus]]] = {
    "requires_payment_method": _OPEN | {"processing", "requires_capture", "succeeded", "canceled"},
    "requires_confirmation": _OPEN | {"processing", "requires_capture", "succeeded", "canceled"},
    "requires_action": _OPEN | {"processing", "requires_capture", "succeeded", "canceled"},
    "processing": frozenset({"succeeded", "requires_capture", "requires_payment_method"}),
    "requires_capture": frozenset({"succeeded", "canceled"}),
    "succeeded": frozenset(),
    "canceled": frozenset(),
}
CONFIRMABLE: Final = _OPEN
UPDATABLE: Final = _OPEN
CANCELABLE: Final[frozenset[IntentStatus]] = _OPEN | {"requires_capture"}


class IllegalTransition(RuntimeError):
    """A bug in the sandbox: a transition Stripe would never make."""


@dataclass
class AuthAttempt:
    """A pending 3-D Secure authentication (``payatt_…``)."""

    id: str
    payment_method: str
    use_stripe_sdk: bool


@dataclass(kw_only=True)
class PaymentIntent(Record):
    amount: int
    currency: str
    client_secret: str
    status: IntentStatus
    capture_method: str = "automatic_async"
    confirmation_method: str = "automatic"
    payment_method_types: list[str] = field(default_factory=lambda: ["card"])
    automatic_payment_methods: dict[str, Any] | None = None
    payment_method: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    receipt_email: str | None = None
    statement_descriptor: str | None = None
    statement_descriptor_suffix: str | None = None
    shipping: dict[str, Any] | None = None
    setup_future_usage: str | None = None
    transfer_group: str | None = None
    payment_method_options: dict[str, Any] = field(default_factory=dict)
    amount_capturable: int = 0
    amount_received: int = 0
    canceled_at: int | None = None
    cancellation_reason: str | None = None
    last_payment_error: dict[str, Any] | None = None
    latest_charge: str | None = None
    next_action: dict[str, Any] | None = None
    return_url: str | None = None
    auth_attempt: AuthAttempt | None = None
    # The payment method that passed 3-D Secure (manual confirmation confirms it again).
    authenticated_method: str | None = None

    def move(self, status: IntentStatus) -> None:
        if status not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"{self.id}: {self.status} -> {status}")
        self.status = status
        if status != "requires_action":
            self.next_action = None
            self.auth_attempt = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount_capturable,
            "amount_details": {"tip": {}},
            "amount_received": self.amount_received,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": self.automatic_payment_methods,
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "capture_method": self.capture_method,
            "client_secret": self.client_secret,
            "confirmation_method": self.confirmation_method,
            "created": self.created,
            "currency": self.currency,
            "customer": None,
            "description": self.description,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": False,
            "metadata": dict(self.metadata),
            "next_action": self.next_action,
            "on_behalf_of": None,
            "payment_method": self.payment_method,
            "payment_method_configuration_details": None,
            "payment_method_options": self.payment_method_options,
            "payment_method_types": list(self.payment_method_types),
            "processing": None,
            "receipt_email": self.receipt_email,
            "review": None,
            "setup_future_usage": self.setup_future_usage,
            "shipping": self.shipping,
            "source": None,
            "statement_descriptor": self.statement_descriptor,
            "statement_descriptor_suffix": self.statement_descriptor_suffix,
            "status": self.status,
            "transfer_data": None,
            "transfer_group": self.transfer_group,
        }


def new_intent(amount: int, currency: str) -> PaymentIntent:
    ident = new_id("pi")
    return PaymentIntent(
        id=ident,
        created=now(),
        amount=amount,
        currency=currency,
        client_secret=client_secret(ident),
        status="requires_payment_method",
    )
