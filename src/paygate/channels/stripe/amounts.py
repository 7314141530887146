"""Money at Stripe's edge: paygate's ISO 4217 minor units ↔ Stripe's ``amount``.

Stripe counts most currencies in hundredths, but (its "zero-decimal" and "three-decimal"
lists, written here from Stripe's documentation, independently of the sandbox):

* zero-decimal (``JPY``, ``KRW``, ``VND``, ``CLP`` …): whole units, as in ISO;
* three-decimal (``BHD``, ``JOD``, ``KWD``, ``OMR``, ``TND``): thousandths, as in ISO, but
  card networks settle hundredths, so the amount must be a multiple of 10;
* ``ISK`` and ``UGX``: two decimals on the API although ISO has none — paygate's whole
  krónur are multiplied by 100 (and an API amount must then be a multiple of 100).

Currencies travel lower-case. Amounts are capped at eight digits (99 999 999 Stripe units).
"""

from __future__ import annotations

from typing import Final

from paygate.kit.money import CURRENCY_EXPONENTS, Money, MoneyError

__all__ = [
    "MAX_STRIPE_AMOUNT",
    "THREE_DECIMAL",
    "WHOLE_UNITS_TWO_DECIMAL",
    "ZERO_DECIMAL",
    "from_stripe_amount",
    "stripe_exponent",
    "to_stripe_amount",
    "wire_currency",
]

ZERO_DECIMAL: Final = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF".split())
THREE_DECIMAL: Final = frozenset("BHD JOD KWD OMR TND".split())
#: Two decimals on Stripe's API, only whole units chargeable.
WHOLE_UNITS_TWO_DECIMAL: Final = frozenset({"ISK", "UGX"})
MAX_STRIPE_AMOUNT: Final = 99_999_999


def stripe_exponent(currency: str) -> int:
    """How many decimals Stripe's ``amount`` has for ``currency`` (upper-case ISO code)."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def wire_currency(money: Money) -> str:
    return money.currency.lower()


def to_stripe_amount(money: Money) -> int:
    """paygate minor units → Stripe ``amount``; MoneyError if Stripe cannot take it exactly."""
    currency = money.currency
    iso, api = CURRENCY_EXPONENTS[currency], stripe_exponent(currency)
    if api >= iso:
        scale: int = 10 ** (api - iso)
        amount = money.minor * scale
    else:
        step: int = 10 ** (iso - api)
        if money.minor % step:
            raise MoneyError(f"{money} is not a whole number of Stripe's {currency} units")
        amount = money.minor // step
    if currency in THREE_DECIMAL and amount % 10:
        raise MoneyError(
            f"{money}: Stripe takes {currency} in thousandths whose last digit is 0 "
            f"(card networks settle hundredths), e.g. {money.minor - money.minor % 10}"
        )
    if currency in WHOLE_UNITS_TWO_DECIMAL and amount % 100:
        raise MoneyError(f"{money}: Stripe charges {currency} in whole units only")
    return amount


def from_stripe_amount(amount: object, currency: object) -> Money:
    """Stripe ``amount`` + lower-case ``currency`` → Money; MoneyError if it is not an
    integer, the currency is not one paygate knows, or the amount is not exact in ISO units."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyError(f"Stripe amount {amount!r} is not an integer")
    if not isinstance(currency, str) or currency.upper() not in CURRENCY_EXPONENTS:
        raise MoneyError(f"Stripe currency {currency!r} is not one paygate accepts")
    code = currency.upper()
    iso, api = CURRENCY_EXPONENTS[code], stripe_exponent(code)
    if api >= iso:
        step: int = 10 ** (api - iso)
        if amount % step:
            raise MoneyError(f"Stripe amount {amount} {code} is not a whole number of ISO units")
        return Money(amount // step, code)
    scale: int = 10 ** (iso - api)
    return Money(amount * scale, code)
