"""Stripe's amount rules per currency, independent of ``paygate.kit.money`` (ISO 4217).

Stripe's exponents differ from ISO in places: ISK and UGX are sent with two decimals (the
decimals always ``00``); JPY, KRW … have none; BHD, JOD, KWD, OMR, TND have three, and
card networks take only amounts whose last digit is 0. Minimums are Stripe's per settlement
currency; other currencies must convert to at least USD 0.50 (approximated here with
static rates). Every amount is capped at eight digits.
"""

from __future__ import annotations

import math
from typing import Final

from .errors import StripeError, invalid_param

__all__ = [
    "SUPPORTED",
    "THREE_DECIMAL",
    "ZERO_DECIMAL",
    "check_amount",
    "exponent",
    "format_amount",
    "normalize_currency",
]

ZERO_DECIMAL: Final = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf vnd vuv xaf xof xpf".split())
THREE_DECIMAL: Final = frozenset("bhd jod kwd omr tnd".split())
#: Two-decimal on the API, but only whole units may be charged (amount divisible by 100).
WHOLE_UNITS_ONLY: Final = frozenset({"isk", "ugx"})

SUPPORTED: Final = frozenset(
    """usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl
    bsd bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd
    fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs
    khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk
    mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub
    rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah
    ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw""".split()
)

#: Minimum charge per settlement currency, in the currency's Stripe minor units.
SETTLEMENT_MINIMUMS: Final[dict[str, int]] = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip

#: Approximate units of currency per USD, for the "converts to at least 50 cents" rule.
USD_RATES: Final[dict[str, float]] = {
    "cny": 7.1, "krw": 1350.0, "vnd": 25000.0, "clp": 950.0, "isk": 138.0, "twd": 32.0,
    "mop": 8.0, "kwd": 0.307, "bhd": 0.376, "jod": 0.709, "omr": 0.385, "tnd": 3.1,
    "idr": 16000.0, "php": 57.0, "zar": 18.0, "try": 33.0, "ils": 3.7, "sar": 3.75,
    "qar": 3.64, "egp": 48.0, "ngn": 1500.0, "kes": 130.0, "cop": 4000.0, "pen": 3.7,
    "ars": 900.0, "uah": 41.0, "pkr": 280.0, "bdt": 117.0, "lkr": 300.0,
}  # fmt: skip

MAX_AMOUNT: Final = 99_999_999

_SYMBOLS: Final[dict[str, str]] = {
    "usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cny": "CN¥", "krw": "₩", "inr": "₹",
    "aud": "A$", "cad": "CA$", "hkd": "HK$", "sgd": "SGD ", "nzd": "NZ$", "mxn": "MX$",
    "brl": "R$", "chf": "CHF ", "twd": "NT$", "vnd": "₫", "ils": "₪", "thb": "THB ",
}  # fmt: skip


def exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def format_amount(amount: int, currency: str, *, code: bool = False) -> str:
    """``$0.50``, ``¥50``, ``KWD 0.150`` — how Stripe's messages show an amount."""
    exp = exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp) if exp else (abs(amount), 0)
    text = f"{whole:,}" + (f".{frac:0{exp}d}" if exp else "")
    symbol = _SYMBOLS.get(currency)
    shown = f"{sign}{symbol}{text}" if symbol else f"{sign}{currency.upper()} {text}"
    return f"{shown} {currency}" if code else shown


def normalize_currency(value: str) -> str:
    currency = value.strip().lower()
    if currency not in SUPPORTED:
        raise invalid_param(
            f"Invalid currency: {currency}. Stripe currently supports these currencies: "
            + ", ".join(sorted(SUPPORTED)),
            "currency",
        )
    return currency


def _minimum_error(amount: int, currency: str, param: str) -> StripeError | None:
    if currency in SETTLEMENT_MINIMUMS:
        minimum = SETTLEMENT_MINIMUMS[currency]
        if amount < minimum:
            return StripeError(
                400,
                "invalid_request_error",
                f"Amount must be at least {format_amount(minimum, currency, code=True)}",
                code="amount_too_small",
                param=param,
                saved=False,
            )
        return None
    rate = USD_RATES.get(currency)
    if rate is None:
        return None
    usd_cents = amount / 10 ** exponent(currency) / rate * 100
    if usd_cents < 50:
        return StripeError(
            400,
            "invalid_request_error",
            "Amount must convert to at least 50 cents. "
            f"{format_amount(amount, currency)} converts to approximately "
            f"${math.floor(usd_cents) / 100:.2f}.",
            code="amount_too_small",
            param=param,
            saved=False,
        )
    return None


def check_amount(amount: int, currency: str, param: str = "amount") -> None:
    """Raise Stripe's error for an amount it would refuse to charge in ``currency``."""
    if amount > MAX_AMOUNT:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Amount must be no more than {format_amount(MAX_AMOUNT, currency)}",
            code="amount_too_large",
            param=param,
            saved=False,
        )
    if currency in THREE_DECIMAL and amount % 10:
        raise invalid_param(
            f"Invalid amount for {currency}: three-decimal currencies must be sent with a "
            f"last digit of 0 (card networks settle {currency.upper()} in multiples of "
            f"10), e.g. {amount - amount % 10} instead of {amount}.",
            param,
        )
    if currency in WHOLE_UNITS_ONLY and amount % 100:
        raise invalid_param(
            f"Invalid amount for {currency}: {currency.upper()} is sent with two decimals "
            f"that must be 00 (e.g. {amount - amount % 100} instead of {amount}).",
            param,
        )
    error = _minimum_error(amount, currency, param)
    if error is not None:
        raise error
