"""Stripe's bracket form encoding, decoded by the sandbox."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stripe._encode import _api_encode

from paygate.sandbox.stripe.wire import FormError, as_list, decode, encode, listify

# Keys as Stripe parameters look: start with a letter, no brackets (those are syntax).
keys = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
scalars = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, min_size=1, max_size=4) | st.dictionaries(keys, children, min_size=1, max_size=4)
    ),
    max_leaves=20,
)
params = st.dictionaries(keys, values, max_size=6)


@given(params)
def test_round_trip_through_the_sandbox_encoder(value: dict[str, Any]) -> None:
    assert listify(decode(encode(value))) == value


@given(params)
def test_decodes_what_the_stripe_sdk_encodes(value: dict[str, Any]) -> None:
    # The SDK's own encoder is an independent oracle of the wire format.
    body = urlencode(list(_api_encode(value)))
    assert listify(decode(body)) == value


class TestDecode:
    def test_nested_hashes_and_arrays(self) -> None:
        body = (
            "amount=2000&payment_method_types[0]=card&payment_method_types[1]=sepa_debit"
            "&metadata[order_id]=o1&shipping[address][line1]=1+Main+St&expand[]=latest_charge"
        )
        decoded = decode(body)
        assert decoded["amount"] == "2000"
        assert as_list(decoded["payment_method_types"]) == ["card", "sepa_debit"]
        assert decoded["metadata"] == {"order_id": "o1"}
        assert decoded["shipping"] == {"address": {"line1": "1 Main St"}}
        assert decoded["expand"] == ["latest_charge"]

    def test_percent_encoded_brackets_and_blank_values(self) -> None:
        assert decode("metadata%5Bk%5D=v&description=") == {"metadata": {"k": "v"}, "description": ""}

    def test_arrays_of_hashes(self) -> None:
        decoded = decode("items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2")
        assert listify(decoded) == {"items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}]}

    def test_empty_brackets_build_arrays_of_hashes(self) -> None:
        decoded = decode("a[][b]=1&a[][c]=2&a[][b]=3")
        assert decoded == {"a": [{"b": "1", "c": "2"}, {"b": "3"}]}

    def test_index_hash_is_an_array_only_where_one_is_expected(self) -> None:
        assert decode("metadata[0]=x") == {"metadata": {"0": "x"}}
        assert as_list({"1": "b", "0": "a"}) == ["a", "b"]
        assert as_list({"k": "v"}) is None

    @pytest.mark.parametrize("body", ["a=1&a[b]=2", "a[b]=2&a=1", "a[]=1&a[x]=2"])
    def test_contradictions_are_refused(self, body: str) -> None:
        with pytest.raises(FormError):
            decode(body)
