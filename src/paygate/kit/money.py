"""Money as integer minor units with an ISO 4217 currency (R-PAY-1).

Amounts never exist as floats. Conversion to a channel's wire format (yuan strings for
Alipay, fen integers for WeChat, Stripe's per-currency exponent) happens only at the
channel's edge, through :func:`to_decimal_string` / :func:`from_decimal_string`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

__all__ = [
    "CURRENCY_EXPONENTS",
    "MAX_AMOUNT_MINOR",
    "Money",
    "MoneyError",
    "exponent_of",
    "from_decimal_string",
    "to_decimal_string",
]

#: ISO 4217 minor-unit exponents of the currencies paygate accepts.
CURRENCY_EXPONENTS: Final[dict[str, int]] = {
    "CNY": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "NZD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "MYR": 2,
    "THB": 2,
    "TWD": 2,
    "MOP": 2,
    "INR": 2,
    "MXN": 2,
    "BRL": 2,
    "PLN": 2,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "KWD": 3,
    "BHD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}

#: Upper bound of any single amount, in minor units (a platform-wide sanity limit; channels
#: may set lower ones in their validation hooks).
MAX_AMOUNT_MINOR: Final[int] = 10**12


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


def exponent_of(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"unknown currency {currency!r}") from None


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``minor`` units of ``currency`` (100 = CNY 1.00, 100 = JPY 100)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise MoneyError("amount must be an integer number of minor units")
        exponent_of(self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def to_decimal_string(self) -> str:
        return to_decimal_string(self.minor, self.currency)

    def __str__(self) -> str:
        return f"{self.currency} {self.to_decimal_string()}"


def to_decimal_string(minor: int, currency: str) -> str:
    """``1999, "CNY"`` → ``"19.99"``; ``500, "JPY"`` → ``"500"``; ``1234, "KWD"`` → ``"1.234"``."""
    exp = exponent_of(currency)
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor))
    if exp == 0:
        return sign + digits
    digits = digits.rjust(exp + 1, "0")
    return f"{sign}{digits[:-exp]}.{digits[-exp:]}"


def from_decimal_string(text: str, currency: str) -> int:
    """Parse a channel's decimal amount exactly; refuses more digits than the currency has."""
    exp = exponent_of(currency)
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise MoneyError(f"not a decimal amount: {text!r}") from None
    if not value.is_finite():
        raise MoneyError(f"not a finite amount: {text!r}")
    scaled = value.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{text!r} has more than {exp} decimals for {currency}")
    return int(scaled)
