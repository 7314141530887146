"""Refunds: ``POST /v1/refunds``, ``GET /v1/refunds/{id}``, ``POST /v1/refunds/{id}``, list.

A card refund succeeds at once, except on ``pm_card_pendingRefund`` (``pending``, then
``succeeded``) and ``pm_card_refundFail`` (``succeeded``, then ``failed`` and the money
returns to the balance) — or as the ``refunds`` fault says: ``pending`` for
``delay_seconds``, then ``succeeded`` or ``failed``, or ``MANUAL`` (pending until ``POST
/_sandbox/refunds/{id}``). Later changes happen :data:`REFUND_SETTLE_SECONDS` (times
``time_scale``) after the refund unless the fault names a delay; each is announced by
``refund.updated`` and ``charge.refund.updated`` (and ``refund.failed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from paygate.sandbox.harness import MANUAL

from ..currencies import format_amount
from ..errors import StripeError, resource_missing
from ..params import Params
from ..state import PaymentIntent, Record
from ..store import ASYNC, Account, Cause, list_response
from ..wire import new_id
from .charges import Charge

__all__ = [
    "REFUND_OUTCOMES",
    "REFUND_SETTLE_SECONDS",
    "Refund",
    "create",
    "finish",
    "list_refunds",
    "retrieve",
    "update",
]

REFUND_SETTLE_SECONDS: Final = 60
REASONS: Final = ("duplicate", "fraudulent", "requested_by_customer")
#: How a refund may end (the ``refunds`` fault's outcomes, besides MANUAL).
REFUND_OUTCOMES: Final = ("succeeded", "failed")


@dataclass(kw_only=True)
class Refund(Record):
    amount: int
    currency: str
    charge: str
    payment_intent: str
    reason: str | None
    status: str
    balance_transaction: str | None = None
    failure_balance_transaction: str | None = None
    failure_reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "balance_transaction": self.balance_transaction,
            "charge": self.charge,
            "created": self.created,
            "currency": self.currency,
            "destination_details": _destination(self.status),
            "metadata": dict(self.metadata),
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": self.status,
            "transfer_reversal": None,
        }
        if self.status == "failed":
            wire["failure_balance_transaction"] = self.failure_balance_transaction
            wire["failure_reason"] = self.failure_reason
        return wire


def _destination(status: str) -> dict[str, Any]:
    return {
        "card": {
            "reference": None,
            "reference_status": "pending" if status != "succeeded" else "available",
            "reference_type": "acquirer_reference_number",
            "type": "refund",
        },
        "type": "card",
    }


_CREATE = frozenset({"amount", "charge", "payment_intent", "reason", "metadata"})
_CREATE_STRIPE_ONLY = frozenset(
    {
        "currency",
        "customer",
        "instructions_email",
        "origin",
        "refund_application_fee",
        "reverse_transfer",
    }
)


def _charge_to_refund(account: Account, params: Params) -> Charge:
    charge_id = params.string("charge")
    intent_id = params.string("payment_intent")
    if charge_id and intent_id:
        raise StripeError(
            400,
            "invalid_request_error",
            "You cannot specify both charge and payment_intent.",
            code="parameters_exclusive",
            param="payment_intent",
            saved=False,
        )
    if intent_id is not None:
        intent = account.store.typed(intent_id, PaymentIntent)
        if intent is None:
            raise resource_missing("payment_intent", intent_id, "payment_intent", status=400)
        charge = account.store.typed(intent.latest_charge or "", Charge)
        if intent.status != "succeeded" or charge is None:
            raise StripeError(
                400,
                "invalid_request_error",
                f"This PaymentIntent ({intent.id}) does not have a successful charge to refund.",
                code="payment_intent_unexpected_state",
                param="payment_intent",
                extra={"payment_intent": intent.to_wire()},
            )
        return charge
    if charge_id is None:
        raise StripeError(
            400,
            "invalid_request_error",
            "One of the following params should be provided for this request: payment_intent or charge.",
            code="parameter_missing",
            saved=False,
        )
    charge = account.store.typed(charge_id, Charge)
    if charge is None:
        raise resource_missing("charge", charge_id, "charge", status=400)
    if not charge.captured:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Charge {charge.id} has not been captured and cannot be refunded.",
            code="charge_not_refundable",
            param="charge",
        )
    return charge


def create(account: Account, params: Params, cause: Cause) -> dict[str, Any]:
    params.check(_CREATE, stripe_only=_CREATE_STRIPE_ONLY)
    amount = params.integer("amount", minimum=1)
    reason = params.choice("reason", REASONS)
    metadata = params.metadata() or {}
    charge = _charge_to_refund(account, params)
    refundable = charge.refundable
    if refundable <= 0:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Charge {charge.id} has already been refunded.",
            code="charge_already_refunded",
        )
    amount = refundable if amount is None else amount
    if amount > refundable:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Refund amount ({format_amount(amount, charge.currency)}) is greater than "
            f"unrefunded amount on charge ({format_amount(refundable, charge.currency)})",
            code="amount_too_large",
            param="amount",
        )
    fate = account.harness.faults.take_refund_fate()
    card = charge.payment_method.card.refund
    # "pending": settles later; "fail": succeeds, fails later; "succeed": done at once.
    if fate is not None:
        behaviour = "pending" if fate.outcome == MANUAL or fate.delay_seconds != 0 else fate.outcome
    else:
        behaviour = card
    refund = account.store.add(
        Refund(
            id=new_id("re"),
            created=account.now(),
            amount=amount,
            currency=charge.currency,
            charge=charge.id,
            payment_intent=charge.payment_intent,
            reason=reason,
            status="pending" if behaviour == "pending" else "succeeded",
            metadata=metadata,
        )
    )
    bt = account.book(
        amount=-amount,
        currency=charge.currency,
        fee=0,
        type="refund",
        source=refund.id,
        description=f"REFUND FOR CHARGE ({charge.description or charge.id})",
        settle=False,
    )
    refund.balance_transaction = bt.id
    previous = {"amount_refunded": charge.amount_refunded, "refunded": charge.refunded}
    charge.amount_refunded += amount
    account.emit("charge.refunded", charge, cause, previous)
    account.emit("refund.created", refund, cause)
    if behaviour == "failed":  # a fault that fails it at once
        finish(account, refund, "failed")
    elif fate is not None and fate.outcome != MANUAL and behaviour == "pending":
        delay = REFUND_SETTLE_SECONDS if fate.delay_seconds is None else fate.delay_seconds
        account.later(delay, lambda: _finish_if(account, refund, "pending", fate.outcome))
    elif fate is None and card == "pending":
        account.later(REFUND_SETTLE_SECONDS, lambda: _finish_if(account, refund, "pending", "succeeded"))
    elif fate is None and card == "fail":
        account.later(REFUND_SETTLE_SECONDS, lambda: _finish_if(account, refund, "succeeded", "failed"))
    return refund.to_wire()


def _finish_if(account: Account, refund: Refund, status: str, outcome: str) -> None:
    if refund.status == status:  # not finished by hand meanwhile
        finish(account, refund, outcome)


def finish(account: Account, refund: Refund, outcome: str) -> None:
    """The refund's later fate: it succeeds, or fails and its money returns to the balance."""
    previous = {"status": refund.status}
    if outcome == "succeeded":
        refund.status = "succeeded"
        _updated(account, refund, previous)
        return
    charge = account.store.typed(refund.charge, Charge)
    assert charge is not None
    bt = account.book(
        amount=refund.amount,
        currency=refund.currency,
        fee=0,
        type="refund_failure",
        source=refund.id,
        description=f"REFUND FAILURE FOR CHARGE ({charge.description or charge.id})",
        settle=False,
    )
    refund.status, refund.failure_reason = "failed", "expired_or_canceled_card"
    refund.failure_balance_transaction = bt.id
    charge.amount_refunded -= refund.amount
    _updated(account, refund, previous)
    account.emit("refund.failed", refund, ASYNC, previous)


def _updated(account: Account, refund: Refund, previous: dict[str, Any]) -> None:
    account.emit("refund.updated", refund, ASYNC, previous)
    account.emit("charge.refund.updated", refund, ASYNC, previous)


def _get(account: Account, ident: str) -> Refund:
    refund = account.store.typed(ident, Refund)
    if refund is None:
        raise resource_missing("refund", ident, "id")
    return refund


def retrieve(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check(())
    return _get(account, ident).to_wire()


def update(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check({"metadata"})
    refund = _get(account, ident)
    metadata = params.metadata(refund.metadata)
    if metadata is not None:
        refund.metadata = metadata
    return refund.to_wire()


def list_refunds(account: Account, params: Params) -> dict[str, Any]:
    params.check({"charge", "payment_intent", "limit", "starting_after", "ending_before", "created"})
    charge = params.string("charge")
    intent = params.string("payment_intent")
    items = [
        r
        for r in account.store.all(Refund)
        if (charge is None or r.charge == charge) and (intent is None or r.payment_intent == intent)
    ]
    return list_response(account.store, params, "/v1/refunds", items, "refund")
