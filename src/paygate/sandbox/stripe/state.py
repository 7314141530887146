"""The PaymentIntent object and its state machine (cards, automatic capture: the
statuses paygate meets; ``processing`` and ``requires_capture`` belong to delayed methods
and manual capture, which the sandbox does not simulate).

::

    requires_payment_method ─┬─> requires_confirmation ──┐
              ^              └───────────────────────────┴─> (confirm)
              │                                                 │
              ├──────── declined / authentication failed ───────┤
              │                                                 v
              └───────── requires_action ──(3-D Secure)──> succeeded

    canceled: from requires_payment_method, requires_confirmation and requires_action.
    ``succeeded`` and ``canceled`` are final.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .wire import client_secret, new_id

__all__ = [
    "CANCELABLE",
    "CONFIRMABLE",
    "TRANSITIONS",
    "UPDATABLE",
    "IntentStatus",
    "PaymentIntent",
    "Record",
    "new_intent",
]

IntentStatus = Literal[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "canceled",
    "succeeded",
]


@dataclass(kw_only=True)
class Record(ABC):
    """Base of every stored object: ``id``, ``created`` (unix seconds) and ``seq``."""

    id: str
    created: int
    seq: int = field(default=0)

    @abstractmethod
    def to_wire(self) -> dict[str, Any]:
        """The object as Stripe's API shows it."""


_OPEN: Final[frozenset[IntentStatus]] = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action"}
)
TRANSITIONS: Final[dict[IntentStatus, frozenset[IntentStatus]]] = {
    "requires_payment_method": _OPEN | {"succeeded", "canceled"},
    "requires_confirmation": _OPEN | {"succeeded", "canceled"},
    "requires_action": _OPEN | {"succeeded", "canceled"},
    "succeeded": frozenset(),
    "canceled": frozenset(),
}
CONFIRMABLE: Final = _OPEN
UPDATABLE: Final = _OPEN
CANCELABLE: Final = _OPEN


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
            "amount_capturable": 0,
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


def new_intent(amount: int, currency: str, created: int) -> PaymentIntent:
    ident = new_id("pi")
    return PaymentIntent(
        id=ident,
        created=created,
        amount=amount,
        currency=currency,
        client_secret=client_secret(ident),
        status="requires_payment_method",
    )
