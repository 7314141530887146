"""``/v1/payment_intents``: create, retrieve, update, confirm, cancel, list.

Parameters are checked like Stripe's (unknown ones refused, those Stripe has but the sandbox
does not simulate refused by name: manual capture, ``payment_method_data``, other method
types); the state changes themselves live in :mod:`.payments`.
"""

from __future__ import annotations

from typing import Any

from ..currencies import check_amount, normalize_currency
from ..errors import StripeError, invalid_param, missing_param, resource_missing, unexpected_state
from ..params import Params, not_simulated
from ..state import UPDATABLE, PaymentIntent, new_intent
from ..store import Account, Cause, list_response
from . import payments
from .payment_methods import PaymentMethod, resolve_method

__all__ = ["cancel", "confirm", "create", "list_intents", "retrieve", "update"]

METHOD_TYPES = ("card",)
_CAPTURE_METHODS = ("automatic", "automatic_async")
_SHARED = frozenset(
    {
        "description",
        "metadata",
        "receipt_email",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "shipping",
        "setup_future_usage",
        "transfer_group",
        "payment_method",
        "payment_method_options",
        "capture_method",
    }
)
_CONFIRM = frozenset(
    {
        "payment_method",
        "payment_method_options",
        "return_url",
        "off_session",
        "error_on_requires_action",
        "receipt_email",
        "capture_method",
        "setup_future_usage",
        "shipping",
        "use_stripe_sdk",
        "client_secret",
    }
)
_CREATE = (
    _SHARED
    | _CONFIRM
    | {
        "amount",
        "currency",
        "payment_method_types",
        "automatic_payment_methods",
        "confirm",
        "confirmation_method",
    }
)
_UPDATE = _SHARED | {"amount", "currency", "payment_method_types"}
_IGNORED = frozenset({"mandate_data", "radar_options"})
_STRIPE_ONLY = frozenset(
    {
        "allowed_payment_method_types",
        "amount_details",
        "amount_to_confirm",
        "application_fee_amount",
        "confirmation_token",
        "customer",
        "customer_account",
        "excluded_payment_method_types",
        "hooks",
        "mandate",
        "on_behalf_of",
        "payment_details",
        "payment_method_configuration",
        "payment_method_data",
        "transfer_data",
    }
)
_CANCEL_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")


def get_intent(account: Account, ident: str) -> PaymentIntent:
    intent = account.store.typed(ident, PaymentIntent)
    if intent is None:
        raise resource_missing("payment_intent", ident, "intent")
    return intent


