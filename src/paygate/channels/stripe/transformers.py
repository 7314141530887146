"""Pure mapping between paygate's neutral model and Stripe's PaymentIntents, refunds and
events. No I/O here.

Status maps are exhaustive ``match`` statements: a word Stripe adds later raises
:class:`~paygate.channels.contract.UnknownChannelStatus`, never a default. Every object
Stripe returns is checked against the request (our ``metadata``, amount and currency):
a contradiction raises :class:`ResponseMismatch`.

PaymentIntent ``status`` → PaymentStatus::

    requires_payment_method   PENDING, or FAILED when ``last_payment_error`` is set: the
                              attempt's one card was declined / failed 3-D Secure. paygate
                              never confirms an intent again with another card (a retry is
                              a new attempt, a new intent), so that failure is final.
    requires_confirmation     PENDING   (created, not confirmed: awaiting the payer)
    requires_action           PAYING    (the payer must authenticate: 3-D Secure)
    processing                PAYING    (the payer is done; the bank has not answered yet)
    requires_capture          PAYING    (authorised, not captured: only with manual capture,
                              which paygate never asks for — money is not taken yet)
    succeeded                 SUCCEEDED (REFUNDED when the expanded charge shows refunds)
    canceled                  CLOSED

Refund ``status`` → RefundStatus: ``pending``/``requires_action`` PROCESSING, ``succeeded``
SUCCEEDED, ``failed``/``canceled`` FAILED (the money did not go back).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from paygate.channels.contract import (
    ActionKind,
    CreatePayment,
    CreateResult,
    PayAction,
    PaymentStatus,
    PaymentStatusResult,
    RefundRequest,
    RefundResult,
    RefundStatus,
    ResponseMismatch,
    UnknownChannelStatus,
    UnsupportedOperation,
    expect_equal,
)
from paygate.channels.stripe.amounts import (
    MAX_STRIPE_AMOUNT,
    from_stripe_amount,
    to_stripe_amount,
    wire_currency,
)
from paygate.kit.money import Money, MoneyError

__all__ = [
    "METHODS",
    "ResponseMismatch",
    "check_intent",
    "create_params",
    "create_result",
    "intent_status",
    "map_intent_status",
    "map_refund_status",
    "metadata_of",
    "object_id",
    "query_result",
    "refund_params",
    "refund_result",
    "stripe_money",
    "timestamp",
    "validate_create",
]

METHODS: Final = frozenset({"card"})
_PAYMENT_METHOD: Final = re.compile(r"(pm|card|src)_[A-Za-z0-9_]{1,250}")
_NUMBER: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_METADATA_VALUE_MAX: Final = 500


# --------------------------------------------------------------------------- small readers


def timestamp(value: object) -> datetime | None:
    """Stripe's unix seconds → an aware UTC time (None when absent)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return datetime.fromtimestamp(value, UTC)


def stripe_money(obj: Mapping[str, Any], field: str = "amount") -> Money:
    try:
        return from_stripe_amount(obj.get(field), obj.get("currency"))
    except MoneyError as exc:
        raise ResponseMismatch(f"{obj.get('object', 'object')} {field}: {exc}") from None


def metadata_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def object_id(obj: Mapping[str, Any], kind: str) -> str:
    if obj.get("object") != kind:
        raise ResponseMismatch(f"expected a {kind}, got {obj.get('object')!r}")
    ident = obj.get("id")
    if not isinstance(ident, str) or not ident:
        raise ResponseMismatch(f"the {kind} has no id")
    return ident


# --------------------------------------------------------------------------- create


def validate_create(request: CreatePayment) -> None:
    """What Stripe would refuse, refused before anything is sent (R-API-6). Amount minimums
    depend on the account's settlement currency: Stripe answers ``amount_too_small``."""
    if request.method not in METHODS:
        raise UnsupportedOperation(f"stripe has no pay form {request.method!r}")
    try:
        amount = to_stripe_amount(request.amount)
    except MoneyError as exc:
        raise ValueError(f"stripe: {exc}") from None
    if not 1 <= amount <= MAX_STRIPE_AMOUNT:
        raise ValueError(
            f"stripe amounts must be between 1 and {MAX_STRIPE_AMOUNT} {request.amount.currency} units"
        )
    if not _NUMBER.fullmatch(request.attempt_no):
        raise ValueError("stripe: attempt_no must be 1-64 characters of [A-Za-z0-9_-]")
    if not request.trade_no:
        raise ValueError("stripe: trade_no is required (it goes into the intent's metadata)")
    if not request.subject.strip():
        raise ValueError("stripe: the subject (the PaymentIntent's description) is required")
    if request.expire_at.tzinfo is None:
        raise ValueError("expire_at must be timezone-aware")
    payment_method = request.extra.get("payment_method")
    if not isinstance(payment_method, str) or not _PAYMENT_METHOD.fullmatch(payment_method):
        raise ValueError(
            "stripe card payments need extra.payment_method: the PaymentMethod id (pm_…) "
            "that the front end collected with Stripe.js"
        )


