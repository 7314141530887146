"""``/v1/payment_methods`` and the ``payment_method``/``payment_method_data`` parameters.

A test token (``pm_card_visa`` …) given where a PaymentMethod id is expected creates a new
``pm_…`` object, as Stripe does. SEPA Direct Debit methods are created from an IBAN (the
test IBANs decide the outcome) with the account holder's name and email. Raw card numbers
are not simulated.
"""

from __future__ import annotations

from typing import Any

from .account import Account
from .errors import StripeError, invalid_param, missing_param, resource_missing
from .methods import CARDS, PaymentMethod, iban_is_valid
from .params import Params, not_simulated

__all__ = ["create_payment_method", "method_from_data", "resolve_method"]


def resolve_method(account: Account, params: Params) -> PaymentMethod | None:
    """``payment_method`` (an id or a test token) or ``payment_method_data``."""
    ident = params.string("payment_method")
    data = params.hash("payment_method_data")
    if ident is not None and data is not None:
        raise StripeError(
            400,
            "invalid_request_error",
            "You cannot provide both payment_method and payment_method_data.",
            code="parameters_exclusive",
            param="payment_method_data",
            saved=False,
        )
    if ident is not None:
        if ident in CARDS:
            return account.store.add(PaymentMethod.from_token(ident))
        method = account.store.typed(ident, PaymentMethod)
        if method is None:
            raise resource_missing("PaymentMethod", ident, "payment_method", status=400)
        return method
    if data is not None:
        return account.store.add(method_from_data(data, "payment_method_data"))
    return None


def method_from_data(data: dict[str, Any], prefix: str) -> PaymentMethod:
    """A PaymentMethod from ``type``/``sepa_debit[iban]``/``billing_details`` parameters."""
    kind = data.get("type")
    if kind is None:
        raise missing_param(f"{prefix}[type]" if prefix else "type")
    if kind == "card":
        raise not_simulated(f"{prefix}[card]" if prefix else "card")
    if kind != "sepa_debit":
        raise invalid_param(
            f"Invalid {prefix}[type]: must be one of card or sepa_debit",
            f"{prefix}[type]" if prefix else "type",
        )
    name = f"{prefix}[sepa_debit][iban]" if prefix else "sepa_debit[iban]"
    sepa = data.get("sepa_debit")
    iban = sepa.get("iban") if isinstance(sepa, dict) else None
    if not isinstance(iban, str) or not iban:
        raise missing_param(name)
    if not iban_is_valid(iban):
        raise invalid_param("The IBAN you provided appears to be invalid.", name, "invalid_bank_account_iban")
    raw = data.get("billing_details")
    billing: dict[str, Any] = raw if isinstance(raw, dict) else {}
    for field in ("name", "email"):
        if not billing.get(field):
            raise missing_param(
                f"{prefix}[billing_details][{field}]" if prefix else f"billing_details[{field}]"
            )
    return PaymentMethod.sepa(iban, billing)


def create_payment_method(account: Account, params: Params) -> dict[str, Any]:
    params.check(
        {"type", "sepa_debit", "billing_details", "metadata"},
        stripe_only={"card", "customer", "payment_method", "allow_redisplay"},
    )
    method = method_from_data(params.values, "")
    method.metadata = params.metadata() or {}
    return account.store.add(method).to_wire()