def _method_options(params: Params, types: list[str], current: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for kind in types:
        default: dict[str, Any] = (
            {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
            if kind == "card"
            else {}
        )
        options[kind] = {**default, **current.get(kind, {})}
    given = params.hash("payment_method_options") or {}
    for kind, values in given.items():
        if kind not in types or not isinstance(values, dict):
            raise invalid_param(
                f"payment_method_options[{kind}] is not allowed for this PaymentIntent.",
                f"payment_method_options[{kind}]",
            )
        if "request_three_d_secure" in values and values["request_three_d_secure"] not in (
            "automatic",
            "any",
            "challenge",
        ):
            raise invalid_param(
                "Invalid payment_method_options[card][request_three_d_secure]: must be one of "
                "automatic, any, or challenge",
                "payment_method_options[card][request_three_d_secure]",
            )
        options[kind].update(values)
    return options


def _method_types(
    params: Params, currency: str, intent: PaymentIntent | None
) -> tuple[list[str], dict[str, Any] | None]:
    types = params.string_list("payment_method_types")
    auto = params.hash("automatic_payment_methods")
    if types is not None and auto is not None:
        raise StripeError(
            400,
            "invalid_request_error",
            "You may only specify one of these parameters: automatic_payment_methods, payment_method_types.",
            code="parameters_exclusive",
            param="automatic_payment_methods",
            saved=False,
        )
    if types is None:
        if intent is not None:
            return intent.payment_method_types, intent.automatic_payment_methods
        params.check_nested("automatic_payment_methods", ("enabled", "allow_redirects"))
        allow = (auto or {}).get("allow_redirects", "always")
        if allow not in ("always", "never"):
            raise invalid_param(
                "Invalid automatic_payment_methods[allow_redirects]: must be one of always or never",
                "automatic_payment_methods[allow_redirects]",
            )
        return ["card"], {"allow_redirects": allow, "enabled": True}
    for kind in types:
        if kind not in METHOD_TYPES:
            raise invalid_param(
                f'The payment method type "{kind}" is invalid. Please ensure the provided type '
                "is activated in your dashboard (https://dashboard.stripe.com/account/"
                "payments/settings) and your account is enabled for any preview features "
                "that you are trying to use.",
                "payment_method_types",
                "payment_intent_invalid_parameter",
            )
    return types, None


def _apply_common(intent: PaymentIntent, params: Params) -> None:
    metadata = params.metadata(intent.metadata)
    if metadata is not None:
        intent.metadata = metadata
    for name in ("description", "receipt_email", "statement_descriptor", "transfer_group"):
        if name in params:
            setattr(intent, name, params.string(name, blank=True) or None)
    if "statement_descriptor_suffix" in params:
        intent.statement_descriptor_suffix = params.string("statement_descriptor_suffix") or None
    if "setup_future_usage" in params:
        intent.setup_future_usage = params.choice("setup_future_usage", ("on_session", "off_session"))
    if "shipping" in params:
        shipping = params.hash("shipping")
        if shipping is not None:
            if not shipping.get("name"):
                raise missing_param("shipping[name]")
            if not isinstance(shipping.get("address"), dict):
                raise missing_param("shipping[address]")
        intent.shipping = shipping
    capture_method = _capture_method(params)
    if capture_method is not None:
        intent.capture_method = capture_method


def _capture_method(params: Params) -> str | None:
    """Automatic capture only: manual capture is Stripe's, but nothing in paygate uses it."""
    if params.raw("capture_method") == "manual":
        raise not_simulated("capture_method")
    return params.choice("capture_method", _CAPTURE_METHODS)


def create(account: Account, params: Params, cause: Cause) -> dict[str, Any]:
    params.check(_CREATE, stripe_only=_STRIPE_ONLY, ignored=_IGNORED)
    amount = params.integer("amount", required=True, minimum=1)
    currency = normalize_currency(params.string("currency", required=True) or "")
    assert amount is not None
    check_amount(amount, currency)
    types, auto = _method_types(params, currency, None)
    confirm_now = params.boolean("confirm") or False
    for name in ("off_session", "error_on_requires_action", "return_url"):
        if name in params and not confirm_now:
            raise invalid_param(f"You may only specify `{name}` when `confirm` is true.", name)
    if confirm_now and auto and auto["allow_redirects"] != "never" and "return_url" not in params:
        raise StripeError(400, "invalid_request_error", payments.REDIRECT_REQUIRED, saved=False)
    intent = new_intent(amount, currency, account.now())
    intent.payment_method_types, intent.automatic_payment_methods = types, auto
    intent.confirmation_method = params.choice("confirmation_method", ("automatic", "manual")) or "automatic"
    intent.payment_method_options = _method_options(params, types, {})
    _apply_common(intent, params)
    method = resolve_method(account, params)
    account.store.add(intent)
    if method is not None:
        intent.payment_method = method.id
        intent.move("requires_confirmation")
    account.emit("payment_intent.created", intent, cause)
    if confirm_now:
        _confirm(account, intent, params, None, cause)
    return intent.to_wire()


def _confirm(
    account: Account,
    intent: PaymentIntent,
    params: Params,
    method: PaymentMethod | None,
    cause: Cause,
) -> None:
    return_url = params.string("return_url")
    if return_url is not None:
        intent.return_url = return_url
    payments.confirm(
        account,
        intent,
        method,
        cause,
        off_session=params.boolean("off_session") or False,
        error_on_requires_action=params.boolean("error_on_requires_action") or False,
    )


def retrieve(account: Account, params: Params, ident: str) -> dict[str, Any]:
    params.check({"client_secret"})
    return get_intent(account, ident).to_wire()


def update(account: Account, params: Params, ident: str, cause: Cause) -> dict[str, Any]:
    params.check(_UPDATE, stripe_only=_STRIPE_ONLY, ignored=_IGNORED)
    intent = get_intent(account, ident)
    for name in ("amount", "currency", "payment_method", "payment_method_types", "capture_method"):
        if name in params and intent.status not in UPDATABLE:
            raise unexpected_state(
                f"This PaymentIntent's {name} could not be updated because it has a status of "
                f"{intent.status}. You may only update the {name} of a PaymentIntent with one "
                "of the following statuses: requires_payment_method, requires_confirmation, "
                "requires_action.",
                intent.to_wire(),
            )
    currency = intent.currency
    if "currency" in params:
        currency = normalize_currency(params.string("currency") or "")
    amount = params.integer("amount", minimum=1)
    if amount is not None or currency != intent.currency:
        check_amount(amount if amount is not None else intent.amount, currency)
    if "payment_method_types" in params:
        intent.payment_method_types, intent.automatic_payment_methods = _method_types(params, currency, None)
    intent.payment_method_options = _method_options(
        params, intent.payment_method_types, intent.payment_method_options
    )
    _apply_common(intent, params)
    method = resolve_method(account, params)
    significant = method is not None or amount is not None or currency != intent.currency
    intent.amount = amount if amount is not None else intent.amount
    intent.currency = currency
    if method is not None:
        intent.payment_method = method.id
    if significant and intent.status in UPDATABLE:
        intent.move("requires_confirmation" if intent.payment_method else "requires_payment_method")
    return intent.to_wire()


def confirm(account: Account, params: Params, ident: str, cause: Cause) -> dict[str, Any]:
    params.check(_CONFIRM, stripe_only=_STRIPE_ONLY, ignored=_IGNORED)
    intent = get_intent(account, ident)
    capture_method = _capture_method(params)
    method = resolve_method(account, params)
    if intent.status in UPDATABLE:
        if capture_method is not None:
            intent.capture_method = capture_method
        if "payment_method_options" in params:
            intent.payment_method_options = _method_options(
                params, intent.payment_method_types, intent.payment_method_options
            )
        _apply_common_confirm(intent, params)
    _confirm(account, intent, params, method, cause)
    return intent.to_wire()


def _apply_common_confirm(intent: PaymentIntent, params: Params) -> None:
    if "receipt_email" in params:
        intent.receipt_email = params.string("receipt_email", blank=True) or None
    if "setup_future_usage" in params:
        intent.setup_future_usage = params.choice("setup_future_usage", ("on_session", "off_session"))


def cancel(account: Account, params: Params, ident: str, cause: Cause) -> dict[str, Any]:
    params.check({"cancellation_reason"})
    reason = params.choice("cancellation_reason", _CANCEL_REASONS)
    intent = get_intent(account, ident)
    payments.cancel(account, intent, reason, cause)
    return intent.to_wire()


def list_intents(account: Account, params: Params) -> dict[str, Any]:
    params.check({"limit", "starting_after", "ending_before", "created"}, stripe_only={"customer"})
    items = account.store.all(PaymentIntent)
    return list_response(account.store, params, "/v1/payment_intents", items, "payment_intent")
