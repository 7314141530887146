"""R-PAY-1: money is integer minor units with a currency; conversions are exact."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paygate.kit.money import (
    CURRENCY_EXPONENTS,
    Money,
    MoneyError,
    from_decimal_string,
    to_decimal_string,
)

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))


@given(minor=st.integers(min_value=-(10**15), max_value=10**15), currency=currencies)
def test_decimal_string_round_trips_exactly(minor: int, currency: str) -> None:
    assert from_decimal_string(to_decimal_string(minor, currency), currency) == minor


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1999, "CNY", "19.99"),
        (1, "CNY", "0.01"),
        (500, "JPY", "500"),
        (1234, "KWD", "1.234"),
        (-5, "USD", "-0.05"),
        (0, "CNY", "0.00"),
    ],
)
def test_known_conversions(minor: int, currency: str, text: str) -> None:
    assert to_decimal_string(minor, currency) == text


def test_more_decimals_than_the_currency_has_are_refused() -> None:
    with pytest.raises(MoneyError):
        from_decimal_string("1.005", "CNY")
    with pytest.raises(MoneyError):
        from_decimal_string("1.5", "JPY")


def test_floats_and_unknown_currencies_are_refused() -> None:
    with pytest.raises(MoneyError):
        Money(19.99, "CNY")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(True, "CNY")
    with pytest.raises(MoneyError):
        Money(100, "XXX")


@given(a=st.integers(0, 10**12), b=st.integers(0, 10**12), currency=currencies)
def test_addition_is_exact_and_currency_bound(a: int, b: int, currency: str) -> None:
    total = Money(a, currency) + Money(b, currency)
    assert total.minor == a + b
    assert (total - Money(b, currency)).minor == a
    other = "JPY" if currency != "JPY" else "USD"
    with pytest.raises(MoneyError):
        _ = Money(a, currency) + Money(b, other)