def return_url_for(base: str, attempt_no: str) -> str:
    """The 3-D Secure return URL with ``attempt_no`` added (Stripe appends only its own
    ``payment_intent`` parameters, which do not name paygate's attempt)."""
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "attempt_no"]
    query.append(("attempt_no", attempt_no))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def create_params(request: CreatePayment, *, return_url: str, descriptor_suffix: str = "") -> dict[str, Any]:
    """``POST /v1/payment_intents``: create and confirm with the collected card at once."""
    validate_create(request)
    description = request.subject.strip()
    if request.description:
        description = f"{description} — {request.description}"
    params: dict[str, Any] = {
        "amount": to_stripe_amount(request.amount),
        "currency": wire_currency(request.amount),
        "payment_method_types": ["card"],
        "payment_method": request.extra["payment_method"],
        "confirm": True,
        "description": description[:1000],
        "metadata": {"attempt_no": request.attempt_no, "trade_no": request.trade_no[:_METADATA_VALUE_MAX]},
        "expand": ["latest_charge"],
    }
    if return_url:
        params["return_url"] = return_url_for(return_url, request.attempt_no)
    if descriptor_suffix:
        params["statement_descriptor_suffix"] = descriptor_suffix
    return params


def pay_action(intent: Mapping[str, Any]) -> PayAction:
    """What the payer does for a ``requires_action`` intent. Exhaustive over the
    ``next_action`` types a card payment can ask for."""
    found = intent.get("next_action")
    next_action: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    kind = next_action.get("type")
    match kind:
        case "redirect_to_url":
            target = next_action.get("redirect_to_url")
            url = target.get("url") if isinstance(target, Mapping) else None
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise ResponseMismatch(f"{intent.get('id')}: redirect_to_url without a URL")
            return PayAction(kind=ActionKind.REDIRECT, url=url, method="GET")
        case "use_stripe_sdk":
            # No return URL was given: Stripe.js must run the challenge in the page
            # (stripe.handleNextAction with this client secret).
            secret = intent.get("client_secret")
            if not isinstance(secret, str) or not secret:
                raise ResponseMismatch(f"{intent.get('id')}: use_stripe_sdk without a client_secret")
            return PayAction(
                kind=ActionKind.JSAPI,
                params={"payment_intent": intent.get("id"), "client_secret": secret},
            )
        case _:
            raise UnknownChannelStatus(f"unknown stripe next_action type {kind!r}", code=str(kind))


def map_intent_status(status: str, *, failed_attempt: bool = False, refunded: bool = False) -> PaymentStatus:
    """PaymentIntent ``status`` → PaymentStatus (see the module docstring). Exhaustive."""
    match status:
        case "requires_payment_method":
            return PaymentStatus.FAILED if failed_attempt else PaymentStatus.PENDING
        case "requires_confirmation":
            return PaymentStatus.PENDING
        case "requires_action" | "processing" | "requires_capture":
            return PaymentStatus.PAYING
        case "succeeded":
            return PaymentStatus.REFUNDED if refunded else PaymentStatus.SUCCEEDED
        case "canceled":
            return PaymentStatus.CLOSED
        case _:
            raise UnknownChannelStatus(f"unknown stripe PaymentIntent status {status!r}", code=status)


def intent_status(intent: Mapping[str, Any]) -> tuple[PaymentStatus, str]:
    status = str(intent.get("status", ""))
    charge = intent.get("latest_charge")
    refunded = isinstance(charge, Mapping) and (charge.get("amount_refunded") or 0) > 0
    error = intent.get("last_payment_error")
    mapped = map_intent_status(status, failed_attempt=bool(error), refunded=refunded)
    word = status
    if isinstance(error, Mapping) and error.get("code"):
        word = f"{status} ({error.get('decline_code') or error.get('code')})"
    return mapped, word


