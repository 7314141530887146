"""Alipay's canonical strings, checked against the SDKs' own signing and verification with
generated inputs (no HTTP: these are the pure wire rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from paygate.kit.crypto import generate_rsa_key, private_key_pem, public_key_pem
from paygate.sandbox.alipay.wire import (
    decode_request,
    encode_form,
    format_fen,
    parse_yuan,
    request_sign_content,
    sign_notification,
    verify_request,
)

# Printable text including the characters that matter on the wire: & = % + space, CJK.
wire_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("&=%+ /?#中文"),
    min_size=1,
    max_size=20,
)
field_names = st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True)


@dataclass(frozen=True)
class Keys:
    app_private: str
    app_public: str
    alipay_private: str
    alipay_public: str


@pytest.fixture(scope="module")
def keys() -> Keys:
    app, alipay = generate_rsa_key(), generate_rsa_key()
    return Keys(
        private_key_pem(app, "pkcs1"),
        public_key_pem(app),
        private_key_pem(alipay, "pkcs1"),
        public_key_pem(alipay),
    )


@pytest.fixture(scope="module")
def sdk(keys: Keys) -> dict[str, Any]:
    """python-alipay-sdk clients by sign type (built once: loading their keys is slow)."""
    from alipay import AliPay

    return {
        sign_type: AliPay(
            appid="2021000000000001",
            app_private_key_string=keys.app_private,
            alipay_public_key_string=keys.alipay_public,
            sign_type=sign_type,
        )
        for sign_type in ("RSA2", "RSA")
    }


@settings(max_examples=40, deadline=None)
@given(biz=st.dictionaries(field_names, wire_text, max_size=5), sign_type=st.sampled_from(["RSA2", "RSA"]))
def test_python_sdk_signed_queries_verify(
    keys: Keys, sdk: dict[str, Any], biz: dict[str, str], sign_type: str
) -> None:
    alipay = sdk[sign_type]
    data = alipay.build_body("alipay.trade.query", biz, notify_url="http://m.example/n?a=1&b=2")
    expected = dict(alipay._ordered_data(dict(data)))
    wire = decode_request(alipay.sign_data(data).encode(), b"")
    assert {k: v for k, v in wire.params.items() if k != "sign"} == expected
    hash_name = "SHA256" if sign_type == "RSA2" else "SHA1"
    assert verify_request(wire.params, keys.app_public, hash_name, wire.codec)
    tampered = dict(wire.params, biz_content=wire.params["biz_content"] + " ")
    assert not verify_request(tampered, keys.app_public, hash_name, wire.codec)


@settings(max_examples=30, deadline=None)
@given(biz=st.dictionaries(field_names, wire_text, max_size=5))
def test_official_sdk_query_plus_body_verifies(keys: Keys, biz: dict[str, str]) -> None:
    from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
    from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
    from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
    from alipay.aop.api.util.WebUtils import url_encode

    config = AlipayClientConfig()
    config.app_id, config.app_private_key = "2021000000000001", keys.app_private
    client = DefaultAlipayClient(config)
    request = AlipayTradeQueryRequest()
    request.biz_content = biz
    query, body_params = client._DefaultAlipayClient__prepare_request(request)
    wire = decode_request(query.encode(), url_encode(body_params, "utf-8").encode())
    assert "format" in wire.params and ("biz_content" in wire.params) == bool(biz)
    assert verify_request(wire.params, keys.app_public, "SHA256", wire.codec)


@settings(max_examples=40, deadline=None)
@given(params=st.dictionaries(field_names, wire_text, min_size=1, max_size=8))
def test_notifications_verify_with_python_sdk(
    keys: Keys, sdk: dict[str, Any], params: dict[str, str]
) -> None:
    for reserved in ("sign", "sign_type", "charset"):
        params.pop(reserved, None)
    assume(params)
    signed = sign_notification(params, keys.alipay_private, "RSA2", "utf-8")
    form = encode_form(signed, "utf-8").encode()
    received = dict(decode_request(b"charset=utf-8", form).params)  # as a receiver parses it
    del received["charset"]
    sign = received.pop("sign")
    assert sdk["RSA2"].verify(received, sign)  # it pops sign_type itself
    received["sign_type"] = "RSA2"
    received[next(iter(params))] += "x"
    assert not sdk["RSA2"].verify(received, sign)


def test_notifications_never_carry_empty_values(keys: Keys) -> None:
    with pytest.raises(ValueError, match="empty"):
        sign_notification({"trade_status": "TRADE_SUCCESS", "body": ""}, keys.alipay_private, "RSA2", "utf-8")


@given(params=st.dictionaries(field_names, wire_text, max_size=6), empties=st.sets(field_names, max_size=3))
def test_request_canonical_string_ignores_sign_and_empty_values(
    params: dict[str, str], empties: set[str]
) -> None:
    noisy = {**{k: "" for k in empties}, **params, "sign": "whatever"}
    clean = {k: v for k, v in params.items() if k != "sign"}
    assert request_sign_content(noisy) == request_sign_content(clean)
    assert request_sign_content(clean) == "&".join(f"{k}={clean[k]}" for k in sorted(clean))


@given(fen=st.integers(min_value=-(10**12), max_value=10**12))
def test_amounts_round_trip(fen: int) -> None:
    assert parse_yuan(format_fen(abs(fen))) == abs(fen)
    assert format_fen(fen).startswith("-") == (fen < 0)


@pytest.mark.parametrize("bad", ["", "1.", ".5", "01.00", "1.234", "1e2", "-1.00", " 1.00", True, None, 1.5])
def test_amounts_refused(bad: object) -> None:
    assert parse_yuan(bad) is None
