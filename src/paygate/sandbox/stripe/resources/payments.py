"""What happens when a PaymentIntent is confirmed, authenticated or canceled.

The outcome follows the test card: it succeeds (captured at once), declines (402
``card_error``; the intent returns to ``requires_payment_method`` with
``last_payment_error``) or asks for 3-D Secure (``requires_action``).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from ..bills import processing_fee
from ..errors import StripeError, unexpected_state
from ..state import CANCELABLE, CONFIRMABLE, AuthAttempt, PaymentIntent
from ..store import ASYNC, Account, Cause
from ..wire import new_id
from .charges import Charge, new_charge
from .payment_methods import PaymentMethod

__all__ = ["REDIRECT_REQUIRED", "authenticate", "cancel", "confirm"]
_AUTH_FAILED = (
    "The provided PaymentMethod has failed authentication. You can provide "
    "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again."
)
REDIRECT_REQUIRED = (
    "This PaymentIntent is configured to accept payment methods enabled in your Dashboard, "
    "some of which may require a full page redirect to succeed. If you do not want to accept "
    "redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
    "Payment Intents. If you do want to accept redirect-based payment methods, set the "
    "`return_url` parameter when confirming the PaymentIntent."
)
_STATUS_LIST = "requires_payment_method, requires_confirmation, requires_action"


def _method_of(account: Account, intent: PaymentIntent) -> PaymentMethod | None:
    return account.store.typed(intent.payment_method or "", PaymentMethod)


def confirm(
    account: Account,
    intent: PaymentIntent,
    method: PaymentMethod | None,
    cause: Cause,
    *,
    off_session: bool = False,
    error_on_requires_action: bool = False,
    client_side: bool = False,
) -> None:
    """Confirm ``intent`` (with ``method`` or the one attached). Raises the 402 of a decline
    after the intent and charge were updated, as Stripe does. ``client_side``: the customer
    confirms in the browser (Stripe.js supplies the return URL)."""
    if intent.status not in CONFIRMABLE:
        if intent.status == "succeeded":
            message = (
                "You cannot confirm this PaymentIntent because it has already succeeded "
                "after being previously confirmed."
            )
        else:
            message = (
                "You cannot confirm this PaymentIntent because it has a status of "
                f"{intent.status}. Only a PaymentIntent with one of the following statuses "
                "may be confirmed: requires_confirmation, requires_payment_method, "
                "requires_action."
            )
        raise unexpected_state(message, intent.to_wire())
    method = method or _method_of(account, intent)
    if method is None:
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. "
            "You can either update the PaymentIntent with a payment method and then confirm "
            "it again, or confirm it again directly with a payment method or "
            "ConfirmationToken.",
            intent.to_wire(),
        )
    if method.type not in intent.payment_method_types:
        raise StripeError(
            400,
            "invalid_request_error",
            f"The PaymentMethod provided ({method.type}) is not allowed for this PaymentIntent. "
            "Please attach a PaymentMethod of one of the following types: "
            f"{', '.join(intent.payment_method_types)}. Alternatively update the allowed "
            f'payment_method_types for this PaymentIntent to include "{method.type}".',
            code="payment_intent_incompatible_payment_method",
            param="payment_method",
            extra={"payment_intent": intent.to_wire()},
        )
    auto = intent.automatic_payment_methods
    redirects = auto is not None and auto.get("allow_redirects") != "never"
    if redirects and not intent.return_url and not client_side:
        raise StripeError(400, "invalid_request_error", REDIRECT_REQUIRED, saved=False)
    intent.payment_method = method.id
    intent.last_payment_error = None
    card = method.card
    wants_3ds = (intent.payment_method_options.get("card") or {}).get("request_three_d_secure")
    needs_auth = intent.authenticated_method != method.id and (
        card.three_d_secure == "required"
        or (card.three_d_secure == "optional" and wants_3ds in ("any", "challenge"))
    )
    if needs_auth and (off_session or error_on_requires_action):
        decline = (
            "authentication_required",
            "authentication_required",
            "Your card was declined. This transaction requires authentication.",
            None,
        )
        error = _charge_card(account, intent, method, cause, decline=decline)
    elif needs_auth:
        _require_action(account, intent, method, cause)
        return
    else:
        tds = _three_d_secure() if intent.authenticated_method == method.id else None
        error = _charge_card(account, intent, method, cause, decline=card.decline, tds=tds)
    if error is not None:
        raise error


def _three_d_secure() -> dict[str, Any]:
    return {
        "authentication_flow": "challenge",
        "electronic_commerce_indicator": "05",
        "exemption_indicator": None,
        "result": "authenticated",
        "result_reason": None,
        "transaction_id": str(uuid.uuid4()),
        "version": "2.2.0",
    }


def _charge_card(
    account: Account,
    intent: PaymentIntent,
    method: PaymentMethod,
    cause: Cause,
    *,
    decline: tuple[str, str, str, str | None] | None,
    tds: dict[str, Any] | None = None,
) -> StripeError | None:
    charge = new_charge(
        created=account.now(),
        amount=intent.amount,
        currency=intent.currency,
        payment_intent=intent.id,
        payment_method=method,
        description=intent.description,
        metadata=intent.metadata,
        status="failed" if decline else "succeeded",
        receipt_email=intent.receipt_email,
    )
    charge.three_d_secure = tds
    account.store.add(charge)
    intent.latest_charge = charge.id
    if decline is not None:
        code, decline_code, message, param = decline
        charge.failure_code, charge.failure_message = code, message
        charge.decline_code = decline_code
        error = StripeError(
            402,
            "card_error",
            message,
            code=code,
            param=param,
            decline_code=decline_code,
            extra={"charge": charge.id, "payment_method": method.to_wire()},
        )
        _fail(account, intent, error, cause, charge)
        error.extra["payment_intent"] = intent.to_wire()
        return error
    _capture_charge(account, intent, charge)
    intent.move("succeeded")
    account.emit("charge.succeeded", charge, cause)
    account.emit("payment_intent.succeeded", intent, cause)
    return None


def _capture_charge(account: Account, intent: PaymentIntent, charge: Charge) -> None:
    charge.status, charge.captured, charge.amount_captured = "succeeded", True, charge.amount
    bt = account.book(
        amount=charge.amount,
        currency=charge.currency,
        fee=processing_fee(charge.amount, charge.currency),
        type="charge",
        source=charge.id,
        description=charge.description,
    )
    charge.balance_transaction = bt.id
    intent.amount_received = charge.amount


def _fail(
    account: Account,
    intent: PaymentIntent,
    error: StripeError,
    cause: Cause,
    charge: Charge | None,
) -> None:
    """Back to ``requires_payment_method`` with ``last_payment_error``; events follow."""
    last_error = error.body()["error"]
    intent.last_payment_error = last_error
    intent.payment_method = None
    intent.authenticated_method = None
    intent.move("requires_payment_method")
    if charge is not None:
        account.emit("charge.failed", charge, cause)
    account.emit("payment_intent.payment_failed", intent, cause)


def _require_action(account: Account, intent: PaymentIntent, method: PaymentMethod, cause: Cause) -> None:
    keys = account.keys
    attempt = AuthAttempt(new_id("payatt"), method.id, use_stripe_sdk=not intent.return_url)
    query = urlencode(
        {
            "merchant": keys.account_id,
            "payment_intent": intent.id,
            "payment_intent_client_secret": intent.client_secret,
            "publishable_key": keys.publishable_key,
            "source": attempt.id,
        }
    )
    url = f"{account.base_url}/stripe/3d_secure_2/hosted?{query}"
    intent.move("requires_action")
    intent.auth_attempt = attempt
    if intent.return_url:
        intent.next_action = {
            "redirect_to_url": {"return_url": intent.return_url, "url": url},
            "type": "redirect_to_url",
        }
    else:
        intent.next_action = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {
                "known_frame_issues": "false",
                "source": attempt.id,
                "stripe_js": url,
                "type": "three_d_secure_redirect",
            },
        }
    account.emit("payment_intent.requires_action", intent, cause)


def authenticate(account: Account, intent: PaymentIntent, success: bool) -> None:
    """The customer completed (or failed) 3-D Secure for the pending attempt."""
    method = _method_of(account, intent)
    if intent.status != "requires_action" or method is None:
        raise unexpected_state(
            f"This PaymentIntent has a status of {intent.status}; there is no 3-D Secure "
            "authentication to complete.",
            intent.to_wire(),
        )
    if not success:
        error = StripeError(
            400,
            "invalid_request_error",
            _AUTH_FAILED,
            code="payment_intent_authentication_failure",
            extra={"payment_method": method.to_wire()},
        )
        _fail(account, intent, error, ASYNC, None)
        return
    intent.authenticated_method = method.id
    if intent.confirmation_method == "manual":
        intent.move("requires_confirmation")
        return
    _charge_card(
        account, intent, method, ASYNC, decline=method.card.decline_after_auth, tds=_three_d_secure()
    )


def cancel(account: Account, intent: PaymentIntent, reason: str | None, cause: Cause) -> None:
    if intent.status not in CANCELABLE:
        raise unexpected_state(
            "You cannot cancel this PaymentIntent because it has a status of "
            f"{intent.status}. Only a PaymentIntent with one of the following statuses may be "
            f"canceled: {_STATUS_LIST}, requires_capture, processing.",
            intent.to_wire(),
        )
    intent.canceled_at = account.now()
    intent.cancellation_reason = reason
    intent.move("canceled")
    account.emit("payment_intent.canceled", intent, cause)