def _paid_at(intent: Mapping[str, Any]) -> datetime | None:
    charge = intent.get("latest_charge")
    if isinstance(charge, Mapping) and charge.get("status") == "succeeded":
        return timestamp(charge.get("created"))
    return None


def check_intent(intent: Mapping[str, Any], attempt_no: str, amount: Money | None = None) -> str:
    """The intent's id, once it proved to be this attempt's (and of ``amount``)."""
    ident = object_id(intent, "payment_intent")
    expect_equal(
        f"{intent.get('id')}: metadata.attempt_no", metadata_of(intent).get("attempt_no"), attempt_no
    )
    if amount is not None:
        expect_equal(f"{intent.get('id')}: amount", stripe_money(intent), amount)
    return ident


def create_result(intent: Mapping[str, Any], request: CreatePayment) -> CreateResult:
    ident = check_intent(intent, request.attempt_no, request.amount)
    status, _ = intent_status(intent)
    action = PayAction(kind=ActionKind.NONE)
    if intent.get("status") == "requires_action":
        action = pay_action(intent)
    paid: Money | None = None
    if status is PaymentStatus.SUCCEEDED:
        paid = stripe_money(intent, "amount_received")
        expect_equal(f"{intent.get('id')}: amount_received", paid, request.amount)
    return CreateResult(
        action=action,
        status=status,
        channel_trade_no=ident,
        paid_amount=paid,
        paid_at=_paid_at(intent) if paid else None,
    )


def query_result(intent: Mapping[str, Any], attempt_no: str) -> PaymentStatusResult:
    ident = check_intent(intent, attempt_no)
    status, word = intent_status(intent)
    return PaymentStatusResult(
        attempt_no=attempt_no,
        status=status,
        channel_trade_no=ident,
        amount=stripe_money(intent),
        paid_at=_paid_at(intent),
        channel_status=word,
    )


# --------------------------------------------------------------------------- refunds


def refund_params(request: RefundRequest, intent_id: str) -> dict[str, Any]:
    """``POST /v1/refunds`` (partial refunds: several per intent, each with its own number)."""
    if request.amount.currency != request.total.currency:
        raise ValueError("the refund's currency must be the payment's")
    if not 1 <= request.amount.minor <= request.total.minor:
        raise ValueError("the refund amount must be between one unit and the payment's amount")
    try:
        amount = to_stripe_amount(request.amount)
    except MoneyError as exc:
        raise ValueError(f"stripe: {exc}") from None
    metadata = {"refund_no": request.refund_no, "attempt_no": request.attempt_no}
    if request.reason.strip():
        metadata["reason"] = request.reason.strip()[:_METADATA_VALUE_MAX]
    return {"payment_intent": intent_id, "amount": amount, "metadata": metadata}


def map_refund_status(status: str) -> RefundStatus:
    """Refund ``status`` → RefundStatus. Exhaustive."""
    match status:
        case "pending" | "requires_action":
            return RefundStatus.PROCESSING
        case "succeeded":
            return RefundStatus.SUCCEEDED
        case "failed" | "canceled":
            return RefundStatus.FAILED
        case _:
            raise UnknownChannelStatus(f"unknown stripe refund status {status!r}", code=status)


def refund_result(
    refund: Mapping[str, Any],
    refund_no: str,
    *,
    amount: Money | None = None,
    intent_id: str | None = None,
) -> RefundResult:
    ident = object_id(refund, "refund")
    expect_equal(f"{refund.get('id')}: metadata.refund_no", metadata_of(refund).get("refund_no"), refund_no)
    refunded = stripe_money(refund)
    if amount is not None:
        expect_equal(f"{refund.get('id')}: amount", refunded, amount)
    if intent_id is not None:
        expect_equal(f"{refund.get('id')}: payment_intent", refund.get("payment_intent"), intent_id)
    word = str(refund.get("status", ""))
    status = map_refund_status(word)
    if refund.get("failure_reason"):
        word = f"{word} ({refund['failure_reason']})"
    return RefundResult(
        refund_no=refund_no,
        status=status,
        channel_refund_no=ident,
        amount=refunded,
        refunded_at=timestamp(refund.get("created")) if status is RefundStatus.SUCCEEDED else None,
        channel_status=word,
    )
