"""Wire rules without I/O: bracket encoding, idempotency keys, webhook signatures (checked
against the public stripe SDK's own helpers), masking."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode

import pytest
import stripe
from hypothesis import given
from hypothesis import strategies as st

from paygate.channels.stripe.protocol import (
    SignatureError,
    encode_form,
    idempotency_key,
    mask_wire,
    parse_signature_header,
    verify_signature,
)
from tests.adapters.stripe.support import ref_signature

SECRET = "whsec_" + "ab" * 32


class TestEncoding:
    def test_brackets(self) -> None:
        params = {
            "amount": 2000,
            "confirm": True,
            "capture": False,
            "payment_method_types": ["card", "sepa_debit"],
            "metadata": {"attempt_no": "P1", "trade_no": "T1"},
            "payment_method_options": {"card": {"request_three_d_secure": "any"}},
            "expand": ["latest_charge"],
            "unset": None,
            "blank": "",
        }
        assert encode_form(params) == [
            ("amount", "2000"),
            ("confirm", "true"),
            ("capture", "false"),
            ("payment_method_types[0]", "card"),
            ("payment_method_types[1]", "sepa_debit"),
            ("metadata[attempt_no]", "P1"),
            ("metadata[trade_no]", "T1"),
            ("payment_method_options[card][request_three_d_secure]", "any"),
            ("expand[0]", "latest_charge"),
            ("blank", ""),
        ]

    def test_money_is_never_a_float(self) -> None:
        with pytest.raises(TypeError):
            encode_form({"amount": 19.99})

    @given(
        st.dictionaries(
            st.text("abcdefghij_", min_size=1, max_size=8),
            st.one_of(
                st.text(max_size=20),
                st.integers(),
                st.lists(st.text(max_size=5), max_size=3),
                st.dictionaries(st.text("xyz", min_size=1, max_size=3), st.text(max_size=5), max_size=3),
            ),
            max_size=6,
        )
    )
    def test_round_trip_through_urlencoding(self, params: dict[str, object]) -> None:
        pairs = encode_form(params)
        assert parse_qsl(urlencode(pairs), keep_blank_values=True) == pairs
        for key, value in params.items():
            if isinstance(value, list):
                assert [v for k, v in pairs if k.startswith(f"{key}[")] == value
            elif isinstance(value, dict):
                assert {k[len(key) + 1 : -1]: v for k, v in pairs if k.startswith(f"{key}[")} == value
            else:
                assert (key, str(value)) in pairs

    def test_idempotency_keys(self) -> None:
        assert idempotency_key("create", "P1") == "create:P1"
        assert idempotency_key("refund", "R1") == "refund:R1"
        with pytest.raises(ValueError):
            idempotency_key("refund", "")


class TestSignatures:
    body = b'{\n  "id": "evt_1",\n  "object": "event"\n}'

    def test_stripe_sdk_headers_verify(self) -> None:
        now = int(time.time())
        header = stripe.WebhookSignature.generate_signature_header(self.body.decode(), SECRET, now)
        assert verify_signature(self.body, header, SECRET, now) == now

    def test_our_reading_matches_the_sdk(self) -> None:
        now = int(time.time())
        header = ref_signature(SECRET, self.body, now)
        verify_signature(self.body, header, SECRET, now)
        assert stripe.WebhookSignature.verify_header(self.body.decode(), header, SECRET, tolerance=300)

    @pytest.mark.parametrize(
        "header",
        ["", "t=1", "v1=abc", "t=x,v1=abc", "t=,v1=abc", "garbage", "t=1,v1="],
    )
    def test_malformed(self, header: str) -> None:
        with pytest.raises(SignatureError):
            verify_signature(self.body, header, SECRET, 1)

    def test_tolerance_both_ways(self) -> None:
        header = ref_signature(SECRET, self.body, 1000)
        verify_signature(self.body, header, SECRET, 1300)
        verify_signature(self.body, header, SECRET, 700)
        for now in (1301, 699):
            with pytest.raises(SignatureError, match="300"):
                verify_signature(self.body, header, SECRET, now)

    def test_several_v1_and_other_schemes(self) -> None:
        good = ref_signature(SECRET, self.body, 5).split("v1=")[1]
        parsed = parse_signature_header(f"t=5,v0=zz,v1={'f' * 64},v1={good},t=9")
        assert parsed.timestamp == 5 and parsed.signatures == ("f" * 64, good)
        verify_signature(self.body, f"t=5, v1={'f' * 64}, v1={good}", SECRET, 5)

    def test_whole_secret_is_the_key(self) -> None:
        header = ref_signature(SECRET.removeprefix("whsec_"), self.body, 5)
        with pytest.raises(SignatureError):
            verify_signature(self.body, header, SECRET, 5)
        with pytest.raises(SignatureError):
            verify_signature(self.body, ref_signature(SECRET, self.body, 5), "", 5)


def test_masking() -> None:
    url = "https://hooks.stripe.com/3d_secure_2/hosted?payment_intent_client_secret=pi_3Abc_secret_XyZ&x=1"
    wire = {
        "id": "pi_3Abc",
        "client_secret": "pi_3Abc_secret_XyZ",
        "next_action": {"redirect_to_url": {"url": url}},
        "metadata": {"attempt_no": "P1"},
        "receipt_email": "payer@example.com",
    }
    masked = mask_wire(wire)
    assert masked["client_secret"] == "***"
    assert "XyZ" not in masked["next_action"]["redirect_to_url"]["url"]
    assert masked["next_action"]["redirect_to_url"]["url"].endswith("pi_3Abc_secret_***&x=1")
    assert masked["metadata"] == {"attempt_no": "P1"} and masked["receipt_email"] != "payer@example.com"
    assert wire["client_secret"] == "pi_3Abc_secret_XyZ"  # a copy
